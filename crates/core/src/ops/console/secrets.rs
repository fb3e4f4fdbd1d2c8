//! Hashed secrets with a deadline: what sessions ([`super::sessions`]) and sign-in links
//! ([`super::signin`]) both keep. A secret is 32 random bytes handed out as hex and kept only as
//! its SHA-256, so a memory dump or a debug print does not hand out anything live; each entry
//! ends at its deadline, and the map is bounded (one more drops the entry due soonest).
//!
//! Not locked: its holder wraps it in the lock its own operations need.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Instant;

/// 32 random bytes as hex: the form of every secret the console hands out.
pub fn secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Why a secret was not taken. The visitor hears one answer for both (a guesser learns nothing
/// from the difference); the log and the tests tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no such secret (never issued, already used, or dropped)")]
    Unknown,
    #[error("the secret has expired")]
    Expired,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    deadline: Instant,
}

/// Values behind secrets, each until its deadline; at most `max` at once.
#[derive(Debug)]
pub struct Secrets<V> {
    max: usize,
    map: HashMap<[u8; 32], Entry<V>>,
}

impl<V> Secrets<V> {
    pub fn new(max: usize) -> Secrets<V> {
        Secrets {
            max: max.max(1),
            map: HashMap::new(),
        }
    }

    /// Keeps `value` until `deadline` behind a new secret, returned. Entries past their
    /// deadline at `now` are dropped first; if the map is still full, the one due soonest goes.
    pub fn insert(&mut self, value: V, deadline: Instant, now: Instant) -> String {
        self.map.retain(|_, e| e.deadline > now);
        if self.map.len() >= self.max {
            if let Some(k) = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.deadline)
                .map(|(k, _)| *k)
            {
                self.map.remove(&k);
            }
        }
        let s = secret();
        self.map.insert(digest(&s), Entry { value, deadline });
        s
    }

    /// Takes the value behind `secret` out: single use, spent whether or not it had expired.
    pub fn take(&mut self, secret: &str, now: Instant) -> Result<V, Refused> {
        let e = self.map.remove(&digest(secret)).ok_or(Refused::Unknown)?;
        if now >= e.deadline {
            return Err(Refused::Expired);
        }
        Ok(e.value)
    }

    /// The live value behind `secret`, with its deadline to move (a session's idle time). An
    /// expired entry is dropped and not returned.
    pub fn get_mut(&mut self, secret: &str, now: Instant) -> Option<(&mut V, &mut Instant)> {
        let key = digest(secret);
        if self.map.get(&key)?.deadline <= now {
            self.map.remove(&key);
            return None;
        }
        let e = self.map.get_mut(&key)?;
        Some((&mut e.value, &mut e.deadline))
    }

    /// Forgets `secret`'s entry, if any.
    pub fn remove(&mut self, secret: &str) {
        self.map.remove(&digest(secret));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_secret_is_taken_once_before_its_deadline() {
        let mut s = Secrets::new(10);
        let t0 = Instant::now();
        let a = s.insert("a", t0 + MIN, t0);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(s.take(&a, t0 + MIN / 2), Ok("a"));
        assert_eq!(s.take(&a, t0), Err(Refused::Unknown), "single use");
        let b = s.insert("b", t0 + MIN, t0);
        assert_eq!(
            s.take(&b, t0 + MIN),
            Err(Refused::Expired),
            "the deadline is out"
        );
        assert_eq!(
            s.take(&b, t0),
            Err(Refused::Unknown),
            "spent even when expired"
        );
        for junk in ["", "x", &"a".repeat(64), &"é".repeat(10_000)] {
            assert_eq!(s.take(junk, t0), Err(Refused::Unknown));
        }
    }

    #[test]
    fn get_mut_sees_live_entries_and_can_move_their_deadline() {
        let mut s = Secrets::new(10);
        let t0 = Instant::now();
        let a = s.insert(1, t0 + MIN, t0);
        let (v, deadline) = s.get_mut(&a, t0 + MIN / 2).expect("live");
        *v += 1;
        *deadline = t0 + 2 * MIN;
        assert_eq!(s.get_mut(&a, t0 + MIN).map(|(v, _)| *v), Some(2), "moved");
        assert!(s.get_mut(&a, t0 + 2 * MIN).is_none(), "expired");
        assert!(s.is_empty(), "an expired entry is dropped when seen");
        let b = s.insert(1, t0 + MIN, t0);
        s.remove(&b);
        assert!(s.get_mut(&b, t0).is_none());
    }

    #[test]
    fn the_map_is_bounded_and_drops_the_entry_due_soonest() {
        let mut s = Secrets::new(3);
        let t0 = Instant::now();
        let soon = s.insert("soon", t0 + MIN, t0);
        let later: Vec<_> = (1..=3)
            .map(|i| s.insert("later", t0 + MIN + Duration::from_secs(i), t0))
            .collect();
        assert_eq!(s.len(), 3);
        assert_eq!(s.take(&soon, t0), Err(Refused::Unknown), "dropped for room");
        assert!(later.iter().all(|k| s.get_mut(k, t0).is_some()));
        // Expired entries go first, before anything live is dropped.
        let mut s = Secrets::new(2);
        s.insert("old", t0 + MIN, t0);
        let live = s.insert("live", t0 + 3 * MIN, t0);
        s.insert("new", t0 + 4 * MIN, t0 + 2 * MIN);
        assert_eq!(s.len(), 2);
        assert_eq!(s.take(&live, t0 + 2 * MIN), Ok("live"));
    }
}
