//! One worker per link: handles the link's events one at a time, in order, durably.
//!
//! The worker takes whatever events are waiting (up to a batch) and decides each one inside a
//! single store transaction (dedupe, echo check, moderation, mirror records, pending items, outbox
//! jobs, audit entries). It then hands the batch to its committer and goes on with the next one.
//! The committer flushes (one fsync for every batch that arrived meanwhile) and only then
//! acknowledges the events to their connectors and hands the new jobs to the outbox, in batch
//! order. Grouping and pipelining the flush is what lets a durable bridge keep up with a burst:
//! an fsync costs milliseconds here, deciding an event tens of microseconds.

use crate::approval::{self, Actor, Command, Decision, Refusal};
use crate::audit::{AuditAction, AuditDraft};
use crate::moderation::{self, Candidate, CompiledRules, ThreadState, Verdict};
use crate::outbox::{self, Outbox};
use crate::store::{
    Author, IndexEntry, Job, JobKind, LinkRecord, MirrorRecord, PendingItem, PendingKind, Store,
    StoreError, Tx, TxFailure,
};
use civicbridge_api::{
    Event, EventKind, Message, PendingId, RemoteMsgId, RichText, RoomRef, Submission,
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
        let queue = self.queue_listing_if_asked(&batch);
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

    fn process_singly(
        &self,
        batch: Vec<Work>,
        queue: &Option<String>,
    ) -> Vec<(Effects, Vec<Work>)> {
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

    /// `!queue` needs a scan, which cannot run inside a transaction: prepare it beforehand.
    fn queue_listing_if_asked(&self, batch: &[Work]) -> Option<String> {
        let asked = batch.iter().any(|w| match (w, &w.submission().event.kind) {
            (Work::Moderation(_), EventKind::Message(m)) => {
                matches!(
                    approval::parse(&m.text.to_plain()),
                    Some(Ok(Command::Queue))
                )
            }
            _ => false,
        });
        if !asked {
            return None;
        }
        // Only items of links moderated from this room: other links' queues are not ours to show.
        let here = &self.link.moderation_room;
        let items: Vec<_> = self
            .store
            .pending()
            .unwrap_or_default()
            .into_iter()
            .filter(|i| {
                self.store
                    .link(&i.link)
                    .ok()
                    .flatten()
                    .is_some_and(|l| &l.moderation_room == here)
            })
            .collect();
        let mut lines = vec![format!("{} held item(s)", items.len())];
        for item in items {
            let who = self
                .store
                .mirror(item.mirror)
                .ok()
                .flatten()
                .map(|m| {
                    // Named as this room may see them (a pseudonym, per link).
                    let who = match here {
                        Some(room) => self.store.shown_author(&m, room).map(|s| s.name),
                        None => Ok(m.author.display_name.clone()),
                    };
                    format!(
                        "{}: {}",
                        who.unwrap_or_default(),
                        crate::render::excerpt(&m.text)
                    )
                })
                .unwrap_or_default();
            lines.push(format!(
                "{} [{}] {} — {}",
                item.id, item.link, who, item.reason
            ));
        }
        Some(lines.join("\n"))
    }

    fn handle(
        &self,
        tx: &mut Tx<'_>,
        work: &Work,
        queue: &Option<String>,
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
            Work::Bridged(_) => self.bridged(tx, ev, fx),
            Work::Moderation(_) => self.moderation(tx, ev, queue, fx),
        }
    }

    // ---- events in bridged rooms ------------------------------------------------------------

    fn bridged(&self, tx: &mut Tx<'_>, ev: &Event, fx: &mut Effects) -> Result<(), TxFailure> {
        match &ev.kind {
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
                    tracing::info!(target = %target.room, reason = %why, "not relayed")
                }
            }
        }
        if forward.is_empty() && hold.is_empty() {
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
            // Targets may be held for different reasons; each reason is listed once.
            let mut reasons: Vec<&str> = Vec::new();
            for (_, r) in &hold {
                if !reasons.contains(&r.as_str()) {
                    reasons.push(r);
                }
            }
            let item = PendingItem {
                id: PendingId(0),
                link: self.link.id.clone(),
                mirror: mirror.id,
                kind: PendingKind::Message,
                targets: hold.iter().map(|(r, _)| r.clone()).collect(),
                reason: reasons.join("; "),
                held_at_ms: tx.now_ms(),
                card: None,
            };
            self.hold(tx, item, &mirror, fx)?;
        }
        Ok(())
    }

    fn hold(
        &self,
        tx: &mut Tx<'_>,
        item: PendingItem,
        mirror: &MirrorRecord,
        fx: &mut Effects,
    ) -> Result<(), TxFailure> {
        let item = tx.put_pending(item)?;
        tx.audit(AuditDraft {
            actor: "bridge".into(),
            action: AuditAction::Held,
            link: Some(self.link.id.clone()),
            subject: Some(item.id.to_string()),
            detail: serde_json::json!({ "mirror": mirror.id, "author": mirror.author.key(), "reason": item.reason }),
        })?;
        if let Some(room) = &self.link.moderation_room {
            fx.jobs.push(outbox::queue_card(tx, &item, mirror, room)?);
        }
        tracing::info!(pending = %item.id, reason = %item.reason, "held for approval");
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
        match moderation::evaluate_edit(&self.rules, &sender_key(ev), new) {
            Verdict::Forward => {
                mirror.text = new.text.clone();
                tx.put_mirror(&mirror)?;
                for room in &copied {
                    fx.jobs.push(tx.push_job(
                        &self.link.id,
                        room,
                        JobKind::Edit { mirror: mirror.id },
                    )?);
                }
            }
            Verdict::Hold(why) => {
                let item = PendingItem {
                    id: PendingId(0),
                    link: self.link.id.clone(),
                    mirror: mirror.id,
                    kind: PendingKind::Edit {
                        text: new.text.clone(),
                    },
                    targets: copied,
                    reason: why.to_string(),
                    held_at_ms: tx.now_ms(),
                    card: None,
                };
                self.hold(tx, item, &mirror, fx)?;
            }
            Verdict::Drop(why) => tracing::info!(reason = %why, "edit not relayed"),
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

    // ---- the moderation room ----------------------------------------------------------------

    fn moderation(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        queue: &Option<String>,
        fx: &mut Effects,
    ) -> Result<(), TxFailure> {
        let actor = sender_key(ev);
        match &ev.kind {
            EventKind::Message(m) => {
                let Some(cmd) = approval::parse(&m.text.to_plain()) else {
                    return Ok(());
                };
                let reply = match cmd {
                    Err(usage) => usage,
                    Ok(Command::Help) => approval::USAGE.to_owned(),
                    Ok(Command::Queue) if !self.link.is_moderator(&actor) => {
                        refusal(Refusal::NotAModerator, &self.link)
                    }
                    Ok(Command::Queue) => queue.clone().unwrap_or_default(),
                    Ok(Command::Approve(id)) => self.decide(tx, id, Decision::Approve, ev, fx)?,
                    Ok(Command::Reject(id, reason)) => {
                        self.decide(tx, id, Decision::Reject(reason), ev, fx)?
                    }
                };
                self.notice(tx, &ev.room, reply, fx)
            }
            EventKind::Reaction { target, key } => {
                let Some(IndexEntry::Card(id)) = tx.lookup_message(&ev.room, target)? else {
                    return Ok(());
                };
                let decision = match key.trim_end_matches('\u{fe0f}') {
                    "✅" | "✔" | "👍" => Decision::Approve,
                    "❌" | "👎" => Decision::Reject(None),
                    _ => return Ok(()),
                };
                // A decided card ignores later reactions; a non-moderator's reaction is only
                // audited (inside `decide`), with no reply, so it cannot be used to spam the room.
                if tx.pending(id)?.is_none() {
                    return Ok(());
                }
                if let Ok(decided) = approval::decide(tx, id, &decision, &Actor::Person(actor))? {
                    fx.jobs.extend(decided.jobs);
                    let verb = if decision == Decision::Approve {
                        "approved"
                    } else {
                        "rejected"
                    };
                    self.notice(
                        tx,
                        &ev.room,
                        format!("{id} {verb} by {}", ev.sender.display_name),
                        fx,
                    )?;
                }
                Ok(())
            }
            EventKind::Edit { .. } | EventKind::Delete { .. } => Ok(()),
        }
    }

    fn decide(
        &self,
        tx: &mut Tx<'_>,
        id: PendingId,
        d: Decision,
        ev: &Event,
        fx: &mut Effects,
    ) -> Result<String, TxFailure> {
        let verb = match d {
            Decision::Approve => "approved",
            Decision::Reject(_) => "rejected",
        };
        Ok(
            match approval::decide(tx, id, &d, &Actor::Person(sender_key(ev)))? {
                Ok(decided) => {
                    fx.jobs.extend(decided.jobs);
                    format!("{id} {verb} by {}", ev.sender.display_name)
                }
                Err(r) => refusal(r, &self.link),
            },
        )
    }

    fn notice(
        &self,
        tx: &mut Tx<'_>,
        room: &RoomRef,
        text: String,
        fx: &mut Effects,
    ) -> Result<(), TxFailure> {
        if text.is_empty() {
            return Ok(());
        }
        let kind = JobKind::Notice {
            text: RichText::plain(text),
            card: None,
        };
        fx.jobs.push(tx.push_job(&self.link.id, room, kind)?);
        Ok(())
    }
}

fn refusal(r: Refusal, link: &LinkRecord) -> String {
    match r {
        Refusal::NoSuchItem(id) => format!("There is no held item {id} (already decided?)"),
        Refusal::NotAModerator => {
            format!("Sorry, only moderators of link {} can do that.", link.id)
        }
    }
}

/// `platform:user` of an event's sender: how rules and moderator lists name people.
pub fn sender_key(ev: &Event) -> String {
    format!("{}:{}", ev.room.platform, ev.sender.id)
}
