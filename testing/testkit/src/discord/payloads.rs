//! JSON payloads in Discord API v10 shapes, complete enough that strict clients (serenity)
//! deserialize them: every field Discord always sends is present, nullable ones as `null`.
//! Shapes follow the official reference and the `discord-api-types` typings.

use super::state::{Author, State, DM, GUILD_FORUM, PUBLIC_THREAD};
use super::util::{iso8601, now_ms, snowflake_ms};
use serde_json::{json, Value};

pub fn user(st: &State, id: u64) -> Value {
    let Some(u) = st.users.get(&id) else {
        return json!(null);
    };
    json!({
        "id": u.id.to_string(),
        "username": u.username,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": u.avatar,
        "bot": u.bot,
        "system": false,
        "banner": null,
        "accent_color": null,
        "public_flags": 0,
        "flags": 0,
        "avatar_decoration_data": null,
    })
}

/// The bot as `/users/@me` and READY describe it.
pub fn current_user(st: &State) -> Value {
    let mut u = user(st, st.bot_id);
    if let Value::Object(m) = &mut u {
        m.insert("verified".into(), json!(true));
        m.insert("mfa_enabled".into(), json!(false));
        m.insert("locale".into(), json!("en-US"));
        m.insert("email".into(), json!(null));
    }
    u
}

pub fn member(st: &State, guild_id: u64, user_id: u64, with_user: bool) -> Value {
    let g = st.guilds.get(&guild_id);
    let nick = g.and_then(|g| g.nicks.get(&user_id).cloned());
    let joined = g.map_or(now_ms(), |g| g.joined_ms);
    let mut m = json!({
        "nick": nick,
        "avatar": null,
        "banner": null,
        "roles": [],
        "joined_at": iso8601(joined),
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "communication_disabled_until": null,
    });
    if with_user {
        if let Value::Object(o) = &mut m {
            o.insert("user".into(), user(st, user_id));
        }
    }
    m
}

pub fn channel(st: &State, id: u64) -> Value {
    let Some(c) = st.channels.get(&id) else {
        return json!(null);
    };
    let last_message_id = st
        .messages
        .values()
        .rev()
        .find(|m| m.channel_id == id)
        .map(|m| m.id.to_string());
    if let (DM, Some(recipient)) = (c.kind, c.recipient) {
        // `APIDMChannel`: no server, no name, the person at the other end.
        return json!({
            "id": c.id.to_string(),
            "type": DM,
            "last_message_id": last_message_id,
            "flags": 0,
            "name": null,
            "recipients": [user(st, recipient)],
        });
    }
    let mut v = json!({
        "id": c.id.to_string(),
        "type": c.kind,
        "guild_id": c.guild_id.to_string(),
        "name": c.name,
        "position": c.position,
        "permission_overwrites": [],
        "nsfw": false,
        "topic": null,
        "last_message_id": last_message_id,
        "rate_limit_per_user": 0,
        "parent_id": c.parent_id.map(|p| p.to_string()),
        "flags": 0,
    });
    let Value::Object(o) = &mut v else {
        return v;
    };
    if c.kind == PUBLIC_THREAD {
        let count = st.messages.values().filter(|m| m.channel_id == id).count();
        o.remove("position");
        o.remove("permission_overwrites");
        o.remove("topic");
        o.insert("owner_id".into(), json!(c.owner_id.map(|u| u.to_string())));
        o.insert("message_count".into(), json!(count));
        o.insert("member_count".into(), json!(1));
        o.insert("total_message_sent".into(), json!(count));
        o.insert(
            "thread_metadata".into(),
            json!({
                "archived": false,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso8601(c.created_ms),
                "locked": false,
                "create_timestamp": iso8601(c.created_ms),
            }),
        );
    }
    if c.kind == GUILD_FORUM {
        o.insert("available_tags".into(), json!([]));
        o.insert("default_reaction_emoji".into(), json!(null));
        o.insert("default_thread_rate_limit_per_user".into(), json!(0));
        o.insert("default_sort_order".into(), json!(null));
        o.insert("default_forum_layout".into(), json!(0));
    }
    v
}

