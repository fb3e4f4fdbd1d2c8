//! `loopback`: a platform that lives in the test's process. Rooms are lists of messages in a
//! [`Network`]; a test posts as a person and reads what the bridge posted. It exists to show
//! that a platform plugs into civicbridge through its factory alone: this crate implements the
//! contract (`Connector`, `PlatformFactory`) and nothing in the contract or the core knows it.
//!
//! The config section names the network the test created:
//!
//! ```toml
//! [loopback]
//! network = "t1"
//! ```
//!
//! Links to its messages read `loop://ROOM/ID`. Its rooms can be moderation rooms: the bot
//! posts and edits its own messages, and a person's standing is whatever the test says.

use async_trait::async_trait;
use civicbridge_api::{
    Attachment, BuildContext, BuildError, Built, Capabilities, Connector, ConnectorError,
    ConnectorState, Event, EventKind, EventSink, InboundId, Message, MessageLink, Outgoing,
    Platform, PlatformFactory, RemoteMsgId, RoomId, RoomInfo, RoomRef, Section, SectionError,
    SendReceipt, Sender, Standing,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The platform's id: rooms are `loopback:ROOM`.
pub const PLATFORM: Platform = Platform::new("loopback");

/// One message as the room shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub id: String,
    /// Who posted it: a person's id, or `bot`.
    pub by: String,
    pub text: String,
    pub edited: bool,
    pub deleted: bool,
}

#[derive(Debug, Default)]
struct Rooms {
    rooms: HashMap<String, Vec<Shown>>,
    /// Rooms' names, as `join` reports them (none unless a test names the room).
    names: HashMap<String, String>,
    next_id: u64,
}

/// A set of rooms shared by a test and the connector the daemon builds from `[loopback]`.
#[derive(Debug)]
pub struct Network {
    rooms: Mutex<Rooms>,
    events: mpsc::UnboundedSender<Event>,
    inbox: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
}

fn networks() -> MutexGuard<'static, HashMap<String, Arc<Network>>> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<Network>>>> = OnceLock::new();
    ALL.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

impl Network {
    /// A new network that `[loopback] network = "<name>"` finds.
    pub fn create(name: &str) -> Arc<Network> {
        let (events, inbox) = mpsc::unbounded_channel();
        let n = Arc::new(Network {
            rooms: Mutex::default(),
            events,
            inbox: tokio::sync::Mutex::new(inbox),
        });
        networks().insert(name.to_owned(), n.clone());
        n
    }

    fn rooms(&self) -> MutexGuard<'_, Rooms> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, room: &str, by: &str, text: String) -> String {
        let mut r = self.rooms();
        r.next_id += 1;
        let id = r.next_id.to_string();
        r.rooms.entry(room.to_owned()).or_default().push(Shown {
            id: id.clone(),
            by: by.to_owned(),
            text,
            edited: false,
            deleted: false,
        });
        id
    }

    /// A person posts `text` in `room`, with their `standing` there; returns the message id.
    pub fn post(&self, room: &str, who: (&str, &str), standing: Standing, text: &str) -> String {
        let id = self.add(room, who.0, text.to_owned());
        let mut sender = Sender::person(who.0, who.1);
        sender.standing = Some(standing);
        // The connector's receiver lives in this network: the send cannot fail.
        let _ = self.events.send(Event {
            id: InboundId::new(format!("post:{room}:{id}")),
            room: RoomRef::new(PLATFORM, room),
            sender,
            at_ms: 0,
            kind: EventKind::Message(Message::text(id.clone(), text)),
        });
        id
    }

    /// Gives `room` the name `join` reports for it (what moderation cards call the room).
    pub fn name_room(&self, room: &str, name: &str) {
        self.rooms().names.insert(room.to_owned(), name.to_owned());
    }

    /// What `room` shows now, oldest first, deleted messages left out.
    pub fn shown(&self, room: &str) -> Vec<Shown> {
        self.rooms()
            .rooms
            .get(room)
            .map(|m| m.iter().filter(|m| !m.deleted).cloned().collect())
            .unwrap_or_default()
    }

    fn edit(&self, room: &str, id: &str, text: String) -> bool {
        let mut r = self.rooms();
        match r
            .rooms
            .get_mut(room)
            .and_then(|m| m.iter_mut().find(|m| m.id == id && !m.deleted))
        {
            Some(m) => {
                m.text = text;
                m.edited = true;
                true
            }
            None => false,
        }
    }

    fn delete(&self, room: &str, id: &str) {
        if let Some(m) = self
            .rooms()
            .rooms
            .get_mut(room)
            .and_then(|m| m.iter_mut().find(|m| m.id == id))
        {
            m.deleted = true;
        }
    }
}

