//! Fault injection: the next calls fail the way Telegram or the network fails.

use std::collections::VecDeque;
use std::time::Duration;

/// How one call fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `parameters.retry_after` (seconds), as flood control answers.
    TooManyRequests { retry_after: u64 },
    /// 500 `Internal Server Error`. (teloxide itself waits 10 s before reading a 5xx answer.)
    ServerError,
    /// The connection breaks after the status line, before the body is complete.
    DropConnection,
    /// The call is answered normally, but only after this delay.
    Slow(Duration),
}

/// Queued faults, each for any method but `getUpdates` or for one method only.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    queue: VecDeque<(Option<String>, Fault)>,
}

impl Faults {
    pub(crate) fn push(&mut self, method: Option<&str>, n: usize, fault: Fault) {
        for _ in 0..n {
            self.queue
                .push_back((method.map(str::to_ascii_lowercase), fault.clone()));
        }
    }

    /// The fault for this call of `method` (lower case), if one is queued for it.
    pub(crate) fn take(&mut self, method: &str) -> Option<Fault> {
        let pos = self.queue.iter().position(|(m, _)| match m {
            Some(m) => m == method,
            None => method != "getupdates",
        })?;
        self.queue.remove(pos).map(|(_, f)| f)
    }
}
