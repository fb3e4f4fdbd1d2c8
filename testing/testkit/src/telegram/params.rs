//! Method parameters, read the way the Bot API reads them: from the query string, and from a JSON,
//! `application/x-www-form-urlencoded` or `multipart/form-data` body. Form and multipart values are
//! strings; numbers and nested objects (e.g. `reply_parameters`) arrive JSON-encoded inside them,
//! so every getter accepts both forms.

use super::error::ApiError;
use axum::extract::{FromRequest, Multipart, Request};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// An uploaded file part.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub name: Option<String>,
    pub mime: Option<String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct Params {
    fields: Map<String, Value>,
    files: HashMap<String, Upload>,
}

impl Params {
    pub(crate) async fn from_request(req: Request) -> Result<Params, ApiError> {
        let mut p = Params::default();
        if let Some(q) = req.uri().query() {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap_or_default();
            for (k, v) in pairs {
                p.fields.insert(k, Value::String(v));
            }
        }
        let content_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut mp = Multipart::from_request(req, &())
                .await
                .map_err(|_| ApiError::bad_request("invalid multipart/form-data body"))?;
            while let Ok(Some(field)) = mp.next_field().await {
                let key = field.name().unwrap_or_default().to_owned();
                let name = field.file_name().map(str::to_owned);
                let mime = field.content_type().map(str::to_owned);
                let data = field.bytes().await.map_err(|e| {
                    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::entity_too_large()
                    } else {
                        ApiError::bad_request("invalid multipart/form-data body")
                    }
                })?;
                if name.is_some() {
                    p.files.insert(
                        key,
                        Upload {
                            name,
                            mime,
                            data: data.to_vec(),
                        },
                    );
                } else {
                    let s = String::from_utf8_lossy(&data).into_owned();
                    p.fields.insert(key, Value::String(s));
                }
            }
            return Ok(p);
        }
        let body = axum::body::to_bytes(req.into_body(), super::server::MAX_BODY)
            .await
            .map_err(|_| ApiError::entity_too_large())?;
        if body.is_empty() {
            return Ok(p);
        }
        if content_type.starts_with("application/json") {
            // Telegram ignores a body it cannot read as a JSON object: the method then fails on
            // its first missing parameter.
            if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&body) {
                p.fields.extend(m);
            }
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).unwrap_or_default();
            for (k, v) in pairs {
                p.fields.insert(k, Value::String(v));
            }
        }
        Ok(p)
    }

    #[cfg(test)]
    pub(crate) fn from_json(v: Value) -> Params {
        Params {
            fields: v.as_object().cloned().unwrap_or_default(),
            files: HashMap::new(),
        }
    }

    pub(crate) fn has(&self, k: &str) -> bool {
        self.fields.get(k).is_some_and(|v| !v.is_null())
    }

    /// An integer parameter, given as a number or as a string of digits.
    pub(crate) fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.fields.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("field \"{k}\" must be an Integer"))),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("field \"{k}\" must be an Integer"))),
            Some(_) => Err(ApiError::bad_request(format!(
                "field \"{k}\" must be an Integer"
            ))),
        }
    }

    pub(crate) fn string(&self, k: &str) -> Option<String> {
        match self.fields.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub(crate) fn bool(&self, k: &str) -> bool {
        match self.fields.get(k) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    /// A JSON-serialised object or array parameter.
    pub(crate) fn json(&self, k: &str) -> Result<Option<Value>, ApiError> {
        match self.fields.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("can't parse {k} JSON object"))),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    /// `chat_id`: an integer, or a string holding one (`@username` addressing is for public
    /// chats, which the fake has none of).
    pub(crate) fn chat_id(&self) -> Result<i64, ApiError> {
        if !self.has("chat_id") || self.string("chat_id").is_some_and(|s| s.is_empty()) {
            return Err(ApiError::bad_request("chat_id is empty"));
        }
        match self.int("chat_id") {
            Ok(Some(id)) => Ok(id),
            _ => Err(ApiError::bad_request("chat not found")),
        }
    }

    /// An input file: an uploaded part (named as the field, or referenced as `attach://name`),
    /// or a `file_id` string.
    pub(crate) fn file(&self, k: &str) -> Option<FileArg> {
        if let Some(u) = self.files.get(k) {
            return Some(FileArg::Upload(u.clone()));
        }
        let s = self.string(k)?;
        if let Some(name) = s.strip_prefix("attach://") {
            return self.files.get(name).cloned().map(FileArg::Upload);
        }
        Some(FileArg::Id(s))
    }
}

/// An `InputFile` argument.
#[derive(Debug, Clone)]
pub(crate) enum FileArg {
    Upload(Upload),
    Id(String),
}
