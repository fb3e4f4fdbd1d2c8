//! One worker per link: handles the link's events one at a time, in order, durably.
//!
//! The worker takes whatever events are waiting (up to a batch) and decides each one inside a
//! single store transaction (dedupe, echo check, moderation, mirror records, pending items, outbox
//! jobs, audit entries). It then hands the batch to its committer and goes on with the next one.
//! The committer flushes (one fsync for every batch that arrived meanwhile) and only then
//! acknowledges the events to their connectors and hands the new jobs to the outbox, in batch
//! order. Grouping and pipelining the flush is what lets a durable bridge keep up with a burst:
//! an fsync costs milliseconds here, deciding an event tens of microseconds.

use crate::moderation::approval;
use crate::store::prelude::*;

use crate::moderation::cards::Withdrawal;
use crate::moderation::room;
use crate::moderation::rules::Side;
use crate::moderation::{self, Candidate, CompiledRules, DropReason, ThreadState, Verdict};
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
    /// An event in one of the link's bridged rooms.
    Bridged(Submission),
    /// An event in the link's moderation room.
    Moderation(Submission),
}

impl Work {
    fn submission(&self) -> &Submission {
        match self {
            Work::Bridged(s) | Work::Moderation(s) => s,
        }
    }
    fn into_submission(self) -> Submission {
        match self {
            Work::Bridged(s) | Work::Moderation(s) => s,
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
    shutdown: CancellationToken,
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
async fn commit(store: Store, outbox: Outbox, link: String, mut rx: mpsc::Receiver<Decided>) {
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
        tracker.spawn(commit(store.clone(), outbox, link.id.to_string(), pending));
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
            shutdown: shared.shutdown.clone(),
        })
    }

