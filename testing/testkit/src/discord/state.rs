//! The fake's world: users, one or more guilds, channels and threads, messages, webhooks, files,
//! gateway sessions, injected faults. Plain data behind one mutex; every mutation that Discord
//! would announce on the gateway appends a dispatch to each live session's log.

use super::faults::{Fault, FaultRoute};
use super::payloads;
use super::util::{now_ms, Snowflakes};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

mod dms;
mod sessions;

pub use dms::DmRefusal;

/// Discord channel types the fake knows.
pub const GUILD_TEXT: u8 = 0;
/// A direct-message channel between the bot and one person (`state/dms.rs`).
pub const DM: u8 = 1;
pub const PUBLIC_THREAD: u8 = 11;
pub const GUILD_FORUM: u8 = 15;

/// Gateway intents (bits) that gate what a session is sent.
pub const INTENT_GUILDS: u64 = 1 << 0;
pub const INTENT_GUILD_MEMBERS: u64 = 1 << 1;
pub const INTENT_GUILD_MESSAGES: u64 = 1 << 9;
pub const INTENT_GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
/// Messages in DMs (MESSAGE_CREATE and the like without `guild_id`).
pub const INTENT_DIRECT_MESSAGES: u64 = 1 << 12;
pub const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;
/// Intents an application must be granted (GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT).
pub const PRIVILEGED_INTENTS: u64 = (1 << 1) | (1 << 8) | INTENT_MESSAGE_CONTENT;
/// Every intent Discord defines (bits 0–16, 20, 21, 24, 25); IDENTIFY with another bit is
/// closed with 4013.
pub const KNOWN_INTENTS: u64 = ((1 << 17) - 1) | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25);

#[derive(Debug, Clone)]
pub struct UserRec {
    pub id: u64,
    pub username: String,
    pub global_name: Option<String>,
    pub avatar: Option<String>,
    pub bot: bool,
}

#[derive(Debug, Clone)]
pub struct GuildRec {
    pub id: u64,
    pub name: String,
    pub owner_id: u64,
    /// Member nicknames by user id.
    pub nicks: HashMap<u64, String>,
    pub joined_ms: u64,
    /// Server boost level (0–3): it raises the upload limit ([`upload_limit`]).
    pub premium_tier: u8,
}

/// The most bytes of files one message may carry in a guild of boost level `tier`, as Discord
/// allows bots: 10 MiB by default, 50 MiB at level 2, 100 MiB at level 3.
pub fn upload_limit(tier: u8) -> u64 {
    const MIB: u64 = 1024 * 1024;
    match tier {
        3.. => 100 * MIB,
        2 => 50 * MIB,
        _ => 10 * MIB,
    }
}

#[derive(Debug, Clone)]
pub struct ChannelRec {
    pub id: u64,
    pub guild_id: u64,
    pub kind: u8,
    pub name: String,
    /// For threads: the channel (text or forum) they live in.
    pub parent_id: Option<u64>,
    pub owner_id: Option<u64>,
    pub position: u32,
    pub created_ms: u64,
    /// For a DM channel: the person at the other end (`guild_id` is then 0).
    pub recipient: Option<u64>,
}

