//! `Outgoing` -> Matrix event content (pure): messages, files, edits, reactions, and the
//! transaction ids of redactions.
//!
//! Every send passes a transaction id derived from the outbox job (`Outgoing.txn_id`): Synapse
//! answers a repeated `PUT /send/{type}/{txnId}` from the same device with the first event's
//! id, so a retry after a crash cannot post twice. (Transaction ids are scoped to the device,
//! which is why the bot keeps one device across restarts.)

use crate::format;
use civicbridge_api::{AttachmentKind, Outgoing, OutgoingFile, Persona, RemoteMsgId, ThreadTarget};
use serde_json::{json, Map, Value};

/// MSC4144 per-message profiles, unstable prefix.
pub const PER_MESSAGE_PROFILE: &str = "com.beeper.per_message_profile";

/// The thread root an `Outgoing` goes into: both `StartFrom(root)` and `Existing(root)` mean
/// "the thread of that event" on Matrix (a thread exists as soon as an event relates to it).
pub fn thread_root(out: &Outgoing) -> Option<&str> {
    out.thread.as_ref().map(|t| match t {
        ThreadTarget::Existing(id) => id.as_str(),
        ThreadTarget::StartFrom(id) => id.as_str(),
    })
}

fn msgtype(out: &Outgoing) -> &'static str {
    if out.notice {
        "m.notice"
    } else {
        "m.text"
    }
}

/// The `body`/`formatted_body` part shared by new messages and edits.
fn text_fields(out: &Outgoing) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("msgtype".into(), json!(msgtype(out)));
    m.insert("body".into(), json!(format::render_plain(&out.text)));
    m.insert("format".into(), json!("org.matrix.custom.html"));
    m.insert(
        "formatted_body".into(),
        json!(format::render_html(&out.text)),
    );
    // Empty intentional mentions: nothing the bridge relays may ping anyone (not even a typed
    // `@room`, which the legacy push rules would otherwise honour).
    m.insert("m.mentions".into(), json!({}));
    m
}

/// The `m.relates_to` for `out`'s thread and reply, if any.
fn relation(out: &Outgoing) -> Option<Value> {
    match (thread_root(out), &out.reply_to) {
        (Some(root), reply) => {
            // In a thread; `is_falling_back` tells thread-aware clients the `m.in_reply_to` is
            // only there for clients without threads.
            let (in_reply_to, falling_back) = match reply {
                Some(r) => (r.as_str(), false),
                None => (root, true),
            };
            Some(json!({
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": falling_back,
                "m.in_reply_to": { "event_id": in_reply_to },
            }))
        }
        (None, Some(reply)) => Some(json!({ "m.in_reply_to": { "event_id": reply.as_str() } })),
        (None, None) => None,
    }
}

/// The content of a new `m.room.message` for `out`.
pub fn message_content(out: &Outgoing) -> Value {
    let mut m = text_fields(out);
    if let Some(rel) = relation(out) {
        m.insert("m.relates_to".into(), rel);
    }
    if let Some(p) = &out.persona {
        m.insert(PER_MESSAGE_PROFILE.into(), profile(p));
    }
    Value::Object(m)
}

/// The content of a media message for one of `out`'s files, already uploaded: `source` holds
/// either `url` (an mxc URI) or `file` (an encrypted file, in encrypted rooms). Files go into
/// the same thread and reply as the text.
pub fn file_content(out: &Outgoing, file: &OutgoingFile, mime: &str, source: Value) -> Value {
    let msgtype = match file.kind {
        AttachmentKind::Image | AttachmentKind::Sticker => "m.image",
        AttachmentKind::Video => "m.video",
        AttachmentKind::Audio | AttachmentKind::Voice => "m.audio",
        AttachmentKind::File => "m.file",
    };
    let mut m = Map::new();
    m.insert("msgtype".into(), json!(msgtype));
    m.insert("body".into(), json!(file.name));
    m.insert("filename".into(), json!(file.name));
    m.insert(
        "info".into(),
        json!({ "mimetype": mime, "size": file.data.len() }),
    );
    if file.kind == AttachmentKind::Voice {
        m.insert("org.matrix.msc3245.voice".into(), json!({}));
    }
    if let Value::Object(src) = source {
        m.extend(src);
    }
    m.insert("m.mentions".into(), json!({}));
    if let Some(rel) = relation(out) {
        m.insert("m.relates_to".into(), rel);
    }
    if let Some(p) = &out.persona {
        m.insert(PER_MESSAGE_PROFILE.into(), profile(p));
    }
    Value::Object(m)
}

/// MSC4144: `has_fallback` says the body already names the sender (the core's bold prefix).
fn profile(p: &Persona) -> Value {
    let name =
        civicbridge_api::names::normalize(&p.display_name, civicbridge_api::names::MAX_NAME_CHARS);
    let mut v = json!({
        "id": format!("{}:{}", p.platform_label, name),
        "displayname": name,
        "has_fallback": true,
    });
    // Only an mxc:// avatar can be shown; others would be fetched by every client.
    if let Some(url) = p.avatar_url.as_deref().filter(|u| u.starts_with("mxc://")) {
        v["avatar_url"] = json!(url);
    }
    v
}

