//! One worker per link: handles the link's events one at a time, in order, durably.
//!
//! The worker takes whatever events are waiting (up to a batch) and decides each one inside a
//! single store transaction (dedupe, echo check, moderation, mirror records, pending items, outbox
//! jobs, audit entries). It then hands the batch to its committer and goes on with the next one.
//! The committer flushes (one fsync for every batch that arrived meanwhile) and only then
//! acknowledges the events to their connectors and hands the new jobs to the outbox, in batch
//! order. Grouping and pipelining the flush is what lets a durable bridge keep up with a burst:
//! an fsync costs milliseconds here, deciding an event tens of microseconds.

mod dry_run;
mod edits;
mod events;
mod names;
mod reactions;
mod reports;

use crate::moderation::approval;
use crate::pipeline::outbox::unrecorded;
use crate::store::prelude::*;

use crate::moderation::cards::Withdrawal;
use crate::moderation::room;
use crate::moderation::rules::Side;
use crate::moderation::{
    self, Candidate, CompiledRules, DropReason, HoldReason, HoldReasons, ThreadState, Verdict,
};
use crate::pipeline::outbox::Outbox;
use crate::store::{
    Author, Job, JobKind, LinkRecord, MirrorRecord, PendingItem, PendingKind, Store, StoreError,
    Tx, TxError,
};
use civicbridge_api::{
    Authority, Event, EventKind, Message, MirrorId, PlatformFactory, RemoteMsgId, RoomRef,
    Submission, UserKey,
};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The most events decided in one transaction.
pub const BATCH: usize = 512;

/// An event routed to a link, with its acknowledgement channel.
#[derive(Debug)]
pub enum Work {
    /// An event in one of the link's bridged rooms. `hidden_in_name`: its sender's display name
    /// carried control or bidi characters, which the router removed (a look-alike signal).
    Bridged {
        sub: Submission,
        hidden_in_name: bool,
    },
    /// An event in the link's moderation room.
    Moderation(Submission),
}

/// Whether an event points at another message (a reply, a thread answer, an edit, a deletion,
/// a reaction), which may be a copy whose id the outbox has not recorded yet.
fn refers_to_a_message(kind: &civicbridge_api::EventKind) -> bool {
    use civicbridge_api::EventKind;
    match kind {
        EventKind::Message(m) => m.reply_to.is_some() || m.thread.is_some(),
        _ => true,
    }
}

impl Work {
    fn submission(&self) -> &Submission {
        match self {
            Work::Bridged { sub: s, .. } | Work::Moderation(s) => s,
        }
    }
    fn into_submission(self) -> Submission {
        match self {
            Work::Bridged { sub: s, .. } | Work::Moderation(s) => s,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rules of link {0} do not compile: {1}")]
    Rules(String, regex::Error),
}

/// What a transaction decided that must happen after it commits.
#[derive(Debug, Default)]
struct Effects {
    jobs: Vec<Job>,
    relayed: HashMap<UserKey, u64>,
    /// A command changed the links (`!link`, `!unlink`): to put in force once stored.
    links_changed: bool,
    /// `!weblogin`s to hand to the console once the transaction has returned.
    weblogins: Vec<crate::ops::console::WebLoginAsk>,
}

pub struct LinkWorker {
    link: LinkRecord,
    store: Store,
    /// Decided batches waiting for their flush, in order.
    committer: mpsc::Sender<Decided>,
    rules: CompiledRules,
    /// When each public sender last had a message relayed (slow mode). In memory: after a
    /// restart slow mode starts afresh, which errs on the side of letting people speak.
    last_relayed: HashMap<UserKey, u64>,
    rx: mpsc::Receiver<Work>,
    /// Bumped after any `!retry`; every worker then replays its own link's retried events
    /// (links can share a moderation room, and so its commands, but not their events).
    retries: Arc<watch::Sender<u64>>,
    retried: watch::Receiver<u64>,
    /// The platforms' factories, for commands that read their message links.
    platforms: Arc<[Arc<dyn PlatformFactory>]>,
    /// The links in force, for `!link` and `!unlink`.
    links: crate::ops::links::LinksView,
    shutdown: CancellationToken,
    /// Beats on every turn of [`LinkWorker::run`] (see `ops::liveness`).
    beat: crate::ops::liveness::Beat,
    /// Rooms whose fresh copies are not recorded yet: an event answering one waits for it.
    unrecorded: crate::pipeline::outbox::unrecorded::Unrecorded,
}

impl std::fmt::Debug for LinkWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkWorker")
            .field("link", &self.link.id)
            .finish()
    }
}

