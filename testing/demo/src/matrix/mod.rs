//! A person on Matrix (a staff member, a moderator, a colleague), through the plain client-server
//! API: what any Matrix client does, with nothing of the bridge's own Matrix code in the way. The
//! demo, the end-to-end tests and the relay bench all act through this one type.
//!
//! - this file: the account, the HTTP call, rooms and membership;
//! - [`send`]: what a person writes (messages, threads, replies, edits, reactions, redactions);
//! - [`read`]: what a person sees (history with edits applied, sync, waiting for a message).

mod media;
mod read;
mod send;

pub use read::{Mark, RoomMessage};

use super::DemoError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::AtomicU64;

/// Login details of one account, as the demo keeps them between runs.
#[derive(Clone, Serialize, Deserialize)]
pub struct Account {
    pub user_id: String,
    pub password: String,
    pub access_token: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl From<civicbridge_testkit::synapse::RegisteredUser> for Account {
    fn from(u: civicbridge_testkit::synapse::RegisteredUser) -> Self {
        Account {
            user_id: u.user_id,
            password: u.password,
            access_token: u.access_token,
        }
    }
}

/// A Matrix user acting through the client-server API.
#[derive(Debug)]
pub struct MatrixUser {
    http: reqwest::Client,
    base: String,
    pub account: Account,
    txn: AtomicU64,
}

impl MatrixUser {
    pub fn new(base: &str, account: Account) -> Self {
        MatrixUser {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            account,
            txn: AtomicU64::new(0),
        }
    }

    /// Registers a fresh account on `hs` (its name starts with `prefix`) and acts as it.
    pub async fn register(
        hs: &civicbridge_testkit::synapse::Synapse,
        prefix: &str,
    ) -> Result<Self, DemoError> {
        Ok(MatrixUser::new(
            hs.url(),
            hs.register_fresh(prefix).await?.into(),
        ))
    }

    pub fn user_id(&self) -> &str {
        &self.account.user_id
    }

    pub(crate) async fn call(
        &self,
        what: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, DemoError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.account.access_token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            return Err(DemoError::Matrix {
                what: what.to_owned(),
                status: status.as_u16(),
                body: text,
            });
        }
        serde_json::from_str(&text).map_err(|e| DemoError::Matrix {
            what: what.to_owned(),
            status: status.as_u16(),
            body: format!("{e}: {text}"),
        })
    }

    /// Creates a private, unencrypted room with `name`, inviting `invite`; returns its id.
    pub async fn create_room(&self, name: &str, invite: &[&str]) -> Result<String, DemoError> {
        let r = self
            .call(
                "createRoom",
                reqwest::Method::POST,
                "/_matrix/client/v3/createRoom",
                Some(json!({ "name": name, "invite": invite, "preset": "private_chat" })),
            )
            .await?;
        Ok(r["room_id"].as_str().unwrap_or_default().to_owned())
    }

    /// Invites `user` to `room` (answers ok if they are already in).
    pub async fn invite(&self, room: &str, user: &str) -> Result<(), DemoError> {
        let r = self
            .call(
                "invite",
                reqwest::Method::POST,
                &format!("/_matrix/client/v3/rooms/{}/invite", enc(room)),
                Some(json!({ "user_id": user })),
            )
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(DemoError::Matrix { body, .. }) if body.contains("already in the room") => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn join(&self, room: &str) -> Result<(), DemoError> {
        self.call(
            "join",
            reqwest::Method::POST,
            &format!("/_matrix/client/v3/join/{}", enc(room)),
            Some(json!({})),
        )
        .await
        .map(|_| ())
    }

    /// The members who have joined `room`.
    pub async fn joined_members(&self, room: &str) -> Result<Vec<String>, DemoError> {
        let r = self
            .call(
                "joined_members",
                reqwest::Method::GET,
                &format!("/_matrix/client/v3/rooms/{}/joined_members", enc(room)),
                None,
            )
            .await?;
        Ok(r["joined"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// Sets `user`'s power level in `room` (the caller needs the right to).
    pub async fn set_power_level(
        &self,
        room: &str,
        user: &str,
        level: i64,
    ) -> Result<(), DemoError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/state/m.room.power_levels/",
            enc(room)
        );
        let mut levels = self
            .call("get power levels", reqwest::Method::GET, &path, None)
            .await?;
        levels["users"][user] = json!(level);
        self.call(
            "set power levels",
            reqwest::Method::PUT,
            &path,
            Some(levels),
        )
        .await
        .map(|_| ())
    }

    /// Changes this person's display name (the homeserver updates their membership in every
    /// room they are in).
    pub async fn set_display_name(&self, name: &str) -> Result<(), DemoError> {
        self.call(
            "set display name",
            reqwest::Method::PUT,
            &format!(
                "/_matrix/client/v3/profile/{}/displayname",
                enc(self.user_id())
            ),
            Some(json!({ "displayname": name })),
        )
        .await
        .map(|_| ())
    }
}

/// Percent-encodes a path or query component (room ids start with `!`, tokens carry `~`).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_room_ids_and_filters() {
        assert_eq!(enc("!abc:localhost"), "%21abc%3Alocalhost");
        assert_eq!(enc(r#"{"a":1}"#), "%7B%22a%22%3A1%7D");
    }
}
