//! The outbox: every send, edit, delete and reaction is a persisted job, run in order per target room and
//! retried by error kind until the platform confirms it or refuses for good.
//!
//! Contract with the rest of the core:
//! - a job is in the store before `enqueue` is called, and leaves it only in the same transaction
//!   that records its receipt (the copy's ids in the mirror map), so a crash re-sends at most the
//!   part in flight (Matrix sends are idempotent through the job's transaction id);
//! - one lane (task) per target room runs that room's jobs in job-id order: a rate-limited job
//!   holds back the ones after it, so messages never overtake each other;
//! - at most [`IN_FLIGHT_PER_PLATFORM`] jobs talk to one platform at once, whatever the number of
//!   lanes: every request in flight holds a connection and its buffers (about 85 KB each), and
//!   a message crossing 100 links at once opened 234 sockets and 20 MB before this cap;
//! - `RateLimited` waits `retry_after`; `Transient` and `Auth` back off exponentially (capped,
//!   with jitter); `Rejected` and `Unsupported` drop the job, audit it, and tell the link's
//!   moderation room;
//! - one bad job never stops a room: a job that panics (each runs in a task of its own), whose
//!   record cannot be decoded, that keeps failing in the store, or that alone keeps failing
//!   transiently while its platform takes other jobs is parked (`crate::pipeline::dead_letter`) and the
//!   lane goes on. A platform outage parks nothing.

mod copies;
mod expiry;
mod export;
mod reactions;
mod reports;
mod tell;
pub mod unrecorded;
use copies::*;

use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::ops::metrics::{Instruments, RetryReason};
use crate::pipeline::dead_letter::ParkReason;
use crate::pipeline::render::{self, RenderInput, ReplyTarget};
use crate::store::prelude::*;
use crate::store::{IndexEntry, Job, JobId, JobKind, MirrorRecord, Store, StoreError, Tx, TxError};
use civicbridge_api::{
    Capabilities, Connector, ConnectorError, LinkId, Outgoing, OutgoingFile, Platform, RichText,
    RoomRef, SendReceipt, ThreadTarget,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// How failed jobs are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
}

/// The longest a lane waits on one rate limit before it asks again.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(500),
            max: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Full-jitter exponential backoff: a random delay in [½·d, d] with d = base·2^attempt ≤ max.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(20)));
        let d = exp.min(self.max);
        let half = d / 2;
        half + d.mul_f64(rand::random::<f64>() * 0.5)
    }
}

/// Jobs running against one platform at once. Far above what the platforms' own rate limits let
/// through (Telegram about 30 messages a second, Discord 50 requests), so it costs no throughput.
pub const IN_FLIGHT_PER_PLATFORM: usize = 16;

