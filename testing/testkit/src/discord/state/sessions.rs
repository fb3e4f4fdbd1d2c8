//! Gateway sessions: opening one (READY, GUILD_CREATE), the log each connection tails, and who
//! is sent which dispatch (intents, channels the bot cannot see, MESSAGE_CONTENT).

use super::*;

impl State {
    /// Opens a new session and queues READY and one GUILD_CREATE per guild on it.
    pub fn open_session(&mut self, intents: u64, compress: bool) -> String {
        self.identifies += 1;
        let id = format!("session-{}", self.next_id());
        self.sessions.insert(
            id.clone(),
            SessionRec {
                id: id.clone(),
                intents,
                compress,
                log: Vec::new(),
                invalid: false,
            },
        );
        let ready = payloads::ready(self, &id);
        self.push_frame(&id, "READY", ready);
        if intents & INTENT_GUILDS != 0 {
            let guilds: Vec<u64> = self.guilds.keys().copied().collect();
            for g in guilds {
                let d = payloads::guild_create(self, g);
                self.push_frame(&id, "GUILD_CREATE", d);
            }
        }
        id
    }

    pub fn push_frame(&mut self, session: &str, t: &str, d: Value) {
        if let Some(s) = self.sessions.get_mut(session) {
            let seq = s.log.len() as u64 + 1;
            let frame = serde_json::json!({"op": 0, "t": t, "s": seq, "d": d});
            s.log.push(frame.to_string());
        }
    }

    /// Queues a dispatch on every live session whose intents include `intent`.
    /// Whether the bot may view `channel` (a thread: its parent). Unknown channels count as
    /// visible: those answer 10003 "Unknown Channel" instead.
    pub fn bot_sees(&self, channel: u64) -> bool {
        let parent = self.channels.get(&channel).and_then(|c| c.parent_id);
        !self.hidden.contains(&channel) && parent.is_none_or(|p| !self.hidden.contains(&p))
    }

    /// Whether a dispatch is about a channel the bot cannot view (Discord does not send those).
    pub(super) fn about_hidden(&self, d: &Value) -> bool {
        d.get("channel_id")
            .and_then(Value::as_str)
            .and_then(|c| c.parse().ok())
            .is_some_and(|c| !self.bot_sees(c))
    }

    pub fn dispatch_if(&mut self, intent: u64, t: &str, d: Value) {
        if self.about_hidden(&d) {
            return;
        }
        let ids: Vec<String> = self
            .sessions
            .values()
            .filter(|s| !s.invalid && s.intents & intent != 0)
            .map(|s| s.id.clone())
            .collect();
        for id in ids {
            self.push_frame(&id, t, d.clone());
        }
    }

    /// Message dispatches need GUILD_MESSAGES (DIRECT_MESSAGES in a DM); without MESSAGE_CONTENT their content, embeds,
    /// attachments and components are blank, except in the bot's own messages, messages that
    /// mention it and DMs, exactly as Discord does.
    pub(super) fn dispatch_message(&mut self, t: &str, d: Value) {
        if self.about_hidden(&d) {
            return;
        }
        let in_dm = d.get("guild_id").is_none_or(Value::is_null);
        // Messages in DMs need DIRECT_MESSAGES, those in servers GUILD_MESSAGES.
        let intent = if in_dm {
            INTENT_DIRECT_MESSAGES
        } else {
            INTENT_GUILD_MESSAGES
        };
        let ids: Vec<(String, u64)> = self
            .sessions
            .values()
            .filter(|s| !s.invalid && s.intents & intent != 0)
            .map(|s| (s.id.clone(), s.intents))
            .collect();
        let bot = self.bot_id.to_string();
        let by_bot = d.pointer("/author/id").and_then(Value::as_str) == Some(bot.as_str());
        let mentions_bot = d
            .get("mentions")
            .and_then(Value::as_array)
            .is_some_and(|l| {
                l.iter()
                    .any(|u| u.get("id").and_then(Value::as_str) == Some(&bot))
            });
        let readable = by_bot || mentions_bot || in_dm;
        for (id, intents) in ids {
            let mut d = d.clone();
            if intents & INTENT_MESSAGE_CONTENT == 0 && !readable {
                if let Value::Object(m) = &mut d {
                    m.insert("content".into(), Value::String(String::new()));
                    m.insert("attachments".into(), Value::Array(Vec::new()));
                    m.insert("embeds".into(), Value::Array(Vec::new()));
                    m.insert("components".into(), Value::Array(Vec::new()));
                }
            }
            self.push_frame(&id, t, d);
        }
    }
}
