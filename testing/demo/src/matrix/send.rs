//! What a person writes: messages, thread answers, replies, edits, reactions, redactions.

use super::{enc, MatrixUser};
use crate::DemoError;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

impl MatrixUser {
    fn fresh_txn(&self) -> String {
        let n = self.txn.fetch_add(1, Ordering::Relaxed);
        format!("cbdemo-{}-{n}", civicbridge_core::store::now_ms())
    }

    /// Sends an event of type `kind` with `content`; returns its event id.
    pub async fn send(&self, room: &str, kind: &str, content: Value) -> Result<String, DemoError> {
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

    /// An `m.replace` edit of `target` (the homeserver accepts one from anybody in the room:
    /// whether it counts is the reader's business).
    pub async fn edit(&self, room: &str, target: &str, text: &str) -> Result<String, DemoError> {
        self.send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": format!("* {text}"),
                "m.new_content": { "msgtype": "m.text", "body": text },
                "m.relates_to": { "rel_type": "m.replace", "event_id": target },
            }),
        )
        .await
    }

    /// A reply to `target` (not in a thread).
    pub async fn reply(&self, room: &str, target: &str, text: &str) -> Result<String, DemoError> {
        self.send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": text,
                "m.relates_to": { "m.in_reply_to": { "event_id": target } },
            }),
        )
        .await
    }

    /// Redacts `target`. Returns the homeserver's HTTP status, since refusing is a legitimate
    /// answer (a colleague without the power to remove others' messages gets 403).
    pub async fn redact(&self, room: &str, target: &str) -> Result<u16, DemoError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/redact/{}/{}",
            enc(room),
            enc(target),
            self.fresh_txn()
        );
        match self
            .call(
                "redact",
                reqwest::Method::PUT,
                &path,
                Some(json!({ "reason": "removed" })),
            )
            .await
        {
            Ok(_) => Ok(200),
            Err(DemoError::Matrix { status, .. }) => Ok(status),
            Err(e) => Err(e),
        }
    }
}
