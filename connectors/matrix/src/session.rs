//! Logging in once and restoring the session on every later start.
//!
//! The bot must keep one device: its encryption keys live in the SDK's SQLite crypto store
//! under that device id, and staff clients trust (or verify) that device. So a password login
//! happens only when `session.json` is missing; afterwards the persisted session is restored.
//! If the homeserver has revoked the persisted token, the bot logs in again *with the same
//! device id*, which keeps the device and its keys.

use crate::config::MatrixConfig;
use crate::erase::Erase;
use crate::error::MatrixError;
use crate::ids;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::RequestConfig;
use matrix_sdk::ruma::api::error::ErrorKind;
use matrix_sdk::ruma::{OwnedDeviceId, OwnedUserId};
use matrix_sdk::store::RoomLoadSettings;
use matrix_sdk::{Client, SessionMeta, SessionTokens, SqliteStoreConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the session came to be, which decides whether `connect` must run a first sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Restored from `session.json`: the stores already know the rooms and keys.
    Restored,
    /// A new login (or a first start with an access token): nothing is known yet.
    Fresh,
}

pub(crate) async fn open(config: &MatrixConfig) -> Result<(Client, Origin), MatrixError> {
    let dir = config.data_dir();
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let user = ids::user_id(&config.user_id)?;
    if config.password.is_none() && config.access_token.is_none() {
        return Err(MatrixError::Config(
            "matrix: set `password` or `access_token`".into(),
        ));
    }
    let client = build(config, &dir).await?;
    let path = dir.join("session.json");
    let saved = read_session(&path)?;
    let origin = match (saved, &config.access_token) {
        (Some(s), _) if s.meta.user_id != user => {
            return Err(MatrixError::Session {
                path: path.display().to_string(),
                reason: format!(
                    "it belongs to {} but the config says {user}; move the data dir away to \
                     start over",
                    s.meta.user_id
                ),
            })
        }
        (Some(s), token) => {
            // A token in the config wins over a persisted one (it may have been rotated).
            let mut s = s;
            if let Some(t) = token {
                s.tokens.access_token = t.clone();
            }
            let device = s.meta.device_id.clone();
            if restore(&client, config, s).await? {
                Origin::Restored
            } else {
                // The token was revoked: log in again on the same device, with a fresh client
                // (the SDK sets a client's session once).
                drop(client);
                let client = build(config, &dir).await?;
                tracing::warn!(%user, %device, "matrix: token revoked; logging in again on the same device");
                login(&client, config, &user, Some(&device)).await?;
                save(&client, &path)?;
                return Ok((client, Origin::Restored));
            }
        }
        (None, Some(token)) => {
            let device_id = whoami(config, token, &user).await?;
            let session = MatrixSession {
                meta: SessionMeta {
                    user_id: user.clone(),
                    device_id,
                },
                tokens: SessionTokens {
                    access_token: token.clone(),
                    refresh_token: None,
                },
            };
            client
                .matrix_auth()
                .restore_session(session.clone(), RoomLoadSettings::default())
                .await?;
            write_session(&path, &session)?;
            Origin::Fresh
        }
        (None, None) => {
            login(&client, config, &user, None).await?;
            save(&client, &path)?;
            Origin::Fresh
        }
    };
    Ok((client, origin))
}

