//! `GET /console/events`: a server-sent event stream telling an open page that what it lists
//! changed, wherever the change came from: the person's held items (`event: queue`) or the
//! open reports on their links (`event: reports`). The stream wakes on the change bell
//! ([`super::changes`]) and, as a fallback for changes no observation notes (an item withdrawn
//! or expired), every [`RECHECK`]; each time it reads both again and speaks only of what
//! differs from what it last said (the items and their revisions; the reports and how many
//! reported each). It ends with the session (checked without counting as use, so an open page
//! does not keep a session alive) and at shutdown.

use super::guard;
use super::Console;
use crate::ops::admin::AdminState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// How often the queue and the reports are read again without a ring.
const RECHECK: Duration = Duration::from_secs(5);

/// What the stream last said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Seen {
    /// The held items as `#idvREV`.
    queue: BTreeSet<String>,
    /// The open reports as `mN:COUNT`.
    reports: BTreeSet<String>,
}

struct Watch {
    console: Console,
    sid: String,
    bell: broadcast::Receiver<()>,
    last: Seen,
    /// Events found but not yet sent (a change to both lists gives two).
    due: Vec<Event>,
}

/// What the person's pages list now, or `None` when the session has ended. A store that
/// cannot be read keeps what was last said.
fn snapshot(w: &Watch) -> Option<Seen> {
    let session = w.console.0.sessions.get(&w.sid, Instant::now(), false)?;
    let queue = match super::queue::rows_of(&w.console, &session.person) {
        Ok(rows) => rows.into_iter().map(|r| r.value).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "the console event stream cannot read the queue");
            w.last.queue.clone()
        }
    };
    let reports = match super::reports_page::snapshot(&w.console, &session.person) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "the console event stream cannot read the reports");
            w.last.reports.clone()
        }
    };
    Some(Seen { queue, reports })
}

fn changes(w: Watch) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(w, |mut w| async move {
        loop {
            if let Some(event) = w.due.pop() {
                return Some((Ok(event), w));
            }
            tokio::select! {
                _ = w.console.0.shutdown.cancelled() => return None,
                rung = w.bell.recv() => {
                    if let Err(broadcast::error::RecvError::Closed) = rung {
                        return None;
                    }
                }
                _ = tokio::time::sleep(RECHECK) => {}
            }
            let now = snapshot(&w)?;
            if now.reports != w.last.reports {
                w.due.push(
                    Event::default()
                        .event("reports")
                        .data(now.reports.len().to_string()),
                );
            }
            if now.queue != w.last.queue {
                w.due.push(
                    Event::default()
                        .event("queue")
                        .data(now.queue.len().to_string()),
                );
            }
            w.last = now;
        }
    })
}

pub async fn stream(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let signed = match guard::signed(&state, &headers, false) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let bell = signed.console.0.changes.subscribe();
    let mut w = Watch {
        console: signed.console.clone(),
        sid: signed.sid.clone(),
        bell,
        last: Seen::default(),
        due: Vec::new(),
    };
    w.last = snapshot(&w).unwrap_or_default();
    Sse::new(changes(w))
        .keep_alive(KeepAlive::default())
        .into_response()
}
