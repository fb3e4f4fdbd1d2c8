//! `FakeConnector`: an in-process platform for tests of the core.

use crate::connector::{Capabilities, Connector, ConnectorState, EventSink, Health, RoomInfo};
use crate::error::ConnectorError;
use crate::event::{Event, EventKind, Message, Sender};
use crate::ids::{InboundId, Platform, RemoteMsgId, RoomId, RoomRef, ThreadId};
use crate::outgoing::{Outgoing, SendReceipt, ThreadTarget};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// A message the bridge posted on the fake platform, as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub id: RemoteMsgId,
    pub out: Outgoing,
    /// The thread the message landed in.
    pub thread: Option<ThreadId>,
    pub deleted: bool,
    /// Every text this message had after an edit, oldest first.
    pub edits: Vec<Outgoing>,
    pub reactions: Vec<String>,
    /// When it was posted, on tokio's clock (paused in tests that check retry timing).
    pub at: tokio::time::Instant,
}

/// One call the bridge made, in order, successful or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeOp {
    Send {
        room: RoomId,
        ok: bool,
    },
    Edit {
        id: RemoteMsgId,
        ok: bool,
    },
    Delete {
        id: RemoteMsgId,
        ok: bool,
    },
    React {
        id: RemoteMsgId,
        key: String,
        ok: bool,
    },
    Unreact {
        id: RemoteMsgId,
        key: String,
        ok: bool,
    },
}

#[derive(Debug, Default)]
struct State {
    posted: Vec<Posted>,
    ops: Vec<FakeOp>,
    failures: VecDeque<ConnectorError>,
    echo_sends: bool,
    send_delay: Duration,
    return_delay: Duration,
    files_apart: bool,
    /// Sends whose text contains this panic (a bug in a connector, in the test's hands).
    panic_on: Option<String>,
    /// Sends whose text contains this fail with this error, every time.
    fail_on: Option<(String, ConnectorError)>,
    /// How the running `run` is to end next: with this error, or a panic (`None`).
    end_run: Option<Option<ConnectorError>>,
    /// Rooms' names, as `join` reports them.
    room_names: std::collections::HashMap<RoomId, String>,
    /// Rooms `join` refuses, and how.
    refused_rooms: std::collections::HashMap<RoomId, ConnectorError>,
    /// Every room `join` was asked for (refused or not), then `leave`, in order.
    joins: Vec<RoomId>,
    leaves: Vec<RoomId>,
    /// The bot's reactions on any message, its own or not, as the platform would show them.
    reactions: std::collections::HashMap<RemoteMsgId, Vec<String>>,
    /// Everything written privately (`tell`), in order.
    told: Vec<crate::Private>,
    /// People `tell` cannot reach, and how it refuses.
    unreachable: std::collections::HashMap<crate::RemoteUserId, ConnectorError>,
    /// What `standing` answers, by room and person.
    standings: std::collections::HashMap<(RoomId, crate::RemoteUserId), crate::Standing>,
}

type Injected = (Event, oneshot::Sender<()>);

/// An in-process platform: everything a test needs to drive the core without a network.
#[derive(Debug)]
pub struct FakeConnector {
    platform: Platform,
    caps: Capabilities,
    state: Mutex<State>,
    next_id: AtomicU64,
    inject_tx: mpsc::UnboundedSender<Injected>,
    inject_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Injected>>,
    sends_in_flight: AtomicUsize,
    most_sends_in_flight: AtomicUsize,
    /// How many times `run` was started.
    runs: AtomicUsize,
    /// Wakes the running `run` to end it (see [`FakeConnector::end_run`]).
    end_run: tokio::sync::Notify,
    /// What `run` reports about the platform (see [`FakeConnector::reach`]).
    reach: tokio::sync::watch::Sender<Health>,
}

impl FakeConnector {
    pub fn new(platform: Platform) -> Arc<Self> {
        Self::with_capabilities(platform, Capabilities::default())
    }