/// A committed batch: its events (to acknowledge) and the jobs it queued (to run).
type Decided = Vec<(Effects, Vec<Work>)>;

/// Flushes decided batches, then acknowledges their events and enqueues their jobs, in order.
/// Runs until the worker drops its sender, so batches decided before a shutdown still finish.
///
/// A `!weblogin` is handed to the console here, once its event is durably seen: a crash
/// cannot replay it into a second link.
async fn commit(
    store: Store,
    outbox: Outbox,
    console: crate::ops::console::ConsoleSlot,
    link: String,
    mut rx: mpsc::Receiver<Decided>,
) {
    while let Some(first) = rx.recv().await {
        let mut ready = vec![first];
        while let Ok(more) = rx.try_recv() {
            ready.push(more);
        }
        if let Err(e) = store.flush().await {
            // Nothing is acknowledged: connectors deliver these events again, and the jobs they
            // queued are re-driven from the store at the next start.
            tracing::error!(%link, error = %e, "flush failed; events stay unacknowledged");
            continue;
        }
        for (fx, works) in ready.into_iter().flatten() {
            for w in works {
                let _ = w.into_submission().ack.send(());
            }
            outbox.enqueue(&fx.jobs);
            // The sign-in link is a secret: the console sends it directly, never through the
            // store or the outbox.
            for ask in fx.weblogins {
                crate::ops::console::weblogin::ask(&console, &store, &outbox, ask);
            }
        }
    }
}

/// What every link worker of one daemon shares.
#[derive(Debug, Clone)]
pub struct Shared {
    pub store: Store,
    pub outbox: Outbox,
    /// Bumped after any `!retry` (see `LinkWorker::retries`).
    pub retries: Arc<watch::Sender<u64>>,
    pub platforms: Arc<[Arc<dyn PlatformFactory>]>,
    pub shutdown: CancellationToken,
    pub liveness: Arc<crate::ops::liveness::Liveness>,
    /// The links in force, for `!link` and `!unlink`.
    pub links: crate::ops::links::LinksView,
    /// The moderation console, for `!weblogin` (empty when it is off).
    pub console: crate::ops::console::ConsoleSlot,
}

impl LinkWorker {
    /// Builds the worker for `link`, reading `rx`, and spawns its committer on `tracker`.
    pub fn new(
        link: LinkRecord,
        rx: mpsc::Receiver<Work>,
        shared: &Shared,
        tracker: &TaskTracker,
    ) -> Result<LinkWorker, LinkError> {
        let store = shared.store.clone();
        let rules = store.rules(&link.id)?.unwrap_or_default();
        let rules =
            CompiledRules::new(rules).map_err(|e| LinkError::Rules(link.id.to_string(), e))?;
        // A few batches in flight are enough to cover one fsync; more would only add latency.
        let (committer, pending) = mpsc::channel(4);
        let outbox = shared.outbox.clone();
        tracker.spawn(commit(
            store.clone(),
            outbox,
            shared.console.clone(),
            link.id.to_string(),
            pending,
        ));
        let beat = shared.liveness.register(format!("link {}", link.id));
        Ok(LinkWorker {
            link,
            store,
            committer,
            rules,
            last_relayed: HashMap::new(),
            rx,
            retried: shared.retries.subscribe(),
            retries: shared.retries.clone(),
            platforms: shared.platforms.clone(),
            links: shared.links.clone(),
            shutdown: shared.shutdown.clone(),
            beat,
            unrecorded: shared.outbox.unrecorded(),
        })
    }

