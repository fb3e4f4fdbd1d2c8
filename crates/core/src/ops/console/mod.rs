//! The moderation console: web pages for moderators, served by the admin listener under
//! `/console/` when `[console] public_url` is set ([`config`]). Server-rendered HTML from
//! templates with autoescaping ([`templates`]); one vendored script and style sheet
//! ([`assets`]); nothing from elsewhere, so it works offline.
//!
//! - Sign-in without passwords: `!weblogin` in a moderation room sends the moderator a
//!   single-use link, valid 5 minutes, in a direct message ([`weblogin`], [`signin`]);
//!   following it opens a session ([`sessions`]: a random id in an `HttpOnly`,
//!   `SameSite=Strict` cookie, `Secure` over https, ended after the idle time or at logout).
//!   Sign-in attempts are rate-limited ([`limit`]).
//! - What a person sees and may do comes from the rooms' own rules ([`who`]): the links they
//!   moderate, nothing else; an item of another link answers 403.
//! - Every state change is a form carrying the session's CSRF token, checked ([`guard`]); every
//!   response carries a strict Content-Security-Policy ([`headers`]).
//! - The queue ([`queue`]) and an item ([`item`]) decide through the same code, permissions and
//!   audit entries as `!approve`/`!reject`/`!edit` ([`crate::ops::remote`]); each page action
//!   also writes a `console_action` entry ([`audit`]). Open queue pages follow changes made
//!   anywhere through a server-sent event stream ([`events`], fed by [`changes`]).
//! - The reports page ([`reports_page`], its form in [`reports_decide`]) lists the open
//!   reports on the links' messages as their report cards show them (reporters named by the
//!   link's privacy rules), with their copies, reasons and hidden state, and takes them down
//!   or dismisses them as `!takedown` / `!dismiss`; open pages follow reports closed anywhere
//!   through the same event stream.
//! - Claims: the queue and an item show an item's claim as its card does; the item page
//!   claims and releases it as `!claim` / `!release`.
//! - Every page action runs its commands through one helper ([`run`]).
//! - The published page ([`published`]) lists the links' bridged messages with their copies
//!   and takes them down through `!takedown`'s own code, authors named as the moderation room
//!   sees them.
//! - The audit page ([`audit_page`], filters in [`audit_filter`]) shows the log's entries of
//!   the person's links (entries on no link only to an admin of every link), the chain's
//!   verdict, and exports the filtered entries as JSON Lines.
//! - Links and rules, for admins of a link ([`admins`]): the links page ([`links`]) shows
//!   each link's rooms with their connector's state and pauses or resumes it as `!pause` /
//!   `!resume`; a link's rules page ([`rules_page`], logic in [`rules_form`]) edits every key
//!   `!set` accepts, shows the diff with `!set --dry-run`'s verdict, and applies only on
//!   confirmation, each changed key as `!set`, the diff carried in the form.
//! - Parked jobs ([`parked_page`]): the dead letters of the person's links, why and when each
//!   was parked, retried or dropped as `!retry` / `!drop`.
//!
//! - Inside Element, as a widget in a moderation room: the widget page ([`widget`]) asks
//!   Element for an OpenID token and signs in with it ([`openid`]): the token is checked with a
//!   homeserver the config trusts, and the session's cookie is `SameSite=None; Secure;
//!   Partitioned`, since Element frames the console from another site.
//!
//! Routes: `GET /console/` (to the queue), `GET|POST /console/login`, `POST /console/logout`,
//! `GET /console/widget`, `POST /api/v1/session/openid`,
//! `GET /console/queue`, `GET /console/queue/rows`, `POST /console/queue/decide`,
//! `GET /console/items/{id}`, `POST /console/items/{id}/edit`, `POST /console/items/{id}/claim`,
//! `GET /console/reports`, `GET /console/reports/rows`, `POST /console/reports/decide`,
//! `GET /console/published`,
//! `POST /console/published/takedown`, `GET /console/audit`, `GET /console/audit.jsonl`,
//! `GET /console/links`, `GET /console/links/{link}`, `POST /console/links/{link}/pause`,
//! `POST /console/links/{link}/resume`, `POST /console/links/{link}/rules` (the diff),
//! `POST /console/links/{link}/rules/apply`, `GET|POST /console/parked`,
//! `GET /console/events`, `GET /console/static/{name}`.