    pub fn with_capabilities(platform: Platform, caps: Capabilities) -> Arc<Self> {
        let (inject_tx, inject_rx) = mpsc::unbounded_channel();
        Arc::new(FakeConnector {
            platform,
            caps,
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            inject_tx,
            inject_rx: tokio::sync::Mutex::new(inject_rx),
            sends_in_flight: AtomicUsize::new(0),
            most_sends_in_flight: AtomicUsize::new(0),
            runs: AtomicUsize::new(0),
            end_run: tokio::sync::Notify::new(),
            reach: tokio::sync::watch::Sender::new(Health::Up),
        })
    }

    /// A send's effect, once its round trip is over.
    fn send_now(&self, out: &Outgoing) -> Result<SendReceipt, ConnectorError> {
        let text = out.text.to_plain();
        let (panic_on, fail_on) = {
            let st = self.state();
            (st.panic_on.clone(), st.fail_on.clone())
        };
        if panic_on.is_some_and(|n| text.contains(&n)) {
            panic!("FakeConnector: told to panic on {text:?}");
        }
        let fail = fail_on.and_then(|(n, e)| text.contains(&n).then_some(e));
        if let Some(err) = fail.or_else(|| self.take_failure()) {
            self.state().ops.push(FakeOp::Send {
                room: out.room.clone(),
                ok: false,
            });
            return Err(err);
        }
        let thread = match &out.thread {
            Some(ThreadTarget::Existing(t)) => Some(t.clone()),
            Some(ThreadTarget::StartFrom(root)) => Some(ThreadId::new(format!("thread-{root}"))),
            None => None,
        };
        // One posted message per part the platform shows: the whole `out`, or (files apart)
        // its text and then each file on its own.
        let mut shown = vec![out.clone()];
        if self.state().files_apart && !out.attachments.is_empty() {
            shown = Vec::new();
            if !out.text.is_empty() {
                let mut text = out.clone();
                text.attachments.clear();
                shown.push(text);
            }
            for f in &out.attachments {
                let mut file = out.clone();
                file.text = crate::rich_text::RichText::default();
                file.attachments = vec![f.clone()];
                shown.push(file);
            }
        }
        let ids: Vec<RemoteMsgId> = shown.iter().map(|_| self.new_id()).collect();
        let id = ids[0].clone();
        let echo = {
            let mut st = self.state();
            st.ops.push(FakeOp::Send {
                room: out.room.clone(),
                ok: true,
            });
            for (id, out) in ids.iter().zip(shown) {
                st.posted.push(Posted {
                    id: id.clone(),
                    out,
                    thread: thread.clone(),
                    deleted: false,
                    edits: Vec::new(),
                    reactions: Vec::new(),
                    at: tokio::time::Instant::now(),
                });
            }
            st.echo_sends
        };
        if echo {
            let mut msg = Message::text(id.as_str(), out.text.clone());
            msg.thread = thread.clone();
            let mut ev = self.message_event(out.room.as_str(), ("bridge-bot", "Bridge"), msg);
            ev.sender.is_bridge = true;
            drop(self.inject(ev));
        }
        Ok(SendReceipt { ids, thread })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When on, every successful send is also reported back as an inbound event from the bridge
    /// itself, as Discord and Matrix do; the core must ignore those echoes.
    pub fn echo_sends(&self, on: bool) {
        self.state().echo_sends = on;
    }

    /// When on, a send with files posts its text and then each file as messages of their own,
    /// as the Matrix connector does (the receipt lists them in that order).
    pub fn files_apart(&self, on: bool) {
        self.state().files_apart = on;
    }

    /// Every send takes this long (on tokio's clock) before it lands, as a platform's round trip.
    pub fn send_delay(&self, delay: Duration) {
        self.state().send_delay = delay;
    }

    /// Every send lands at once (visible, answerable) but its call returns this much later (on
    /// tokio's clock), as when the platform's answer is slow to come back: the moment in which
    /// a copy can be answered before the bridge knows its id.
    pub fn return_delay(&self, delay: Duration) {
        self.state().return_delay = delay;
    }

    /// The most sends that were under way at once so far.
    pub fn most_sends_in_flight(&self) -> usize {
        self.most_sends_in_flight.load(Ordering::SeqCst)
    }

    /// From now on, a send whose text contains `needle` panics inside the connector, every time.
    pub fn panic_on(&self, needle: &str) {
        self.state().panic_on = Some(needle.to_owned());
    }

    /// From now on, a send whose text contains `needle` fails with `error`, every time.
    pub fn fail_on(&self, needle: &str, error: ConnectorError) {
        self.state().fail_on = Some((needle.to_owned(), error));
    }

    /// The name `join` reports for `room`.
    pub fn name_room(&self, room: &str, name: &str) {
        self.state()
            .room_names
            .insert(RoomId::new(room), name.to_owned());
    }

    /// From now on `join` refuses `room` with `error` (`None`: accepts it again).
    pub fn refuse_room(&self, room: &str, error: Option<ConnectorError>) {
        let mut st = self.state();
        match error {
            Some(e) => st.refused_rooms.insert(RoomId::new(room), e),
            None => st.refused_rooms.remove(&RoomId::new(room)),
        };
    }

    /// Every room `join` was asked for, in order.
    /// What the bridge wrote privately (`tell`), in order.
    pub fn told(&self) -> Vec<crate::Private> {
        self.state().told.clone()
    }

    /// What `standing` answers for `user` in `room` from now on (`None`: it knows nothing).
    pub fn set_standing(&self, room: &str, user: &str, standing: Option<crate::Standing>) {
        let key = (RoomId::new(room), crate::RemoteUserId::new(user));
        let mut st = self.state();
        match standing {
            Some(s) => st.standings.insert(key, s),
            None => st.standings.remove(&key),
        };
    }

    /// Makes `tell` to `user` fail with `error` (`None`: reachable again).
    pub fn unreachable(&self, user: &str, error: Option<ConnectorError>) {
        let user = crate::RemoteUserId::new(user);
        match error {
            Some(e) => self.state().unreachable.insert(user, e),
            None => self.state().unreachable.remove(&user),
        };
    }

    pub fn joins(&self) -> Vec<RoomId> {
        self.state().joins.clone()
    }

    /// Every room `leave` was asked for, in order.
    pub fn leaves(&self) -> Vec<RoomId> {
        self.state().leaves.clone()
    }

    /// Ends [`Self::panic_on`] and [`Self::fail_on`]: the platform behaves again.
    pub fn clear_faults(&self) {
        let mut st = self.state();
        st.panic_on = None;
        st.fail_on = None;
    }

    /// Ends the running `run` once, as a connector that lost its platform would: returning
    /// `error`, or panicking when it is `None`. Events not yet taken stay for the next run.
    pub fn end_run(&self, error: Option<ConnectorError>) {
        self.state().end_run = Some(error);
        self.end_run.notify_one();
    }

    /// How many times `run` was started (a supervisor's restarts count).
    /// What this platform's `run` reports through its sink's health from now on (at once if
    /// it is running, and at the start of every run): `Up` (the default: connected at once) or
    /// `Down(why)` (cannot reach the platform; events injected meanwhile still arrive).
    pub fn reach(&self, health: Health) {
        self.reach.send_replace(health);
    }

    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    /// The next calls to send/edit/delete/react fail with these errors, one call each.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = ConnectorError>) {
        self.state().failures.extend(errors);
    }

