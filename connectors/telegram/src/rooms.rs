//! `Connector::join` on Telegram: a bot cannot add itself to a group, only people can, so `join`
//! checks with `getChat` that the bot is in the chat and returns its title. `leave` keeps the
//! trait's no-op: the group's admins decide whether the bot stays.
//!
//! Telegram answers `getChat` for a chat the bot is not in (or that does not exist) with 400
//! `Bad Request: chat not found`, and for one it was removed from with 403 `Forbidden: bot was
//! kicked from the … chat`; both become `Rejected` with words a moderator can act on, keeping
//! Telegram's own description after them. Everything else is classified as `send` does.

use crate::error::{classify, description};
use crate::{ids, TelegramConnector};
use civicbridge_api::{ConnectorError, RoomId, RoomInfo};
use teloxide::prelude::*;
use teloxide::types::{ChatFullInfo, ChatFullInfoKind, ChatFullInfoPublicKind};
use teloxide::{ApiError, RequestError};

impl TelegramConnector {
    pub(crate) async fn join_impl(&self, room: &RoomId) -> Result<RoomInfo, ConnectorError> {
        let chat = ids::chat_id(room)?;
        let info = self
            .bot
            .get_chat(chat)
            .send()
            .await
            .map_err(|e| refusal(&e, &self.config.token))?;
        // The answer says whether the chat is a forum: remember it, so the first send into it
        // does not ask again.
        let forum = matches!(&info.kind, ChatFullInfoKind::Public(p)
            if matches!(&p.kind, ChatFullInfoPublicKind::Supergroup(s) if s.is_forum));
        self.forums
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(chat.0, forum);
        Ok(RoomInfo { name: name(&info) })
    }
}

/// What people call the chat: a group's title, or a private chat's person's name. As Telegram
/// gives it (the core cleans it); `None` when there is none.
fn name(info: &ChatFullInfo) -> Option<String> {
    let name = match info.title() {
        Some(t) => t.to_owned(),
        None => [info.first_name(), info.last_name()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    };
    (!name.is_empty()).then_some(name)
}

/// `classify`, with the refusals that mean "the bot is not there" reworded for a moderator.
fn refusal(err: &RequestError, token: &str) -> ConnectorError {
    if let RequestError::Api(api) = err {
        let said = description(api);
        let kicked = matches!(
            api,
            ApiError::BotKicked
                | ApiError::BotKickedFromSupergroup
                | ApiError::BotKickedFromChannel
        ) || said.starts_with("Forbidden: bot was kicked");
        if kicked {
            return ConnectorError::Rejected(format!(
                "the bot was removed from this chat: add it to the group again (Telegram: {said})"
            ));
        }
        let absent = matches!(api, ApiError::ChatNotFound)
            || said == "Bad Request: chat not found"
            || said.starts_with("Forbidden: bot is not a member");
        if absent {
            return ConnectorError::Rejected(format!(
                "the bot is not in this chat, or the chat does not exist: add the bot to the \
                 group, and check the chat id (Telegram: {said})"
            ));
        }
    }
    classify(err, token)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_to_do() {
        let e = refusal(&RequestError::Api(ApiError::ChatNotFound), "");
        assert!(
            matches!(&e, ConnectorError::Rejected(r) if r.contains("add the bot to the group")),
            "{e:?}"
        );
        let e = refusal(&RequestError::Api(ApiError::BotKickedFromSupergroup), "");
        assert!(
            matches!(&e, ConnectorError::Rejected(r) if r.contains("removed from this chat")),
            "{e:?}"
        );
        let e = refusal(
            &RequestError::Api(ApiError::Unknown("Internal Server Error".into())),
            "",
        );
        assert!(matches!(e, ConnectorError::Transient(_)), "{e:?}");
    }
}
