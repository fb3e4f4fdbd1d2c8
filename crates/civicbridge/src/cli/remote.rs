//! The command line while the bridge runs. sled lets one process open the store, so with the
//! bridge running the store commands (`rules`, `queue`, `takedown`, `trust`, `block`) go
//! through the admin API instead, when the config turns it on (`[admin] listen` and an admin
//! token): as the moderation-room command they stand for, run by the bridge through the same
//! code and audited as that token. Their output is the command's reply. `audit`, `erase` and
//! `prune` still need the bridge stopped.

use crate::{input, out, Failure};
use civicbridge_core::ops::config::Settings;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where and as whom to reach the running bridge's admin API.
#[derive(Debug)]
pub struct Remote {
    base: String,
    token: String,
}

impl Remote {
    /// The admin API of the config, if it is on with an admin token (`None` otherwise).
    pub fn of(settings: &Settings) -> Option<Remote> {
        let admin = settings.admin.as_ref()?;
        let (_, token) = admin.tokens.first_admin()?;
        let mut addr: SocketAddr = admin.listen;
        if addr.port() == 0 {
            return None; // a port the system chose: not knowable from here
        }
        // A wildcard listener is reached on loopback.
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        Some(Remote {
            base: format!("http://{addr}/api/v1"),
            token: token.to_owned(),
        })
    }

    /// Runs the moderation-room `command` on `link` in the running bridge and prints its
    /// reply. A refusal or an error is the admin's input to change (exit 2).
    pub async fn run(&self, link: &str, command: &str) -> Result<(), Failure> {
        let body = serde_json::json!({ "command": command });
        let (_, answer) = self
            .call(
                reqwest::Method::POST,
                &format!("/links/{link}/commands"),
                Some(body),
            )
            .await?;
        out(answer["reply"].as_str().unwrap_or_default());
        Ok(())
    }

    /// Calls the API; a 2xx answer's JSON (or `{"text": …}` for a text body), else the
    /// answer's words as the admin's input to change (exit 2).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), Failure> {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(std::time::Duration::from_secs(60));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let sent = req.send().await.map_err(|e| {
            input(format!(
                "the store is in use by the running bridge, and its admin API at {} does not answer ({e}); stop the bridge first",
                self.base
            ))
        })?;
        let status = sent.status().as_u16();
        let json = sent
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let text = sent.text().await.unwrap_or_default();
        let answer: serde_json::Value = if json {
            serde_json::from_str(&text).unwrap_or_default()
        } else {
            serde_json::json!({ "text": text })
        };
        if (200..300).contains(&status) {
            return Ok((status, answer));
        }
        if status == 401 {
            return Err(input(
                "the running bridge's admin API refused the config's admin token (is the bridge on an older config? reload it)",
            ));
        }
        let words = answer["reply"]
            .as_str()
            .or(answer["error"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("the admin API answered {status}"));
        Err(input(words))
    }
}