fn everyone_role(guild_id: u64) -> Value {
    json!({
        "id": guild_id.to_string(),
        "name": "@everyone",
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": 0,
        "permissions": "2248473465835073",
        "managed": false,
        "mentionable": false,
        "flags": 0,
    })
}

/// A GUILD_CREATE payload: the full guild with channels, active threads and members.
pub fn guild_create(st: &State, guild_id: u64) -> Value {
    let Some(g) = st.guilds.get(&guild_id) else {
        return json!(null);
    };
    let (channels, threads): (Vec<_>, Vec<_>) = st
        .channels
        .values()
        .filter(|c| c.guild_id == guild_id)
        .partition(|c| c.kind != PUBLIC_THREAD);
    let channels: Vec<Value> = channels.iter().map(|c| channel(st, c.id)).collect();
    let threads: Vec<Value> = threads.iter().map(|c| channel(st, c.id)).collect();
    let members = vec![member(st, guild_id, st.bot_id, true)];
    json!({
        "id": g.id.to_string(),
        "name": g.name,
        "icon": null,
        "icon_hash": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": g.owner_id.to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "widget_enabled": false,
        "widget_channel_id": null,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": [everyone_role(guild_id)],
        "emojis": guild_emojis(st, guild_id),
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "max_presences": null,
        "max_members": 500000,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": g.premium_tier,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": false,
        // The Student Hub type; null for every guild that is not a hub.
        "hub_type": null,
        "safety_alerts_channel_id": null,
        "incidents_data": null,
        "joined_at": iso8601(g.joined_ms),
        "large": false,
        "unavailable": false,
        "member_count": members.len(),
        "voice_states": [],
        "members": members,
        "channels": channels,
        "threads": threads,
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    })
}

pub fn ready(st: &State, session_id: &str) -> Value {
    let guilds: Vec<Value> = st
        .guilds
        .keys()
        .map(|g| json!({"id": g.to_string(), "unavailable": true}))
        .collect();
    json!({
        "v": 10,
        "user": current_user(st),
        "guilds": guilds,
        "session_id": session_id,
        "resume_gateway_url": format!("{}/gateway", st.base_url.replacen("http", "ws", 1)),
        "shard": [0, 1],
        "application": {"id": st.application_id.to_string(), "flags": 0, "flags_new": "0"},
        "_trace": ["[\"civicbridge-fake-gateway\"]"],
    })
}

pub fn attachment(st: &State, file_id: u64) -> Value {
    let Some(f) = st.files.get(&file_id) else {
        return json!(null);
    };
    // Like Discord's signed CDN links, the URL expires (`ex`): see `expire_attachment_urls`.
    let url = format!(
        "{}/attachments/{}/{}/{}?ex={:x}",
        st.base_url, f.channel_id, f.id, f.filename, st.cdn_generation
    );
    json!({
        "id": f.id.to_string(),
        "filename": f.filename,
        "size": f.data.len(),
        "url": url,
        "proxy_url": url,
        "content_type": f.content_type,
        "height": f.dimensions.map(|d| d.1),
        "width": f.dimensions.map(|d| d.0),
        "ephemeral": false,
        "flags": 0,
    })
}

/// A message object as REST returns it (no `guild_id`/`member`).
pub fn message(st: &State, id: u64) -> Value {
    message_inner(st, id, 2)
}

