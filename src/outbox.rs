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
//!   with jitter) and never give up; `Rejected` and `Unsupported` drop the job, audit it, and
//!   tell the link's moderation room.

use crate::audit::{AuditAction, AuditDraft};
use crate::render::{self, RenderInput, ReplyTarget};
use crate::store::{
    IndexEntry, Job, JobId, JobKind, MirrorRecord, Store, StoreError, Tx, TxFailure,
};
use civicbridge_api::{
    Capabilities, Connector, ConnectorError, LinkId, OutgoingFile, Platform, RichText, RoomRef,
    SendReceipt, ThreadTarget,
};
use std::collections::HashMap;
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
                connectors,
                lanes: Mutex::new(HashMap::new()),
                moderation_rooms,
                retry,
                shutdown,
                tracker,
            }),
        }
    }

    /// Hands committed jobs to their rooms' lanes, in the order given.
    pub fn enqueue<'a>(&self, jobs: impl IntoIterator<Item = &'a Job>) {
        let mut lanes = self.inner.lanes.lock().unwrap_or_else(|p| p.into_inner());
        for job in jobs {
            let tx = lanes
                .entry(job.target.clone())
                .or_insert_with(|| self.spawn_lane(&job.target));
            // A lane only stops at shutdown; the job stays in the store for the next start.
            let _ = tx.send(job.id);
        }
    }

    /// Re-drives every unfinished job from the store (at start). Returns how many.
    pub fn redrive(&self) -> Result<usize, StoreError> {
        let jobs = self.inner.store.outbox()?;
        self.enqueue(&jobs);
        Ok(jobs.len())
    }

    fn spawn_lane(&self, room: &RoomRef) -> mpsc::UnboundedSender<JobId> {
        let (tx, mut rx) = mpsc::unbounded_channel::<JobId>();
        let inner = self.inner.clone();
        let span = tracing::info_span!("lane", room = %room);
        self.inner.tracker.spawn(
            async move {
                loop {
                    let id = tokio::select! {
                        biased;
                        _ = inner.shutdown.cancelled() => return,
                        id = rx.recv() => match id { Some(id) => id, None => return },
                    };
                    if !run_job(&inner, id).await {
                        return;
                    }
                }
            }
            .instrument(span),
        );
        tx
    }
}

