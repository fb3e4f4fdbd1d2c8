//! A real Synapse homeserver on 127.0.0.1, for tests and `civicbridge demo`.
//!
//! [`Synapse::start`] installs the pinned `matrix-synapse` into a cached venv on first use
//! ([`install`]), renders a loopback-only config ([`config`]), starts the server under a small
//! Python watchdog and waits until `/_matrix/client/versions` answers. [`Synapse::register`]
//! creates users through the shared-secret admin API. Dropping the handle stops the server.
//!
//! No stray servers: a handle kept in a `static` (see [`shared`]) is never dropped, so the
//! server runs under `watchdog.py`, which stops Synapse as soon as its standard input (a pipe
//! held by this process) closes, which the kernel does when this process ends, however it ends.

mod config;
mod error;
mod install;
mod register;

pub use config::{SynapseOptions, SERVER_NAME};
pub use error::SynapseError;
pub use install::{ensure_venv, venv_dir};
pub use register::RegisteredUser;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The matrix-synapse release installed from PyPI.
pub const SYNAPSE_VERSION: &str = "1.163.2";

const WATCHDOG: &str = include_str!("watchdog.py");

/// A running Synapse. Stopped when dropped.
#[derive(Debug)]
pub struct Synapse {
    url: String,
    secret: String,
    dir: Dir,
    /// What [`Synapse::restart`] runs again: the venv's python and the config file.
    python: PathBuf,
    startup_timeout: Duration,
    process: Mutex<Option<(Child, ChildStdin)>>,
}

/// Where the server's files live: removed with the handle, or kept for a later start.
#[derive(Debug)]
enum Dir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Dir {
    fn path(&self) -> &Path {
        match self {
            Dir::Temp(t) => t.path(),
            Dir::Kept(p) => p,
        }
    }
}

/// What a kept data directory remembers between starts (`launcher.json`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Kept {
    port: u16,
    secret: String,
}