/// The content of an `m.replace` edit of `target` so it reads `out.text`.
pub fn edit_content(target: &RemoteMsgId, out: &Outgoing) -> Value {
    let new = text_fields(out);
    let mut m = text_fields(out);
    let star = |v: &Value| json!(format!("* {}", v.as_str().unwrap_or_default()));
    let body = star(&m["body"]);
    let html = star(&m["formatted_body"]);
    m.insert("body".into(), body);
    m.insert("formatted_body".into(), html);
    m.insert("m.new_content".into(), Value::Object(new));
    m.insert(
        "m.relates_to".into(),
        json!({ "rel_type": "m.replace", "event_id": target.as_str() }),
    );
    Value::Object(m)
}

/// The content of an `m.reaction`.
pub fn reaction_content(target: &RemoteMsgId, key: &str) -> Value {
    json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": target.as_str(), "key": key } })
}

/// A transaction id for an operation that has no outbox job id (redactions), stable for the
/// same target so a repeat is deduplicated too. Only URL-safe characters. Not for reactions:
/// a reaction can be removed and made again, and the same transaction id would then return
/// the removed one (see `react` in `lib.rs`).
pub fn derived_txn_id(kind: &str, parts: &[&str]) -> String {
    let mut s = String::from(kind);
    for p in parts {
        s.push('-');
        for b in p.bytes() {
            if b.is_ascii_alphanumeric() {
                s.push(char::from(b));
            } else {
                s.push_str(&format!("_{b:02x}"));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use civicbridge_api::{RichText, RoomId, Span, ThreadId};

    fn out(text: RichText) -> Outgoing {
        Outgoing::text(RoomId::new("!r"), "job-1", text)
    }

    #[test]
    fn text_is_escaped_and_mentions_are_empty() {
        let c = message_content(&out(RichText {
            spans: vec![
                Span::Bold(vec![Span::Text("Ada (Telegram):".into())]),
                Span::Text(" <b>hi</b> @room".into()),
            ],
        }));
        assert_eq!(c["msgtype"], "m.text");
        assert_eq!(c["body"], "Ada (Telegram): <b>hi</b> @room");
        assert_eq!(
            c["formatted_body"],
            "<strong>Ada (Telegram):</strong> &lt;b&gt;hi&lt;/b&gt; @room"
        );
        assert_eq!(c["m.mentions"], json!({}));
        assert!(c.get("m.relates_to").is_none());
    }

    #[test]
    fn notices_threads_replies_and_personas() {
        let mut o = out(RichText::plain("x"));
        o.notice = true;
        o.thread = Some(ThreadTarget::StartFrom(RemoteMsgId::new("$root")));
        o.persona = Some(Persona {
            display_name: "Ada".into(),
            avatar_url: Some("https://t.me/a.png".into()),
            platform_label: "Telegram".into(),
        });
        let c = message_content(&o);
        assert_eq!(c["msgtype"], "m.notice");
        assert_eq!(c["m.relates_to"]["rel_type"], "m.thread");
        assert_eq!(c["m.relates_to"]["event_id"], "$root");
        assert_eq!(c["m.relates_to"]["is_falling_back"], true);
        assert_eq!(c[PER_MESSAGE_PROFILE]["displayname"], "Ada");
        assert_eq!(c[PER_MESSAGE_PROFILE]["has_fallback"], true);
        assert!(c[PER_MESSAGE_PROFILE].get("avatar_url").is_none());

        o.thread = Some(ThreadTarget::Existing(ThreadId::new("$root")));
        o.reply_to = Some(RemoteMsgId::new("$q"));
        let c = message_content(&o);
        assert_eq!(c["m.relates_to"]["is_falling_back"], false);
        assert_eq!(c["m.relates_to"]["m.in_reply_to"]["event_id"], "$q");

        o.thread = None;
        let c = message_content(&o);
        assert_eq!(
            c["m.relates_to"],
            json!({"m.in_reply_to": {"event_id": "$q"}})
        );
    }

    #[test]
    fn files_follow_the_text_into_threads() {
        let mut o = out(RichText::default());
        o.thread = Some(ThreadTarget::Existing(ThreadId::new("$root")));
        let f = OutgoingFile {
            kind: AttachmentKind::Voice,
            name: "note.ogg".into(),
            mime: None,
            data: vec![1, 2, 3],
        };
        let c = file_content(&o, &f, "audio/ogg", json!({"url": "mxc://h/x"}));
        assert_eq!(c["msgtype"], "m.audio");
        assert_eq!(c["url"], "mxc://h/x");
        assert_eq!(c["filename"], "note.ogg");
        assert_eq!(c["info"]["size"], 3);
        assert!(c.get("org.matrix.msc3245.voice").is_some());
        assert_eq!(c["m.relates_to"]["event_id"], "$root");
    }

    #[test]
    fn edits_carry_new_content_and_a_replace_relation() {
        let c = edit_content(&RemoteMsgId::new("$orig"), &out(RichText::plain("new <i>")));
        assert_eq!(c["body"], "* new <i>");
        assert_eq!(c["m.new_content"]["body"], "new <i>");
        assert_eq!(c["m.new_content"]["formatted_body"], "new &lt;i&gt;");
        assert_eq!(c["m.relates_to"]["rel_type"], "m.replace");
        assert_eq!(c["m.relates_to"]["event_id"], "$orig");
    }

    #[test]
    fn derived_txn_ids_are_url_safe_and_stable() {
        let a = derived_txn_id("redact", &["$abc:x", "✅"]);
        assert_eq!(a, derived_txn_id("redact", &["$abc:x", "✅"]));
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(a, derived_txn_id("redact", &["$abc:x", "❌"]));
    }
}
