//! One worker per link: handles the link's events one at a time, in order, durably.
//!
//! The worker takes whatever events are waiting (up to a batch) and decides each one inside a
//! single store transaction (dedupe, echo check, moderation, mirror records, pending items, outbox
//! jobs, audit entries). It then hands the batch to its committer and goes on with the next one.
//! The committer flushes (one fsync for every batch that arrived meanwhile) and only then
//! acknowledges the events to their connectors and hands the new jobs to the outbox, in batch
//! order. Grouping and pipelining the flush is what lets a durable bridge keep up with a burst:
//! an fsync costs milliseconds here, deciding an event tens of microseconds.

use crate::approval;
use crate::commands::Prepared;
use crate::moderation::{self, Candidate, CompiledRules, DropReason, ThreadState, Verdict};
use crate::moderation_room;
use crate::outbox::Outbox;
use crate::rules::Side;
use crate::store::{
    Author, Job, JobKind, LinkRecord, MirrorRecord, PendingItem, PendingKind, Store, StoreError,
    Tx, TxFailure,
};
use civicbridge_api::{
    Event, EventKind, Message, MirrorId, PendingId, RemoteMsgId, RoomRef, Submission,
};
use std::collections::HashMap;
use tokio::sync::mpsc;
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
    relayed: HashMap<String, u64>,
}

pub struct LinkWorker {
    link: LinkRecord,
    store: Store,
    /// Decided batches waiting for their flush, in order.
    committer: mpsc::Sender<Decided>,
    rules: CompiledRules,
    /// When each public sender last had a message relayed (slow mode). In memory: after a
    /// restart slow mode starts afresh, which errs on the side of letting people speak.
    last_relayed: HashMap<String, u64>,
    rx: mpsc::Receiver<Work>,
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

impl LinkWorker {
    /// Builds the worker and spawns its committer on `tracker`.
    pub fn new(
        link: LinkRecord,
        store: Store,
        outbox: Outbox,
        rx: mpsc::Receiver<Work>,
        shutdown: CancellationToken,
        tracker: &TaskTracker,
    ) -> Result<LinkWorker, LinkError> {
        let rules = store.rules(&link.id)?.unwrap_or_default();
        let rules =
            CompiledRules::new(rules).map_err(|e| LinkError::Rules(link.id.to_string(), e))?;
        // A few batches in flight are enough to cover one fsync; more would only add latency.
        let (committer, pending) = mpsc::channel(4);
        tracker.spawn(commit(store.clone(), outbox, link.id.to_string(), pending));
        Ok(LinkWorker {
            link,
            store,
            committer,
            rules,
            last_relayed: HashMap::new(),
            rx,
            shutdown,
        })
    }

