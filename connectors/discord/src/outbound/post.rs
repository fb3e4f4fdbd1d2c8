//! The requests that create: a bot message (with a nonce, so a retried create posts once), a
//! webhook message (with the persona), a thread from a message, and a forum post. Every one
//! carries `allowed_mentions: {"parse": []}`.

use super::allowed_mentions;
use super::persona::webhook_username;
use super::responses::{RestChannel, RestMessage};
use crate::error::DiscordError;
use crate::{Hook, Inner};
use civicbridge_api::{Outgoing, OutgoingFile, RichText};
use serde_json::{json, Value};
use serenity::all::{ChannelId, MessageId, WebhookId};
use serenity::builder::CreateAttachment;
use serenity::http::{LightMethod, Multipart, MultipartUpload, Request, Route};

/// Message flag: do not send push or desktop notifications.
const SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;

/// A nonce for part `part` of the send `txn_id`: at most 25 characters, equal on every retry.
pub fn nonce_for(txn_id: &str, part: usize) -> String {
    // FNV-1a, 64 bits: short, stable, and spread enough for a few minutes of sends.
    let h = txn_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("cb{h:016x}{part}").chars().take(25).collect()
}

/// A thread name from the first line of `text`: 1–100 characters.
pub(super) fn thread_name(text: &RichText) -> String {
    let plain = text.to_plain();
    let first = plain
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let name: String = first.chars().take(90).collect();
    if name.is_empty() {
        "Thread".into()
    } else {
        name
    }
}

impl Inner {
    fn with_body<'a>(req: Request<'a>, body: &Value, file: Option<&OutgoingFile>) -> Request<'a> {
        match file {
            None => req.body(Some(body.to_string().into_bytes())),
            Some(f) => {
                let mut body = body.clone();
                body["attachments"] = json!([{"id": 0, "filename": f.name}]);
                req.multipart(Some(Multipart {
                    upload: MultipartUpload::Attachments(vec![CreateAttachment::bytes(
                        f.data.clone(),
                        f.name.clone(),
                    )]),
                    fields: Vec::new(),
                    payload_json: Some(body.to_string()),
                }))
            }
        }
    }

    pub(super) async fn post_bot(
        &self,
        channel: ChannelId,
        content: &str,
        reply: Option<MessageId>,
        file: Option<&OutgoingFile>,
        nonce: &str,
        notice: bool,
    ) -> Result<RestMessage, DiscordError> {
        // `enforce_nonce`: if a retry repeats a create that did land (a timeout after Discord
        // posted), Discord returns the first message instead of posting twice.
        let mut body = json!({
            "content": content,
            "allowed_mentions": allowed_mentions(),
            "nonce": nonce,
            "enforce_nonce": true,
        });
        if notice {
            // A notice from the bridge itself: no push notification (SUPPRESS_NOTIFICATIONS).
            body["flags"] = json!(SUPPRESS_NOTIFICATIONS);
        }
        if let Some(r) = reply {
            body["message_reference"] =
                json!({"message_id": r.get().to_string(), "fail_if_not_exists": false});
        }
        let req = Request::new(
            Route::ChannelMessages {
                channel_id: channel,
            },
            LightMethod::Post,
        );
        self.rest.json(Self::with_body(req, &body, file)).await
    }

    pub(super) async fn post_webhook(
        &self,
        hook: &Hook,
        thread: Option<ChannelId>,
        thread_name: Option<String>,
        content: &str,
        out: &Outgoing,
        file: Option<&OutgoingFile>,
    ) -> Result<RestMessage, DiscordError> {
        let mut body = json!({"content": content, "allowed_mentions": allowed_mentions()});
        if let Some(p) = &out.persona {
            body["username"] = json!(webhook_username(&p.display_name, &p.platform_label));
            // Discord refuses (400 / 50035) an avatar it cannot fetch over http(s): such a
            // persona posts with the webhook's own avatar instead.
            if let Some(a) = p.avatar_url.as_deref().filter(|a| is_http_url(a)) {
                body["avatar_url"] = json!(a);
            }
        }
        if let Some(name) = thread_name {
            // In a forum: open a post with this title.
            body["thread_name"] = json!(name);
        }
        let mut params = vec![("wait", "true".to_owned())];
        if let Some(t) = thread {
            params.push(("thread_id", t.get().to_string()));
        }
        let req = Request::new(
            Route::WebhookWithToken {
                webhook_id: WebhookId::new(hook.id),
                token: &hook.token,
            },
            LightMethod::Post,
        )
        .params(Some(params));
        self.rest.json(Self::with_body(req, &body, file)).await
    }

    /// Starts (or finds) the thread rooted at `root` in `channel`. Discord gives a thread started
    /// from a message the message's id; a forum post's thread has its starter message's id.
    pub(super) async fn start_thread(
        &self,
        channel: ChannelId,
        root: MessageId,
        text: &RichText,
    ) -> Result<ChannelId, DiscordError> {
        let body = json!({"name": thread_name(text), "auto_archive_duration": 10080});
        let req = Request::new(
            Route::ChannelMessageThreads {
                channel_id: channel,
                message_id: root,
            },
            LightMethod::Post,
        )
        .body(Some(body.to_string().into_bytes()));
        match self.rest.json::<RestChannel>(req).await {
            Ok(c) => {
                let id =
                    c.id.parse::<u64>()
                        .map_err(|e| DiscordError::Decode(e.to_string()))?;
                self.remember_thread(id, channel.get());
                Ok(ChannelId::new(id))
            }
            // 160004: a thread already exists for this message; 50024: the root is itself a
            // forum post (or in a thread). Either way the thread has the root's id.
            Err(e) if matches!(e.api_code(), Some(160_004 | 50_024)) => {
                Ok(ChannelId::new(root.get()))
            }
            Err(e) => Err(e),
        }
    }

    /// Opens a forum post whose starter message is the whole (first part of the) message.
    pub(super) async fn forum_post(
        &self,
        forum: ChannelId,
        out: &Outgoing,
        content: &str,
        file: Option<&OutgoingFile>,
    ) -> Result<RestChannel, DiscordError> {
        let body = json!({
            "name": thread_name(&out.text),
            "message": {"content": content, "allowed_mentions": allowed_mentions()},
        });
        let req = Request::new(
            Route::ChannelThreads { channel_id: forum },
            LightMethod::Post,
        );
        let req = match file {
            None => req.body(Some(body.to_string().into_bytes())),
            Some(f) => {
                let mut body = body;
                body["message"]["attachments"] = json!([{"id": 0, "filename": f.name}]);
                req.multipart(Some(Multipart {
                    upload: MultipartUpload::Attachments(vec![CreateAttachment::bytes(
                        f.data.clone(),
                        f.name.clone(),
                    )]),
                    fields: Vec::new(),
                    payload_json: Some(body.to_string()),
                }))
            }
        };
        self.rest.json(req).await
    }
}

/// Whether `url` is an absolute http(s) URL with a host and no whitespace, as Discord requires
/// of a webhook message's `avatar_url`.
pub(crate) fn is_http_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or_default();
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        && url.len() <= 2048
        && !url.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::is_http_url;

    #[test]
    fn only_http_urls_are_avatars() {
        assert!(is_http_url("https://example.org/a.png"));
        assert!(is_http_url("http://127.0.0.1:8080/a.png?x=1"));
        for bad in [
            "mxc://matrix.org/abc",
            "https://",
            "https:// x",
            "ftp://x/y",
            "",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