pub mod admins;
pub mod assets;
pub mod audit;
pub mod audit_checked;
pub mod audit_filter;
pub mod audit_page;
pub mod changes;
pub mod config;
pub mod events;
pub mod form;
pub mod guard;
pub mod headers;
pub mod item;
pub mod limit;
pub mod links;
pub mod login;
pub mod openid;
pub mod parked_page;
pub mod published;
pub mod queue;
pub mod reports_decide;
pub mod reports_page;
pub mod rules_form;
pub mod rules_page;
pub mod run;
pub mod secrets;
pub mod sessions;
pub mod signin;
pub mod templates;
pub mod weblogin;
pub mod who;
pub mod widget;

pub use changes::Changes;
pub use config::{ConsoleSettings, RawConsole};
pub use weblogin::WebLoginAsk;

use crate::ops::admin::AdminState;
use crate::ops::connectors::Connectors;
use crate::ops::remote::RemoteCommands;
use crate::store::{LinkRecord, Store};
use axum::extract::DefaultBodyLimit;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use civicbridge_api::{Connector, Platform};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The largest form body read.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The running console. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Console(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    settings: Arc<ConsoleSettings>,
    sessions: sessions::Sessions,
    sign_in: signin::SignInLinks,
    limit: limit::SignInLimit,
    userinfo: openid::userinfo::UserInfo,
    templates: templates::Templates,
    remote: RemoteCommands,
    connectors: Connectors,
    links: watch::Receiver<Arc<Vec<LinkRecord>>>,
    changes: Changes,
    audit_checked: audit_checked::Checked,
    shutdown: CancellationToken,
}

/// What the daemon gives the console when it has started.
#[derive(Debug)]
pub struct Parts {
    pub remote: RemoteCommands,
    pub connectors: Connectors,
    pub links: watch::Receiver<Arc<Vec<LinkRecord>>>,
    pub shutdown: CancellationToken,
    /// How long sign-in links are valid ([`signin::LIFETIME`]; shorter in tests).
    pub sign_in_lifetime: Duration,
}

/// Why the console could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Template(#[from] templates::TemplateError),
    #[error("cannot start the HTTP client for OpenID sign-in: {0}")]
    OpenIdClient(#[from] reqwest::Error),
}

impl Console {
    fn new(
        settings: Arc<ConsoleSettings>,
        changes: Changes,
        p: Parts,
    ) -> Result<Console, ConsoleError> {
        Ok(Console(Arc::new(Inner {
            sessions: sessions::Sessions::new(settings.idle),
            sign_in: signin::SignInLinks::new(p.sign_in_lifetime),
            limit: limit::SignInLimit::default(),
            userinfo: openid::userinfo::UserInfo::new()?,
            templates: templates::Templates::new()?,
            settings,
            remote: p.remote,
            connectors: p.connectors,
            links: p.links,
            changes,
            audit_checked: Default::default(),
            shutdown: p.shutdown,
        })))
    }

    /// How far the audit page has verified the chain.
    pub(crate) fn audit_checked(&self) -> &audit_checked::Checked {
        &self.0.audit_checked
    }

    pub fn settings(&self) -> &ConsoleSettings {
        &self.0.settings
    }

    fn store(&self) -> &Store {
        &self.0.remote.store
    }

    /// The links in force.
    fn links(&self) -> Arc<Vec<LinkRecord>> {
        self.0.links.borrow().clone()
    }

    fn connector(&self, p: Platform) -> Option<Arc<dyn Connector>> {
        self.0.connectors.get(p)
    }

