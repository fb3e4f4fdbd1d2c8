//! The fake's state: users, chats, topics, messages, files and the update queue, and how each is
//! rendered as a Bot API object. Everything here is synchronous; `server.rs` holds it in a mutex
//! and never across an `.await`.

use super::error::ApiError;
use super::photo::{self, PhotoSize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

/// A Telegram account (a resident, or the bot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub is_bot: bool,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
}

impl User {
    pub(crate) fn json(&self) -> Value {
        let mut v = json!({ "id": self.id, "is_bot": self.is_bot, "first_name": self.first_name });
        if let Some(l) = &self.last_name {
            v["last_name"] = json!(l);
        }
        if let Some(u) = &self.username {
            v["username"] = json!(u);
        }
        if !self.is_bot {
            v["language_code"] = json!("en");
        }
        v
    }
}

/// A chat the bot is in.
#[derive(Debug, Clone)]
pub(crate) struct Chat {
    pub id: i64,
    pub title: String,
    pub is_forum: bool,
    /// The bot was removed: every call for this chat answers 403.
    pub bot_kicked: bool,
    /// The bot is an admin allowed to manage topics (true unless a test takes it away).
    pub bot_can_manage_topics: bool,
    /// The bot is an administrator (true unless a test demotes it): only administrators get
    /// `message_reaction` and `message_reaction_count` updates.
    pub bot_is_admin: bool,
    /// Forum topics by `message_thread_id` (the id of their creation service message).
    pub topics: BTreeMap<i32, String>,
    /// A private chat with a resident (its id is theirs), or `None` for a supergroup. See
    /// `private.rs`.
    pub private: Option<PrivateChat>,
    next_message_id: i32,
}

/// The private chat a resident opened by starting the bot.
#[derive(Debug, Clone)]
pub(crate) struct PrivateChat {
    /// The resident, as they were when they started the bot.
    pub user: User,
    /// They blocked the bot: every send answers 403 until they start it again.
    pub blocked: bool,
}

impl Chat {
    pub(crate) fn json(&self) -> Value {
        if let Some(p) = &self.private {
            // A private chat names the person (no title), as the `Chat` object reference says.
            let mut v =
                json!({ "id": self.id, "type": "private", "first_name": p.user.first_name });
            if let Some(l) = &p.user.last_name {
                v["last_name"] = json!(l);
            }
            if let Some(u) = &p.user.username {
                v["username"] = json!(u);
            }
            return v;
        }
        let mut v = json!({ "id": self.id, "title": self.title, "type": "supergroup" });
        if self.is_forum {
            v["is_forum"] = json!(true);
        }
        v
    }

    /// `getChat`: a `ChatFullInfo`, with the fields the reference marks as always present.
    pub(crate) fn full_info_json(&self) -> Value {
        let mut v = self.json();
        v["accent_color_id"] = json!(0);
        v["max_reaction_count"] = json!(11);
        v["accepted_gift_types"] = json!({
            "unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false,
            "premium_subscription": false, "gifts_from_channels": false
        });
        v
    }
}

/// What a message carries besides text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    Photo { file_id: String },
    Document { file_id: String },
    Voice { file_id: String },
    Sticker { file_id: String },
}

/// A stored message, in any chat, from anyone.
#[derive(Debug, Clone)]
pub(crate) struct StoredMessage {
    pub id: i32,
    pub chat: i64,
    pub from: i64,
    pub date: i64,
    pub edit_date: Option<i64>,
    pub thread: Option<i32>,
    pub reply_to: Option<i32>,
    /// Text, or the caption when `media` is set.
    pub text: String,
    pub entities: Vec<Value>,
    pub media: Option<Media>,
    /// A service message's own field, e.g. `("forum_topic_created", {...})`.
    pub service: Option<(String, Value)>,
    pub deleted: bool,
    /// Earlier texts, oldest first.
    pub history: Vec<String>,
    /// When the server stored it, on tokio's clock (tests measure pacing with it).
    pub at: tokio::time::Instant,
}

/// An uploaded or resident-sent file.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub unique_id: String,
    pub path: String,
    pub name: Option<String>,
    pub mime: Option<String>,
    pub data: Vec<u8>,
    /// For each size of a photo: every size of it, smallest first, each with its own `file_id`.
    pub photo_sizes: Vec<(String, PhotoSize)>,
}

/// The webhook the bot registered with `setWebhook`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
}