/// Who posted a message: a user, or a webhook under a per-message name and avatar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    User(u64),
    Webhook {
        webhook_id: u64,
        username: String,
        avatar_url: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct FileRec {
    pub id: u64,
    pub channel_id: u64,
    pub filename: String,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
    /// (width, height) when the file is an image the server can read the header of.
    pub dimensions: Option<(u64, u64)>,
}

#[derive(Debug, Clone)]
pub struct MessageRec {
    pub id: u64,
    pub channel_id: u64,
    pub guild_id: u64,
    pub author: Author,
    pub content: String,
    pub created_ms: u64,
    pub edited_ms: Option<u64>,
    pub reference: Option<u64>,
    pub attachments: Vec<u64>,
    /// Embeds as Discord returns them (`type: "rich"` added).
    pub embeds: Vec<Value>,
    /// The `allowed_mentions` object the poster sent, verbatim (`None` when absent).
    pub allowed_mentions: Option<Value>,
    /// Message flags the poster set (e.g. 4096, SUPPRESS_NOTIFICATIONS).
    pub flags: u64,
    /// Message type: 0 default, 19 reply, 7 member join, 18 thread created, …
    pub kind: u8,
    pub deleted: bool,
    pub reactions: Vec<(String, u64)>,
}

#[derive(Debug, Clone)]
pub struct WebhookRec {
    pub id: u64,
    pub guild_id: u64,
    pub channel_id: u64,
    pub name: String,
    pub avatar: Option<String>,
    pub token: String,
    /// The user who created it (the bot, or a person for a "partner" webhook).
    pub creator: u64,
}

/// One gateway session: everything dispatched to it, so a RESUME can replay what was missed.
#[derive(Debug, Clone)]
pub struct SessionRec {
    pub id: String,
    pub intents: u64,
    /// IDENTIFY asked for payload compression (`compress: true`): large frames go out as
    /// zlib-compressed binary messages.
    pub compress: bool,
    /// Frames in order; the frame at index i carries sequence number i + 1.
    pub log: Vec<String>,
    pub invalid: bool,
}

/// One REST call as the fake received it, for tests to inspect.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The JSON body (or `payload_json` of a multipart body); `Null` when there was none.
    pub body: Value,
    pub status: u16,
}

#[derive(Debug)]
pub struct State {
    pub snowflakes: Snowflakes,
    pub token: String,
    pub application_id: u64,
    pub bot_id: u64,
    /// Whether the bot may create webhooks (MANAGE_WEBHOOKS); without it, creation is 403.
    pub can_manage_webhooks: bool,
    /// Whether the bot holds MANAGE_MESSAGES; without it, removing someone else's reaction is
    /// 403 / 50013.
    pub can_manage_messages: bool,
    /// Rate-limit buckets of REST routes.
    pub buckets: super::ratelimit::Buckets,
    /// Whether an exhausted bucket answers 429 (its headers are sent either way).
    pub enforce_rate_limits: bool,
    /// The privileged intents the application was granted (all by default); IDENTIFY asking
    /// for another is closed with 4014.
    pub privileged_intents: u64,
    /// Channels the bot lacks VIEW_CHANNEL in (threads inherit their parent's): the bot's calls
    /// about them answer 403 / 50001 "Missing Access" and their messages are not dispatched to
    /// it, as on Discord.
    pub hidden: HashSet<u64>,
    /// People who do not allow DMs from the servers they share with the bot (Discord's privacy
    /// setting "Allow direct messages from server members", off).
    pub dms_closed: HashSet<u64>,
    /// (guild, user): people who left a server. Everyone else is a member of every server.
    pub departed: HashSet<(u64, u64)>,
    pub users: BTreeMap<u64, UserRec>,
    pub guilds: BTreeMap<u64, GuildRec>,
    pub channels: BTreeMap<u64, ChannelRec>,
    pub messages: BTreeMap<u64, MessageRec>,
    pub webhooks: BTreeMap<u64, WebhookRec>,
    /// Custom emoji by id: (guild, name).
    pub emojis: BTreeMap<u64, (u64, String)>,
    pub files: BTreeMap<u64, FileRec>,
    /// (route, calls to let through first, fault).
    pub faults: Vec<(FaultRoute, u32, Fault)>,
    pub sessions: HashMap<String, SessionRec>,
    pub identifies: u32,
    pub resumes: u32,
    pub heartbeats: u32,
    /// Dispatches sent again to clients that resumed.
    pub replayed: u32,
    /// Gateway connections accepted so far.
    pub connections: u32,
    /// Gateway connections open now.
    pub live_connections: u32,
    pub requests: Vec<RecordedRequest>,
    /// Every REST answer, for the shape test (`rest/recorder.rs`).
    pub responses: Vec<super::rest::recorder::RecordedResponse>,
    /// Flags for the next message `add_message` creates (set by the REST layer from the body).
    pub next_flags: u64,
    /// Embeds of the next message `add_message` creates (set by the REST layer from the body).
    pub next_embeds: Vec<Value>,
    /// Type of the next message `add_message` creates, if not a default or reply.
    pub next_kind: Option<u8>,
    /// The `ex` of attachment URLs handed out now; older ones answer 404.
    pub cdn_generation: u64,
    /// Nonces sent with `enforce_nonce`, by (channel, nonce): the message they created.
    pub nonces: HashMap<(u64, String), u64>,
    /// `http://127.0.0.1:PORT`, for URLs the fake hands out.
    pub base_url: String,
}

