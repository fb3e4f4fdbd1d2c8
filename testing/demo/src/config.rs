//! The world's config file: one link joining the staff room, the Telegram group and the Discord
//! channel, moderated from the moderation room, with the platforms' sections pointing at the
//! local servers. The same text serves the in-process daemon and `civicbridge run`.

use super::world::{World, LINK};
use super::DemoError;
use civicbridge_core::moderation::rules::Rules;
use serde::Serialize;

impl World {
    /// The config for one link joining the staff room, the Telegram group and the Discord
    /// channel, moderated from the moderation room, under `rules` (with
    /// [`World::start_daemon_on`], a test can append links of its own).
    pub fn config_text(&self, rules: &Rules) -> Result<String, DemoError> {
        let rules = rules_toml(LINK, rules)?;
        Ok(format!(
            r#"# Written by `civicbridge demo`: one link between a Matrix staff room, a Telegram forum
# group and a Discord channel, all on 127.0.0.1.
[store]
path = "bridge-store"

[log]
filter = "warn,civicbridge=info"

[matrix]
homeserver_url = "{hs}"
user_id = "{bot}"
password = "{pw}"
data_dir = "matrix"
sync_timeout_s = {sync}

[telegram]
token = "{tg_token}"
api_url = "{tg_url}"
poll_timeout_secs = {poll}
pacing = {{ per_chat_interval_ms = 0, group_per_minute = 0 }}

[discord]
token = "{dc_token}"
api_base = "{dc_url}"
ratelimiter = false

[links.{LINK}]
moderation_room = "matrix:{mod_room}"
{moderators}
rooms = [
  {{ room = "matrix:{staff_room}", side = "staff" }},
  {{ room = "telegram:{chat}", side = "public" }},
  {{ room = "discord:{channel}", side = "public" }},
]

{rules}
{extra}"#,
            hs = self.homeserver_url(),
            bot = self.bot.user_id,
            pw = self.bot.password,
            tg_token = self.telegram.token(),
            tg_url = self.telegram.url(),
            dc_token = self.discord.token(),
            dc_url = self.discord.api_base(),
            mod_room = self.moderation_room,
            sync = self.options.sync_timeout_s,
            poll = self.options.poll_timeout_secs,
            moderators = if self.options.moderators_in_config {
                format!("moderators = [\"matrix:{}\"]", self.moderator.user_id())
            } else {
                "# moderators: whoever holds power level 50 in the moderation room".to_owned()
            },
            extra = self.options.extra_config,
            staff_room = self.staff_room,
            chat = self.tg_chat,
            channel = self.dc_channel,
        ))
    }
}

/// `[links.<link>.rules]` (with its sub-tables) for `rules`, to append to a config.
pub fn rules_toml(link: &str, rules: &Rules) -> Result<String, DemoError> {
    #[derive(Serialize)]
    struct Link<'a> {
        rules: &'a Rules,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        links: std::collections::BTreeMap<&'a str, Link<'a>>,
    }
    let doc = Doc {
        links: [(link, Link { rules })].into_iter().collect(),
    };
    toml::to_string(&doc).map_err(|e| DemoError::Check(format!("rules do not serialise: {e}")))
}
