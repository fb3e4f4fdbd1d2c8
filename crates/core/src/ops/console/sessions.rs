//! Console sessions: a random id in a cookie, kept in memory (a restart signs everyone out),
//! ending after the configured idle time or at logout. The ids are [`Secrets`]: kept only as
//! their SHA-256, so a memory dump or a debug print does not hand out live sessions.

pub use super::secrets::secret;
use super::secrets::Secrets;
use super::who::Person;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie's name. `__Host-` would need `Secure`, which a plain-http test listener lacks.
pub const COOKIE: &str = "civicbridge_console";

/// At most this many sessions at once; opening one more ends the least recently used (its
/// idle deadline is the soonest). Only a valid sign-in opens a session, so this bounds memory,
/// not people.
const MAX_SESSIONS: usize = 10_000;

/// How a session was opened, which decides its cookie ([`super::headers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// By a `!weblogin` link, in the console's own tab: a `SameSite=Strict` cookie.
    Link,
    /// By an OpenID token inside Element, where the console is a third-party iframe: a
    /// `SameSite=None; Secure; Partitioned` cookie ([`super::openid`]).
    Widget,
}

/// One signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    pub person: Person,
    /// The token every state-changing form of this session carries.
    pub csrf: String,
    /// A line to show once on the next page (what the last action did).
    pub notice: Option<String>,
    pub opened: Opened,
}

#[derive(Debug)]
pub struct Sessions {
    idle: Duration,
    map: Mutex<Secrets<Session>>,
}

impl Sessions {
    pub fn new(idle: Duration) -> Sessions {
        Sessions {
            idle,
            map: Mutex::new(Secrets::new(MAX_SESSIONS)),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, Secrets<Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session for `person`; returns its id (the cookie's value).
    pub fn open(&self, person: Person, opened: Opened, now: Instant) -> String {
        let session = Session {
            person,
            csrf: secret(),
            notice: None,
            opened,
        };
        self.map().insert(session, now + self.idle, now)
    }

    /// The session `id` names, if it is open and was used within the idle time. `touch`: this
    /// counts as use (a page, a form), unlike the event stream's keep-alives.
    pub fn get(&self, id: &str, now: Instant, touch: bool) -> Option<Session> {
        let mut map = self.map();
        let (s, deadline) = map.get_mut(id, now)?;
        if touch {
            *deadline = now + self.idle;
        }
        Some(s.clone())
    }

    /// Sets (or takes and clears, with `None`) the session's one-time notice.
    pub fn set_notice(&self, id: &str, notice: Option<String>) -> Option<String> {
        let mut map = self.map();
        let (s, _) = map.get_mut(id, Instant::now())?;
        std::mem::replace(&mut s.notice, notice)
    }

    pub fn close(&self, id: &str) {
        self.map().remove(id);
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
    fn a_session_lives_while_used_and_ends_when_idle_or_closed() {
        let s = Sessions::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let id = s.open(person(), Opened::Link, t0);
        assert_eq!(id.len(), 64);
        let got = s
            .get(&id, t0 + Duration::from_secs(59), true)
            .expect("open");
        assert_eq!(got.csrf.len(), 64);
        // Used at 59 s, so still open at 118 s.
        assert!(s.get(&id, t0 + Duration::from_secs(118), false).is_some());
        // Not touched at 118 s: idle from 59 s, ended at 119 s.
        assert!(s.get(&id, t0 + Duration::from_secs(119), true).is_none());
        let id = s.open(person(), Opened::Link, t0);
        s.close(&id);
        assert!(s.get(&id, t0, true).is_none());
        assert!(s.get("", t0, true).is_none());
        assert!(s.get(&"x".repeat(100_000), t0, true).is_none());
    }

    #[test]
    fn notices_are_shown_once() {
        let s = Sessions::new(Duration::from_secs(60));
        let id = s.open(person(), Opened::Link, Instant::now());
        s.set_notice(&id, Some("done".into()));
        assert_eq!(s.set_notice(&id, None).as_deref(), Some("done"));
        assert_eq!(s.set_notice(&id, None), None);
    }
}
