//! Direct messages between the bot and one person, as Discord allows a bot them.
//!
//! `POST /users/@me/channels` opens the DM channel with anyone Discord knows (and returns the
//! same channel every time); whether the bot may *post* there is decided when it posts: Discord
//! refuses with 403 when the person does not accept DMs from the servers they share with the
//! bot (50007 "Cannot send messages to this user"), or shares none with it (50278 "Cannot send
//! messages to this user due to having no mutual guilds"; `discord-api-types` documents both
//! codes for this refusal), and a bot never writes to another bot (50007).

use super::*;

/// Why Discord refuses the bot's message to a DM channel (HTTP 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmRefusal {
    /// 50007: the person closed DMs from server members, or is a bot.
    Closed,
    /// 50278: the person shares no server with the bot.
    NoMutualGuild,
}

impl DmRefusal {
    pub fn code(self) -> u32 {
        match self {
            DmRefusal::Closed => 50007,
            DmRefusal::NoMutualGuild => 50278,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            DmRefusal::Closed => "Cannot send messages to this user",
            DmRefusal::NoMutualGuild => {
                "Cannot send messages to this user due to having no mutual guilds"
            }
        }
    }
}

impl State {
    /// The DM channel with `user`, opened on first use. `None` when Discord knows no such user.
    pub fn open_dm(&mut self, user: u64) -> Option<u64> {
        if !self.users.contains_key(&user) {
            return None;
        }
        if let Some(c) = self.dm_channel(user) {
            return Some(c);
        }
        let id = self.next_id();
        self.channels.insert(
            id,
            ChannelRec {
                id,
                guild_id: 0,
                kind: DM,
                name: String::new(),
                parent_id: None,
                owner_id: None,
                position: 0,
                created_ms: now_ms(),
                recipient: Some(user),
            },
        );
        Some(id)
    }

    /// The DM channel with `user`, if one was opened.
    pub fn dm_channel(&self, user: u64) -> Option<u64> {
        self.channels
            .values()
            .find(|c| c.kind == DM && c.recipient == Some(user))
            .map(|c| c.id)
    }

    /// Whether `user` is a member of a server the bot is in.
    pub fn shares_guild(&self, user: u64) -> bool {
        self.guilds
            .keys()
            .any(|g| !self.departed.contains(&(*g, user)))
    }

    /// Why the bot may not post in `channel` now, if it is a DM it may not post in.
    pub fn dm_refusal(&self, channel: u64) -> Option<DmRefusal> {
        let user = self.channels.get(&channel)?.recipient?;
        if self.users.get(&user).is_none_or(|u| u.bot) || self.dms_closed.contains(&user) {
            Some(DmRefusal::Closed)
        } else if !self.shares_guild(user) {
            Some(DmRefusal::NoMutualGuild)
        } else {
            None
        }
    }

    /// `user` leaves `guild` (GUILD_MEMBER_REMOVE, for sessions with GUILD_MEMBERS).
    pub fn leave_guild(&mut self, guild: u64, user: u64) {
        if !self.guilds.contains_key(&guild) || !self.departed.insert((guild, user)) {
            return;
        }
        let d = serde_json::json!({
            "guild_id": guild.to_string(),
            "user": payloads::user(self, user),
        });
        self.dispatch_if(INTENT_GUILD_MEMBERS, "GUILD_MEMBER_REMOVE", d);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn one_dm_channel_per_person_and_refusals_by_what_they_allow() {
        let mut st = State::new("t".into(), "http://127.0.0.1:1".into());
        let ada = st.add_user("ada", None, None);
        assert_eq!(st.open_dm(4242), None, "unknown user");
        let dm = st.open_dm(ada).unwrap();
        assert_eq!(st.open_dm(ada), Some(dm));
        assert_eq!(
            st.dm_refusal(dm),
            Some(DmRefusal::NoMutualGuild),
            "no server at all"
        );
        let g = st.add_guild("G");
        assert_eq!(st.dm_refusal(dm), None);
        st.dms_closed.insert(ada);
        assert_eq!(st.dm_refusal(dm), Some(DmRefusal::Closed));
        st.dms_closed.remove(&ada);
        st.leave_guild(g, ada);
        assert_eq!(st.dm_refusal(dm), Some(DmRefusal::NoMutualGuild));
        let bot_dm = st.open_dm(st.bot_id).unwrap();
        assert_eq!(st.dm_refusal(bot_dm), Some(DmRefusal::Closed));
        assert_eq!(st.dm_refusal(g), None, "not a DM");
    }
}