#[derive(Debug)]
pub(crate) struct World {
    pub bot: User,
    pub users: HashMap<i64, User>,
    pub chats: BTreeMap<i64, Chat>,
    pub messages: HashMap<(i64, i32), StoredMessage>,
    pub files: HashMap<String, StoredFile>,
    pub updates: VecDeque<(i64, Value)>,
    pub next_update_id: i64,
    pub webhook: Option<Webhook>,
    /// When and why the last webhook delivery failed, for `getWebhookInfo`.
    pub webhook_error: Option<(i64, String)>,
    /// Bumped by every `getUpdates`, so an older waiting poll knows it was superseded.
    pub poll_generation: u64,
    /// Flood control (off unless a test sets it): the least time between two bot posts in one
    /// chat; a faster post is answered with 429.
    pub flood_interval: Option<std::time::Duration>,
    pub last_bot_send: HashMap<i64, tokio::time::Instant>,
    /// Flood control for groups (off unless set): most bot posts per rolling minute per group.
    pub flood_group_per_minute: Option<usize>,
    pub group_sends: HashMap<i64, VecDeque<tokio::time::Instant>>,
    /// The update types the bot asked for: the last `allowed_updates` given to `getUpdates` or
    /// `setWebhook` that named any (`None`: Telegram's default, see [`DEFAULT_EXCLUDED`]).
    pub allowed_updates: Option<Vec<&'static str>>,
    /// Reactions set on each message by each user (the bot included), as `ReactionType` objects
    /// in the order they were set. An actor chat (anonymous admin) is keyed by its chat id.
    pub reactions: HashMap<(i64, i32), BTreeMap<i64, Vec<Value>>>,
    /// Anonymous reactions on each message (`ReactionType`, count), beyond those of `reactions`.
    pub anonymous_reactions: HashMap<(i64, i32), Vec<(Value, u64)>>,
    next_chat: i64,
    next_file: u64,
}

/// Every update type, in the order of the `Update` object's fields (the Bot API reference).
pub(crate) const UPDATE_TYPES: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
];

