//! Request bodies: JSON, or multipart with `payload_json` and `files[n]` parts, and the upload
//! limit Discord holds files to (413 / 40005 "Request entity too large").

use super::*;
use crate::discord::state::upload_limit;
use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart};

/// The largest body read at all: the level 3 upload limit plus room for the form around it.
pub const MAX_BODY: usize = 101 * 1024 * 1024;

/// A file part of a multipart body.
pub(super) struct Upload {
    pub filename: String,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

fn too_large() -> Response {
    api_error(413, 40005, "Request entity too large")
}

/// Discord answers a body over its limit with 413 / 40005, other unreadable forms with 50035.
fn multipart_error(e: MultipartError) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        api_error(400, 50035, &format!("Invalid Form Body: {e}"))
    }
}

/// Reads a JSON body, or a multipart body with `payload_json` and `files[n]` parts.
pub(super) async fn read_body(req: Request) -> Result<(Value, Vec<Upload>), Response> {
    let is_multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if is_multipart {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| api_error(400, 50035, &format!("Invalid Form Body: {e}")))?;
        let mut payload = Value::Null;
        let mut files = Vec::new();
        while let Some(field) = mp.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or_default().to_owned();
            let filename = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            let data = field.bytes().await.map_err(multipart_error)?;
            if name == "payload_json" {
                payload = serde_json::from_slice(&data).map_err(|_| {
                    api_error(400, 50109, "The request body contains invalid JSON.")
                })?;
            } else if name.starts_with("files[") || name == "file" {
                files.push(Upload {
                    filename: filename.unwrap_or_else(|| "file".into()),
                    content_type,
                    data: data.to_vec(),
                });
            }
        }
        return Ok((payload, files));
    }
    let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| too_large())?;
    if bytes.is_empty() {
        return Ok((Value::Null, Vec::new()));
    }
    let v = serde_json::from_slice(&bytes)
        .map_err(|_| api_error(400, 50109, "The request body contains invalid JSON."))?;
    Ok((v, Vec::new()))
}

/// Files of one message in `guild` may total at most its upload limit (10 MiB, more with
/// boosts); Discord refuses more with 413 / 40005.
pub(super) fn check_upload_size(st: &State, guild: u64, files: &[Upload]) -> Result<(), Response> {
    let tier = st.guilds.get(&guild).map_or(0, |g| g.premium_tier);
    let total: u64 = files.iter().map(|f| f.data.len() as u64).sum();
    if total > upload_limit(tier) {
        return Err(too_large());
    }
    Ok(())
}
