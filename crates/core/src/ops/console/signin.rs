//! Sign-in links: a single-use secret, valid for a few minutes, bound to the Matrix id of the
//! moderator who typed `!weblogin` (see [`super::weblogin`]). Kept in memory only as the
//! secret's SHA-256, so nothing stored or logged can sign anyone in; a restart voids them.
//!
//! A link is spent on its first use, expired or not, so a link seen once (a shoulder, a
//! screenshot) is worth nothing after. Opening the link (`GET`) only shows a button; the
//! button (`POST`) spends it, so a chat client's link preview cannot use it up.

pub use super::secrets::Refused;
use super::secrets::Secrets;
use super::who::Person;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a sign-in link is valid.
pub const LIFETIME: Duration = Duration::from_secs(5 * 60);

/// At most this many unspent links at once; one more drops the oldest.
const MAX_LINKS: usize = 1_000;

#[derive(Debug)]
pub struct SignInLinks {
    lifetime: Duration,
    map: Mutex<Secrets<Person>>,
}

impl SignInLinks {
    pub fn new(lifetime: Duration) -> SignInLinks {
        SignInLinks {
            lifetime,
            map: Mutex::new(Secrets::new(MAX_LINKS)),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, Secrets<Person>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new secret for `person`, valid from `now` for the lifetime.
    pub fn issue(&self, person: Person, now: Instant) -> String {
        self.map().insert(person, now + self.lifetime, now)
    }

    /// Spends `token`: the person it was issued to, or why not. Spent either way. A refusal
    /// reads the same to the visitor whatever its kind (see `login.rs`).
    pub fn redeem(&self, token: &str, now: Instant) -> Result<Person, Refused> {
        self.map().take(token, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> Person {
        Person {
            key: "matrix:@mo:x".parse().expect("key"),
            name: "Mo".into(),
            standing: None,
        }
    }

    #[test]
    fn a_link_signs_in_once_within_its_lifetime() {
        let links = SignInLinks::new(LIFETIME);
        let t0 = Instant::now();
        let token = links.issue(person(), t0);
        assert_eq!(links.redeem(&token, t0 + LIFETIME / 2), Ok(person()));
        assert_eq!(links.redeem(&token, t0), Err(Refused::Unknown), "reused");
        let token = links.issue(person(), t0);
        assert_eq!(links.redeem(&token, t0 + LIFETIME), Err(Refused::Expired));
        assert_eq!(links.redeem(&token, t0), Err(Refused::Unknown), "spent");
        for junk in ["", "x", &"a".repeat(64), &"é".repeat(10_000)] {
            assert_eq!(links.redeem(junk, t0), Err(Refused::Unknown));
        }
    }

    #[test]
    fn unspent_links_are_bounded() {
        let links = SignInLinks::new(LIFETIME);
        let t0 = Instant::now();
        let first = links.issue(person(), t0);
        for i in 0..MAX_LINKS {
            links.issue(person(), t0 + Duration::from_millis(i as u64 + 1));
        }
        assert_eq!(links.map().len(), MAX_LINKS);
        assert_eq!(links.redeem(&first, t0), Err(Refused::Unknown));
    }
}