/// What a bot that never named `allowed_updates` does not get (`DEFAULT_ALLOWED_UPDATE_TYPES`
/// in tdlib/telegram-bot-api's Client.h).
pub(crate) const DEFAULT_EXCLUDED: &[&str] =
    &["chat_member", "message_reaction", "message_reaction_count"];

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl World {
    pub(crate) fn new(bot: User) -> Self {
        World {
            bot,
            users: HashMap::new(),
            chats: BTreeMap::new(),
            messages: HashMap::new(),
            files: HashMap::new(),
            updates: VecDeque::new(),
            // Telegram's update ids are large and arbitrary; start somewhere that is not 1.
            next_update_id: 850_000_001,
            webhook: None,
            webhook_error: None,
            poll_generation: 0,
            flood_interval: None,
            last_bot_send: HashMap::new(),
            flood_group_per_minute: None,
            group_sends: HashMap::new(),
            allowed_updates: None,
            reactions: HashMap::new(),
            anonymous_reactions: HashMap::new(),
            next_chat: 1_001_000_000_001,
            next_file: 1,
        }
    }

    pub(crate) fn add_chat(&mut self, title: &str, is_forum: bool) -> i64 {
        let id = -self.next_chat;
        self.next_chat += 1;
        self.chats.insert(
            id,
            Chat {
                id,
                title: title.to_owned(),
                is_forum,
                bot_kicked: false,
                bot_can_manage_topics: true,
                bot_is_admin: true,
                topics: BTreeMap::new(),
                private: None,
                next_message_id: 1,
            },
        );
        id
    }

    /// Opens the private chat between the bot and `user` (its id is the user's), if not open.
    pub(crate) fn open_private(&mut self, user: &User) -> &mut Chat {
        self.chats.entry(user.id).or_insert_with(|| Chat {
            id: user.id,
            title: user.first_name.clone(),
            is_forum: false,
            bot_kicked: false,
            bot_can_manage_topics: false,
            // Bots get reactions in private chats without being anyone's administrator.
            bot_is_admin: true,
            topics: BTreeMap::new(),
            private: Some(PrivateChat {
                user: user.clone(),
                blocked: false,
            }),
            next_message_id: 1,
        })
    }

    pub(crate) fn user(&mut self, id: i64, first_name: &str) -> User {
        self.users
            .entry(id)
            .or_insert_with(|| User {
                id,
                is_bot: false,
                first_name: first_name.to_owned(),
                last_name: None,
                username: Some(format!("{}_{id}", first_name.to_lowercase())),
            })
            .clone()
    }

    pub(crate) fn next_message_id(&mut self, chat: i64) -> Option<i32> {
        let c = self.chats.get_mut(&chat)?;
        let id = c.next_message_id;
        c.next_message_id += 1;
        Some(id)
    }

    /// Stores a message and returns its id; `None` if the chat does not exist.
    pub(crate) fn store(&mut self, mut m: StoredMessage) -> Option<i32> {
        m.id = self.next_message_id(m.chat)?;
        let id = m.id;
        self.messages.insert((m.chat, id), m);
        Some(id)
    }

    pub(crate) fn store_file(
        &mut self,
        data: Vec<u8>,
        name: Option<String>,
        mime: Option<String>,
        folder: &str,
    ) -> String {
        let n = self.next_file;
        self.next_file += 1;
        let file_id = format!("AgACAgIAAxkBAAI{n:08}fake");
        let ext = name
            .as_deref()
            .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_owned()))
            .unwrap_or_else(|| "bin".into());
        self.files.insert(
            file_id.clone(),
            StoredFile {
                unique_id: format!("AQAD{n:06}"),
                path: format!("{folder}/file_{n}.{ext}"),
                name,
                mime,
                data,
                photo_sizes: Vec::new(),
            },
        );
        file_id
    }

    /// Stores a photo as Telegram does, one file per size, and returns the largest size's
    /// `file_id` (what `Media::Photo` names). Refused like Telegram when `data` is no image.
    pub(crate) fn store_photo(
        &mut self,
        data: Vec<u8>,
        name: Option<String>,
        mime: Option<String>,
    ) -> Result<String, ApiError> {
        let (width, height) = photo::dimensions(&data)?;
        let sizes = photo::sizes(width, height, data.len());
        let mut listed = Vec::with_capacity(sizes.len());
        for size in sizes {
            let id = self.store_file(data.clone(), name.clone(), mime.clone(), "photos");
            listed.push((id, size));
        }
        let largest = listed
            .last()
            .map(|(id, _)| id.clone())
            .ok_or_else(|| ApiError::bad_request("IMAGE_PROCESS_FAILED"))?;
        for (id, _) in &listed {
            if let Some(f) = self.files.get_mut(id) {
                f.photo_sizes.clone_from(&listed);
            }
        }
        Ok(largest)
    }

    /// Whether the bot receives updates of `kind` now. Telegram decides when it creates an
    /// update: one the bot did not ask for is never stored, even if asked for later.
    pub(crate) fn wants(&self, kind: &str) -> bool {
        match &self.allowed_updates {
            None => !DEFAULT_EXCLUDED.contains(&kind),
            Some(list) => list.contains(&kind),
        }
    }

    /// `allowed_updates` as the Bot API reads it (`update_allowed_update_types` in
    /// tdlib/telegram-bot-api's Client.cpp): absent, unreadable, not an array or holding a
    /// non-string leaves the setting as it was; names are matched in any case and unknown ones
    /// ignored; a list naming no known type (`[]` included) restores the default.
    pub(crate) fn set_allowed_updates(&mut self, given: Option<&Value>) {
        let Some(Value::Array(names)) = given else {
            return;
        };
        let mut kinds = Vec::new();
        for n in names {
            let Some(n) = n.as_str() else { return };
            let n = n.to_lowercase();
            if let Some(k) = UPDATE_TYPES.iter().find(|k| **k == n) {
                if !kinds.contains(k) {
                    kinds.push(*k);
                }
            }
        }
        if kinds.is_empty() {
            self.allowed_updates = None;
        } else {
            kinds.sort_by_key(|k| UPDATE_TYPES.iter().position(|t| t == k));
            self.allowed_updates = Some(kinds);
        }
    }

    /// Queues an update for `getUpdates` (`kind` is `message`, `edited_message`, …), if the bot
    /// asked for its kind (see [`Self::wants`]).
    pub(crate) fn push_update(&mut self, kind: &str, message: Value) {
        if !self.wants(kind) {
            return;
        }
        let id = self.next_update_id;
        self.next_update_id += 1;
        let mut u = Map::new();
        u.insert("update_id".into(), json!(id));
        u.insert(kind.into(), message);
        self.updates.push_back((id, Value::Object(u)));
    }

    /// A full `Message` object. `nested` renders a `reply_to_message`, which Telegram never
    /// nests a second level deep.
    pub(crate) fn message_json(&self, m: &StoredMessage, nested: bool) -> Value {
        let mut v = json!({ "message_id": m.id, "date": m.date });
        if let Some(u) = self.user_by_id(m.from) {
            v["from"] = u.json();
        }
        if let Some(c) = self.chats.get(&m.chat) {
            v["chat"] = c.json();
        }
        if let Some(t) = m.thread {
            v["message_thread_id"] = json!(t);
            v["is_topic_message"] = json!(true);
        } else if let Some(root) = self.reply_chain_root(m) {
            // Outside forums, a reply carries the id of its reply chain's first message as
            // `message_thread_id`, without `is_topic_message`.
            v["message_thread_id"] = json!(root);
        }
        if let Some(d) = m.edit_date {
            v["edit_date"] = json!(d);
        }
        // Inside a topic, a message that answers nothing in particular replies to the topic's
        // creation message: that is how Telegram shows topic membership to older clients.
        let reply = m.reply_to.or(m.thread);
        if nested {
            if let Some(r) = reply.and_then(|r| self.messages.get(&(m.chat, r))) {
                if !r.deleted {
                    v["reply_to_message"] = self.message_json(r, false);
                }
            }
        }
        let (text_key, entities_key) = if m.media.is_some() {
            ("caption", "caption_entities")
        } else {
            ("text", "entities")
        };
        if !m.text.is_empty() || (m.media.is_none() && m.service.is_none()) {
            v[text_key] = json!(m.text);
            if !m.entities.is_empty() {
                v[entities_key] = json!(m.entities);
            }
        }
        if let Some(media) = &m.media {
            self.media_json(media, &mut v);
        }
        if let Some((k, val)) = &m.service {
            v[k.as_str()] = val.clone();
        }
        v
    }

    fn media_json(&self, media: &Media, v: &mut Value) {
        let file = |id: &str| self.files.get(id).map(|f| (id.to_owned(), f));
        match media {
            Media::Photo { file_id } => {
                if let Some((_, f)) = file(file_id) {
                    let sizes: Vec<Value> = f
                        .photo_sizes
                        .iter()
                        .filter_map(|(id, s)| {
                            let unique = &self.files.get(id)?.unique_id;
                            Some(json!({
                                "file_id": id, "file_unique_id": unique,
                                "width": s.width, "height": s.height, "file_size": s.file_size
                            }))
                        })
                        .collect();
                    v["photo"] = json!(sizes);
                }
            }
            Media::Document { file_id } => {
                if let Some((id, f)) = file(file_id) {
                    let mut d = json!({
                        "file_id": id, "file_unique_id": f.unique_id, "file_size": f.data.len()
                    });
                    if let Some(n) = &f.name {
                        d["file_name"] = json!(n);
                    }
                    if let Some(m) = &f.mime {
                        d["mime_type"] = json!(m);
                    }
                    v["document"] = d;
                }
            }
            Media::Voice { file_id } => {
                if let Some((id, f)) = file(file_id) {
                    v["voice"] = json!({
                        "file_id": id, "file_unique_id": f.unique_id, "duration": 1,
                        "mime_type": "audio/ogg", "file_size": f.data.len()
                    });
                }
            }
            Media::Sticker { file_id } => {
                if let Some((id, f)) = file(file_id) {
                    v["sticker"] = json!({
                        "file_id": id, "file_unique_id": f.unique_id, "type": "regular",
                        "width": 512, "height": 512, "is_animated": false, "is_video": false,
                        "emoji": "👍", "file_size": f.data.len()
                    });
                }
            }
        }
    }

    fn reply_chain_root(&self, m: &StoredMessage) -> Option<i32> {
        let mut root = m.reply_to?;
        for _ in 0..1000 {
            match self.messages.get(&(m.chat, root)).and_then(|r| r.reply_to) {
                Some(up) => root = up,
                None => break,
            }
        }
        Some(root)
    }

    pub(crate) fn user_by_id(&self, id: i64) -> Option<&User> {
        if id == self.bot.id {
            Some(&self.bot)
        } else {
            self.users.get(&id)
        }
    }

    pub(crate) fn file_json(&self, file_id: &str) -> Option<Value> {
        let f = self.files.get(file_id)?;
        Some(json!({
            "file_id": file_id, "file_unique_id": f.unique_id,
            "file_size": f.data.len(), "file_path": f.path
        }))
    }
}