    /// A sign-in link for `person`, valid from `now`: the URL to hand them.
    pub fn issue_sign_in(&self, person: who::Person, now: Instant) -> String {
        let token = self.0.sign_in.issue(person, now);
        format!("{}/console/login?token={token}", self.0.settings.public_url)
    }
}

/// The console as the admin listener and the link workers hold it: its settings from the
/// start (the routes need them), the running console once the daemon has started.
#[derive(Debug, Clone, Default)]
pub struct ConsoleSlot {
    settings: Option<Arc<ConsoleSettings>>,
    changes: Option<Changes>,
    console: Arc<OnceLock<Console>>,
}

impl ConsoleSlot {
    /// A slot for `settings` (`None`: the console is off). `metrics`: the store's observer
    /// so far, which [`Changes`] keeps telling.
    pub fn new(
        settings: Option<ConsoleSettings>,
        metrics: Option<Arc<dyn crate::store::observe::Observer>>,
    ) -> ConsoleSlot {
        ConsoleSlot {
            changes: settings.as_ref().map(|_| Changes::new(metrics)),
            settings: settings.map(Arc::new),
            console: Arc::default(),
        }
    }

    pub fn is_on(&self) -> bool {
        self.settings.is_some()
    }

    /// The store observer to install: the change bell (which tells the metrics too), if on.
    pub fn observer(&self) -> Option<Arc<dyn crate::store::observe::Observer>> {
        self.changes
            .clone()
            .map(|c| Arc::new(c) as Arc<dyn crate::store::observe::Observer>)
    }

    /// Starts the console with what the daemon has built; nothing when it is off.
    pub fn start(&self, parts: Parts) -> Result<(), ConsoleError> {
        let (Some(settings), Some(changes)) = (&self.settings, &self.changes) else {
            return Ok(());
        };
        let console = Console::new(settings.clone(), changes.clone(), parts)?;
        let _ = self.console.set(console);
        Ok(())
    }

    pub fn get(&self) -> Option<&Console> {
        self.console.get()
    }
}

/// The console's routes, or none when it is off.
pub(crate) fn routes(slot: &ConsoleSlot) -> Router<AdminState> {
    let Some(settings) = &slot.settings else {
        return Router::new();
    };
    let headers = headers::Headers::new(settings);
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/queue") }))
        .route(
            "/console/",
            get(|| async { Redirect::to("/console/queue") }),
        )
        .route("/console/login", get(login::page).post(login::sign_in))
        .route("/console/logout", post(login::sign_out))
        .route("/console/widget", get(widget::page))
        .route("/api/v1/session/openid", post(openid::sign_in))
        .route("/console/queue", get(queue::page))
        .route("/console/queue/rows", get(queue::rows))
        .route("/console/queue/decide", post(queue::decide))
        .route("/console/items/{id}", get(item::page))
        .route("/console/items/{id}/edit", post(item::edit))
        .route("/console/items/{id}/claim", post(item::claim))
        .route("/console/reports", get(reports_page::page))
        .route("/console/reports/rows", get(reports_page::rows))
        .route("/console/reports/decide", post(reports_decide::decide))
        .route("/console/published", get(published::page))
        .route("/console/published/takedown", post(published::take_down))
        .route("/console/audit", get(audit_page::page))
        .route("/console/audit.jsonl", get(audit_page::export))
        .route("/console/links", get(links::page))
        .route("/console/links/{link}", get(rules_page::page))
        .route("/console/links/{link}/pause", post(links::pause))
        .route("/console/links/{link}/resume", post(links::resume))
        .route("/console/links/{link}/rules", post(rules_page::review))
        .route("/console/links/{link}/rules/apply", post(rules_page::apply))
        .route(
            "/console/parked",
            get(parked_page::page).post(parked_page::act),
        )
        .route("/console/events", get(events::stream))
        .route("/console/static/{name}", get(assets::serve))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(move |r: Response| {
            let headers = headers.clone();
            async move { headers.apply(r) }
        }))
}