fn message_inner(st: &State, id: u64, depth: u8) -> Value {
    let Some(m) = st.messages.get(&id) else {
        return json!(null);
    };
    let (author, webhook_id) = match &m.author {
        Author::User(u) => (user(st, *u), None),
        Author::Webhook {
            webhook_id,
            username,
            avatar_url,
        } => (
            json!({
                "id": webhook_id.to_string(),
                "username": username,
                "discriminator": "0000",
                "global_name": null,
                // Discord downloads a webhook message's `avatar_url` and shows its image hash;
                // the fake derives a stable hash from the URL (tests read the URL back from
                // `MessageView`).
                "avatar": avatar_url.as_deref().map(image_hash),
                "bot": true,
                "public_flags": 0,
                "flags": 0,
            }),
            Some(webhook_id.to_string()),
        ),
    };
    let mentions = mentioned_users(st, &m.content, m.allowed_mentions.as_ref(), true);
    let attachments: Vec<Value> = m.attachments.iter().map(|f| attachment(st, *f)).collect();
    let referenced = match (m.reference, depth) {
        (Some(r), d) if d > 1 => {
            let v = message_inner(st, r, d - 1);
            if st.messages.get(&r).is_some_and(|x| x.deleted) {
                json!(null)
            } else {
                v
            }
        }
        _ => json!(null),
    };
    let mut v = json!({
        "id": m.id.to_string(),
        "channel_id": m.channel_id.to_string(),
        "author": author,
        "content": m.content,
        "timestamp": iso8601(snowflake_ms(m.id)),
        "edited_timestamp": m.edited_ms.map(iso8601),
        "tts": false,
        "mention_everyone": pings_everyone(&m.content, m.allowed_mentions.as_ref()),
        "mentions": mentions,
        "mention_roles": [],
        "attachments": attachments,
        "embeds": m.embeds,
        "pinned": false,
        "type": m.kind,
        "flags": m.flags,
        "components": [],
    });
    if let Value::Object(o) = &mut v {
        if let Some(w) = webhook_id {
            o.insert("webhook_id".into(), json!(w));
        }
        if let Some(r) = m.reference {
            let mut reference = json!({
                "type": 0,
                "message_id": r.to_string(),
                "channel_id": m.channel_id.to_string(),
            });
            if m.guild_id != 0 {
                reference["guild_id"] = json!(m.guild_id.to_string());
            }
            o.insert("message_reference".into(), reference);
            o.insert("referenced_message".into(), referenced);
        }
        if !m.reactions.is_empty() {
            // One entry per emoji, in the order each was first used: how many reacted with
            // it, and whether the bot is one of them.
            let mut keys: Vec<&str> = Vec::new();
            for (k, _) in &m.reactions {
                if !keys.contains(&k.as_str()) {
                    keys.push(k);
                }
            }
            let reactions: Vec<Value> = keys
                .into_iter()
                .map(|key| {
                    let users = m.reactions.iter().filter(|(k, _)| k == key);
                    let count = users.clone().count();
                    let me = users.clone().any(|(_, u)| *u == st.bot_id);
                    json!({"count": count, "count_details": {"burst": 0, "normal": count},
                           "me": me, "me_burst": false, "burst_colors": [],
                           "emoji": emoji(key)})
                })
                .collect();
            o.insert("reactions".into(), json!(reactions));
        }
    }
    v
}

/// A MESSAGE_CREATE / MESSAGE_UPDATE payload: the message plus `guild_id` and, for users, the
/// partial `member`; in a DM, the message alone.
pub fn message_dispatch(st: &State, id: u64) -> Value {
    let mut v = message(st, id);
    if let (Value::Object(o), Some(m)) = (&mut v, st.messages.get(&id).filter(|m| m.guild_id != 0))
    {
        o.insert("guild_id".into(), json!(m.guild_id.to_string()));
        if let Author::User(u) = m.author {
            o.insert("member".into(), member(st, m.guild_id, u, false));
        }
    }
    v
}

pub fn webhook(st: &State, id: u64, with_token: bool) -> Value {
    let Some(w) = st.webhooks.get(&id) else {
        return json!(null);
    };
    let mut v = json!({
        "id": w.id.to_string(),
        "type": 1,
        "guild_id": w.guild_id.to_string(),
        "channel_id": w.channel_id.to_string(),
        "user": user(st, w.creator),
        "name": w.name,
        "avatar": w.avatar,
        "application_id": null,
    });
    if with_token {
        if let Value::Object(o) = &mut v {
            o.insert("token".into(), json!(w.token));
            o.insert(
                "url".into(),
                json!(format!("{}/api/webhooks/{}/{}", st.base_url, w.id, w.token)),
            );
        }
    }
    v
}

