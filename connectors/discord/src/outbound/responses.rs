//! The REST bodies the connector reads back from Discord, as far as it reads them.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct RestMessage {
    pub id: String,
    pub channel_id: String,
    #[serde(default)]
    pub webhook_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RestUser {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct RestWebhook {
    pub id: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub user: Option<RestUser>,
}

#[derive(Debug, Deserialize)]
pub struct RestChannel {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub guild_id: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Absent for DMs, null for a group DM without one.
    #[serde(default)]
    pub name: Option<String>,
}

impl RestChannel {
    /// What sends need to know of the channel: its server, whether it is a forum, and a
    /// thread's parent.
    pub(crate) fn info(&self) -> crate::known::ChannelInfo {
        let is_thread = matches!(self.kind, 10..=12);
        crate::known::ChannelInfo {
            guild: self.guild_id.as_deref().and_then(|g| g.parse().ok()),
            parent: self
                .parent_id
                .as_deref()
                .and_then(|p| p.parse().ok())
                .filter(|_| is_thread),
            is_forum: self.kind == 15,
        }
    }
}
