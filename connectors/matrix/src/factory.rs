//! Matrix's entry point for the daemon: the `[matrix]` section, the login, and links to Matrix
//! events (`https://matrix.to/#/!room:server/$event`). Matrix rooms can be moderation rooms: the
//! bot edits its own cards, reads reactions, and reports each sender's power level as their
//! standing.

use crate::{MatrixConfig, MatrixConnector, PLATFORM};
use async_trait::async_trait;
use civicbridge_api::{
    BuildContext, BuildError, Built, MessageLink, OpenIdHomeserver, Platform, PlatformFactory,
    RemoteMsgId, RoomId, Section, SectionError,
};
use std::sync::Arc;

/// Builds the Matrix connector from `[matrix]`.
#[derive(Debug, Default)]
pub struct MatrixFactory;

/// The section read and checked without a network call (the homeserver checks the rest at
/// login), and the secrets in it.
fn read(section: &Section) -> Result<(MatrixConfig, Vec<String>), SectionError> {
    let m: MatrixConfig = section.parse()?;
    if !(m.homeserver_url.starts_with("http://") || m.homeserver_url.starts_with("https://")) {
        return Err(section.invalid("homeserver_url", "must start with http:// or https://"));
    }
    if !m.user_id.starts_with('@') || !m.user_id.contains(':') {
        return Err(section.invalid("user_id", "not a Matrix user id like @bridge:example.org"));
    }
    if m.password.is_none() && m.access_token.is_none() {
        return Err(section.invalid("password", "missing: give password or access_token"));
    }
    let secrets = [&m.password, &m.access_token, &m.store_passphrase]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    Ok((m, secrets))
}

