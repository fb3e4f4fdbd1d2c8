//! Matrix's entry point for the daemon: the `[matrix]` section, the login, and links to Matrix
//! events (`https://matrix.to/#/!room:server/$event`). Matrix rooms can be moderation rooms: the
//! bot edits its own cards, reads reactions, and reports each sender's power level as their
//! standing.

use crate::{MatrixConfig, MatrixConnector, PLATFORM};
use async_trait::async_trait;
use civicbridge_api::{
    BuildContext, BuildError, Built, MessageLink, Platform, PlatformFactory, RemoteMsgId, RoomId,
    Section, SectionError,
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
