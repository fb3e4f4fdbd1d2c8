//! `MatrixConfig`: how the connector logs in and where it keeps its session and stores.

use serde::Deserialize;
use std::path::PathBuf;

/// The `[matrix]` section of the daemon's config.
///
/// Give `password` (logs in once, then restores the persisted session on every start, keeping
/// one device and its encryption keys) or `access_token` (used as is; the device is the token's).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    /// e.g. `https://matrix.example.org` or `http://127.0.0.1:8008`.
    pub homeserver_url: String,
    /// The bot's full user id, `@bridge:example.org`.
    pub user_id: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    /// The display name of the bot's device, shown to staff when they verify it.
    #[serde(default = "default_device_name")]
    pub device_name: String,
    /// Where `session.json` and the SDK's SQLite stores (state, crypto, event cache) live.
    /// Defaults to `./matrix-data`. Keep it: losing it loses the bot's encryption keys.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Encrypts the SQLite stores at rest when set.
    #[serde(default)]
    pub store_passphrase: Option<String>,
    /// Room ids whose invites the bot accepts; invites to any other room are declined.
    #[serde(default)]
    pub rooms: Vec<String>,
    /// Long-poll timeout of `/sync`, in seconds.
    #[serde(default = "default_sync_timeout_s")]
    pub sync_timeout_s: u64,
}

fn default_device_name() -> String {
    "civicbridge".to_owned()
}

fn default_sync_timeout_s() -> u64 {
    30
}

impl MatrixConfig {
    /// A password-login config with defaults for everything else.
    pub fn with_password(
        homeserver_url: impl Into<String>,
        user_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        MatrixConfig {
            homeserver_url: homeserver_url.into(),
            user_id: user_id.into(),
            password: Some(password.into()),
            access_token: None,
            device_name: default_device_name(),
            data_dir: None,
            store_passphrase: None,
            rooms: Vec::new(),
            sync_timeout_s: default_sync_timeout_s(),
        }
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("matrix-data"))
    }
}

/// Hand-written so that secrets never reach a log.
impl std::fmt::Debug for MatrixConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("MatrixConfig")
            .field("homeserver_url", &self.homeserver_url)
            .field("user_id", &self.user_id)
            .field("password", &redact(&self.password))
            .field("access_token", &redact(&self.access_token))
            .field("device_name", &self.device_name)
            .field("data_dir", &self.data_dir)
            .field("store_passphrase", &redact(&self.store_passphrase))
            .field("rooms", &self.rooms)
            .field("sync_timeout_s", &self.sync_timeout_s)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults_and_rejects_unknown_keys() {
        let c: MatrixConfig = serde_json::from_str(
            r#"{"homeserver_url":"http://h","user_id":"@b:h","password":"hunter2","rooms":["!r"]}"#,
        )
        .expect("parses");
        assert_eq!(c.device_name, "civicbridge");
        assert_eq!(c.rooms, vec!["!r".to_owned()]);
        assert_eq!(c.sync_timeout_s, 30);
        let err = serde_json::from_str::<MatrixConfig>(
            r#"{"homeserver_url":"http://h","user_id":"@b:h","pasword":"x"}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("unknown field `pasword`"), "{err}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let mut c = MatrixConfig::with_password("http://h", "@b:h", "hunter2");
        c.access_token = Some("syt_secret".into());
        c.store_passphrase = Some("pp".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("syt_secret"));
        assert!(!shown.contains("\"pp\""));
        assert!(shown.contains("<redacted>"));
    }
}
