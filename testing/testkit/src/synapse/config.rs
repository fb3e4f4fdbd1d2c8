//! The homeserver config the launcher renders: loopback only, SQLite, no federation, cheap
//! password hashing, rate limits relaxed for test bursts unless a test asks for strict ones.
//!
//! Synapse reads YAML, and JSON is YAML, so the config is written with serde_json.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to start a Synapse.
#[derive(Debug, Clone)]
pub struct SynapseOptions {
    /// Keep `rc_message` strict (a burst of a few messages gets `M_LIMIT_EXCEEDED`), to test
    /// that a client honours `retry_after_ms`. Every other limit stays relaxed.
    pub strict_message_rate: bool,
    /// `default_room_version`; `None` keeps Synapse's default (12: room ids without a server).
    pub default_room_version: Option<String>,
    /// How long to wait for `/_matrix/client/versions` to answer.
    pub startup_timeout: Duration,
    /// Keep the server's files (config, database, signing key, secret) here and reuse them on a
    /// later start: same users, same rooms (`civicbridge demo`). `None`: a temporary directory
    /// removed when the handle is dropped.
    pub data_dir: Option<PathBuf>,
    /// The port to listen on if it is free (a kept data dir remembers the last one); otherwise,
    /// or when `None`, any free port.
    pub port: Option<u16>,
}

impl Default for SynapseOptions {
    fn default() -> Self {
        SynapseOptions {
            strict_message_rate: false,
            default_room_version: None,
            startup_timeout: Duration::from_secs(90),
            data_dir: None,
            port: None,
        }
    }
}

/// The server name every user id ends with.
pub const SERVER_NAME: &str = "localhost";

fn relaxed() -> Value {
    json!({ "per_second": 10000, "burst_count": 10000 })
}

pub(crate) fn render(opts: &SynapseOptions, port: u16, dir: &Path, secret: &str) -> Value {
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let message = if opts.strict_message_rate {
        json!({ "per_second": 1, "burst_count": 3 })
    } else {
        relaxed()
    };
    let mut cfg = json!({
        "server_name": SERVER_NAME,
        "public_baseurl": format!("http://127.0.0.1:{port}/"),
        "pid_file": p("homeserver.pid"),
        "listeners": [{
            "port": port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": false,
            "x_forwarded": false,
            // `openid`: `/_matrix/federation/v1/openid/userinfo`, where the console checks a
            // widget's OpenID token; without it the endpoint is 404 (federation stays off).
            "resources": [{ "names": ["client", "openid"], "compress": false }]
        }],
        "database": { "name": "sqlite3", "args": { "database": p("homeserver.db") } },
        "media_store_path": p("media"),
        "signing_key_path": p("signing.key"),
        "registration_shared_secret": secret,
        "macaroon_secret_key": format!("{secret}-macaroon"),
        "form_secret": format!("{secret}-form"),
        "enable_registration": false,
        "bcrypt_rounds": 4,
        "trusted_key_servers": [],
        "suppress_key_server_warning": true,
        "federation_domain_whitelist": [],
        "report_stats": false,
        "enable_metrics": false,
        "presence": { "enabled": false },
        "url_preview_enabled": false,
        "max_upload_size": "50M",
        "rc_message": message,
        "rc_registration": relaxed(),
        "rc_login": {
            "address": relaxed(),
            "account": relaxed(),
            "failed_attempts": relaxed()
        },
        "rc_joins": { "local": relaxed(), "remote": relaxed() },
        "rc_joins_per_room": relaxed(),
        "rc_invites": {
            "per_room": relaxed(),
            "per_user": relaxed(),
            "per_issuer": relaxed()
        },
        "rc_room_creation": relaxed(),
        "rc_admin_redaction": relaxed(),
        "rc_media_create": relaxed(),
        "rc_profile": relaxed(),
        "rc_key_requests": relaxed(),
        "rc_3pid_validation": relaxed(),
        "rc_delayed_event_mgmt": relaxed(),
        "rc_presence": { "per_user": relaxed() },
        "rc_reports": relaxed()
    });
    if let (Some(v), Some(obj)) = (&opts.default_room_version, cfg.as_object_mut()) {
        obj.insert("default_room_version".into(), json!(v));
    }
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_option_only_tightens_messages() {
        let dir = Path::new("/tmp/x");
        let relaxed_cfg = render(&SynapseOptions::default(), 1234, dir, "s");
        let strict = render(
            &SynapseOptions {
                strict_message_rate: true,
                ..SynapseOptions::default()
            },
            1234,
            dir,
            "s",
        );
        assert_eq!(relaxed_cfg["rc_message"]["burst_count"], 10000);
        assert_eq!(strict["rc_message"]["burst_count"], 3);
        assert_eq!(strict["rc_joins"], relaxed_cfg["rc_joins"]);
        assert_eq!(strict["listeners"][0]["bind_addresses"][0], "127.0.0.1");
        assert_eq!(strict["listeners"][0]["port"], 1234);
        assert!(strict.get("default_room_version").is_none());
        assert_eq!(
            strict["listeners"][0]["resources"][0]["names"],
            json!(["client", "openid"])
        );
    }
}