/// The connector: the bot's view of one [`Network`].
#[derive(Debug)]
pub struct LoopbackConnector {
    net: Arc<Network>,
}

#[async_trait]
impl Connector for LoopbackConnector {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            threads: false,
            replies: false,
            attachments: false,
            max_text_len: 2000,
            ..Capabilities::default()
        }
    }

    async fn run(
        &self,
        sink: EventSink,
        _state: Arc<dyn ConnectorState>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        let mut inbox = self.net.inbox.lock().await;
        // In process, the platform is reachable as soon as the inbox is ours.
        sink.up();
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                e = inbox.recv() => match e { Some(e) => e, None => return Ok(()) },
            };
            // Delivered once acknowledged: an in-process platform has no cursor to keep.
            if sink.deliver(event).await.is_err() {
                return Ok(());
            }
        }
    }

    /// Every room of the network is open to the bot; its name is what the test gave it.
    async fn join(&self, room: &RoomId) -> Result<RoomInfo, ConnectorError> {
        Ok(RoomInfo {
            name: self.net.rooms().names.get(room.as_str()).cloned(),
        })
    }

    async fn send(&self, out: &Outgoing) -> Result<SendReceipt, ConnectorError> {
        let id = self.net.add(out.room.as_str(), "bot", out.text.to_plain());
        Ok(SendReceipt {
            ids: vec![RemoteMsgId::new(id)],
            thread: None,
        })
    }

    async fn edit(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        out: &Outgoing,
    ) -> Result<(), ConnectorError> {
        if self
            .net
            .edit(room.as_str(), id.as_str(), out.text.to_plain())
        {
            Ok(())
        } else {
            Err(ConnectorError::Rejected(format!(
                "no message {id} in {room}"
            )))
        }
    }

    async fn delete(&self, room: &RoomId, id: &RemoteMsgId) -> Result<(), ConnectorError> {
        self.net.delete(room.as_str(), id.as_str());
        Ok(())
    }

    async fn react(
        &self,
        _room: &RoomId,
        _id: &RemoteMsgId,
        _key: &str,
    ) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn fetch(&self, a: &Attachment) -> Result<Vec<u8>, ConnectorError> {
        Err(ConnectorError::Unsupported(format!(
            "no files here: {}",
            a.name
        )))
    }
}

/// `[loopback]`: the name of the network the test created.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoopbackSection {
    network: String,
}

/// Builds the connector from `[loopback]`.
#[derive(Debug, Default)]
pub struct LoopbackFactory;

fn network(section: &Section) -> Result<Arc<Network>, SectionError> {
    let s: LoopbackSection = section.parse()?;
    networks()
        .get(&s.network)
        .cloned()
        .ok_or_else(|| section.invalid("network", format!("no network `{}`", s.network)))
}

#[async_trait]
impl PlatformFactory for LoopbackFactory {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "Loopback"
    }

    fn hosts_moderation(&self) -> bool {
        true
    }

    fn check(&self, section: &Section) -> Result<Vec<String>, SectionError> {
        network(section).map(|_| Vec::new())
    }

    async fn build(&self, section: &Section, _ctx: BuildContext) -> Result<Built, BuildError> {
        Ok(Built {
            connector: Arc::new(LoopbackConnector {
                net: network(section)?,
            }),
            secrets: Vec::new(),
        })
    }

    /// `loop://ROOM/ID`.
    fn message_link(&self, text: &str) -> Option<MessageLink> {
        let (room, id) = text.strip_prefix("loop://")?.split_once('/')?;
        (!room.is_empty() && !id.is_empty()).then(|| MessageLink {
            room: Some(RoomId::new(room)),
            msg: RemoteMsgId::new(id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn join_reports_the_name_a_test_gave_the_room() {
        let net = Network::create("join-names");
        net.name_room("r1", "Council");
        let c = LoopbackConnector { net };
        let name = |r: &str| RoomId::new(r);
        assert_eq!(
            c.join(&name("r1")).await.map(|i| i.name),
            Ok(Some("Council".to_owned()))
        );
        assert_eq!(c.join(&name("r2")).await.map(|i| i.name), Ok(None));
        assert_eq!(c.leave(&name("r1")).await, Ok(()));
    }
}
