//! The outbox: every send, edit and delete is a persisted job, run in order per target room and
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

use crate::moderation::audit::{AuditAction, AuditDraft};
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
    connectors: HashMap<Platform, Arc<dyn Connector>>,
    /// Per platform, [`IN_FLIGHT_PER_PLATFORM`] permits; a job holds one while it executes,
    /// never while it waits out a rate limit or a backoff.
    in_flight: HashMap<Platform, Semaphore>,
    lanes: Mutex<HashMap<RoomRef, mpsc::UnboundedSender<JobId>>>,
    /// Jobs finished per platform: tells a job that alone keeps failing from a platform outage.
    done: HashMap<Platform, AtomicU64>,
    moderation_rooms: HashMap<LinkId, RoomRef>,
    retry: RetryPolicy,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("platforms", &self.connectors.keys().collect::<Vec<_>>())
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
        connectors: HashMap<Platform, Arc<dyn Connector>>,
        moderation_rooms: HashMap<LinkId, RoomRef>,
        retry: RetryPolicy,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Outbox {
        Outbox {
            inner: Arc::new(Inner {
                store,
                in_flight: connectors
                    .keys()
                    .map(|p| (*p, Semaphore::new(IN_FLIGHT_PER_PLATFORM)))
                    .collect(),
                done: connectors.keys().map(|p| (*p, AtomicU64::new(0))).collect(),
                connectors,
                lanes: Mutex::new(HashMap::new()),
                moderation_rooms,
                retry,
                shutdown,
                tracker,
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
    pub fn redrive(&self) -> Result<usize, StoreError> {
        let (jobs, unreadable) = self.inner.store.outbox_readable()?;
        for (id, e) in unreadable {
            // The lane is unknown here; the record's header usually still names the target.
            let reason = ParkReason::Unreadable(e.to_string());
            match crate::pipeline::dead_letter::park_job(
                &self.inner.store,
                &self.inner.moderation_rooms,
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

/// Parks job `id` and enqueues the notice about it.
fn park(inner: &Arc<Inner>, lane: &RoomRef, id: JobId, why: &ParkReason) {
    match crate::pipeline::dead_letter::park_job(
        &inner.store,
        &inner.moderation_rooms,
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
        let platform = job.target.platform;
        let permit = match inner.in_flight.get(&platform) {
            Some(slots) => tokio::select! {
                _ = inner.shutdown.cancelled() => return false,
                p = slots.acquire() => p.ok(),
            },
            None => None,
        };
        let result = execute(inner, &job).await;
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
                // The platform's number, capped: a reply asking for years must not stop the
                // lane for good. Asking again early only gets another 429.
                retry_after.min(MAX_RATE_LIMIT_WAIT)
            }
            Err(JobError::Connector(
                e @ (ConnectorError::Transient(_) | ConnectorError::Auth(_)),
            )) => {
                let d = inner.retry.backoff(job.attempts);
                tracing::warn!(job = %id, error = %e, attempt = job.attempts, retry_in = ?d, "send failed");
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

fn connector(inner: &Inner, platform: Platform) -> Result<&Arc<dyn Connector>, JobError> {
    inner.connectors.get(&platform).ok_or_else(|| {
        JobError::Connector(ConnectorError::Unsupported(format!(
            "no {platform} connector is running"
        )))
    })
}

async fn execute(inner: &Arc<Inner>, job: &Job) -> Result<(), JobError> {
    let conn = connector(inner, job.target.platform)?;
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
        (JobKind::Notice { text, card, about }, _) => {
            send_notice(inner, conn, &caps, job, text, *card, *about).await
        }
        (JobKind::EditNotice { message, text, .. }, _) => {
            edit_notice(inner, conn, &caps, job, message, text).await
        }
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

/// How the copy answers another message and which thread it goes in, for this target.
///
/// Nothing crosses by reference that did not cross itself: a reply, a quote or a thread start
/// refers to the message answered only where that message is shared (`MirrorRecord::shared_in`:
/// written there, or a live copy there). Otherwise the copy shows a neutral placeholder, so a
/// rejected, held or taken-down message never comes back as the quote above an approved reply.
/// An existing thread in the target stays usable (joining it reveals nothing of its root).
fn resolve_context(
    inner: &Inner,
    caps: &Capabilities,
    target: &RoomRef,
    m: &MirrorRecord,
) -> Result<(Option<ReplyTarget>, Option<ThreadTarget>), StoreError> {
    let mut reply = None;
    if let Some(r) = m
        .reply_to
        .map(|r| inner.store.mirror(r))
        .transpose()?
        .flatten()
    {
        reply = Some(match r.id_in(target) {
            _ if !r.shared_in(target) => ReplyTarget::NotShared,
            Some(id) if caps.replies => ReplyTarget::Native(id.clone()),
            _ => ReplyTarget::Quote {
                author: crate::privacy::shown_author(&mut &inner.store, &r, target)?.name,
                excerpt: render::excerpt(&r.text),
            },
        });
    }
    let mut thread = None;
    if let Some(root) = m
        .thread_root
        .map(|t| inner.store.mirror(t))
        .transpose()?
        .flatten()
    {
        let existing = root.thread_in(target).cloned();
        let here = root.id_in(target).filter(|_| root.shared_in(target));
        match (caps.threads, existing, here) {
            (true, Some(t), _) => thread = Some(ThreadTarget::Existing(t)),
            (true, None, Some(id)) => thread = Some(ThreadTarget::StartFrom(id.clone())),
            (false, _, Some(id)) if reply.is_none() && caps.replies => {
                reply = Some(ReplyTarget::Native(id.clone()))
            }
            _ => {}
        }
    }
    Ok((reply, thread))
}

/// Downloads the attachments the target can take; names the others.
async fn fetch_files(
    inner: &Inner,
    caps: &Capabilities,
    m: &MirrorRecord,
) -> Result<(Vec<OutgoingFile>, Vec<String>), JobError> {
    let mut files = Vec::new();
    let mut unshown = Vec::new();
    for a in &m.attachments {
        let label = format!("{}: {}", a.kind.as_str(), a.name);
        if !caps.attachments {
            unshown.push(format!("{label}, not supported here"));
            continue;
        }
        if let (Some(max), Some(size)) = (caps.max_attachment_bytes, a.size) {
            if size > max {
                unshown.push(format!("{label}, too large"));
                continue;
            }
        }
        match connector(inner, m.source.platform)?.fetch(a).await {
            Ok(data) => files.push(OutgoingFile {
                kind: a.kind,
                name: a.name.clone(),
                mime: a.mime.clone(),
                data,
            }),
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => unshown.push(format!("{label}, unavailable: {e}")),
        }
    }
    Ok((files, unshown))
}

/// Sends `parts` in order, skipping those an earlier attempt delivered. After each part,
/// `record` runs inside the transaction that also advances (or, after the last part, finishes)
/// the job, so a receipt and the job's progress are never out of step.
async fn send_parts(
    inner: &Inner,
    conn: &Arc<dyn Connector>,
    job: &Job,
    parts: &[civicbridge_api::Outgoing],
    mut record: impl FnMut(&mut Tx<'_>, usize, &SendReceipt) -> Result<(), TxError>,
) -> Result<(), JobError> {
    let total = parts.len();
    for (i, part) in parts.iter().enumerate().skip(job.parts_done as usize) {
        let receipt = conn.send(part).await?;
        inner.store.transact(|tx| {
            record(tx, i, &receipt)?;
            if i + 1 == total {
                tx.finish_job(job.id)
            } else {
                let mut j = job.clone();
                j.parts_done = i as u32 + 1;
                tx.update_job(&j)
            }
        })?;
    }
    if total <= job.parts_done as usize {
        finish(inner, job)?;
    }
    Ok(())
}

async fn send_copy(
    inner: &Inner,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    m: &MirrorRecord,
    text: &RichText,
) -> Result<(), JobError> {
    if m.deleted {
        return finish(inner, job);
    }
    let (reply, thread) = resolve_context(inner, caps, &job.target, m)?;
    let (files, unshown) = fetch_files(inner, caps, m).await?;
    let parts = render::render(RenderInput {
        mirror: m,
        text,
        author: crate::privacy::shown_author(&mut &inner.store, m, &job.target)?,
        caps,
        room: &job.target.room,
        txn_base: txn_base(inner, job),
        reply,
        thread: thread.clone(),
        files,
        unshown,
    });
    send_parts(inner, conn, job, &parts, |tx, _, receipt| {
        let mut mm = tx.mirror_required(m.id)?;
        let copy = mm.copy_in_mut(&job.target);
        copy.ids.extend(receipt.ids.iter().cloned());
        if copy.thread.is_none() {
            copy.thread = receipt.thread.clone();
        }
        tx.put_mirror(&mm)?;
        for id in &receipt.ids {
            tx.index(&job.target, id, IndexEntry::Mirror(m.id))?;
        }
        // A thread started from the root's copy belongs to the root.
        if let (Some(ThreadTarget::StartFrom(_)), Some(t), Some(root)) =
            (&thread, &receipt.thread, m.thread_root)
        {
            let mut r = tx.mirror_required(root)?;
            r.set_thread_in(&job.target, t.clone());
            tx.put_mirror(&r)?;
            tx.put_thread(&job.target, t, root)?;
        }
        Ok(())
    })
    .await
}

async fn edit_copy(
    inner: &Inner,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    m: &MirrorRecord,
    text: &RichText,
) -> Result<(), JobError> {
    let Some(copy) = m.copy_in(&job.target).filter(|_| caps.edits) else {
        return finish(inner, job);
    };
    let parts = render::render(RenderInput {
        mirror: m,
        text,
        author: crate::privacy::shown_author(&mut &inner.store, m, &job.target)?,
        caps,
        room: &job.target.room,
        txn_base: txn_base(inner, job),
        reply: None,
        thread: None,
        files: Vec::new(),
        unshown: Vec::new(),
    });
    if !m.attachments.is_empty() {
        return edit_with_files(conn, job, copy, &parts)
            .await
            .and_then(|()| finish(inner, job));
    }
    for (id, part) in copy.ids.iter().zip(&parts) {
        conn.edit(&job.target.room, id, part).await?;
    }
    // The new text needs more parts than before: post the rest; fewer: remove the surplus.
    let mut ids = copy.ids.clone();
    for part in parts.iter().skip(copy.ids.len()) {
        let receipt = conn.send(part).await?;
        ids.extend(receipt.ids);
        record_ids(inner, m, &job.target, &ids)?;
    }
    if caps.deletes {
        while ids.len() > parts.len() {
            if let Some(id) = ids.last() {
                conn.delete(&job.target.room, id).await?;
            }
            ids.pop();
            record_ids(inner, m, &job.target, &ids)?;
        }
    }
    finish(inner, job)
}

/// Edits the copy of a message with attachments. Its ids mix text parts and files in a way
/// each platform decides (Matrix posts files as events of their own after the text, Telegram
/// captions the first file or posts the text before the files, Discord puts the first file on
/// the first part), so only the first id, the one carrying the text, is edited: never a file's
/// message with text, never a "surplus" part removed (that was the photo), never a part added.
/// A new text longer than one part is cut to it.
async fn edit_with_files(
    conn: &Arc<dyn Connector>,
    job: &Job,
    copy: &crate::store::Copy,
    parts: &[Outgoing],
) -> Result<(), JobError> {
    if parts.len() > 1 {
        tracing::warn!(job = %job.id, parts = parts.len(), "edit of a message with files cut to one part");
    }
    if let (Some(id), Some(part)) = (copy.ids.first(), parts.first()) {
        conn.edit(&job.target.room, id, part).await?;
    }
    Ok(())
}

fn record_ids(
    inner: &Inner,
    m: &MirrorRecord,
    target: &RoomRef,
    ids: &[civicbridge_api::RemoteMsgId],
) -> Result<(), StoreError> {
    inner.store.transact(|tx| {
        let mut mm = tx.mirror_required(m.id)?;
        mm.copy_in_mut(target).ids = ids.to_vec();
        for id in ids {
            tx.index(target, id, IndexEntry::Mirror(m.id))?;
        }
        tx.put_mirror(&mm)
    })
}

async fn delete_copy(
    inner: &Inner,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    m: &MirrorRecord,
) -> Result<(), JobError> {
    if let Some(copy) = m.copy_in(&job.target).filter(|_| caps.deletes) {
        for id in &copy.ids {
            conn.delete(&job.target.room, id).await?;
        }
    }
    inner.store.transact(|tx| {
        let mut mm = tx.mirror_required(m.id)?;
        mm.copies.retain(|c| c.room != job.target);
        tx.put_mirror(&mm)?;
        tx.finish_job(job.id)
    })?;
    Ok(())
}

async fn send_notice(
    inner: &Arc<Inner>,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    text: &RichText,
    card: Option<civicbridge_api::PendingId>,
    about: Option<civicbridge_api::MirrorId>,
) -> Result<(), JobError> {
    let parts = render::notice(&job.target.room, &txn_base(inner, job), text, caps);
    let mut decided_meanwhile = Vec::new();
    send_parts(inner, conn, job, &parts, |tx, i, receipt| {
        // Every part of a card quotes its message: remember them all for erasure. A message
        // record that cannot be read (the notice may be about just that) does not hold the
        // notice back.
        let about = match about.map(|m| tx.mirror(m)).transpose() {
            Ok(m) => m.flatten(),
            Err(StoreError::Corrupt(e)) => {
                tracing::warn!(job = %job.id, error = %e, "a notice about an unreadable message");
                None
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(mut m) = about {
            m.cards.extend(
                receipt
                    .ids
                    .iter()
                    .map(|id| (job.target.clone(), id.clone())),
            );
            tx.put_mirror(&m)?;
        }
        if let (0, Some(pid), Some(first)) = (i, card, receipt.ids.first()) {
            // Filed as the item's card (or a superseded one); edited if it changed meanwhile.
            decided_meanwhile.extend(crate::moderation::approval::card_posted(
                tx, job, text, pid, first,
            )?);
        }
        Ok(())
    })
    .await?;
    Outbox {
        inner: inner.clone(),
    }
    .enqueue(&decided_meanwhile);
    Ok(())
}

/// Rewrites a notice the bridge posted (a decided card). Only its first part is edited: a card
/// long enough to be split keeps its later parts.
async fn edit_notice(
    inner: &Arc<Inner>,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    message: &civicbridge_api::RemoteMsgId,
    text: &RichText,
) -> Result<(), JobError> {
    if caps.edits {
        let parts = render::notice(&job.target.room, &txn_base(inner, job), text, caps);
        if let Some(first) = parts.first() {
            conn.edit(&job.target.room, message, first).await?;
        }
    }
    finish(inner, job)
}

/// Drops a job the platform refused for good: audited, and reported to the moderators unless the
/// refused job was itself a report to them.
fn give_up(inner: &Arc<Inner>, job: &Job, e: &ConnectorError) {
    let error = e.to_string();
    tracing::warn!(job = %job.id, target = %job.target, error, "job refused for good");
    let moderation = inner
        .moderation_rooms
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
