//! What the connector has learnt about Discord: its bot id, channels and threads, webhooks,
//! and the messages it posted. In memory; lost on restart, and then asked of Discord again.

use super::*;

/// A webhook the bridge posts through.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Hook {
    pub id: u64,
    pub token: String,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Who posted a message the bridge sent, to edit or delete it the same way.
#[derive(Debug, Clone)]
pub(crate) struct PostedBy {
    pub channel: u64,
    pub hook: Option<Hook>,
    /// The thread channel, for webhook calls (`thread_id`).
    pub thread: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct ChannelInfo {
    pub guild: Option<u64>,
    /// Set when the channel is a thread.
    pub parent: Option<u64>,
    pub is_forum: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum HookSlot {
    Ready(Hook),
    /// The bot may not manage webhooks here and none is configured; asked again after a while.
    Unavailable(Instant),
}

/// How long to wait before asking again for a webhook the bot may not create.
pub(crate) const HOOK_RETRY: Duration = Duration::from_secs(300);
/// Bound on the remembered sends and deletes (older ones are looked up on Discord instead).
pub(crate) const REMEMBER: usize = 20_000;

#[derive(Debug, Default)]
pub(crate) struct Known {
    pub(crate) bot_id: Option<u64>,
    pub(crate) channels: HashMap<u64, ChannelInfo>,
    pub(crate) hooks: HashMap<u64, HookSlot>,
    pub(crate) hooks_by_id: HashMap<u64, Hook>,
    /// Webhook ids known to be the bridge's own (created by the bot or configured) or not.
    pub(crate) own_hooks: HashSet<u64>,
    pub(crate) foreign_hooks: HashSet<u64>,
    pub(crate) posted: HashMap<u64, PostedBy>,
    pub(crate) deleted_by_us: HashSet<u64>,
    /// Boost level of each server the bot is in (GUILD_CREATE / GUILD_UPDATE `premium_tier`).
    pub(crate) guild_tiers: HashMap<u64, u8>,
    /// The DM channel with each person the bot wrote to (`tell`), by user id.
    pub(crate) dms: HashMap<u64, u64>,
}

impl Inner {
    pub(crate) fn known(&self) -> MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The largest upload every known server accepts: Discord's 10 MiB unless all of them are
    /// boosted higher (a send does not know its server's level before it goes out, so the
    /// lowest one counts), never more than a configured `max_attachment_bytes`.
    pub(crate) fn max_attachment_bytes(&self) -> u64 {
        let lowest = self
            .known()
            .guild_tiers
            .values()
            .copied()
            .min()
            .unwrap_or(0);
        let discord = upload_limit(lowest);
        self.cfg
            .max_attachment_bytes
            .map_or(discord, |c| c.min(discord))
    }

    pub(crate) fn record_channel(&self, c: &GuildChannel) {
        let is_thread = matches!(
            c.kind,
            ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread
        );
        let info = ChannelInfo {
            guild: Some(c.guild_id.get()),
            parent: c.parent_id.filter(|_| is_thread).map(ChannelId::get),
            is_forum: c.kind == ChannelType::Forum,
        };
        self.known().channels.insert(c.id.get(), info);
    }

    pub(crate) fn remember_thread(&self, thread: u64, parent: u64) {
        let mut k = self.known();
        let guild = k.channels.get(&parent).and_then(|c| c.guild);
        k.channels.insert(
            thread,
            ChannelInfo {
                guild,
                parent: Some(parent),
                is_forum: false,
            },
        );
    }

    /// What we know about `channel`, asking Discord once if we do not know it yet.
    pub(crate) async fn channel_info(&self, channel: ChannelId) -> Option<ChannelInfo> {
        if let Some(i) = self.known().channels.get(&channel.get()) {
            return Some(i.clone());
        }
        let req = Request::new(
            Route::Channel {
                channel_id: channel,
            },
            LightMethod::Get,
        );
        match self.rest.json::<RestChannel>(req).await {
            Ok(c) => {
                let info = c.info();
                self.known().channels.insert(channel.get(), info.clone());
                Some(info)
            }
            Err(e) => {
                tracing::warn!(%channel, "cannot look up Discord channel: {e}");
                None
            }
        }
    }

    pub(crate) async fn place(
        &self,
        channel: ChannelId,
        msg: Option<serenity::all::MessageId>,
    ) -> Place {
        let parent = self
            .channel_info(channel)
            .await
            .and_then(|i| i.parent)
            .map(ChannelId::new);
        Place::of(channel, parent, msg)
    }

    /// Threads we know of whose parent is `room`.
    pub(crate) fn known_threads_of(&self, room: u64) -> Vec<u64> {
        self.known()
            .channels
            .iter()
            .filter(|(_, c)| c.parent == Some(room))
            .map(|(id, _)| *id)
            .collect()
    }

    pub(crate) fn remember_post(&self, id: u64, by: PostedBy) {
        let mut k = self.known();
        if k.posted.len() >= REMEMBER {
            k.posted.clear();
        }
        k.posted.insert(id, by);
    }

    pub(crate) fn posted_by(&self, id: u64) -> Option<PostedBy> {
        self.known().posted.get(&id).cloned()
    }

    pub(crate) fn note_deleted(&self, id: u64) {
        let mut k = self.known();
        if k.deleted_by_us.len() >= REMEMBER {
            k.deleted_by_us.clear();
        }
        k.deleted_by_us.insert(id);
    }
}