/// Restores `session`; `Ok(false)` when the homeserver no longer knows its token and a
/// password is configured to log in again.
async fn restore(
    client: &Client,
    config: &MatrixConfig,
    session: MatrixSession,
) -> Result<bool, MatrixError> {
    let user = session.meta.user_id.clone();
    client
        .matrix_auth()
        .restore_session(session, RoomLoadSettings::default())
        .erased()
        .await?;
    match client.whoami().erased().await {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.client_api_error_kind(), Some(ErrorKind::UnknownToken(_))) => {
            if config.password.is_none() {
                return Err(MatrixError::Login {
                    user: user.to_string(),
                    reason: "the access token was revoked and no password is configured".into(),
                });
            }
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

async fn build(config: &MatrixConfig, dir: &Path) -> Result<Client, MatrixError> {
    Client::builder()
        .homeserver_url(&config.homeserver_url)
        // The SDK's low-memory settings: a bot needs few connections per SQLite store (the
        // default is four per core, each with its own 2 MB page cache, times three stores), and
        // one connection per core also re-uses its prepared statements more often.
        .sqlite_store_with_config_and_cache_path(
            SqliteStoreConfig::with_low_memory_config(dir.join("store"))
                .passphrase(config.store_passphrase.as_deref()),
            None::<&Path>,
        )
        // The outbox owns retries: a 429 must come back to it as `RateLimited` with the
        // server's `retry_after`, not be retried (and hidden) inside the SDK.
        .request_config(
            RequestConfig::new()
                .disable_retry()
                .timeout(REQUEST_TIMEOUT),
        )
        .build()
        .erased()
        .await
        .map_err(|e| MatrixError::Build(e.to_string()))
}

/// How long any one request to the homeserver may take (a sync's long poll comes on top).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

async fn login(
    client: &Client,
    config: &MatrixConfig,
    user: &OwnedUserId,
    device: Option<&OwnedDeviceId>,
) -> Result<(), MatrixError> {
    let password = config.password.as_deref().unwrap_or_default();
    let mut req = client
        .matrix_auth()
        .login_username(user, password)
        .initial_device_display_name(&config.device_name);
    if let Some(d) = device {
        req = req.device_id(d.as_str());
    }
    req.send().erased().await.map_err(|e| MatrixError::Login {
        user: user.to_string(),
        reason: match e.client_api_error_kind() {
            Some(ErrorKind::Forbidden) => "wrong user id or password (M_FORBIDDEN)".into(),
            _ => e.to_string(),
        },
    })?;
    tracing::info!(%user, device = ?client.device_id(), "matrix: logged in");
    Ok(())
}

/// The device behind an access token, asked of the homeserver before the SDK opens its stores
/// (the crypto store is keyed by device).
async fn whoami(
    config: &MatrixConfig,
    token: &str,
    user: &OwnedUserId,
) -> Result<OwnedDeviceId, MatrixError> {
    #[derive(serde::Deserialize)]
    struct WhoAmI {
        user_id: String,
        device_id: Option<String>,
    }
    let url = format!(
        "{}/_matrix/client/v3/account/whoami",
        config.homeserver_url.trim_end_matches('/')
    );
    let login_err = |reason: String| MatrixError::Login {
        user: user.to_string(),
        reason,
    };
    let resp = matrix_sdk::reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .erased()
        .await
        .map_err(|e| login_err(e.to_string()))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = resp.text().erased().await.unwrap_or_default();
        return Err(login_err(format!("access token refused: {status} {body}")));
    }
    let bytes = resp
        .bytes()
        .erased()
        .await
        .map_err(|e| login_err(e.to_string()))?;
    let who: WhoAmI = serde_json::from_slice(&bytes).map_err(|e| login_err(e.to_string()))?;
    if who.user_id != user.as_str() {
        return Err(login_err(format!(
            "the access token belongs to {}, not {user}",
            who.user_id
        )));
    }
    let device = who
        .device_id
        .ok_or_else(|| login_err("the access token has no device".into()))?;
    Ok(OwnedDeviceId::from(device))
}

fn save(client: &Client, path: &Path) -> Result<(), MatrixError> {
    let session = client
        .matrix_auth()
        .session()
        .ok_or_else(|| MatrixError::Build("no session after login".into()))?;
    write_session(path, &session)
}

fn read_session(path: &Path) -> Result<Option<MatrixSession>, MatrixError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| MatrixError::Session {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Writes atomically (temp file + rename), readable by the owner only: it holds a token.
fn write_session(path: &Path, session: &MatrixSession) -> Result<(), MatrixError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(session).map_err(|e| MatrixError::Session {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(&bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> MatrixError {
    let path: PathBuf = path.to_owned();
    move |source| MatrixError::Io {
        path: path.display().to_string(),
        source,
    }
}