#[async_trait]
impl PlatformFactory for MatrixFactory {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "Matrix"
    }

    fn hosts_moderation(&self) -> bool {
        true
    }

    fn check(&self, section: &Section) -> Result<Vec<String>, SectionError> {
        read(section).map(|(_, secrets)| secrets)
    }

    /// The bot's own homeserver: its server name (from `user_id`) at `homeserver_url`. Its
    /// people can sign in to the console with an OpenID token (an Element widget).
    fn openid_homeserver(&self, section: &Section) -> Option<OpenIdHomeserver> {
        let (m, _) = read(section).ok()?;
        let (_, server_name) = m.user_id.split_once(':')?;
        Some(OpenIdHomeserver {
            server_name: server_name.to_owned(),
            base_url: m.homeserver_url.clone(),
        })
    }

    /// Logs in (or restores the session kept in the data directory), so wrong credentials stop
    /// the start with the homeserver's answer. The bot accepts invites to every Matrix room a
    /// link uses.
    async fn build(&self, section: &Section, ctx: BuildContext) -> Result<Built, BuildError> {
        let (mut m, mut secrets) = read(section)?;
        for room in &ctx.rooms {
            if !m.rooms.iter().any(|r| r == room.as_str()) {
                m.rooms.push(room.to_string());
            }
        }
        m.data_dir = Some(match m.data_dir.take() {
            Some(d) if d.is_relative() => ctx.base_dir.join(d),
            Some(d) => d,
            None => ctx.data_dir,
        });
        let c = MatrixConnector::connect(m)
            .await
            .map_err(|e| BuildError::Failed(format!("matrix: {e}")))?;
        // The access token from a login (or a restored session) is a secret too.
        secrets.extend(c.client().access_token());
        Ok(Built {
            connector: Arc::new(c),
            secrets,
        })
    }

    /// `https://matrix.to/#/!room:server/$event?via=…`, percent-encoded or not. A room alias
    /// (`#room:server`) names no room id: the event is then looked for in the link's rooms.
    fn message_link(&self, text: &str) -> Option<MessageLink> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))?;
        let (host, _) = rest.split_once('/')?;
        if host != "matrix.to" {
            return None;
        }
        let frag = rest.split_once("#/")?.1;
        let frag = frag.split('?').next().unwrap_or(frag);
        let (room, event) = frag.split_once('/')?;
        let (room, event) = (percent_decode(room), percent_decode(event));
        if !event.starts_with('$') {
            return None;
        }
        Some(MessageLink {
            room: room.starts_with('!').then(|| RoomId::new(room)),
            msg: RemoteMsgId::new(event),
        })
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are), as matrix.to links carry ids.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use civicbridge_api::testing::fuzz_config;
    use proptest::prelude::*;

    fn section(toml: &str) -> Section {
        Section::new("matrix", toml::from_str::<toml::Value>(toml).expect("toml"))
    }

    #[test]
    fn the_section_is_checked_with_errors_that_name_the_key() {
        let f = MatrixFactory;
        let good = "homeserver_url = \"http://127.0.0.1:8008\"\nuser_id = \"@bridge:localhost\"\npassword = \"pw-secret\"\n";
        assert_eq!(f.check(&section(good)).expect("valid"), vec!["pw-secret"]);
        let e = f
            .check(&section(&good.replace("http://", "ftp://")))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("matrix.homeserver_url: must start"),
            "{e}"
        );
        let e = f
            .check(&section(&good.replace("@bridge:localhost", "bridge")))
            .unwrap_err();
        assert!(e.to_string().starts_with("matrix.user_id:"), "{e}");
        let e = f
            .check(&section(&good.replace("password = \"pw-secret\"\n", "")))
            .unwrap_err();
        assert!(e.to_string().starts_with("matrix.password: missing"), "{e}");
    }

    #[test]
    fn the_bots_own_homeserver_vouches_for_openid_tokens() {
        let good = "homeserver_url = \"https://matrix.example.org\"\nuser_id = \"@bridge:example.org\"\npassword = \"pw\"\n";
        assert_eq!(
            MatrixFactory.openid_homeserver(&section(good)),
            Some(OpenIdHomeserver {
                server_name: "example.org".into(),
                base_url: "https://matrix.example.org".into(),
            })
        );
        assert_eq!(
            MatrixFactory.openid_homeserver(&section("user_id = 1")),
            None
        );
    }

    #[test]
    fn message_links() {
        let at = |room: Option<&str>, msg: &str| {
            Some(MessageLink {
                room: room.map(RoomId::new),
                msg: RemoteMsgId::new(msg),
            })
        };
        let link = |t: &str| MatrixFactory.message_link(t);
        assert_eq!(
            link("https://matrix.to/#/%21abc%3Aexample.org/%24ev1?via=example.org"),
            at(Some("!abc:example.org"), "$ev1")
        );
        assert_eq!(
            link("https://matrix.to/#/!abc/$ev1"),
            at(Some("!abc"), "$ev1")
        );
        assert_eq!(
            link("https://matrix.to/#/#room:x.org/$ev1"),
            at(None, "$ev1")
        );
        assert_eq!(link("https://matrix.to/#/!abc/ev1"), None);
        assert_eq!(link("https://matrix.example/#/!abc/$ev1"), None);
    }

    proptest! {
        #![proptest_config(fuzz_config(512))]

        /// Any text: no panic.
        #[test]
        fn fuzz_matrix_message_link_anything(s in "(https?://|matrix\\.to/#/|[/!$%@:?#]|%[0-9A-F]{0,2}|[0-9]{1,4}|[a-z]{1,5}|\\PC){0,12}") {
            let _ = MatrixFactory.message_link(&s);
        }

        /// Real links give the event they name.
        #[test]
        fn fuzz_matrix_message_links(room in "[A-Za-z0-9]{4,18}", event in "[A-Za-z0-9_-]{4,43}") {
            let m = format!("https://matrix.to/#/%21{room}%3Aexample.org/%24{event}?via=example.org");
            prop_assert_eq!(MatrixFactory.message_link(&m), Some(MessageLink {
                room: Some(RoomId::new(format!("!{room}:example.org"))),
                msg: RemoteMsgId::new(format!("${event}")),
            }));
        }
    }
}
