//! Direct messages, for tests: people who close their DMs or leave a server, people who write to
//! the bot privately, and what the bot sent each person (see `state/dms.rs` for Discord's rules).

use super::state::Author;
use super::{DiscordServer, MessageView};

impl DiscordServer {
    /// `user` stops accepting DMs from server members (Discord's privacy setting): the bot's
    /// messages to them are refused with 403 / 50007 from now on.
    pub fn close_dms(&self, user: u64) {
        self.with(|st| st.dms_closed.insert(user));
    }

    /// `user` accepts DMs from server members again.
    pub fn open_dms(&self, user: u64) {
        self.with(|st| st.dms_closed.remove(&user));
    }

    /// `user` leaves `guild`; once they share no server with the bot, its DMs to them are
    /// refused with 403 / 50278.
    pub fn leave_guild(&self, guild: u64, user: u64) {
        self.with(|st| st.leave_guild(guild, user));
    }

    /// The DM channel between the bot and `user`, if one was opened.
    pub fn dm_channel(&self, user: u64) -> Option<u64> {
        self.shared.lock().dm_channel(user)
    }

    /// Every live message the bot sent `user` privately, oldest first.
    pub fn dm_messages(&self, user: u64) -> Vec<MessageView> {
        match self.dm_channel(user) {
            Some(channel) => self.bot_messages(channel),
            None => Vec::new(),
        }
    }

    /// `user` writes to the bot privately (opening the DM channel if needed). Sessions with
    /// the DIRECT_MESSAGES intent get MESSAGE_CREATE without `guild_id`; others get nothing.
    /// Returns the message id, or `None` for a user Discord does not know.
    pub fn dm_as_user(&self, user: u64, text: &str) -> Option<u64> {
        self.with(|st| {
            let channel = st.open_dm(user)?;
            Some(st.add_message(
                channel,
                Author::User(user),
                text,
                None,
                Vec::new(),
                None,
                None,
            ))
        })
    }
}
