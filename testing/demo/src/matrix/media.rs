//! Files: what a person uploads and sends, and what they download of a message's file.

use super::{enc, MatrixUser};
use crate::DemoError;
use serde_json::{json, Value};

impl MatrixUser {
    /// Uploads `data` to the homeserver; returns its `mxc://` URI.
    pub async fn upload(&self, name: &str, mime: &str, data: Vec<u8>) -> Result<String, DemoError> {
        let resp = self
            .http
            .post(format!(
                "{}/_matrix/media/v3/upload?filename={}",
                self.base,
                enc(name)
            ))
            .bearer_auth(&self.account.access_token)
            .header("content-type", mime)
            .body(data)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match v["content_uri"].as_str() {
            Some(uri) if status.is_success() => Ok(uri.to_owned()),
            _ => Err(DemoError::Matrix {
                what: "upload".into(),
                status: status.as_u16(),
                body: text,
            }),
        }
    }

    /// Uploads `data` and sends it as a file message (`m.image` for images, else `m.file`);
    /// returns the event id.
    pub async fn send_file(
        &self,
        room: &str,
        name: &str,
        mime: &str,
        data: Vec<u8>,
    ) -> Result<String, DemoError> {
        let size = data.len();
        let url = self.upload(name, mime, data).await?;
        let msgtype = if mime.starts_with("image/") {
            "m.image"
        } else {
            "m.file"
        };
        let content = json!({
            "msgtype": msgtype,
            "body": name,
            "url": url,
            "info": { "mimetype": mime, "size": size },
        });
        self.send(room, "m.room.message", content).await
    }

    /// The bytes behind an `mxc://server/id` URI (authenticated media).
    pub async fn download(&self, mxc: &str) -> Result<Vec<u8>, DemoError> {
        let Some(path) = mxc.strip_prefix("mxc://") else {
            return Err(DemoError::Matrix {
                what: "download".into(),
                status: 0,
                body: format!("not an mxc URI: {mxc}"),
            });
        };
        let resp = self
            .http
            .get(format!(
                "{}/_matrix/client/v1/media/download/{path}",
                self.base
            ))
            .bearer_auth(&self.account.access_token)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(DemoError::Matrix {
                what: "download".into(),
                status: status.as_u16(),
                body: resp.text().await.unwrap_or_default(),
            });
        }
        Ok(resp.bytes().await?.to_vec())
    }
}
