//! Waiting on a condition with a deadline: the one way the world synchronises with platforms.

use super::DemoError;
use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is polled. Platforms give us nothing to subscribe to from outside
/// (Synapse is read through `/messages`, the local servers through their state), so we poll.
const POLL: Duration = Duration::from_millis(50);

/// Polls `check` until it yields `Some`, or fails with [`DemoError::Timeout`] naming `what`.
/// Errors from `check` end the wait at once.
pub async fn wait_for<T, F, Fut>(
    timeout: Duration,
    what: &str,
    mut check: F,
) -> Result<T, DemoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, DemoError>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            return Err(DemoError::Timeout {
                what: what.to_owned(),
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}
