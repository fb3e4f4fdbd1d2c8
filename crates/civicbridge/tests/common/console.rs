//! The moderation console on fake platforms: the real daemon with two links, the console on
//! the admin listener, and a plain HTTP client that signs in through a `!weblogin` link taken
//! from the moderator's direct message.
#![allow(dead_code, clippy::unwrap_used)]

use super::*;
use civicbridge_api::testing::wait_until;
use civicbridge_api::Message;
use civicbridge_core::moderation::rules::{DirectionRule, Policy};
use civicbridge_core::ops::admin::AdminSettings;
use civicbridge_core::ops::console::ConsoleSettings;
use civicbridge_core::ops::daemon::DaemonError;
use civicbridge_core::store::prelude::*;

/// The second link's rooms and its moderator, who is nobody on the first.
pub const STAFF2: &str = "!staff2";
pub const MODS2: &str = "!mod2";
pub const TG2: &str = "-200";
pub const DC2: &str = "300";
pub const OTHER_MODERATOR: (&str, &str) = ("@other", "Oz");

/// Residents' messages wait for a moderator; staff messages cross at once.
pub fn held_rules() -> Rules {
    Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Approve),
        ..open_rules()
    }
}

/// `planning` (moderated by `@mod` from `!mod`) and `parks` (by `@other` from `!mod2`).
pub fn two_links() -> Vec<LinkSettings> {
    let mut links = link(held_rules());
    let room = |p: &'static str, r: &str| RoomRef::new(Platform::new(p), r);
    links.push(LinkSettings {
        link: LinkRecord {
            id: LinkId::new("parks"),
            rooms: vec![
                LinkRoom {
                    room: room("matrix", STAFF2),
                    side: Side::Staff,
                },
                LinkRoom {
                    room: room("telegram", TG2),
                    side: Side::Public,
                },
                LinkRoom {
                    room: room("discord", DC2),
                    side: Side::Public,
                },
            ],
            moderation_room: Some(room("matrix", MODS2)),
            moderators: vec!["matrix:@other".parse().unwrap()],
            admins: vec![],
        },
        rules: held_rules(),
    });
    links
}

pub struct ConsoleWorld {
    pub fakes: Fakes,
    pub store: Store,
    pub daemon: Daemon,
    /// `http://127.0.0.1:PORT`, the console's public URL.
    pub base: String,
}

/// Starts the daemon with the console on. `lifetime`: how long sign-in links are valid.
pub async fn start_console(lifetime: Duration) -> ConsoleWorld {
    start_console_with(lifetime, two_links()).await
}

/// As [`start_console`], with `links` instead of [`two_links`].
pub async fn start_console_with(lifetime: Duration, links: Vec<LinkSettings>) -> ConsoleWorld {
    start_console_configured(lifetime, links, |_| {}).await
}

/// As [`start_console_with`], with the console's settings changed by `change` (the public URL
/// is set first).
pub async fn start_console_configured(
    lifetime: Duration,
    links: Vec<LinkSettings>,
    change: impl Fn(&mut ConsoleSettings),
) -> ConsoleWorld {
    let fakes = Fakes::new();
    let store = Store::memory();
    // The public URL must name the port, so it is chosen first; another process taking it in
    // between is retried.
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let options = Options {
            admin: Some(AdminSettings {
                listen: format!("127.0.0.1:{port}").parse().unwrap(),
                tokens: Default::default(),
                console: Some({
                    let mut c = ConsoleSettings::local(&base);
                    change(&mut c);
                    c
                }),
            }),
            sign_in_lifetime: lifetime,
            ..fast_retries()
        };
        match Daemon::start(store.clone(), &links, fakes.all(), options).await {
            Ok(daemon) => {
                return ConsoleWorld {
                    fakes,
                    store,
                    daemon,
                    base,
                }
            }
            Err(DaemonError::Admin(_)) => continue,
            Err(e) => panic!("the daemon did not start: {e}"),
        }
    }
    panic!("no free port for the console");
}

impl ConsoleWorld {
    /// `who` types `!weblogin` in `room`; returns the link the bridge sent them privately.
    pub async fn weblogin(&self, room: &str, who: (&str, &str), event: &str) -> String {
        let before = self.fakes.matrix.told().len();
        acked(self.fakes.matrix.post(room, who, event, "!weblogin")).await;
        wait_until(WAIT, "the sign-in link is sent privately", || {
            self.fakes.matrix.told().len() > before
        })
        .await;
        let told = self.fakes.matrix.told();
        let dm = told.last().unwrap();
        assert_eq!(dm.to.as_str(), who.0, "sent to the one who asked");
        let text = dm.text.to_plain();
        let url = text
            .split_whitespace()
            .find(|w| w.starts_with(&self.base))
            .unwrap_or_else(|| panic!("no link in {text:?}"))
            .to_owned();
        url
    }

    /// A resident posts `text` on Telegram in `chat`; waits until it is held.
    pub async fn held(&self, chat: &str, id: &str, text: &str) {
        let before = self.store.pending().unwrap().len();
        acked(self.fakes.telegram.post(chat, RESIDENT, id, text)).await;
        wait_until(WAIT, "the message is held", || {
            self.store.pending().unwrap().len() > before
        })
        .await;
    }

    /// The pending item whose text is `text`, as the console names it (`#3v1`) and its number.
    pub fn item(&self, text: &str) -> (String, u64) {
        let store = &self.store;
        let item = store
            .pending()
            .unwrap()
            .into_iter()
            .find(|i| {
                let m = store.mirror(i.mirror).unwrap().unwrap();
                i.text(&m).to_plain() == text
            })
            .unwrap_or_else(|| panic!("no held item {text:?}"));
        (format!("{}v{}", item.id, item.revision.max(1)), item.id.0)
    }

    /// A moderator's message in the moderation room.
    pub async fn command(&self, room: &str, who: (&str, &str), id: &str, text: &str) {
        acked(
            self.fakes.matrix.inject(self.fakes.matrix.message_event(
                room,
                who,
                Message::text(id, text),
            )),
        )
        .await;
    }
}

/// A browser without a browser: carries the session cookie by hand, follows no redirects.
pub struct Web {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: Option<String>,
}

impl Web {
    pub fn new(base: &str) -> Web {
        Web {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    fn with_cookie(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(c) => r.header("cookie", c),
            None => r,
        }
    }

    /// GET `path`: status, headers, body.
    pub async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
        let r = self
            .with_cookie(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap())
    }

    /// POST a form to `path`: status, headers, body.
    pub async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let encoded: String = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .with_cookie(
                self.http
                    .post(format!("{}{path}", self.base))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(encoded),
            )
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap())
    }

    /// Follows a sign-in link: the page, then its button. Returns the POST's status.
    pub async fn sign_in(&mut self, url: &str) -> u16 {
        let path = url.strip_prefix(&self.base).unwrap().to_owned();
        let (status, _, page) = self.get(&path).await;
        assert_eq!(status, 200, "{page}");
        let token = value_of(&page, "token").unwrap();
        let (status, headers, _) = self.post("/console/login", &[("token", &token)]).await;
        if status == 303 {
            let set = headers["set-cookie"].to_str().unwrap();
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        status
    }

    /// The CSRF token of the page at `path`.
    pub async fn csrf(&self, path: &str) -> String {
        let (status, _, page) = self.get(path).await;
        assert_eq!(status, 200, "{page}");
        value_of(&page, "csrf").unwrap()
    }
}

/// Percent-encodes a form value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `value` of the hidden input named `name` in `html`.
pub fn value_of(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}