impl Synapse {
    /// Installs (first time only), configures and starts a Synapse; returns once it answers.
    /// With [`SynapseOptions::data_dir`] set to a directory an earlier start used, the same
    /// database, secret and signing key are reused, so users and rooms are still there.
    pub async fn start(opts: SynapseOptions) -> Result<Synapse, SynapseError> {
        let venv = tokio::task::spawn_blocking(ensure_venv)
            .await
            .map_err(|e| SynapseError::Http(format!("install task failed: {e}")))??;
        let dir = match &opts.data_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(SynapseError::io(d))?;
                Dir::Kept(d.clone())
            }
            None => Dir::Temp(
                tempfile::Builder::new()
                    .prefix("civicbridge-synapse-")
                    .tempdir()
                    .map_err(SynapseError::io(std::env::temp_dir()))?,
            ),
        };
        let path = dir.path().to_owned();
        let kept_path = path.join("launcher.json");
        let earlier: Option<Kept> = std::fs::read(&kept_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let wanted = opts.port.or(earlier.as_ref().map(|k| k.port));
        let port = match wanted.filter(|p| port_is_free(*p)) {
            Some(p) => p,
            None => free_port()?,
        };
        let secret = match earlier {
            Some(k) => k.secret,
            None => random_hex(16)?,
        };
        let kept = serde_json::to_vec(&Kept {
            port,
            secret: secret.clone(),
        })
        .map_err(|e| SynapseError::Http(e.to_string()))?;
        write(&kept_path, &kept)?;
        let cfg_path = path.join("homeserver.yaml");
        let cfg = config::render(&opts, port, &path, &secret);
        write(&cfg_path, cfg.to_string().as_bytes())?;
        let key_path = path.join("signing.key");
        if !key_path.exists() {
            write(&key_path, signing_key()?.as_bytes())?;
        }
        std::fs::create_dir_all(path.join("media"))
            .map_err(SynapseError::io(path.join("media")))?;
        write(&path.join("watchdog.py"), WATCHDOG.as_bytes())?;
        let synapse = Synapse {
            url: format!("http://127.0.0.1:{port}"),
            secret,
            dir,
            python: install::venv_python(&venv),
            startup_timeout: opts.startup_timeout,
            process: Mutex::new(None),
        };
        synapse.spawn()?;
        synapse.wait_ready(opts.startup_timeout).await?;
        tracing::info!(url = %synapse.url, "synapse is up");
        Ok(synapse)
    }

    /// Starts the server process (under the watchdog) on the rendered config.
    fn spawn(&self) -> Result<(), SynapseError> {
        let path = self.dir.path();
        let log_path = path.join("homeserver.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(SynapseError::io(&log_path))?;
        let log2 = log.try_clone().map_err(SynapseError::io(&log_path))?;
        let mut child = Command::new(&self.python)
            .arg(path.join("watchdog.py"))
            .arg(&self.python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(path.join("homeserver.yaml"))
            .current_dir(path)
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(SynapseError::io(&self.python))?;
        let Some(stdin) = child.stdin.take() else {
            return Err(SynapseError::Http("no stdin pipe to the watchdog".into()));
        };
        *self.process.lock().unwrap_or_else(|p| p.into_inner()) = Some((child, stdin));
        Ok(())
    }

    /// Stops the server and starts it again on the same port, database and config (users,
    /// rooms and access tokens survive); returns once it answers again. For tests of clients
    /// that must ride out a homeserver restart.
    pub async fn restart(&self) -> Result<(), SynapseError> {
        self.stop_async().await;
        self.spawn()?;
        self.wait_ready(self.startup_timeout).await
    }

    /// Like [`Synapse::stop`], without blocking the async runtime while Synapse shuts down.
    pub async fn stop_async(&self) {
        let taken = self
            .process
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some((mut child, stdin)) = taken else {
            return;
        };
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            // Waiting for a child process to exit: std offers no async wait to select on.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The watchdog's process id while the server runs (Synapse is its only child).
    pub fn pid(&self) -> Option<u32> {
        self.process
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(c, _)| c.id())
    }

    async fn wait_ready(&self, timeout: Duration) -> Result<(), SynapseError> {
        let http = reqwest::Client::new();
        let url = format!("{}/_matrix/client/versions", self.url);
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(status) = self.exit_status() {
                return Err(SynapseError::Exited {
                    status,
                    log: self.log_tail(),
                });
            }
            if started.elapsed() > timeout {
                return Err(SynapseError::StartTimeout {
                    waited_s: timeout.as_secs(),
                    log: self.log_tail(),
                });
            }
            // Polling a process that is starting: there is no event to wait on.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn exit_status(&self) -> Option<String> {
        let mut guard = self.process.lock().unwrap_or_else(|p| p.into_inner());
        let (child, _) = guard.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// The homeserver's base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server name in every user id (`@name:localhost`).
    pub fn server_name(&self) -> &str {
        SERVER_NAME
    }

    /// The server's working directory (config, database, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last few kilobytes of the server log, for error messages.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        let path = self.dir.path().join("homeserver.log");
        if let Ok(mut f) = File::open(&path) {
            let _ = f.read_to_string(&mut text);
        }
        install::tail(&text, 6000)
    }

    /// Registers a user through the shared-secret admin API.
    pub async fn register(
        &self,
        localpart: &str,
        password: &str,
        admin: bool,
    ) -> Result<RegisteredUser, SynapseError> {
        register::register(&self.url, &self.secret, localpart, password, admin).await
    }

    /// Registers a user with a name no other call in this process used (`{prefix}-{pid}-{n}`),
    /// so tests sharing one server stay independent.
    pub async fn register_fresh(&self, prefix: &str) -> Result<RegisteredUser, SynapseError> {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let localpart = format!("{prefix}-{}-{n}", std::process::id()).to_lowercase();
        let password = format!("pw-{}", random_hex(8)?);
        self.register(&localpart, &password, false).await
    }

    /// Stops the server: closes the watchdog's stdin (it terminates Synapse and exits), waits up
    /// to 15 s, then kills the watchdog by its pid. Idempotent.
    pub fn stop(&self) {
        let taken = self
            .process
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some((mut child, stdin)) = taken else {
            return;
        };
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One default Synapse per process, started on first use and shared by every test in a test
/// binary (tests create fresh users and rooms, so they stay independent).
pub async fn shared() -> Result<&'static Synapse, SynapseError> {
    static SHARED: tokio::sync::OnceCell<Synapse> = tokio::sync::OnceCell::const_new();
    SHARED
        .get_or_try_init(|| Synapse::start(SynapseOptions::default()))
        .await
}

/// One Synapse per process with a strict `rc_message`, for rate-limit tests.
pub async fn shared_strict() -> Result<&'static Synapse, SynapseError> {
    static SHARED: tokio::sync::OnceCell<Synapse> = tokio::sync::OnceCell::const_new();
    SHARED
        .get_or_try_init(|| {
            Synapse::start(SynapseOptions {
                strict_message_rate: true,
                ..SynapseOptions::default()
            })
        })
        .await
}

fn write(path: &PathBuf, bytes: &[u8]) -> Result<(), SynapseError> {
    std::fs::write(path, bytes).map_err(SynapseError::io(path))
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn free_port() -> Result<u16, SynapseError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(SynapseError::io("127.0.0.1:0"))?;
    let port = l
        .local_addr()
        .map_err(SynapseError::io("127.0.0.1:0"))?
        .port();
    Ok(port)
}

fn random_bytes(n: usize) -> Result<Vec<u8>, SynapseError> {
    let mut buf = vec![0u8; n];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(SynapseError::io("/dev/urandom"))?;
    Ok(buf)
}

fn random_hex(n: usize) -> Result<String, SynapseError> {
    Ok(hex::encode(random_bytes(n)?))
}

/// A Synapse signing key file: `ed25519 <key id> <unpadded base64 of a 32-byte seed>`. Any 32
/// random bytes are a valid ed25519 seed, so no crypto library is needed here.
fn signing_key() -> Result<String, SynapseError> {
    let seed = random_bytes(32)?;
    Ok(format!("ed25519 a_test {}\n", base64_unpadded(&seed)))
}

fn base64_unpadded(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_without_padding() {
        assert_eq!(base64_unpadded(b"f"), "Zg");
        assert_eq!(base64_unpadded(b"fo"), "Zm8");
        assert_eq!(base64_unpadded(b"foo"), "Zm9v");
        assert_eq!(base64_unpadded(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_unpadded(&[0u8; 32]).len(), 43);
    }
}