impl State {
    pub fn new(token: String, base_url: String) -> State {
        let mut snowflakes = Snowflakes::default();
        let bot_id = snowflakes.next_id();
        let mut users = BTreeMap::new();
        users.insert(
            bot_id,
            UserRec {
                id: bot_id,
                username: "civicbridge".into(),
                global_name: None,
                avatar: None,
                bot: true,
            },
        );
        State {
            snowflakes,
            token,
            application_id: bot_id,
            bot_id,
            can_manage_webhooks: true,
            can_manage_messages: true,
            buckets: Default::default(),
            enforce_rate_limits: false,
            privileged_intents: PRIVILEGED_INTENTS,
            hidden: HashSet::new(),
            dms_closed: HashSet::new(),
            departed: HashSet::new(),
            users,
            guilds: BTreeMap::new(),
            channels: BTreeMap::new(),
            messages: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            emojis: BTreeMap::new(),
            files: BTreeMap::new(),
            faults: Vec::new(),
            sessions: HashMap::new(),
            identifies: 0,
            resumes: 0,
            heartbeats: 0,
            replayed: 0,
            connections: 0,
            live_connections: 0,
            requests: Vec::new(),
            responses: Vec::new(),
            nonces: HashMap::new(),
            cdn_generation: 1,
            next_flags: 0,
            next_embeds: Vec::new(),
            next_kind: None,
            base_url,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        self.snowflakes.next_id()
    }

    pub fn take_fault(&mut self, route: FaultRoute) -> Option<Fault> {
        let pos = self
            .faults
            .iter()
            .position(|(r, _, _)| *r == route || *r == FaultRoute::Any)?;
        if self.faults[pos].1 > 0 {
            self.faults[pos].1 -= 1;
            return None;
        }
        Some(self.faults.remove(pos).2)
    }

    // ---- world building -------------------------------------------------------------------

    pub fn add_user(
        &mut self,
        username: &str,
        global_name: Option<&str>,
        avatar: Option<&str>,
    ) -> u64 {
        let id = self.next_id();
        self.users.insert(
            id,
            UserRec {
                id,
                username: username.into(),
                global_name: global_name.map(Into::into),
                avatar: avatar.map(Into::into),
                bot: false,
            },
        );
        id
    }

    pub fn add_guild(&mut self, name: &str) -> u64 {
        let id = self.next_id();
        let owner_id = self.bot_id;
        self.guilds.insert(
            id,
            GuildRec {
                id,
                name: name.into(),
                owner_id,
                nicks: HashMap::new(),
                joined_ms: now_ms(),
                premium_tier: 0,
            },
        );
        let frame = payloads::guild_create(self, id);
        self.dispatch_if(INTENT_GUILDS, "GUILD_CREATE", frame);
        id
    }

    pub fn add_channel(
        &mut self,
        guild_id: u64,
        name: &str,
        kind: u8,
        parent_id: Option<u64>,
        owner_id: Option<u64>,
    ) -> u64 {
        let id = self.next_id();
        self.insert_channel(id, guild_id, name, kind, parent_id, owner_id);
        id
    }

    pub fn insert_channel(
        &mut self,
        id: u64,
        guild_id: u64,
        name: &str,
        kind: u8,
        parent_id: Option<u64>,
        owner_id: Option<u64>,
    ) {
        let position = self.channels.len() as u32;
        self.channels.insert(
            id,
            ChannelRec {
                id,
                guild_id,
                kind,
                name: name.into(),
                parent_id,
                owner_id,
                position,
                created_ms: now_ms(),
                recipient: None,
            },
        );
        let d = payloads::channel(self, id);
        if kind == PUBLIC_THREAD {
            let mut d = d;
            if let Value::Object(m) = &mut d {
                m.insert("newly_created".into(), Value::Bool(true));
            }
            self.dispatch_if(INTENT_GUILDS, "THREAD_CREATE", d);
        } else {
            self.dispatch_if(INTENT_GUILDS, "CHANNEL_CREATE", d);
        }
    }

    // ---- messages ----------------------------------------------------------------------------

    /// Stores a new message and announces it. Returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn add_message(
        &mut self,
        channel_id: u64,
        author: Author,
        content: &str,
        reference: Option<u64>,
        attachments: Vec<(String, Option<String>, Vec<u8>)>,
        allowed_mentions: Option<Value>,
        id: Option<u64>,
    ) -> u64 {
        let id = id.unwrap_or_else(|| self.next_id());
        let flags = std::mem::take(&mut self.next_flags);
        let embeds = std::mem::take(&mut self.next_embeds);
        let kind = self
            .next_kind
            .take()
            .unwrap_or(if reference.is_some() { 19 } else { 0 });
        let guild_id = self.channels.get(&channel_id).map_or(0, |c| c.guild_id);
        let mut file_ids = Vec::new();
        for (filename, content_type, data) in attachments {
            let fid = self.next_id();
            let dimensions = imagesize::blob_size(&data)
                .ok()
                .map(|d| (d.width as u64, d.height as u64));
            self.files.insert(
                fid,
                FileRec {
                    id: fid,
                    channel_id,
                    filename,
                    content_type,
                    data,
                    dimensions,
                },
            );
            file_ids.push(fid);
        }
        self.messages.insert(
            id,
            MessageRec {
                id,
                channel_id,
                guild_id,
                author,
                content: content.into(),
                created_ms: now_ms(),
                edited_ms: None,
                reference,
                attachments: file_ids,
                embeds,
                allowed_mentions,
                flags,
                kind,
                deleted: false,
                reactions: Vec::new(),
            },
        );
        let d = payloads::message_dispatch(self, id);
        self.dispatch_message("MESSAGE_CREATE", d);
        id
    }

