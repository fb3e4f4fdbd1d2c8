//! A person on Matrix (a staff member, a moderator), through the plain client-server API: what
//! any Matrix client does, with nothing of the bridge's own Matrix code in the way.

use super::DemoError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// A point in the homeserver's timeline (a sync token): "only what happened after this".
#[derive(Debug, Clone)]
pub struct Mark(String);

/// One `m.room.message` as a client shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomMessage {
    pub event_id: String,
    pub sender: String,
    pub body: String,
    /// The thread root, for a message in a thread.
    pub thread: Option<String>,
    /// The event this one answers (`m.in_reply_to`), thread fallbacks included.
    pub reply_to: Option<String>,
    /// Whether it is an edit (`m.replace`) of another event.
    pub edit_of: Option<String>,
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

    pub fn user_id(&self) -> &str {
        &self.account.user_id
    }

    async fn call(
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

    fn fresh_txn(&self) -> String {
        let n = self.txn.fetch_add(1, Ordering::Relaxed);
        format!("cbdemo-{}-{n}", civicbridge_core::store::now_ms())
    }

    async fn send(&self, room: &str, kind: &str, content: Value) -> Result<String, DemoError> {
        self.send_as(room, kind, content, &self.fresh_txn()).await
    }

    async fn send_as(
        &self,
        room: &str,
        kind: &str,
        content: Value,
        txn: &str,
    ) -> Result<String, DemoError> {
        let r = self
            .call(
                "send",
                reqwest::Method::PUT,
                &format!("/_matrix/client/v3/rooms/{}/send/{kind}/{txn}", enc(room)),
                Some(content),
            )
            .await?;
        Ok(r["event_id"].as_str().unwrap_or_default().to_owned())
    }

    /// Posts a plain text message; returns its event id.
    pub async fn say(&self, room: &str, text: &str) -> Result<String, DemoError> {
        self.say_once(room, text, &self.fresh_txn()).await
    }

    /// Posts a plain text message under the transaction id `txn`: calling it again with the
    /// same id (a retry whose first answer was lost, say while the homeserver restarts) gives
    /// the same event, not a second message.
    pub async fn say_once(&self, room: &str, text: &str, txn: &str) -> Result<String, DemoError> {
        self.send_as(
            room,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": text }),
            txn,
        )
        .await
    }

    /// Answers in the thread of `root`, as Element does (with the reply fallback).
    pub async fn say_in_thread(
        &self,
        room: &str,
        root: &str,
        text: &str,
    ) -> Result<String, DemoError> {
        self.send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": text,
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": root,
                    "is_falling_back": true,
                    "m.in_reply_to": { "event_id": root }
                }
            }),
        )
        .await
    }

    /// Reacts to `event` with `key` (e.g. "✅").
    pub async fn react(&self, room: &str, event: &str, key: &str) -> Result<String, DemoError> {
        self.send(
            room,
            "m.reaction",
            json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": event, "key": key } }),
        )
        .await
    }

    /// Now, in the timeline: later [`Self::messages_since`] calls show only what follows.
    pub async fn mark(&self) -> Result<Mark, DemoError> {
        let filter = enc(r#"{"room":{"timeline":{"limit":1}}}"#);
        let r = self
            .call(
                "sync",
                reqwest::Method::GET,
                &format!("/_matrix/client/v3/sync?timeout=0&filter={filter}"),
                None,
            )
            .await?;
        Ok(Mark(
            r["next_batch"].as_str().unwrap_or_default().to_owned(),
        ))
    }

    /// One long-polling `/sync` from `since` (waits up to `timeout_ms` for something new):
    /// the messages that arrived, as `(room, message)`, and the mark to sync from next. What a
    /// client's sync loop sees, for latency measurements.
    pub async fn sync(
        &self,
        since: &Mark,
        timeout_ms: u64,
    ) -> Result<(Mark, Vec<(String, RoomMessage)>), DemoError> {
        let r = self
            .call(
                "sync",
                reqwest::Method::GET,
                &format!(
                    "/_matrix/client/v3/sync?timeout={timeout_ms}&since={}",
                    enc(&since.0)
                ),
                None,
            )
            .await?;
        let mut out = Vec::new();
        if let Some(rooms) = r["rooms"]["join"].as_object() {
            for (room, v) in rooms {
                for e in v["timeline"]["events"].as_array().into_iter().flatten() {
                    if let Some(m) = room_message(e) {
                        out.push((room.clone(), m));
                    }
                }
            }
        }
        let next = r["next_batch"].as_str().unwrap_or(&since.0).to_owned();
        Ok((Mark(next), out))
    }

    /// The room's messages after `mark`, oldest first.
    pub async fn messages_since(
        &self,
        room: &str,
        mark: &Mark,
    ) -> Result<Vec<RoomMessage>, DemoError> {
        let mut out = Vec::new();
        let mut from = mark.0.clone();
        loop {
            let r = self
                .call(
                    "messages",
                    reqwest::Method::GET,
                    &format!(
                        "/_matrix/client/v3/rooms/{}/messages?dir=f&limit=100&from={}",
                        enc(room),
                        enc(&from)
                    ),
                    None,
                )
                .await?;
            let chunk = r["chunk"].as_array().cloned().unwrap_or_default();
            out.extend(chunk.iter().filter_map(room_message));
            match r["end"].as_str() {
                Some(end) if !chunk.is_empty() && end != from => from = end.to_owned(),
                _ => return Ok(out),
            }
        }
    }
}

fn room_message(e: &Value) -> Option<RoomMessage> {
    if e["type"] != "m.room.message" {
        return None;
    }
    let rel = &e["content"]["m.relates_to"];
    let s = |v: &Value| v.as_str().map(str::to_owned);
    Some(RoomMessage {
        event_id: s(&e["event_id"])?,
        sender: s(&e["sender"]).unwrap_or_default(),
        body: s(&e["content"]["body"]).unwrap_or_default(),
        thread: (rel["rel_type"] == "m.thread")
            .then(|| s(&rel["event_id"]))
            .flatten(),
        reply_to: s(&rel["m.in_reply_to"]["event_id"]),
        edit_of: (rel["rel_type"] == "m.replace")
            .then(|| s(&rel["event_id"]))
            .flatten(),
    })
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

    #[test]
    fn reads_threads_replies_and_edits() {
        let e = json!({"type":"m.room.message","event_id":"$e","sender":"@s:l",
            "content":{"body":"hi","m.relates_to":{"rel_type":"m.thread","event_id":"$r",
            "m.in_reply_to":{"event_id":"$r"}}}});
        let m = room_message(&e).expect("a message");
        assert_eq!(m.thread.as_deref(), Some("$r"));
        assert_eq!(m.reply_to.as_deref(), Some("$r"));
        assert_eq!(m.edit_of, None);
        assert!(room_message(&json!({"type":"m.reaction"})).is_none());
    }
}