/// Handle to the outbox; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    connectors: crate::ops::connectors::Connectors,
    /// Per platform, [`IN_FLIGHT_PER_PLATFORM`] permits; a job holds one while it executes,
    /// never while it waits out a rate limit or a backoff.
    in_flight: HashMap<Platform, Semaphore>,
    lanes: Mutex<HashMap<RoomRef, mpsc::UnboundedSender<JobId>>>,
    /// Jobs finished per platform: tells a job that alone keeps failing from a platform outage.
    done: HashMap<Platform, AtomicU64>,
    /// Each link's moderation room, where parked and refused jobs are reported. Replaced whole
    /// when the links change at runtime; readers take a snapshot.
    moderation_rooms: std::sync::RwLock<Arc<HashMap<LinkId, RoomRef>>>,
    /// Lanes whose next job waits for its paused link, now.
    lanes_paused: std::sync::atomic::AtomicUsize,
    retry: RetryPolicy,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// Send durations, retries and relay latency (see `crate::ops::metrics`).
    instruments: Instruments,
    /// Wakes the expiry task when a message to delete later was recorded (`expiry.rs`).
    expiry_wake: tokio::sync::Notify,
    /// Rooms with a job running, so events answering a fresh copy wait for its id (`unrecorded.rs`).
    unrecorded: unrecorded::Unrecorded,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("platforms", &self.connectors)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Outbox {
    pub fn new(
        store: Store,
        connectors: crate::ops::connectors::Connectors,
        moderation_rooms: HashMap<LinkId, RoomRef>,
        retry: RetryPolicy,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        instruments: Instruments,
    ) -> Outbox {
        Outbox {
            inner: Arc::new(Inner {
                store,
                in_flight: connectors
                    .platforms()
                    .map(|p| (p, Semaphore::new(IN_FLIGHT_PER_PLATFORM)))
                    .collect(),
                done: connectors
                    .platforms()
                    .map(|p| (p, AtomicU64::new(0)))
                    .collect(),
                connectors,
                lanes: Mutex::new(HashMap::new()),
                moderation_rooms: std::sync::RwLock::new(Arc::new(moderation_rooms)),
                lanes_paused: std::sync::atomic::AtomicUsize::new(0),
                retry,
                shutdown,
                tracker,
                instruments,
                expiry_wake: tokio::sync::Notify::new(),
                unrecorded: unrecorded::Unrecorded::default(),
            }),
        }
    }

    /// Hands committed jobs to their rooms' lanes, in the order given. A lane that has ended
    /// (it only does at shutdown) is replaced, so a job handed over is never silently dropped;
    /// at shutdown the job simply stays in the store for the next start.
    pub fn enqueue<'a>(&self, jobs: impl IntoIterator<Item = &'a Job>) {
        let mut lanes = self.inner.lanes.lock().unwrap_or_else(|p| p.into_inner());
        for job in jobs {
            let tx = lanes
                .entry(job.target.clone())
                .or_insert_with(|| self.spawn_lane(&job.target));
            if tx.send(job.id).is_ok() {
                continue;
            }
            if self.inner.shutdown.is_cancelled() {
                tracing::debug!(job = %job.id, "shutting down; the job waits in the store");
                continue;
            }
            tracing::error!(room = %job.target, "an outbox lane had ended; starting it again");
            let fresh = self.spawn_lane(&job.target);
            if fresh.send(job.id).is_err() {
                tracing::error!(job = %job.id, "a new lane refused the job; it waits in the store");
            }
            lanes.insert(job.target.clone(), fresh);
        }
    }

    /// Re-drives every unfinished job from the store (at start). Returns how many. A job whose
    /// record cannot be decoded is parked (see [`crate::pipeline::dead_letter`]) instead of stopping the
    /// start.
    /// Which rooms have a job whose receipt is not recorded yet (see `unrecorded.rs`).
    pub fn unrecorded(&self) -> unrecorded::Unrecorded {
        self.inner.unrecorded.clone()
    }

    /// How many rooms' lanes wait for a paused link right now.
    pub fn lanes_paused(&self) -> usize {
        self.inner.lanes_paused.load(Ordering::Relaxed)
    }

    /// Each link's moderation room, as of now.
    pub fn moderation_rooms(&self) -> Arc<HashMap<LinkId, RoomRef>> {
        moderation_rooms(&self.inner)
    }

    /// Replaces the links' moderation rooms (the links changed while running).
    pub fn set_moderation_rooms(&self, rooms: HashMap<LinkId, RoomRef>) {
        *self
            .inner
            .moderation_rooms
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(rooms);
    }

    pub fn redrive(&self) -> Result<usize, StoreError> {
        let (jobs, unreadable) = self.inner.store.outbox_readable()?;
        for (id, e) in unreadable {
            // The lane is unknown here; the record's header usually still names the target.
            let reason = ParkReason::Unreadable(e.to_string());
            match crate::pipeline::dead_letter::park_job(
                &self.inner.store,
                &self.moderation_rooms(),
                id,
                None,
                &reason,
            ) {
                Ok(notices) => self.enqueue(&notices),
                Err(e) => tracing::error!(job = %id, error = %e, "cannot park an unreadable job"),
            }
        }
        self.enqueue(&jobs);
        Ok(jobs.len())
    }

    fn spawn_lane(&self, room: &RoomRef) -> mpsc::UnboundedSender<JobId> {
        let (tx, mut rx) = mpsc::unbounded_channel::<JobId>();
        let inner = self.inner.clone();
        let lane = room.clone();
        let span = tracing::info_span!("lane", room = %room);
        self.inner.tracker.spawn(
            async move {
                loop {
                    let id = tokio::select! {
                        biased;
                        _ = inner.shutdown.cancelled() => return,
                        id = rx.recv() => match id { Some(id) => id, None => return },
                    };
                    // Each job runs in a task of its own, so a panic in it ends that task only:
                    // the job is parked and the lane goes on with the next one.
                    let run = inner
                        .tracker
                        .spawn(run_job(inner.clone(), lane.clone(), id).in_current_span())
                        .await;
                    match run {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(e) if e.is_panic() => {
                            let text = crate::pipeline::dead_letter::panic_text(&*e.into_panic());
                            tracing::error!(job = %id, panic = %text, "a job panicked");
                            park(&inner, &lane, id, &ParkReason::Panicked);
                        }
                        // Cancelled: only the runtime going down cancels a job's task (the
                        // process is stopping or dying). The job stays in the outbox for the
                        // next start; parking it would set aside a perfectly good job.
                        Err(_) => return,
                    }
                }
            }
            .instrument(span),
        );
        tx
    }
}

