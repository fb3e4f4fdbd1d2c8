//! Sign-in attempts, rate-limited per client address (governor's GCRA): a burst of 10, then
//! one every 6 seconds. Behind a reverse proxy every client has the proxy's address, and the
//! limit is then shared: a flood slows everyone's sign-in rather than letting a guesser try
//! faster. Guessing is hopeless anyway (256-bit links, spent on first use); the limit keeps
//! the attempts from costing the daemon.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;

/// Addresses remembered before old ones are forgotten.
const REMEMBERED: usize = 10_000;

#[derive(Debug)]
pub struct SignInLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for SignInLimit {
    fn default() -> Self {
        let per_minute = NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN);
        SignInLimit {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }
}

impl SignInLimit {
    /// Whether an attempt from `peer` (`None`: unknown, counted together) may go ahead now.
    pub fn allow(&self, peer: Option<IpAddr>) -> bool {
        if self.limiter.len() > REMEMBERED {
            self.limiter.retain_recent();
        }
        let key = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        self.limiter.check_key(&key).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_per_address() {
        let l = SignInLimit::default();
        let a = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let b = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        let allowed = (0..50).filter(|_| l.allow(a)).count();
        assert_eq!(allowed, 10);
        assert!(l.allow(b), "another address has its own budget");
    }
}