    /// Queues an inbound event; `run` submits it to the core. The returned receiver fires when the
    /// core has acknowledged it (it is durable).
    pub fn inject(&self, event: Event) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        // The receiver lives in `self`, so the channel cannot be closed while we exist.
        let _ = self.inject_tx.send((event, tx));
        rx
    }

    /// Drops injected events that no `run` has taken yet. With a re-`inject` of every event that
    /// was not acknowledged, this models a platform redelivering from the bridge's confirmed
    /// cursor after a crash, in order, as Telegram's update offset does.
    pub fn forget_undelivered(&self) -> usize {
        let Ok(mut rx) = self.inject_rx.try_lock() else {
            return 0;
        };
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        n
    }

    /// Builds and injects a text message from a person. Returns the ack receiver.
    pub fn post(
        &self,
        room: &str,
        user: (&str, &str),
        msg_id: &str,
        text: &str,
    ) -> oneshot::Receiver<()> {
        self.inject(self.message_event(room, user, Message::text(msg_id, text)))
    }

    /// An event for a message in `room` from `user` = (id, display name), with a unique id.
    pub fn message_event(&self, room: &str, user: (&str, &str), msg: Message) -> Event {
        let id = format!("{}:msg:{}", self.platform, msg.id);
        self.event(room, user, id, EventKind::Message(msg))
    }

    pub fn event(&self, room: &str, user: (&str, &str), id: String, kind: EventKind) -> Event {
        Event {
            id: InboundId::new(id),
            room: RoomRef::new(self.platform, room),
            sender: Sender::person(user.0, user.1),
            at_ms: 0,
            kind,
        }
    }

    /// Every message the bridge posted, in order, including deleted ones.
    pub fn posted(&self) -> Vec<Posted> {
        self.state().posted.clone()
    }

    /// How many messages the bridge has posted (cheap, for polling in benchmarks).
    pub fn posted_count(&self) -> usize {
        self.state().posted.len()
    }

    /// The messages the bridge posted in `room` and has not deleted.
    pub fn visible_in(&self, room: &str) -> Vec<Posted> {
        self.state()
            .posted
            .iter()
            .filter(|p| p.out.room.as_str() == room && !p.deleted)
            .cloned()
            .collect()
    }

    /// The plain text of every visible message in `room`, after edits.
    pub fn texts_in(&self, room: &str) -> Vec<String> {
        self.visible_in(room)
            .iter()
            .map(|p| p.edits.last().unwrap_or(&p.out).text.to_plain())
            .collect()
    }

    pub fn get(&self, id: &RemoteMsgId) -> Option<Posted> {
        self.state().posted.iter().find(|p| &p.id == id).cloned()
    }

    /// The bot's reactions on message `id` (posted by the bot or injected), in the order added.
    pub fn reactions_on(&self, id: &str) -> Vec<String> {
        self.state()
            .reactions
            .get(&RemoteMsgId::new(id))
            .cloned()
            .unwrap_or_default()
    }

    pub fn ops(&self) -> Vec<FakeOp> {
        self.state().ops.clone()
    }

    /// The bot's reaction `key` on message `id` added (`on`) or removed, as the op log and the
    /// message (if the bot posted it) record it; one reaction per key, like every platform.
    fn set_reaction(&self, id: &RemoteMsgId, key: &str, on: bool) -> Result<(), ConnectorError> {
        let failure = self.take_failure();
        let (id, key, ok) = (id.clone(), key.to_owned(), failure.is_none());
        self.state().ops.push(match on {
            true => FakeOp::React {
                id: id.clone(),
                key: key.clone(),
                ok,
            },
            false => FakeOp::Unreact {
                id: id.clone(),
                key: key.clone(),
                ok,
            },
        });
        if let Some(err) = failure {
            return Err(err);
        }
        let mut st = self.state();
        let keys = st.reactions.entry(id.clone()).or_default();
        keys.retain(|k| *k != key);
        if on {
            keys.push(key);
        }
        let keys = keys.clone();
        if let Some(p) = st.posted.iter_mut().find(|p| p.id == id) {
            p.reactions = keys;
        }
        Ok(())
    }

    fn take_failure(&self) -> Option<ConnectorError> {
        self.state().failures.pop_front()
    }

    fn new_id(&self) -> RemoteMsgId {
        RemoteMsgId::new(format!(
            "{}-{}",
            self.platform,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        ))
    }

    fn find<R>(
        &self,
        id: &RemoteMsgId,
        f: impl FnOnce(&mut Posted) -> R,
    ) -> Result<R, ConnectorError> {
        let mut st = self.state();
        let p = st
            .posted
            .iter_mut()
            .find(|p| &p.id == id)
            .ok_or_else(|| ConnectorError::Rejected(format!("unknown message {id}")))?;
        Ok(f(p))
    }
}