    /// Runs until shutdown. The batch in hand is always finished; what is still queued is not
    /// acknowledged, so connectors deliver it again after a restart.
    pub async fn run(mut self) {
        loop {
            let first = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return,
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
        let queue = self.prepare(&batch);
        let decided = match self.store.transact(|tx| {
            let mut fx = Effects::default();
            for w in &batch {
                self.handle(tx, w, &queue, &mut fx)?;
            }
            Ok(fx)
        }) {
            Ok(fx) => vec![(fx, batch)],
            // One bad event must not block the others: decide them one by one.
            Err(e) => {
                tracing::warn!(link = %self.link.id, error = %e, "batch failed; retrying events singly");
                self.process_singly(batch, &queue)
            }
        };
        for (fx, _) in &decided {
            self.last_relayed
                .extend(fx.relayed.iter().map(|(k, v)| (k.clone(), *v)));
        }
        // The committer only stops after this worker does.
        let _ = self.committer.send(decided).await;
    }

    fn process_singly(&self, batch: Vec<Work>, queue: &Prepared) -> Vec<(Effects, Vec<Work>)> {
        let mut done = Vec::new();
        for w in batch {
            let r = self.store.transact(|tx| {
                let mut fx = Effects::default();
                self.handle(tx, &w, queue, &mut fx)?;
                Ok(fx)
            });
            match r {
                Ok(fx) => done.push((fx, vec![w])),
                Err(e) => tracing::error!(
                    link = %self.link.id, event = %w.submission().event.id, error = %e,
                    "cannot handle event; leaving it unacknowledged"
                ),
            }
        }
        done
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

    /// Some commands need a scan, which cannot run inside a transaction: gather it beforehand,
    /// only when the batch has such a command.
    fn prepare(&self, batch: &[Work]) -> Prepared {
        let asked = batch
            .iter()
            .any(|w| moderation_room::needs_scan(&w.submission().event));
        match (&self.link.moderation_room, asked) {
            (Some(here), true) => Prepared::gather(&self.store, here),
            _ => Prepared::default(),
        }
    }

    fn handle(
        &self,
        tx: &mut Tx<'_>,
        work: &Work,
        queue: &Prepared,
        fx: &mut Effects,
    ) -> Result<(), TxFailure> {
        let ev = &work.submission().event;
        let _span =
            tracing::debug_span!("event", link = %self.link.id, event = %ev.id, room = %ev.room)
                .entered();
        if !tx.mark_seen(ev.room.platform, &ev.id)? {
            tracing::debug!("replayed event dropped");
            return Ok(());
        }
        match work {
            Work::Bridged(_) => self.bridged(tx, ev, queue, fx),
            Work::Moderation(_) => moderation_room::handle(tx, &self.link, ev, queue, &mut fx.jobs),
        }
    }

    // ---- events in bridged rooms ------------------------------------------------------------

    fn bridged(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        prepared: &Prepared,
        fx: &mut Effects,
    ) -> Result<(), TxFailure> {
        match &ev.kind {
            EventKind::Message(m)
                if self.link.side_of(&ev.room) == Some(Side::Staff)
                    && moderation_room::staff_command(
                        tx,
                        &self.link,
                        ev,
                        m,
                        prepared,
                        &mut fx.jobs,
                    )? =>
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
    ) -> Result<(), TxFailure> {
        if tx.lookup_message(&ev.room, &m.id)?.is_some() {
            // Our own copy reported back (an echo the connector could not flag), or a replay
            // under a different event id.
            return Ok(());
        }
        let Some(from) = self.link.side_of(&ev.room) else {
            return Ok(());
        };
        let sender = sender_key(ev);
        let reply_to = match &m.reply_to {
            Some(r) => tx
                .mirror_of(&ev.room, r)?
                .map(|id| tx.mirror(id))
                .transpose()?
                .flatten(),
            None => None,
        };
        let reply_to_unbridged = m.reply_to.is_some()
            && reply_to
                .as_ref()
                .is_none_or(|r| r.source == ev.room && r.copies.is_empty());
        let mut thread_root = match &m.thread {
            Some(t) => tx
                .thread_root(&ev.room, t)?
                .map(|id| tx.mirror(id))
                .transpose()?
                .flatten(),
            None => None,
        };
        let thread = match (&m.thread, &thread_root) {
            (None, _) => ThreadState::None,
            (Some(_), Some(root)) if root.unpublished => ThreadState::Stopped,
            (Some(_), Some(root)) if root.published => ThreadState::Published,
            (Some(_), _) => ThreadState::Unpublished,
        };
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
        tx.insert_mirror(&mirror)?;
        for target in &forward {
            fx.jobs.push(tx.push_job(
                &self.link.id,
                target,
                JobKind::Send { mirror: mirror.id },
            )?);
        }
        if !hold.is_empty() {
            let item = self.held_item(tx, mirror.id, PendingKind::Message, &hold);
            self.hold(tx, item, &mirror, fx)?;
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
        let mut reasons: Vec<&str> = Vec::new();
        for (_, r) in held {
            if !reasons.contains(&r.as_str()) {
                reasons.push(r);
            }
        }
        PendingItem {
            id: PendingId(0),
            link: self.link.id.clone(),
            mirror,
            kind,
            targets: held.iter().map(|(r, _)| r.clone()).collect(),
            reason: reasons.join("; "),
            held_at_ms: tx.now_ms(),
            card: None,
            card_job: None,
        }
    }

    fn hold(
        &self,
        tx: &mut Tx<'_>,
        item: PendingItem,
        mirror: &MirrorRecord,
        fx: &mut Effects,
    ) -> Result<(), TxFailure> {
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
    ) -> Result<Option<MirrorRecord>, TxFailure> {
        let Some(id) = tx.mirror_of(room, msg)? else {
            return Ok(None);
        };
        Ok(tx.mirror(id)?.filter(|m| &m.source == room && !m.deleted))
    }

    fn edit(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        target: &RemoteMsgId,
        new: &Message,
        fx: &mut Effects,
    ) -> Result<(), TxFailure> {
        let Some(mut mirror) = self.own_source(tx, &ev.room, target)? else {
            return Ok(());
        };
        let copied: Vec<RoomRef> = mirror
            .copies
            .iter()
            .filter(|c| !c.ids.is_empty())
            .map(|c| c.room.clone())
            .collect();
        if copied.is_empty() {
            // Still held (or refused everywhere): the moderators will see the latest text.
            mirror.text = new.text.clone();
            return tx.put_mirror(&mirror);
        }
        // Per copy: the edit policy depends on the direction (public→staff edits go back to
        // the queue by default). Held copies keep the old text until a moderator approves.
        let from = self.link.side_of(&ev.room).unwrap_or(Side::Public);
        let sender = sender_key(ev);
        let mut follow = Vec::new();
        let mut held: Vec<(RoomRef, String)> = Vec::new();
        for room in copied {
            let to = self.link.side_of(&room).unwrap_or(Side::Public);
            let policy = self.rules.rules.edit_policy(from, to);
            match moderation::evaluate_edit_under(&self.rules, policy, &sender, new) {
                Verdict::Forward => follow.push(room),
                Verdict::Hold(why) => held.push((room, why.to_string())),
                Verdict::Drop(why) => {
                    tracing::info!(target = %room, reason = %why, "edit not relayed")
                }
            }
        }
        if !follow.is_empty() {
            mirror.text = new.text.clone();
            tx.put_mirror(&mirror)?;
            for room in &follow {
                fx.jobs.push(tx.push_job(
                    &self.link.id,
                    room,
                    JobKind::Edit { mirror: mirror.id },
                )?);
            }
        }
        if !held.is_empty() {
            let kind = PendingKind::Edit {
                text: new.text.clone(),
            };
            let item = self.held_item(tx, mirror.id, kind, &held);
            self.hold(tx, item, &mirror, fx)?;
        }
        Ok(())
    }

    fn delete(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        target: &RemoteMsgId,
        fx: &mut Effects,
    ) -> Result<(), TxFailure> {
        let Some(mut mirror) = self.own_source(tx, &ev.room, target)? else {
            return Ok(());
        };
        mirror.deleted = true;
        tx.put_mirror(&mirror)?;
        for c in &mirror.copies {
            fx.jobs.push(tx.push_job(
                &self.link.id,
                &c.room,
                JobKind::Delete { mirror: mirror.id },
            )?);
        }
        Ok(())
    }
}

/// `platform:user` of an event's sender: how rules and moderator lists name people.
pub fn sender_key(ev: &Event) -> String {
    format!("{}:{}", ev.room.platform, ev.sender.id)
}
