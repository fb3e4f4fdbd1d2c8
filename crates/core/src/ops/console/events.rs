//! `GET /console/events`: a server-sent event stream telling an open queue page that the
//! person's held items changed (`event: queue`), wherever the change came from. The stream
//! wakes on the change bell ([`super::changes`]) and, as a fallback for changes no
//! observation notes (an item withdrawn or expired), every [`RECHECK`]; each time it reads the
//! person's queue and speaks only if the set of items (and their revisions) differs from what
//! it last said. It ends with the session (checked without counting as use, so an open page
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

/// How often the queue is read again without a ring.
const RECHECK: Duration = Duration::from_secs(5);

struct Watch {
    console: Console,
    sid: String,
    bell: broadcast::Receiver<()>,
    last: BTreeSet<String>,
}

/// The person's items as `#idvREV`, or `None` when the session has ended.
fn snapshot(w: &Watch) -> Option<BTreeSet<String>> {
    let session = w.console.0.sessions.get(&w.sid, Instant::now(), false)?;
    match super::queue::rows_of(&w.console, &session.person) {
        Ok(rows) => Some(rows.into_iter().map(|r| r.value).collect()),
        Err(e) => {
            tracing::warn!(error = %e, "the console event stream cannot read the queue");
            Some(w.last.clone())
        }
    }
}

fn changes(w: Watch) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(w, |mut w| async move {
        loop {
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
            if now != w.last {
                let event = Event::default().event("queue").data(now.len().to_string());
                w.last = now;
                return Some((Ok(event), w));
            }
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
        last: BTreeSet::new(),
    };
    w.last = snapshot(&w).unwrap_or_default();
    Sse::new(changes(w))
        .keep_alive(KeepAlive::default())
        .into_response()
}
