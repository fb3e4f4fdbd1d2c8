//! Posting, editing and deleting: bot messages and webhook messages (personas), replies, threads,
//! splitting, attachments. Every request carries `allowed_mentions: {"parse": []}` so nothing the
//! bridge posts can ping anyone.
//!
//! Replies: a bot message replies natively (`message_reference`). Webhooks cannot reply, so a
//! webhook message that answers another starts with a quote line holding a jump link to the
//! message it answers (`> ↪ [reply](https://discord.com/channels/g/c/m)`). That is the one rule,
//! applied to every webhook reply.
//!
//! Long text: the core already cut the text to `max_text_len` (1,700) characters of plain text,
//! which with worst-case escaping fits Discord's 2,000. If a rendered part still exceeds 2,000,
//! it is split further here and every message id is listed in the receipt. Attachments: the first
//! message carries the first file; further files follow as their own messages.
//!
//! Files: `send` (one message in parts, in order, taken back if a part fails), `post` (the
//! requests that create messages, threads and forum posts), `modify` (edit, delete and react,
//! finding who posted a message and where), `persona` (who is speaking: the webhook username, or
//! the attribution in the text without a webhook), `responses` (the REST bodies read back),
//! `tell` (a DM to one person: the DM channel opened once per person, the text as `send`
//! renders it, the files).

mod modify;
mod persona;
mod post;
mod responses;
mod send;
mod tell;

pub use persona::webhook_username;
pub use responses::{RestChannel, RestUser, RestWebhook};

use crate::format;
use civicbridge_api::RichText;
use serde_json::{json, Value};

/// Discord's limit on a message's `content`.
pub const DISCORD_MAX: usize = 2000;

/// `(id, token)` from `https://discord.com/api/webhooks/<id>/<token>` (any host, any version).
pub fn parse_webhook_url(url: &str) -> Option<(u64, String)> {
    let rest = url.split("/webhooks/").nth(1)?;
    let mut parts = rest.split('/');
    let id = parts.next()?.parse::<u64>().ok()?;
    let token = parts.next()?.split('?').next()?.to_owned();
    (!token.is_empty()).then_some((id, token))
}

/// Renders `text` into contents of at most 2,000 characters, splitting further when escaping made
/// a part too long. `prefix` (already markdown) goes before the first part.
pub fn render_parts(text: &RichText, prefix: &str) -> Vec<String> {
    let budget = DISCORD_MAX.saturating_sub(prefix.chars().count()).max(1);
    let mut limit = text.char_len().max(1);
    loop {
        let parts = text.split(limit);
        let rendered: Vec<String> = parts.iter().map(format::render).collect();
        let fits = rendered.iter().all(|r| r.chars().count() <= budget);
        if fits || limit <= 1 {
            let mut rendered = rendered;
            if let Some(first) = rendered.first_mut() {
                first.insert_str(0, prefix);
            }
            return rendered;
        }
        limit = (limit * 3 / 4).max(1);
    }
}

fn allowed_mentions() -> Value {
    json!({"parse": []})
}