/// How often a lane waiting on a paused link looks again.
const PAUSE_RECHECK: Duration = Duration::from_millis(500);

/// Whether `link`'s copies wait (`paused` in its rules). Rules that cannot be read count as not
/// paused: the job's own reads then fail the same way, and that is handled (backoff, parking)
/// where it is visible, rather than a lane waiting silently for good.
fn paused(inner: &Inner, link: &LinkId) -> bool {
    matches!(inner.store.rules(link), Ok(Some(r)) if r.paused)
}

fn moderation_rooms(inner: &Inner) -> Arc<HashMap<LinkId, RoomRef>> {
    inner
        .moderation_rooms
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Parks job `id` and enqueues the notice about it.
fn park(inner: &Arc<Inner>, lane: &RoomRef, id: JobId, why: &ParkReason) {
    match crate::pipeline::dead_letter::park_job(
        &inner.store,
        &moderation_rooms(inner),
        id,
        Some(lane),
        why,
    ) {
        Ok(notices) => Outbox {
            inner: inner.clone(),
        }
        .enqueue(&notices),
        Err(e) => tracing::error!(job = %id, error = %e, reason = %why, "cannot park a job"),
    }
}

/// Runs one job to completion. Returns false if shutdown interrupted it.
async fn run_job(inner: Arc<Inner>, lane: RoomRef, id: JobId) -> bool {
    let inner = &inner;
    // Consecutive failures of this run, by kind (see `crate::pipeline::dead_letter` for the thresholds).
    let mut store_failures = 0u32;
    let mut transient_failures = 0u32;
    let mut others_done_at_first_failure = None;
    loop {
        let job = match inner.store.job(id) {
            Ok(Some(job)) => job,
            Ok(None) => return true,
            Err(e @ StoreError::Corrupt(_)) => {
                park(inner, &lane, id, &ParkReason::Unreadable(e.to_string()));
                return true;
            }
            Err(e) => {
                store_failures += 1;
                tracing::error!(job = %id, error = %e, "cannot read job");
                if store_failures >= crate::pipeline::dead_letter::PARK_AFTER_STORE_ERRORS {
                    park(inner, &lane, id, &ParkReason::StoreFailing(e.to_string()));
                    return true;
                }
                tokio::select! {
                    _ = inner.shutdown.cancelled() => return false,
                    _ = tokio::time::sleep(inner.retry.backoff(store_failures)) => {}
                }
                continue;
            }
        };
        // A paused link's copies (and the reactions that cross with them) wait here, in order;
        // deletions (takedowns) and notices go on.
        if matches!(
            job.kind,
            JobKind::Send { .. } | JobKind::Edit { .. } | JobKind::Reactions { .. }
        ) && paused(inner, &job.link)
        {
            tokio::select! {
                _ = inner.shutdown.cancelled() => return false,
                _ = tokio::time::sleep(PAUSE_RECHECK) => {}
            }
            continue;
        }
        let platform = job.target.platform;
        let permit = match inner.in_flight.get(&platform) {
            Some(slots) => tokio::select! {
                _ = inner.shutdown.cancelled() => return false,
                p = slots.acquire() => p.ok(),
            },
            None => None,
        };
        let running = inner.unrecorded.begin(&job.target);
        let result = execute(inner, &job).await;
        drop(running);
        drop(permit);
        let wait = match result {
            Ok(()) => {
                if let Some(n) = inner.done.get(&platform) {
                    n.fetch_add(1, Ordering::Relaxed);
                }
                return true;
            }
            Err(JobError::Connector(ConnectorError::RateLimited { retry_after })) => {
                tracing::info!(job = %id, ?retry_after, "rate limited");
                inner.instruments.retry(platform, RetryReason::RateLimited);
                // The platform's number, capped: a reply asking for years must not stop the
                // lane for good. Asking again early only gets another 429.
                retry_after.min(MAX_RATE_LIMIT_WAIT)
            }
            Err(JobError::Connector(
                e @ (ConnectorError::Transient(_) | ConnectorError::Auth(_)),
            )) => {
                let d = inner.retry.backoff(job.attempts);
                tracing::warn!(job = %id, error = %e, attempt = job.attempts, retry_in = ?d, "send failed");
                let reason = match e {
                    ConnectorError::Transient(_) => RetryReason::Transient,
                    _ => RetryReason::Auth,
                };
                inner.instruments.retry(platform, reason);
                if matches!(e, ConnectorError::Transient(_)) {
                    transient_failures += 1;
                    let done_now = inner
                        .done
                        .get(&platform)
                        .map_or(0, |n| n.load(Ordering::Relaxed));
                    let first = *others_done_at_first_failure.get_or_insert(done_now);
                    // Only this job fails: the platform took others since it first failed.
                    if transient_failures >= crate::pipeline::dead_letter::PARK_AFTER_TRANSIENT
                        && done_now > first
                    {
                        park(
                            inner,
                            &lane,
                            id,
                            &ParkReason::KeepsFailing {
                                times: transient_failures,
                                error: e.to_string(),
                            },
                        );
                        return true;
                    }
                }
                d
            }
            Err(JobError::Connector(e)) => {
                give_up(inner, &job, &e);
                return true;
            }
            Err(JobError::Store(e)) => {
                store_failures += 1;
                tracing::error!(job = %id, error = %e, "store failure while running job");
                // A record that cannot be decoded will not decode on the next try either.
                if matches!(e, StoreError::Corrupt(_))
                    || store_failures >= crate::pipeline::dead_letter::PARK_AFTER_STORE_ERRORS
                {
                    let why = match e {
                        StoreError::Corrupt(_) => ParkReason::Unreadable(e.to_string()),
                        _ => ParkReason::StoreFailing(e.to_string()),
                    };
                    park(inner, &lane, id, &why);
                    return true;
                }
                inner.instruments.retry(platform, RetryReason::Store);
                inner.retry.backoff(job.attempts)
            }
        };
        let bumped = inner.store.transact(|tx| {
            if let Some(mut j) = tx.job(id)? {
                j.attempts += 1;
                tx.update_job(&j)?;
            }
            Ok(())
        });
        if let Err(e) = bumped {
            tracing::error!(job = %id, error = %e, "cannot record attempt");
        }
        tokio::select! {
            _ = inner.shutdown.cancelled() => return false,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The platform's connector now (a reload may have replaced it since the last job).
fn connector(inner: &Inner, platform: Platform) -> Result<Arc<dyn Connector>, JobError> {
    inner.connectors.get(platform).ok_or_else(|| {
        JobError::Connector(ConnectorError::Unsupported(format!(
            "no {platform} connector is running"
        )))
    })
}

async fn execute(inner: &Arc<Inner>, job: &Job) -> Result<(), JobError> {
    let conn = &connector(inner, job.target.platform)?;
    let caps = conn.capabilities();
    let mirror = match job.kind.mirror() {
        Some(m) => match inner.store.mirror(m)? {
            Some(m) => Some(m),
            None => return finish(inner, job),
        },
        None => None,
    };
    match (&job.kind, mirror) {
        (JobKind::Send { text, .. }, Some(m)) => {
            let text = text.as_ref().unwrap_or(&m.text);
            send_copy(inner, conn, &caps, job, &m, text).await
        }
        (JobKind::Edit { text, .. }, Some(m)) => {
            let text = text.as_ref().unwrap_or(&m.text);
            edit_copy(inner, conn, &caps, job, &m, text).await
        }
        (JobKind::Delete { .. }, Some(m)) => delete_copy(inner, conn, &caps, job, &m).await,
        (JobKind::Reactions { .. }, Some(m)) => {
            reactions::sync_reactions(inner, conn, &caps, job, &m).await
        }
        (JobKind::ReportCard { text, .. }, Some(m)) => {
            reports::send_report_card(inner, conn, &caps, job, m.id, text).await
        }
        (JobKind::Notice { text, card, about }, _) => {
            send_notice(inner, conn, &caps, job, text, *card, *about).await
        }
        (JobKind::EditNotice { message, text, .. }, _) => {
            edit_notice(inner, conn, &caps, job, message, text).await
        }
        (
            JobKind::Tell {
                told,
                private,
                in_room,
                invite,
                delete_after_secs,
                ..
            },
            Some(m),
        ) => {
            let texts = tell::TellTexts {
                told: *told,
                private,
                in_room,
                invite,
                delete_after_secs: *delete_after_secs,
            };
            tell::tell(inner, conn, &caps, job, &m, texts).await
        }
        (JobKind::Unsay { message }, _) => tell::unsay(inner, conn, &caps, job, message).await,
        (JobKind::Export { .. }, _) => export::export(inner, conn, &caps, job).await,
        _ => finish(inner, job),
    }
}

/// The idempotency key of a job's sends: part `i` goes out as `{base}-{i}`. Unique across
/// stores (see [`Store::instance`]) and equal on every retry of the job.
fn txn_base(inner: &Inner, job: &Job) -> String {
    match inner.store.instance() {
        "" => format!("cb{}", job.id.0),
        name => format!("cb{name}-{}", job.id.0),
    }
}

fn finish(inner: &Inner, job: &Job) -> Result<(), JobError> {
    inner.store.transact(|tx| tx.finish_job(job.id))?;
    Ok(())
}

/// Drops a job the platform refused for good: audited, and reported to the moderators unless the
/// refused job was itself a report to them.
fn give_up(inner: &Arc<Inner>, job: &Job, e: &ConnectorError) {
    let error = e.to_string();
    tracing::warn!(job = %job.id, target = %job.target, error, "job refused for good");
    let moderation = moderation_rooms(inner)
        .get(&job.link)
        .filter(|r| **r != job.target)
        .cloned();
    let result = inner.store.transact(|tx| {
        tx.finish_job(job.id)?;
        tx.audit(AuditDraft {
            actor: crate::moderation::audit::AuditActor::Bridge,
            action: AuditAction::SendRejected,
            link: Some(job.link.clone()),
            subject: Some(job.id.to_string()),
            // The platform's words as a hash: they may quote a file name or the text, and the
            // log outlives erasure.
            detail: serde_json::json!({
                "target": job.target,
                "kind": crate::privacy::job_summary(&job.kind),
                "error": e.kind(),
                "error_sha256": crate::privacy::text_hash(&error),
            }),
        })?;
        let mut notices = Vec::new();
        if let Some(room) = &moderation {
            let what = match job.kind.mirror() {
                Some(m) => format!("message {m}"),
                None => "a notice".to_owned(),
            };
            let text = RichText::plain(format!(
                "⚠ Could not deliver {what} to {}: {error}",
                job.target
            ));
            // About the message, so that erasing its author removes this notice too.
            let kind = JobKind::Notice {
                text,
                card: None,
                about: job.kind.mirror(),
            };
            notices.push(tx.push_job(&job.link, room, kind)?);
        }
        Ok(notices)
    });
    match result {
        Ok(notices) => Outbox {
            inner: inner.clone(),
        }
        .enqueue(&notices),
        Err(e) => tracing::error!(job = %job.id, error = %e, "cannot drop refused job"),
    }
}
