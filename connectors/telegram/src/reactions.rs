//! `react` and `unreact`: the bot's one reaction on a message (`setMessageReaction`).
//!
//! A bot is not premium, so Telegram lets it set one reaction per message, from the fixed set
//! in [`crate::reaction_set`]: `react(k)` replaces whatever the bot showed with `k`, and
//! `unreact(k)` clears it. The connector remembers (in memory, for the messages it reacted on
//! lately) which key it set, so `unreact(k)` after `react(k2)` leaves `k2` alone; after a
//! restart, or for a message it forgot, `unreact` clears the bot's reaction. Telegram sends the
//! bot no update for its own reactions. Errors are classified like every other method
//! (`REACTION_INVALID` and `message to react not found` → `Rejected`, 429 → `RateLimited`).

use crate::reaction_set::TELEGRAM_REACTIONS;
use crate::{ids, TelegramConnector};
use civicbridge_api::{ConnectorError, ReactionKeys, RemoteMsgId, RoomId};
use teloxide::prelude::*;
use teloxide::types::{ChatId, MessageId, ReactionType};

/// How many messages' reactions are remembered before the memory is cleared (then `unreact`
/// clears whatever the bot shows there, which is what it was asked to remove in all but a race).
const REMEMBERED: usize = 4096;

impl TelegramConnector {
    pub(crate) async fn react_impl(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        let chat = ids::chat_id(room)?;
        let msg = ids::message_id(id)?;
        let emoji = ReactionKeys::Only(TELEGRAM_REACTIONS)
            .admit(key)
            .ok_or_else(|| {
                ConnectorError::Rejected(format!("{key:?} is not one of Telegram's reaction emoji"))
            })?;
        self.set_reaction(
            chat,
            msg,
            vec![ReactionType::Emoji {
                emoji: emoji.clone(),
            }],
        )
        .await?;
        let mut shown = self
            .reactions_shown
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if shown.len() >= REMEMBERED {
            shown.clear();
        }
        shown.insert((chat.0, msg.0), emoji);
        Ok(())
    }

    pub(crate) async fn unreact_impl(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        let chat = ids::chat_id(room)?;
        let msg = ids::message_id(id)?;
        let wanted = ReactionKeys::Only(TELEGRAM_REACTIONS).admit(key);
        {
            let shown = self
                .reactions_shown
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match (shown.get(&(chat.0, msg.0)), wanted) {
                // The bot shows another key now: `key` is already gone.
                (Some(now), Some(w)) if *now != w => return Ok(()),
                // A key Telegram does not take was never shown.
                (_, None) => return Ok(()),
                _ => {}
            }
        }
        self.set_reaction(chat, msg, Vec::new()).await?;
        self.reactions_shown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(chat.0, msg.0));
        Ok(())
    }

    /// The bot's reactions on the message are now `reaction` (empty: none).
    async fn set_reaction(
        &self,
        chat: ChatId,
        msg: MessageId,
        reaction: Vec<ReactionType>,
    ) -> Result<(), ConnectorError> {
        self.bot
            .set_message_reaction(chat, msg)
            .reaction(reaction)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.fail(&e))
    }
}
