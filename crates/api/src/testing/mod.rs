//! Test support shared by the core and every connector (feature `testing`).
//!
//! - [`FakeConnector`]: an in-process platform. Tests inject inbound events, read what the bridge
//!   posted, and make the next calls fail with any `ConnectorError`.
//! - [`conformance`]: the checks every real connector must pass against its local server.
//! - [`fuzz_config`]: the proptest configuration of every property test (fixed seed in CI).

pub mod conformance;
mod fake;
mod fuzz;

pub use fake::{FakeConnector, FakeOp, Posted};
pub use fuzz::{fuzz_config, CI_SEED};

use crate::{RichText, Span};
use std::time::Duration;

/// `levels` links nested inside each other around one word: the most JSON per level of any
/// span, for tests of depth limits.
pub fn nested_links(levels: usize) -> RichText {
    let mut span = Span::Text("deep".into());
    for i in 0..levels {
        span = Span::Link {
            url: format!("https://example.org/{i}"),
            children: vec![span],
        };
    }
    RichText { spans: vec![span] }
}

/// Waits until `cond` holds, checking after every change signalled on `notify` and at least every
/// 20 ms; panics with `what` after `timeout`. The one way tests wait: no bare sleeps.
pub async fn wait_until<F: FnMut() -> bool>(timeout: Duration, what: &str, mut cond: F) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
