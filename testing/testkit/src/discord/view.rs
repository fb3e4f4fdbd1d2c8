//! What tests read of a message: [`MessageView`], the stored message as a reader sees it.

use super::state::{Author, State};
use super::{markdown, payloads};

/// A message as the fake stores it, for tests to read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MessageView {
    pub id: u64,
    pub channel_id: u64,
    /// The raw `content` as posted.
    pub content: String,
    /// What a Discord client shows for `content`.
    pub shown: String,
    pub author_id: u64,
    /// Set for webhook messages.
    pub webhook_id: Option<u64>,
    /// The per-message name (webhooks) or the user's username.
    pub username: String,
    pub avatar_url: Option<String>,
    pub reference: Option<u64>,
    pub allowed_mentions: Option<serde_json::Value>,
    /// Whether this message notified @everyone/@here.
    pub pings_everyone: bool,
    /// The users this message notified.
    pub pinged_users: Vec<u64>,
    /// (filename, bytes) of each attachment.
    pub attachments: Vec<(String, Vec<u8>)>,
    /// Embeds as Discord returns them.
    pub embeds: Vec<serde_json::Value>,
    pub edited: bool,
    pub deleted: bool,
    /// Message flags (4096: sent without notifications).
    pub flags: u64,
}

pub(super) fn view(st: &State, id: u64) -> Option<MessageView> {
    let m = st.messages.get(&id)?;
    let (author_id, webhook_id, username, avatar_url) = match &m.author {
        Author::User(u) => {
            let user = st.users.get(u);
            (
                *u,
                None,
                user.map(|u| u.username.clone()).unwrap_or_default(),
                user.and_then(|u| u.avatar.clone()),
            )
        }
        Author::Webhook {
            webhook_id,
            username,
            avatar_url,
        } => (
            *webhook_id,
            Some(*webhook_id),
            username.clone(),
            avatar_url.clone(),
        ),
    };
    let name = |uid: u64| {
        st.users
            .get(&uid)
            .map(|u| u.global_name.clone().unwrap_or_else(|| u.username.clone()))
    };
    let pinged_users = payloads::mentioned_users(st, &m.content, m.allowed_mentions.as_ref(), true)
        .iter()
        .filter_map(|u| {
            u.get("id")
                .and_then(|i| i.as_str())
                .and_then(|i| i.parse().ok())
        })
        .collect();
    Some(MessageView {
        id,
        channel_id: m.channel_id,
        content: m.content.clone(),
        shown: markdown::shown_text(&m.content, &name),
        author_id,
        webhook_id,
        username,
        avatar_url,
        reference: m.reference,
        allowed_mentions: m.allowed_mentions.clone(),
        pings_everyone: payloads::pings_everyone(&m.content, m.allowed_mentions.as_ref()),
        pinged_users,
        attachments: m
            .attachments
            .iter()
            .filter_map(|f| st.files.get(f))
            .map(|f| (f.filename.clone(), f.data.clone()))
            .collect(),
        embeds: m.embeds.clone(),
        edited: m.edited_ms.is_some(),
        deleted: m.deleted,
        flags: m.flags,
    })
}