/// Whether `content` pings @everyone/@here given `allowed`, following Discord's rules: without
/// `allowed_mentions` everything parses; with it, only the listed `parse` kinds do. A backslash
/// before the `@` makes it literal text.
pub fn pings_everyone(content: &str, allowed: Option<&Value>) -> bool {
    let permitted = match allowed {
        None => true,
        Some(a) => parse_list(a).iter().any(|p| p == "everyone"),
    };
    permitted && (unescaped(content, "@everyone") || unescaped(content, "@here"))
}

/// Users `content` mentions as `<@id>` (or `<@!id>`), and, when `only_pinged`, only those the
/// `allowed_mentions` let ping.
pub fn mentioned_users(
    st: &State,
    content: &str,
    allowed: Option<&Value>,
    only_pinged: bool,
) -> Vec<Value> {
    let mut out = Vec::new();
    let permitted_all = match allowed {
        None => true,
        Some(a) => parse_list(a).iter().any(|p| p == "users"),
    };
    let listed: Vec<String> = allowed
        .and_then(|a| a.get("users"))
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut rest = content;
    while let Some(pos) = rest.find("<@") {
        let escaped = pos > 0 && rest.as_bytes()[pos - 1] == b'\\';
        let after = &rest[pos + 2..];
        let after = after.strip_prefix('!').unwrap_or(after);
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        rest = &rest[pos + 2..];
        if escaped || digits.is_empty() || !after[digits.len()..].starts_with('>') {
            continue;
        }
        let pinged = permitted_all || listed.contains(&digits);
        if only_pinged && !pinged {
            continue;
        }
        if let Ok(id) = digits.parse::<u64>() {
            if st.users.contains_key(&id) {
                out.push(user(st, id));
            }
        }
    }
    out
}

fn parse_list(allowed: &Value) -> Vec<String> {
    allowed
        .get("parse")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `needle` occurs outside a backslash escape and outside a bare URL (Discord reads a
/// URL as a link before anything inside it).
fn unescaped(content: &str, needle: &str) -> bool {
    let in_url = |at: usize| {
        let head = &content[..at];
        let start = head
            .rfind(|c: char| c.is_whitespace() || c == '<' || c == '\\')
            .map_or(0, |p| p + 1);
        let word = &head[start..];
        word.contains("http://") || word.contains("https://")
    };
    content
        .match_indices(needle)
        .any(|(i, _)| (i == 0 || content.as_bytes()[i - 1] != b'\\') && !in_url(i))
}

/// A 32-hex-digit image hash derived from `s` (two FNV-1a passes), shaped like Discord's.
pub fn image_hash(s: &str) -> String {
    let fnv = |seed: u64| {
        s.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x8422_2325_cbf2_9ce4)
    )
}

/// A reaction's emoji object from its key: `name:id` for a custom emoji, else a Unicode one.
pub fn emoji(key: &str) -> Value {
    match key.rsplit_once(':') {
        Some((name, id)) if id.parse::<u64>().is_ok() => {
            let name = name.rsplit(':').next().unwrap_or(name);
            json!({"id": id, "name": name, "animated": false})
        }
        _ => json!({"id": null, "name": key}),
    }
}

/// The custom emoji of a guild, as GUILD_CREATE lists them.
fn guild_emojis(st: &State, guild_id: u64) -> Value {
    let list: Vec<Value> = st
        .emojis
        .iter()
        .filter(|(_, (g, _))| *g == guild_id)
        .map(|(id, (_, name))| {
            json!({"id": id.to_string(), "name": name, "roles": [], "require_colons": true,
                   "managed": false, "animated": false, "available": true})
        })
        .collect();
    json!(list)
}