    /// Replaces a message's embeds (before [`Self::edit_message`] announces the edit).
    pub fn set_embeds(&mut self, id: u64, embeds: Option<Vec<Value>>) {
        if let (Some(m), Some(e)) = (self.messages.get_mut(&id), embeds) {
            m.embeds = e;
        }
    }

    pub fn edit_message(
        &mut self,
        id: u64,
        content: &str,
        allowed_mentions: Option<Value>,
    ) -> bool {
        let Some(m) = self.messages.get_mut(&id).filter(|m| !m.deleted) else {
            return false;
        };
        m.content = content.into();
        m.edited_ms = Some(now_ms());
        if allowed_mentions.is_some() {
            m.allowed_mentions = allowed_mentions;
        }
        let d = payloads::message_dispatch(self, id);
        self.dispatch_message("MESSAGE_UPDATE", d);
        true
    }

    pub fn delete_message(&mut self, id: u64) -> bool {
        let Some(m) = self.messages.get_mut(&id).filter(|m| !m.deleted) else {
            return false;
        };
        m.deleted = true;
        let mut d = serde_json::json!({
            "id": id.to_string(),
            "channel_id": m.channel_id.to_string(),
        });
        // A DM has no server: no `guild_id`, and only DIRECT_MESSAGES sessions hear of it.
        let intent = if m.guild_id == 0 {
            INTENT_DIRECT_MESSAGES
        } else {
            d["guild_id"] = m.guild_id.to_string().into();
            INTENT_GUILD_MESSAGES
        };
        self.dispatch_if(intent, "MESSAGE_DELETE", d);
        true
    }