/// Runs one job to completion. Returns false if shutdown interrupted it.
async fn run_job(inner: &Arc<Inner>, id: JobId) -> bool {
    loop {
        let job = match inner.store.job(id) {
            Ok(Some(job)) => job,
            Ok(None) => return true,
            Err(e) => {
                tracing::error!(job = %id, error = %e, "cannot read job");
                return true;
            }
        };
        let permit = match inner.in_flight.get(&job.target.platform) {
            Some(slots) => tokio::select! {
                _ = inner.shutdown.cancelled() => return false,
                p = slots.acquire() => p.ok(),
            },
            None => None,
        };
        let result = execute(inner, &job).await;
        drop(permit);
        let wait = match result {
            Ok(()) => return true,
            Err(JobError::Connector(ConnectorError::RateLimited { retry_after })) => {
                tracing::info!(job = %id, ?retry_after, "rate limited");
                retry_after
            }
            Err(JobError::Connector(
                e @ (ConnectorError::Transient(_) | ConnectorError::Auth(_)),
            )) => {
                let d = inner.retry.backoff(job.attempts);
                tracing::warn!(job = %id, error = %e, attempt = job.attempts, retry_in = ?d, "send failed");
                d
            }
            Err(JobError::Connector(e)) => {
                give_up(inner, &job, &e.to_string());
                return true;
            }
            Err(JobError::Store(e)) => {
                tracing::error!(job = %id, error = %e, "store failure while running job");
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
        (JobKind::Send { .. }, Some(m)) => send_copy(inner, conn, &caps, job, &m).await,
        (JobKind::Edit { .. }, Some(m)) => edit_copy(inner, conn, &caps, job, &m).await,
        (JobKind::Delete { .. }, Some(m)) => delete_copy(inner, conn, &caps, job, &m).await,
        (JobKind::Notice { text, card }, _) => {
            send_notice(inner, conn, &caps, job, text, *card).await
        }
        (JobKind::EditNotice { message, text }, _) => {
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
            Some(id) if caps.replies => ReplyTarget::Native(id.clone()),
            _ => ReplyTarget::Quote {
                author: inner.store.shown_author(&r, target)?.name,
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
        match (caps.threads, existing, root.id_in(target)) {
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
    mut record: impl FnMut(&mut Tx<'_>, usize, &SendReceipt) -> Result<(), TxFailure>,
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
) -> Result<(), JobError> {
    if m.deleted {
        return finish(inner, job);
    }
    let (reply, thread) = resolve_context(inner, caps, &job.target, m)?;
    let (files, unshown) = fetch_files(inner, caps, m).await?;
    let parts = render::render(RenderInput {
        mirror: m,
        author: inner.store.shown_author(m, &job.target)?,
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
) -> Result<(), JobError> {
    let Some(copy) = m.copy_in(&job.target).filter(|_| caps.edits) else {
        return finish(inner, job);
    };
    let parts = render::render(RenderInput {
        mirror: m,
        author: inner.store.shown_author(m, &job.target)?,
        caps,
        room: &job.target.room,
        txn_base: txn_base(inner, job),
        reply: None,
        thread: None,
        files: Vec::new(),
        unshown: Vec::new(),
    });
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
) -> Result<(), JobError> {
    let parts = render::notice(&job.target.room, &txn_base(inner, job), text, caps);
    let mut decided_meanwhile = Vec::new();
    send_parts(inner, conn, job, &parts, |tx, i, receipt| {
        if let (0, Some(pid), Some(first)) = (i, card, receipt.ids.first()) {
            tx.index(&job.target, first, IndexEntry::Card(pid))?;
            match tx.pending(pid)? {
                Some(mut item) => {
                    item.card = Some((job.target.clone(), first.clone()));
                    item.card_job = None;
                    tx.put_pending(item)?;
                }
                // Decided while this card was on its way: the decision rewrote this job's text
                // in the store, after this attempt had read it. Bring the posted card up to date.
                None => {
                    if let Some(JobKind::Notice { text: now, .. }) = tx.job(job.id)?.map(|j| j.kind)
                    {
                        if &now != text {
                            let kind = JobKind::EditNotice {
                                message: first.clone(),
                                text: now,
                            };
                            decided_meanwhile.push(tx.push_job(&job.link, &job.target, kind)?);
                        }
                    }
                }
            }
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
fn give_up(inner: &Arc<Inner>, job: &Job, error: &str) {
    tracing::warn!(job = %job.id, target = %job.target, error, "job refused for good");
    let moderation = inner
        .moderation_rooms
        .get(&job.link)
        .filter(|r| **r != job.target)
        .cloned();
    let result = inner.store.transact(|tx| {
        tx.finish_job(job.id)?;
        tx.audit(AuditDraft {
            actor: "bridge".into(),
            action: AuditAction::SendRejected,
            link: Some(job.link.clone()),
            subject: Some(job.id.to_string()),
            detail: serde_json::json!({ "target": job.target, "kind": crate::privacy::job_summary(&job.kind), "error": error }),
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
            notices.push(tx.push_job(&job.link, room, JobKind::Notice { text, card: None })?);
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

/// Queues a card for a newly held item (inside the caller's transaction).
pub fn queue_card(
    tx: &mut crate::store::Tx<'_>,
    item: &crate::store::PendingItem,
    mirror: &MirrorRecord,
    moderation_room: &RoomRef,
    standing: crate::cards::SenderStanding,
) -> Result<Job, crate::store::TxFailure> {
    // The card names the author as the moderation room may see them (a pseudonym, per link).
    let mut shown = mirror.clone();
    shown.author.display_name = tx.shown_author(mirror, moderation_room)?.name;
    let text = crate::cards::held(item, &shown, standing);
    tx.push_job(
        &item.link,
        moderation_room,
        JobKind::Notice {
            text,
            card: Some(item.id),
        },
    )
}
