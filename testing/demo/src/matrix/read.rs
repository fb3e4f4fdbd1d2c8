//! What a person sees: the room's history with edits applied, sync, and waiting for a message.

use super::{enc, MatrixUser};
use crate::wait::wait_for;
use crate::DemoError;
use serde_json::Value;
use std::time::Duration;

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

impl MatrixUser {
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

    /// Up to 1,000 of the room's latest events as the server returns them (edits, redacted
    /// events, state, reactions), oldest first: for tests that prove something is gone from the
    /// history, not just hidden.
    pub async fn history(&self, room: &str) -> Result<Vec<Value>, DemoError> {
        let r = self
            .call(
                "messages",
                reqwest::Method::GET,
                &format!(
                    "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=1000",
                    enc(room)
                ),
                None,
            )
            .await?;
        let mut events = r["chunk"].as_array().cloned().unwrap_or_default();
        events.reverse();
        Ok(events)
    }

    /// The rooms this person is invited to now, each with the invite's stripped state events
    /// (`m.room.encryption`, the inviter's membership …).
    pub async fn invites(&self) -> Result<Vec<(String, Vec<Value>)>, DemoError> {
        let r = self
            .call(
                "sync",
                reqwest::Method::GET,
                "/_matrix/client/v3/sync?timeout=0",
                None,
            )
            .await?;
        Ok(r["rooms"]["invite"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(room, v)| {
                let state = v["invite_state"]["events"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                (room.clone(), state)
            })
            .collect())
    }

    /// The content of every `m.room.message` in `room`, oldest first, as sent (edits are events
    /// of their own; redacted ones are empty): for assertions on `body` and `formatted_body`.
    pub async fn contents(&self, room: &str) -> Result<Vec<Value>, DemoError> {
        Ok(self
            .history(room)
            .await?
            .into_iter()
            .filter(|e| e["type"] == "m.room.message")
            .map(|e| e["content"].clone())
            .collect())
    }

    /// The plain body of every `m.room.message` still carrying one, oldest first, edits
    /// included as sent.
    pub async fn bodies(&self, room: &str) -> Result<Vec<String>, DemoError> {
        Ok(self
            .contents(room)
            .await?
            .iter()
            .filter_map(|c| c["body"].as_str().map(str::to_owned))
            .collect())
    }

    /// How many of the room's messages were redacted.
    pub async fn redacted(&self, room: &str) -> Result<usize, DemoError> {
        Ok(self
            .history(room)
            .await?
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .filter(|e| !e["unsigned"]["redacted_because"].is_null())
            .count())
    }

    /// The room's messages as a client shows them, oldest first: edits applied to what they
    /// replace (and not listed themselves), redacted messages left out.
    pub async fn shown(&self, room: &str) -> Result<Vec<RoomMessage>, DemoError> {
        let mut out: Vec<RoomMessage> = Vec::new();
        for e in self.history(room).await? {
            let Some(m) = room_message(&e) else { continue };
            if let Some(target) = &m.edit_of {
                let new_body = e["content"]["m.new_content"]["body"].as_str();
                if let (Some(old), Some(body)) =
                    (out.iter_mut().find(|o| &o.event_id == target), new_body)
                {
                    body.clone_into(&mut old.body);
                }
                continue;
            }
            if e["content"]["body"].is_string() {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Waits until a message shown in `room` satisfies `f` (see [`Self::shown`]); returns it.
    pub async fn wait_for_message(
        &self,
        room: &str,
        patience: Duration,
        what: &str,
        f: impl Fn(&RoomMessage) -> bool,
    ) -> Result<RoomMessage, DemoError> {
        let seen = std::sync::Mutex::new(Vec::new());
        let found = wait_for(patience, what, || async {
            let shown = self.shown(room).await?;
            let hit = shown.iter().find(|m| f(m)).cloned();
            *seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                shown.into_iter().map(|m| m.body).collect();
            Ok(hit)
        })
        .await;
        found.map_err(|e| match e {
            DemoError::Timeout { what, secs } => DemoError::Check(format!(
                "no {what} in {room} after {secs} s; it shows {:#?}",
                seen.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            )),
            other => other,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
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
