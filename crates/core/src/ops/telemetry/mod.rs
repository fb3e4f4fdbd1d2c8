//! Logging: `tracing` with `RUST_LOG`-style filtering (the `RUST_LOG` variable wins over the
//! config's `log.filter`), as text for people or JSON for log collectors.
//!
//! No secret reaches the log, at any level: every line passes a redacting writer. It replaces
//! each registered secret ([`add_secret`]: the platform tokens, the Matrix password and access
//! token) and the renderings the SDKs' trace output uses for bytes (tungstenite dumps a frame's
//! payload as hex, `Debug` of a byte slice lists decimal numbers, URLs percent-encode), and,
//! for secrets not known in advance (an access token in a login answer), the shapes of
//! credentials: JSON `token`/`access_token`/`password` values, Synapse `syt_…` tokens, and
//! Telegram's `bot<id>:<secret>` URL segment. Redacting at the writer, not per call site, is the
//! point: a dependency's trace line cannot opt out.
//!
//! Without `RUST_LOG`, the SDKs' expected warnings and errors are left out ([`noise`]), so what
//! the default log shows as a problem is one.

mod noise;

use crate::ops::config::LogSettings;
use regex::Regex;
use std::io::Write;
use std::sync::{LazyLock, RwLock};
use tracing_subscriber::EnvFilter;

/// What a secret is replaced by.
pub const REDACTED: &str = "[redacted]";

/// The texts to replace: each registered secret in every rendering, longest first.
static NEEDLES: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Credential shapes, for secrets nobody registered.
static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (
            r#"("(?:token|access_token|refresh_token|password|secret_token)"\s*:\s*")[^"]*(")"#,
            "${1}[redacted]${2}",
        ),
        (r"syt_[A-Za-z0-9_=-]{8,}", "syt_[redacted]"),
        // A Discord webhook's URL carries its token; the bot creates webhooks at run time,
        // so nobody registers them.
        (r"(webhooks/[0-9]+/)[A-Za-z0-9_.-]{20,}", "${1}[redacted]"),
        (r"bot[0-9]{3,}:[A-Za-z0-9_-]{20,}", "bot[redacted]"),
        (
            r"(?i)(authorization:\s*(?:bot|bearer)\s+)[^\s,}]+",
            "${1}[redacted]",
        ),
    ]
    .into_iter()
    .filter_map(|(re, with)| Regex::new(re).ok().map(|r| (r, with)))
    .collect()
});

/// Registers a secret to be kept out of the log. Short values (under 6 characters) are
/// ignored: replacing them everywhere would garble the log and they are no real secret.
pub fn add_secret(secret: &str) {
    if secret.chars().count() < 6 {
        return;
    }
    let bytes = secret.as_bytes();
    let mut forms = vec![
        secret.to_owned(),
        hex::encode(bytes),
        hex::encode_upper(bytes),
        bytes
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        bytes
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(","),
        percent_encoded(secret),
    ];
    let mut needles = NEEDLES.write().unwrap_or_else(|p| p.into_inner());
    forms.retain(|f| !needles.contains(f));
    needles.extend(forms);
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    needles.dedup();
}

fn percent_encoded(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `text` with every registered secret and every credential shape replaced.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    {
        let needles = NEEDLES.read().unwrap_or_else(|p| p.into_inner());
        for n in needles.iter() {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), REDACTED);
            }
        }
    }
    for (re, with) in PATTERNS.iter() {
        if re.is_match(&out) {
            out = re.replace_all(&out, *with).into_owned();
        }
    }
    out
}

/// A writer that redacts each buffer before passing it on. The fmt layer writes one whole
/// event per call, so a secret is never split between two calls.
#[derive(Debug)]
pub struct Redacting<W>(pub W);

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn redacting_stderr() -> Redacting<std::io::Stderr> {
    Redacting(std::io::stderr())
}

/// Installs the global subscriber. Logs go to stderr so stdout stays for command output.
pub fn init(settings: &LogSettings) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let from_env = EnvFilter::try_from_default_env().ok();
    let quiet = noise::ExpectedNoise {
        on: from_env.is_none(),
    };
    let filter = from_env
        .or_else(|| EnvFilter::try_new(&settings.filter).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Colours only on a terminal: a journal or a log collector would keep the escape codes,
    // and a secret split by them could slip past a collector-side redaction rule.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(redacting_stderr);
    let layer = if settings.json {
        layer.json().with_filter(quiet).boxed()
    } else {
        layer.with_filter(quiet).boxed()
    };
    // A second init (tests, demo) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_every_rendering_and_credential_shapes_without_registration() {
        let token = "MTIzNDU2Nzg5.Gabcde.fake_discord_token_for_tests";
        add_secret(token);
        add_secret("abc"); // too short: ignored
        let hex = hex::encode(token);
        let list = token
            .bytes()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let line = format!(
            "frame {{\"op\":2,\"d\":{{\"token\":\"{token}\"}}}} payload: 0x7b{hex}7d bytes [1, {list}, 2] abc"
        );
        let out = redact(&line);
        assert!(!out.contains(token), "{out}");
        assert!(!out.contains(&hex), "{out}");
        assert!(!out.contains(&list), "{out}");
        assert!(out.contains("abc"), "short values stay");
        let unregistered = redact(
            "POST /bot123456:AAH-unregistered_secret_value_xyz/GetMe {\"access_token\":\"syt_Ym90_abcdefghij_0\",\"password\": \"hunter22\"}",
        );
        for s in ["AAH-unregistered", "syt_Ym90_abcdefghij", "hunter22"] {
            assert!(!unregistered.contains(s), "{unregistered}");
        }
        let hook = redact(
            "error sending request for url (https://discord.com/api/v10/webhooks/123456/aBcD-efGh_ijkl.mnopQRSTuvwx?wait=true)",
        );
        assert!(!hook.contains("aBcD-efGh"), "{hook}");
        assert!(hook.contains("webhooks/123456/[redacted]"), "{hook}");
    }
}