#[async_trait]
impl Connector for FakeConnector {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn capabilities(&self) -> Capabilities {
        self.caps.clone()
    }

    async fn run(
        &self,
        sink: EventSink,
        _state: Arc<dyn ConnectorState>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        // Only one `run` at a time may own the injected stream; a restarted daemon gets it next.
        let mut rx = self.inject_rx.lock().await;
        self.runs.fetch_add(1, Ordering::SeqCst);
        let mut reach = self.reach.subscribe();
        report(&sink, &reach.borrow_and_update());
        loop {
            let (event, done) = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = reach.changed() => {
                    report(&sink, &reach.borrow_and_update());
                    continue;
                }
                _ = self.end_run.notified() => {
                    let how = self.state().end_run.take();
                    match how {
                        Some(Some(e)) => return Err(e),
                        Some(None) => panic!("FakeConnector: told to end its run with a panic"),
                        None => continue,
                    }
                }
                next = rx.recv() => match next {
                    Some(next) => next,
                    None => return Ok(()),
                },
            };
            let Ok(ack) = sink.submit(event).await else {
                return Ok(());
            };
            tokio::spawn(async move {
                if ack.wait().await.is_ok() {
                    let _ = done.send(());
                }
            });
        }
    }

    async fn join(&self, room: &RoomId) -> Result<RoomInfo, ConnectorError> {
        let mut st = self.state();
        st.joins.push(room.clone());
        if let Some(e) = st.refused_rooms.get(room) {
            return Err(e.clone());
        }
        Ok(RoomInfo {
            name: st.room_names.get(room).cloned(),
        })
    }

    async fn leave(&self, room: &RoomId) -> Result<(), ConnectorError> {
        self.state().leaves.push(room.clone());
        Ok(())
    }

    async fn tell(&self, private: &crate::Private) -> Result<SendReceipt, ConnectorError> {
        if !self.caps.private_messages {
            return Err(ConnectorError::Unsupported(format!(
                "{} cannot write privately",
                self.platform
            )));
        }
        if let Some(e) = self.take_failure() {
            return Err(e);
        }
        if let Some(e) = self.state().unreachable.get(&private.to) {
            return Err(e.clone());
        }
        let id = self.new_id();
        self.state().told.push(private.clone());
        Ok(SendReceipt {
            ids: vec![id],
            thread: None,
        })
    }

    async fn send(&self, out: &Outgoing) -> Result<SendReceipt, ConnectorError> {
        let now = self.sends_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_sends_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = self.state().send_delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let result = self.send_now(out);
        let late = self.state().return_delay;
        if !late.is_zero() {
            tokio::time::sleep(late).await;
        }
        self.sends_in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }

    async fn edit(
        &self,
        _room: &RoomId,
        id: &RemoteMsgId,
        out: &Outgoing,
    ) -> Result<(), ConnectorError> {
        let failure = self.take_failure();
        let ok = failure.is_none();
        self.state().ops.push(FakeOp::Edit { id: id.clone(), ok });
        if let Some(err) = failure {
            return Err(err);
        }
        self.find(id, |p| p.edits.push(out.clone()))
    }

    async fn standing(
        &self,
        room: &RoomId,
        person: &crate::RemoteUserId,
    ) -> Result<Option<crate::Standing>, ConnectorError> {
        let key = (room.clone(), person.clone());
        Ok(self.state().standings.get(&key).copied())
    }

    /// `https://PLATFORM.example/ROOM/MSG`, so pages that link copies can be checked.
    fn message_url(
        &self,
        room: &RoomId,
        _thread: Option<&crate::ThreadId>,
        id: &RemoteMsgId,
    ) -> Option<String> {
        Some(format!("https://{}.example/{room}/{id}", self.platform()))
    }

    async fn delete(&self, _room: &RoomId, id: &RemoteMsgId) -> Result<(), ConnectorError> {
        let failure = self.take_failure();
        self.state().ops.push(FakeOp::Delete {
            id: id.clone(),
            ok: failure.is_none(),
        });
        if let Some(err) = failure {
            return Err(err);
        }
        self.find(id, |p| p.deleted = true)
    }

    /// The fake's files hold their own reference as bytes.
    async fn fetch(
        &self,
        attachment: &crate::event::Attachment,
    ) -> Result<Vec<u8>, ConnectorError> {
        Ok(attachment.url.as_bytes().to_vec())
    }

    async fn react(
        &self,
        _room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        self.set_reaction(id, key, true)
    }

    async fn unreact(
        &self,
        _room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        self.set_reaction(id, key, false)
    }
}

/// Tells the daemon through `sink` what `health` says.
fn report(sink: &EventSink, health: &Health) {
    match health {
        Health::Up => sink.up(),
        Health::Down(why) => sink.down(why.clone()),
    }
}