    /// Runs until shutdown. The batch in hand is always finished; what is still queued is not
    /// acknowledged, so connectors deliver it again after a restart.
    pub async fn run(mut self) {
        // Events an admin asked to retry while the bridge was stopped (`civicbridge queue retry`).
        self.replay_retried().await;
        loop {
            let first = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return,
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
        self.refresh_rules();
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
        let asked_retry = decided
            .iter()
            .flat_map(|(_, works)| works)
            .any(|w| matches!(w, Work::Moderation(_)) && is_retry_command(&w.submission().event));
        // The committer only stops after this worker does; if it has stopped, nothing of this
        // batch is acknowledged and the connectors deliver it again after a restart.
        if self.committer.send(decided).await.is_err() {
            tracing::error!(link = %self.link.id, "the committer has stopped; events stay unacknowledged");
        }
        if asked_retry {
            self.retries.send_modify(|n| *n = n.wrapping_add(1));
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
                    _ => Work::Bridged(sub),
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

    fn refresh_rules(&mut self) {
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

    fn handle(&self, tx: &mut Tx<'_>, work: &Work, fx: &mut Effects) -> Result<(), TxError> {
        let ev = &work.submission().event;
        let _span =
            tracing::debug_span!("event", link = %self.link.id, event = %ev.id, room = %ev.room)
                .entered();
        if !tx.mark_seen(ev.room.platform, &ev.id)? {
            tracing::debug!("replayed event dropped");
            return Ok(());
        }
        match work {
            Work::Bridged(_) => self.bridged(tx, ev, fx),
            Work::Moderation(_) => room::handle(tx, &self.link, ev, &self.platforms, &mut fx.jobs),
        }
    }

    // ---- events in bridged rooms ------------------------------------------------------------

    fn bridged(&self, tx: &mut Tx<'_>, ev: &Event, fx: &mut Effects) -> Result<(), TxError> {
        match &ev.kind {
            EventKind::Message(m)
                if self.link.side_of(&ev.room) == Some(Side::Staff)
                    && room::staff_command(tx, &self.link, ev, m, &mut fx.jobs)? =>
            {
                Ok(())
            }
            EventKind::Message(m) => self.message(tx, ev, m, fx),
            EventKind::Edit { target, new } => self.edit(tx, ev, target, new, fx),
            EventKind::Delete { target } => self.delete(tx, ev, target, fx),
            // Reactions in bridged rooms are not relayed.
            EventKind::Reaction { .. } => Ok(()),
        }
    }

    fn message(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        m: &Message,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        if tx.lookup_message(&ev.room, &m.id)?.is_some() {
            // Our own copy reported back (an echo the connector could not flag), or a replay
            // under a different event id.
            return Ok(());
        }
        let Some(from) = self.link.side_of(&ev.room) else {
            return Ok(());
        };
        let sender = ev.sender_key();
        let reply_to = match &m.reply_to {
            Some(r) => tx
                .mirror_of(&ev.room, r)?
                .map(|id| tx.mirror(id))
                .transpose()?
                .flatten(),
            None => None,
        };
        let reply_to_unbridged =
            replies_to_unshared(m.reply_to.is_some(), reply_to.as_ref(), &ev.room);
        let mut thread_root = match &m.thread {
            Some(t) => tx
                .thread_root(&ev.room, t)?
                .map(|id| tx.mirror(id))
                .transpose()?
                .flatten(),
            None => None,
        };
        let thread = thread_state(m.thread.is_some(), thread_root.as_ref());
        // Remember which thread a root heads in its own room, so replies from elsewhere go there.
        if let (Some(t), Some(root)) = (&m.thread, thread_root.as_mut()) {
            if root.source == ev.room && root.source_thread.is_none() {
                root.source_thread = Some(t.clone());
                tx.put_mirror(root)?;
                tx.put_thread(&ev.room, t, root.id)?;
            }
        }
        let since_last_ms = fx
            .relayed
            .get(&sender)
            .or_else(|| self.last_relayed.get(&sender))
            .map(|t| tx.now_ms().saturating_sub(*t));

        let mut forward = Vec::new();
        let mut hold: Vec<(RoomRef, String)> = Vec::new();
        let mut candidate_root = false;
        for target in self.link.rooms.iter().filter(|r| r.room != ev.room) {
            let c = Candidate {
                from,
                to: target.side,
                message: m,
                sender: &sender,
                thread,
                reply_to_unbridged,
                since_last_ms,
            };
            match moderation::evaluate(&self.rules, &c) {
                Verdict::Forward => forward.push(target.room.clone()),
                Verdict::Hold(why) => hold.push((target.room.clone(), why.to_string())),
                Verdict::Drop(why) => {
                    // Under scope `on_request`, a message outside a thread may be published
                    // later (`!publish`): keep it, uncopied.
                    candidate_root |= why == DropReason::NotPublished && m.thread.is_none();
                    tracing::info!(target = %target.room, reason = %why, "not relayed")
                }
            }
        }
        if forward.is_empty() && hold.is_empty() && !candidate_root {
            return Ok(());
        }
        let mut mirror = MirrorRecord::new(
            tx.new_mirror_id()?,
            self.link.id.clone(),
            ev.room.clone(),
            m.id.clone(),
            Author {
                platform: ev.room.platform,
                id: ev.sender.id.clone(),
                display_name: ev.sender.display_name.clone(),
                avatar_url: ev.sender.avatar_url.clone(),
            },
            m.text.clone(),
        );
        mirror.attachments = m.attachments.clone();
        mirror.reply_to = reply_to.map(|r| r.id);
        mirror.thread_root = thread_root.map(|r| r.id);
        mirror.at_ms = ev.at_ms;
        // A message in a thread whose start never crossed (a resident's own forum topic, a
        // Discord thread on an unbridged message) heads that thread for the bridge: answers to
        // its copies go back into the same topic or thread, not into a new one.
        if let (Some(t), None) = (&m.thread, mirror.thread_root) {
            mirror.source_thread = Some(t.clone());
            tx.put_thread(&ev.room, t, mirror.id)?;
        }
        if !forward.is_empty() {
            // A root that crosses on its own publishes its thread.
            mirror.published = mirror.thread_root.is_none();
            fx.relayed.insert(sender.clone(), tx.now_ms());
        }
        for target in &forward {
            approval::release(&mut mirror, target);
        }
        tx.insert_mirror(&mirror)?;
        for target in &forward {
            fx.jobs.push(tx.push_job(
                &self.link.id,
                target,
                JobKind::send(mirror.id, mirror.text.clone()),
            )?);
        }
        if !hold.is_empty() {
            let item = self.held_item(tx, mirror.id, PendingKind::Message, &hold);
            self.hold(tx, item, &mut mirror, fx)?;
        }
        Ok(())
    }

    /// A new pending item for `mirror`, held for these targets. Targets may be held for
    /// different reasons; each reason is listed once.
    fn held_item(
        &self,
        tx: &Tx<'_>,
        mirror: MirrorId,
        kind: PendingKind,
        held: &[(RoomRef, String)],
    ) -> PendingItem {
        PendingItem::new(
            self.link.id.clone(),
            mirror,
            kind,
            held.iter().map(|(r, _)| r.clone()).collect(),
            approval::reasons(held),
            tx.now_ms(),
        )
    }

    fn hold(
        &self,
        tx: &mut Tx<'_>,
        item: PendingItem,
        mirror: &mut MirrorRecord,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let (_, jobs) = approval::hold(tx, &self.link, item, mirror)?;
        fx.jobs.extend(jobs);
        Ok(())
    }

    /// The bridged message whose source is `msg` in `room` (edits and deletes of copies are the
    /// bridge's own doing and are ignored).
    fn own_source(
        &self,
        tx: &Tx<'_>,
        room: &RoomRef,
        msg: &RemoteMsgId,
    ) -> Result<Option<MirrorRecord>, TxError> {
        let Some(id) = tx.mirror_of(room, msg)? else {
            return Ok(None);
        };
        Ok(tx.mirror(id)?.filter(|m| &m.source == room && !m.deleted))
    }

    /// An edit at the source. It counts only from the message's author (Matrix lets anyone in
    /// the room send an `m.replace`); an edit with nothing in it is ignored (Discord sends empty
    /// text to a bot without the Message Content intent). Then, in this order:
    /// - a held item about the message (the message itself, or an earlier edit of it) gets a new
    ///   revision: the filters run again on the new text and the moderators get a new card;
    /// - for every room a copy is in or on its way to, and not covered by a held item, the edit
    ///   policy of that direction decides: follow now, back to the queue, or not at all;
    /// - a message neither held nor crossing (kept for a later `!publish`) takes the new text.
    fn edit(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        target: &RemoteMsgId,
        new: &Message,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let Some(mut mirror) = self.own_source(tx, &ev.room, target)? else {
            return Ok(());
        };
        if !by_author(ev, &mirror) {
            tracing::warn!(
                sender = %ev.sender_key(), mirror = %mirror.id,
                "an edit of someone else's message was ignored (only the author edits)"
            );
            return Ok(());
        }
        if moderation::is_blank(new) {
            tracing::info!(mirror = %mirror.id, "an empty edit was ignored");
            return Ok(());
        }
        let from = self.link.side_of(&ev.room).unwrap_or(Side::Public);
        // The rules judge the author (the platform may vouch for an edit without naming them).
        let author = mirror.author.key();
        let in_thread = mirror.thread_root.is_some();

        let mut covered: Vec<RoomRef> = Vec::new();
        let mut revised = false;
        for item in approval::held_items(tx, &mirror)? {
            covered.extend(item.targets.iter().cloned());
            let rev = self.revision(tx, &item, &mirror, new, from, &author)?;
            fx.jobs
                .extend(approval::revise(tx, &self.link, item, &mut mirror, rev)?);
            revised = true;
        }

        let crossing: Vec<RoomRef> = mirror
            .crossed_rooms()
            .into_iter()
            .filter(|r| !covered.contains(r))
            .collect();
        let mut follow = Vec::new();
        let mut held: Vec<(RoomRef, String)> = Vec::new();
        for room in &crossing {
            let to = self.link.side_of(room).unwrap_or(Side::Public);
            match moderation::evaluate_edit(&self.rules, from, to, in_thread, &author, new) {
                Verdict::Forward => follow.push(room.clone()),
                Verdict::Hold(why) => held.push((room.clone(), why.to_string())),
                Verdict::Drop(why) => {
                    tracing::info!(target = %room, reason = %why, "edit not relayed")
                }
            }
        }
        if !follow.is_empty() || (crossing.is_empty() && !revised) {
            mirror.text = new.text.clone();
        }
        tx.put_mirror(&mirror)?;
        for room in &follow {
            fx.jobs.push(tx.push_job(
                &self.link.id,
                room,
                JobKind::edit(mirror.id, new.text.clone()),
            )?);
        }
        if !held.is_empty() {
            let kind = PendingKind::Edit {
                text: new.text.clone(),
            };
            let item = self.held_item(tx, mirror.id, kind, &held);
            self.hold(tx, item, &mut mirror, fx)?;
        }
        Ok(())
    }

    /// What an edit makes of a held item: the filters run again, per target, as for a new
    /// message (for an edit of a crossed message: as for an edit). A target the rules would now
    /// let through stays held: a moderator already has the item in front of them.
    fn revision(
        &self,
        tx: &Tx<'_>,
        item: &PendingItem,
        mirror: &MirrorRecord,
        new: &Message,
        from: Side,
        author: &UserKey,
    ) -> Result<approval::Revision, TxError> {
        let parent = mirror.reply_to.map(|p| tx.mirror(p)).transpose()?.flatten();
        let root = mirror
            .thread_root
            .map(|r| tx.mirror(r))
            .transpose()?
            .flatten();
        let mut content = new.clone();
        if content.attachments.is_empty() {
            content.attachments = item.attachments(mirror).to_vec();
        }
        let mut rev = approval::Revision {
            text: new.text.clone(),
            attachments: Some(content.attachments.clone()),
            held: Vec::new(),
            dropped: Vec::new(),
        };
        for target in &item.targets {
            let to = self.link.side_of(target).unwrap_or(Side::Public);
            let verdict = match item.kind {
                PendingKind::Message => moderation::evaluate(
                    &self.rules,
                    &Candidate {
                        from,
                        to,
                        message: &content,
                        sender: author,
                        thread: thread_state(mirror.thread_root.is_some(), root.as_ref()),
                        reply_to_unbridged: replies_to_unshared(
                            mirror.reply_to.is_some(),
                            parent.as_ref(),
                            &mirror.source,
                        ),
                        since_last_ms: None,
                    },
                ),
                PendingKind::Edit { .. } => moderation::evaluate_edit(
                    &self.rules,
                    from,
                    to,
                    mirror.thread_root.is_some(),
                    author,
                    &content,
                ),
            };
            match verdict {
                Verdict::Forward => rev.held.push((
                    target.clone(),
                    moderation::HoldReason::EditedWhileHeld.to_string(),
                )),
                Verdict::Hold(why) => rev.held.push((target.clone(), why.to_string())),
                Verdict::Drop(why) => rev.dropped.push((target.clone(), why.to_string())),
            }
        }
        Ok(rev)
    }

    /// A deletion at the source. It counts from the author, or when the platform vouches for
    /// it (Discord only lets the author or a moderator delete, and does not say who): the held
    /// items are withdrawn and every copy removed. From someone who may remove other people's
    /// messages in that room (Matrix: power level at least the room's `redact` level) it is a
    /// takedown, audited as theirs. Anyone else's is ignored and logged.
    fn delete(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        target: &RemoteMsgId,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let Some(mut mirror) = self.own_source(tx, &ev.room, target)? else {
            return Ok(());
        };
        let takedown = match (by_author(ev, &mirror), ev.sender.authority) {
            (true, _) => false,
            (false, Authority::Moderator) => true,
            (false, Authority::PlatformChecked) => false,
            (false, Authority::Member) => {
                tracing::warn!(
                    sender = %ev.sender_key(), mirror = %mirror.id,
                    "a deletion of someone else's message by a member who may not remove it was ignored"
                );
                return Ok(());
            }
        };
        let (jobs, _) = if takedown {
            approval::take_down(
                tx,
                &self.link,
                &mut mirror,
                &crate::moderation::audit::AuditActor::Person(ev.sender_key()),
                &ev.sender.display_name,
                "deleted in its own room by someone who may remove others' messages",
            )?
        } else {
            approval::remove(
                tx,
                &self.link,
                &mut mirror,
                &Withdrawal::Deleted,
                &crate::moderation::audit::AuditActor::Bridge,
            )?
        };
        fx.jobs.extend(jobs);
        Ok(())
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