    /// Runs until shutdown. The batch in hand is always finished; what is still queued is not
    /// acknowledged, so connectors deliver it again after a restart.
    pub async fn run(mut self) {
        // Events an admin asked to retry while the bridge was stopped (`civicbridge queue retry`).
        self.replay_retried().await;
        let mut idle = tokio::time::interval(crate::ops::liveness::BEAT_EVERY);
        loop {
            self.beat.beat();
            let first = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return,
                _ = idle.tick() => continue,
                changed = self.retried.changed() => {
                    // The sender lives as long as this worker (it holds it too).
                    if changed.is_err() {
                        return;
                    }
                    self.replay_retried().await;
                    continue;
                }
                w = self.rx.recv() => match w { Some(w) => w, None => return },
            };
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match self.rx.try_recv() {
                    Ok(w) => batch.push(w),
                    Err(_) => break,
                }
            }
            self.process(batch).await;
        }
    }

    async fn process(&mut self, batch: Vec<Work>) {
        // An event answering, editing or reacting to a copy the outbox has just posted in its
        // room waits for that copy's id to be recorded, or it would find nothing to refer to.
        // One deadline for the batch: a hanging send delays it once, not once per event.
        let deadline = tokio::time::Instant::now() + unrecorded::MAX_WAIT;
        for w in &batch {
            let event = &w.submission().event;
            if refers_to_a_message(&event.kind)
                && !self.unrecorded.settled(&event.room, deadline).await
            {
                tracing::warn!(room = %event.room, "a copy's receipt is late; deciding without it");
            }
        }
        self.refresh_config();
        let decided = match self.store.transact(|tx| {
            let mut fx = Effects::default();
            for w in &batch {
                self.handle_guarded(tx, w, &mut fx)?;
            }
            Ok(fx)
        }) {
            Ok(fx) => vec![(fx, batch)],
            // One bad event must not block the others: decide them one by one.
            Err(e) => {
                tracing::warn!(link = %self.link.id, error = %e, "batch failed; retrying events singly");
                self.process_singly(batch)
            }
        };
        for (fx, _) in &decided {
            self.last_relayed
                .extend(fx.relayed.iter().map(|(k, v)| (k.clone(), *v)));
        }
        // Only slow mode reads these, and only within its window: keep no more, or a link
        // would remember every sender it ever relayed.
        let window = self.rules.rules.slow_mode_secs.saturating_mul(1000);
        let now = crate::store::now_ms();
        self.last_relayed
            .retain(|_, at| window > 0 && now.saturating_sub(*at) < window);
        let asked_retry = decided
            .iter()
            .flat_map(|(_, works)| works)
            .any(|w| matches!(w, Work::Moderation(_)) && is_retry_command(&w.submission().event));
        let links_changed = decided.iter().any(|(fx, _)| fx.links_changed);

        // The committer only stops after this worker does; if it has stopped, nothing of this
        // batch is acknowledged and the connectors deliver it again after a restart.
        if self.committer.send(decided).await.is_err() {
            tracing::error!(link = %self.link.id, "the committer has stopped; events stay unacknowledged");
        }
        if asked_retry {
            self.retries.send_modify(|n| *n = n.wrapping_add(1));
        }
        // The transaction has returned, so what the command stored can be read.
        if links_changed {
            self.links.refresh();
        }
    }

    /// [`Self::handle`], with a panic turned into an aborted transaction: the event is then
    /// decided alone and, failing again, parked.
    fn handle_guarded(
        &self,
        tx: &mut Tx<'_>,
        work: &Work,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(tx, work, fx)))
            .unwrap_or_else(|p| {
                // The message stays in the log: it can quote the event's words.
                let text = crate::pipeline::dead_letter::panic_text(&*p);
                tracing::error!(link = %self.link.id, panic = %text, "handling an event panicked");
                Err(StoreError::Invalid(
                    "handling the event panicked (the log has the message)".into(),
                )
                .into())
            })
    }

    /// Decides each event in a transaction of its own. An event that fails alone (a store error
    /// or a panic) is parked with a notice to the moderation room and acknowledged, so it never
    /// blocks its connector's cursor; if even parking fails it stays unacknowledged.
    fn process_singly(&self, batch: Vec<Work>) -> Vec<(Effects, Vec<Work>)> {
        let mut done = Vec::new();
        for w in batch {
            let r = self.store.transact(|tx| {
                let mut fx = Effects::default();
                self.handle_guarded(tx, &w, &mut fx)?;
                Ok(fx)
            });
            let e = match r {
                Ok(fx) => {
                    done.push((fx, vec![w]));
                    continue;
                }
                Err(e) => e,
            };
            let ev = &w.submission().event;
            let parked = self.store.transact(|tx| {
                let why = crate::pipeline::dead_letter::ParkReason::Unhandled(e.to_string());
                let jobs = crate::pipeline::dead_letter::park_event(tx, &self.link, ev, &why)?;
                Ok(Effects {
                    jobs,
                    ..Effects::default()
                })
            });
            match parked {
                Ok(fx) => {
                    tracing::error!(
                        link = %self.link.id, event = %ev.id, error = %e,
                        "cannot handle event; parked it"
                    );
                    done.push((fx, vec![w]));
                }
                Err(pe) => tracing::error!(
                    link = %self.link.id, event = %ev.id, error = %e, park_error = %pe,
                    "cannot handle or park event; leaving it unacknowledged"
                ),
            }
        }
        done
    }

    /// Handles again the parked events of this link an admin asked to retry. Each is taken out
    /// of the parked tree in the same transaction that handles it, so a crash neither loses nor
    /// doubles it; one that fails again stays parked, with the new reason.
    pub async fn replay_retried(&mut self) {
        let wanted: Vec<_> = match self.store.parked() {
            Ok(items) => items
                .into_iter()
                .filter(|i| i.retry && i.link.as_ref() == Some(&self.link.id))
                .collect(),
            Err(e) => {
                tracing::error!(link = %self.link.id, error = %e, "cannot read parked events");
                return;
            }
        };
        for item in wanted {
            let r = self.store.transact(|tx| {
                let ev = match tx.take_retried_event(item.id)? {
                    Some(Ok(ev)) => ev,
                    Some(Err(why)) => {
                        return Err(StoreError::Corrupt(format!("parked event: {why}")).into())
                    }
                    None => return Ok(Effects::default()),
                };
                let (ack, _) = tokio::sync::oneshot::channel();
                let sub = civicbridge_api::Submission { event: ev, ack };
                let work = match &self.link.moderation_room {
                    Some(m) if *m == sub.event.room => Work::Moderation(sub),
                    _ => Work::Bridged {
                        sub,
                        hidden_in_name: false,
                    },
                };
                let mut fx = Effects::default();
                self.handle_guarded(tx, &work, &mut fx)?;
                Ok(fx)
            });
            let fx = match r {
                Ok(fx) => fx,
                Err(e) => {
                    tracing::warn!(link = %self.link.id, item = %item.id, error = %e, "a retried event failed again");
                    let kept = self
                        .store
                        .transact(|tx| tx.keep_parked(item.id, &e.to_string()));
                    if let Err(e) = kept {
                        tracing::error!(item = %item.id, error = %e, "cannot update a parked event");
                    }
                    continue;
                }
            };
            if self.committer.send(vec![(fx, Vec::new())]).await.is_err() {
                return;
            }
        }
    }

    /// Takes up the link's stored record and rules: a config reload changes them while the
    /// worker runs (see `ops::links`), and the next batch follows them.
    fn refresh_config(&mut self) {
        match self.store.link(&self.link.id) {
            Ok(Some(l)) if l != self.link => self.link = l,
            Ok(_) => {}
            Err(e) => tracing::error!(link = %self.link.id, error = %e, "cannot read the link"),
        }
        match self.store.rules(&self.link.id) {
            Ok(Some(r)) if r != self.rules.rules => match CompiledRules::new(r) {
                Ok(c) => self.rules = c,
                Err(e) => {
                    tracing::error!(link = %self.link.id, error = %e, "stored rules do not compile")
                }
            },
            Ok(_) => {}
            Err(e) => tracing::error!(link = %self.link.id, error = %e, "cannot read rules"),
        }
    }
}