    /// `user` reacts to message `id` with `emoji` (a key as the REST path names it). Discord
    /// keeps one reaction per user and emoji: adding it again changes nothing and dispatches
    /// nothing. Returns whether it was added.
    pub fn add_reaction(&mut self, id: u64, emoji: &str, user: u64) -> bool {
        let Some(m) = self.messages.get_mut(&id) else {
            return false;
        };
        if m.reactions.iter().any(|(e, u)| e == emoji && *u == user) {
            return false;
        }
        m.reactions.push((emoji.to_owned(), user));
        let (guild, author) = (m.guild_id, m.author.clone());
        let mut d = self.reaction_payload(id, emoji, user);
        if let Value::Object(o) = &mut d {
            // In a guild Discord adds the member who reacted, and the message's author.
            o.insert("member".into(), payloads::member(self, guild, user, true));
            let author_id = match author {
                Author::User(u) => u,
                Author::Webhook { webhook_id, .. } => webhook_id,
            };
            o.insert("message_author_id".into(), author_id.to_string().into());
        }
        self.dispatch_if(INTENT_GUILD_MESSAGE_REACTIONS, "MESSAGE_REACTION_ADD", d);
        true
    }

    /// `user`'s reaction `emoji` on message `id` goes (taken back, or removed by a moderator):
    /// MESSAGE_REACTION_REMOVE names the user whose reaction it was. Removing one that is not
    /// there changes nothing and dispatches nothing (Discord stopped announcing such duplicate
    /// removals: discord-api-docs#2896). Returns whether it was removed.
    pub fn remove_reaction(&mut self, id: u64, emoji: &str, user: u64) -> bool {
        let Some(m) = self.messages.get_mut(&id) else {
            return false;
        };
        let Some(pos) = m
            .reactions
            .iter()
            .position(|(e, u)| e == emoji && *u == user)
        else {
            return false;
        };
        m.reactions.remove(pos);
        let d = self.reaction_payload(id, emoji, user);
        self.dispatch_if(INTENT_GUILD_MESSAGE_REACTIONS, "MESSAGE_REACTION_REMOVE", d);
        true
    }

    /// The fields MESSAGE_REACTION_ADD and _REMOVE share (`GatewayMessageReactionRemoveDispatchData`).
    fn reaction_payload(&self, id: u64, emoji: &str, user: u64) -> Value {
        let (channel, guild) = self
            .messages
            .get(&id)
            .map_or((0, 0), |m| (m.channel_id, m.guild_id));
        serde_json::json!({
            "user_id": user.to_string(),
            "channel_id": channel.to_string(),
            "message_id": id.to_string(),
            "guild_id": guild.to_string(),
            "emoji": payloads::emoji(emoji),
            "burst": false,
            "type": 0,
        })
    }

    pub fn add_webhook(&mut self, channel_id: u64, guild_id: u64, name: &str, creator: u64) -> u64 {
        let id = self.next_id();
        let token = format!("whtoken{}x{}", id, self.next_id() % 1_000_003);
        self.webhooks.insert(
            id,
            WebhookRec {
                id,
                guild_id,
                channel_id,
                name: name.into(),
                avatar: None,
                token,
                creator,
            },
        );
        id
    }

    pub fn live_message(&self, channel_id: u64, id: u64) -> Option<&MessageRec> {
        self.messages
            .get(&id)
            .filter(|m| !m.deleted && m.channel_id == channel_id)
    }
}
