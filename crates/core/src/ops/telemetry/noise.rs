//! The SDKs' expected noise, kept out of the default log. Each entry is something the SDKs log
//! as a warning or an error although nothing is wrong for a bridge, seen in every demo run:
//!
//! - matrix-sdk's HTTP client logs every failed request at ERROR before returning the error,
//!   including the 404s it and we expect (probing account data that was never set, looking up
//!   an event that is not there). The caller gets the error and decides; ours log what matters.
//! - matrix-sdk-crypto warns on every sync that it cannot back up room keys without a backup
//!   key; a bridge bot has no key backup by design.
//! - matrix-sdk-crypto warns "Our own device might have been deleted" when a key query races
//!   the upload of the bot's own device keys at start. A device really deleted loses its access
//!   token with it, and the connector then fails its sync loudly (an authentication error).
//! - serenity warns at shutdown that the gateway closed without a close frame.
//!
//! With `RUST_LOG` set the filter is off: whoever asks for a filter sees everything it selects.

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Filter};

/// `(target prefix, text in the message)` of each expected line.
const EXPECTED: &[(&str, &str)] = &[
    ("matrix_sdk::http_client", "status_code: 404"),
    ("matrix_sdk_crypto::backups", "no backup key was found"),
    (
        "matrix_sdk_crypto::identities::manager",
        "Our own device might have been deleted",
    ),
    (
        "serenity::gateway::bridge::shard_runner",
        "awaiting close frame",
    ),
];

/// Drops the [`EXPECTED`] lines when `on`.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedNoise {
    pub on: bool,
}

impl<S> Filter<S> for ExpectedNoise {
    fn enabled(&self, _: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, _: &Context<'_, S>) -> bool {
        !(self.on && is_expected(event))
    }
}

fn is_expected(event: &tracing::Event<'_>) -> bool {
    let target = event.metadata().target();
    let candidates: Vec<&str> = EXPECTED
        .iter()
        .filter(|(t, _)| target.starts_with(t))
        .map(|(_, text)| *text)
        .collect();
    if candidates.is_empty() {
        return false;
    }
    let mut message = Message(String::new());
    event.record(&mut message);
    candidates.iter().any(|c| message.0.contains(c))
}

/// The event's `message` field, as it would be printed.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(on: bool) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_filter(ExpectedNoise { on });
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::error!(target: "matrix_sdk::http_client", "Error while sending request: Api(Server(MatrixError(Error {{ status_code: 404, body: NotFound }})))");
            tracing::error!(target: "matrix_sdk::http_client", "Error while sending request: status_code: 502");
            tracing::warn!(target: "matrix_sdk_crypto::backups", "Trying to backup room keys but no backup key was found");
            tracing::warn!(target: "civicbridge_core::ops::watch", "no backup key was found");
            tracing::warn!(target: "serenity::gateway::bridge::shard_runner", "[ShardRunner] Received an error awaiting close frame");
        });
        let bytes = buffer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn expected_sdk_noise_is_dropped_and_everything_else_kept() {
        let quiet = logged(true);
        assert_eq!(quiet.lines().count(), 2, "{quiet}");
        assert!(
            quiet.contains("status_code: 502"),
            "a real HTTP error stays: {quiet}"
        );
        assert!(
            quiet.contains("civicbridge_core::ops::watch"),
            "the same words from another target stay: {quiet}"
        );
        let everything = logged(false);
        assert_eq!(everything.lines().count(), 5, "{everything}");
    }
}