/// Whether `ev` (an edit or a deletion) comes from the author of `mirror`, or from the
/// platform on the author's behalf.
fn by_author(ev: &Event, mirror: &MirrorRecord) -> bool {
    ev.sender.authority == Authority::PlatformChecked
        || (ev.room.platform == mirror.author.platform && ev.sender.id == mirror.author.id)
}

/// Where a message stands thread-wise: in a thread (`in_thread`) whose root is `root`.
fn thread_state(in_thread: bool, root: Option<&MirrorRecord>) -> ThreadState {
    match (in_thread, root) {
        (false, _) => ThreadState::None,
        (true, Some(r)) if r.unpublished => ThreadState::Stopped,
        (true, Some(r)) if r.published => ThreadState::Published,
        (true, _) => ThreadState::Unpublished,
    }
}

/// Whether a message in `room` that answers another (`replies`) answers one that never crossed
/// from there, or was deleted or taken down since: such a reply is held, never leaked.
fn replies_to_unshared(replies: bool, parent: Option<&MirrorRecord>, room: &RoomRef) -> bool {
    replies
        && parent.is_none_or(|r| r.deleted || (&r.source == room && r.crossed_rooms().is_empty()))
}

/// Whether a moderation-room event is a `!retry` command (the worker then replays what it
/// marked).
fn is_retry_command(ev: &Event) -> bool {
    matches!(&ev.kind, EventKind::Message(m) if m.text.to_plain().trim_start().starts_with("!retry"))
}
