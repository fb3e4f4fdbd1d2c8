//! `Connector::join` on Discord: a bot joins servers only when an admin invites it, and sees a
//! channel only when its permissions allow, so `join` checks with `GET /channels/{id}` that the
//! bot can see the channel and returns its name. `leave` keeps the trait's no-op: the server's
//! admins decide where the bot is.
//!
//! Discord answers 404 / 10003 "Unknown Channel" for a channel that does not exist (or one in a
//! server the bot is not in, depending on the id), and 403 / 50001 "Missing Access" for one the
//! bot may not view; both become `Rejected` with words a moderator can act on, keeping Discord's
//! own message after them. Everything else is classified as `send` does.

use crate::error::DiscordError;
use crate::outbound::RestChannel;
use crate::{ids, Inner};
use civicbridge_api::{ConnectorError, RoomId, RoomInfo};
use serenity::http::{LightMethod, Request, Route};

/// Discord's JSON codes for "the bot cannot be there".
const UNKNOWN_CHANNEL: i64 = 10003;
const MISSING_ACCESS: i64 = 50001;

impl Inner {
    pub(crate) async fn join(&self, room: &RoomId) -> Result<RoomInfo, ConnectorError> {
        let channel = ids::channel(room)?;
        let req = Request::new(
            Route::Channel {
                channel_id: channel,
            },
            LightMethod::Get,
        );
        let c: RestChannel = self.rest.json(req).await.map_err(refusal)?;
        // What the answer says of the channel is what sends need too: keep it.
        self.known().channels.insert(channel.get(), c.info());
        Ok(RoomInfo {
            name: c.name.filter(|n| !n.is_empty()),
        })
    }
}

/// The usual classification, with the refusals that mean "the bot cannot be there" reworded
/// for a moderator.
fn refusal(e: DiscordError) -> ConnectorError {
    match e.api_code() {
        Some(UNKNOWN_CHANNEL) => ConnectorError::Rejected(format!(
            "the channel does not exist, or is in a server the bot was not added to: check the \
             channel id and invite the bot to the server ({e})"
        )),
        Some(MISSING_ACCESS) => ConnectorError::Rejected(format!(
            "the bot cannot see this channel: give it the View Channel permission there ({e})"
        )),
        _ => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: i64, message: &str) -> DiscordError {
        DiscordError::Api {
            status,
            code,
            message: message.into(),
            retry_after: None,
            global: false,
        }
    }

    #[test]
    fn refusals_say_what_to_do() {
        let e = refusal(api(404, 10003, "Unknown Channel"));
        assert!(
            matches!(&e, ConnectorError::Rejected(m) if m.contains("invite the bot") && m.contains("Unknown Channel")),
            "{e:?}"
        );
        let e = refusal(api(403, 50001, "Missing Access"));
        assert!(
            matches!(&e, ConnectorError::Rejected(m) if m.contains("View Channel")),
            "{e:?}"
        );
        assert!(matches!(
            refusal(api(502, 0, "Bad Gateway")),
            ConnectorError::Transient(_)
        ));
    }
}
