//! The contract between civicbridge's core and its platform connectors.
//!
//! This crate exists so that the boundary is a compile-time fact: the daemon depends on every
//! platform crate, every platform crate depends only on this one, so a connector cannot reach the
//! router, the store or the moderation rules. Everything that crosses the boundary is typed here.
//!
//! Codemap:
//! - [`ids`]: opaque, typed identifiers (`RoomRef`, `RemoteMsgId`, `MirrorId`, …).
//! - [`rich_text`]: the small formatted-text tree every connector converts to and from; its
//!   bounds, links, mentions and splitting each in a file of their own under `rich_text/`.
//! - [`names`]: the display-name normaliser every connector and the core use.
//! - [`event`]: what a connector reports (`Event`, `EventKind`, `Message`, `Attachment`).
//! - [`outgoing`]: what the core asks a connector to post (`Outgoing`, `SendReceipt`).
//! - [`connector`]: the `Connector` trait, `Capabilities`, `EventSink`, `ConnectorState`.
//! - [`error`]: `ConnectorError`, classified by what the outbox should do next.
//! - [`factory`]: `PlatformFactory`, how a platform plugs in (its config section, its build,
//!   its message links); the binary's list of factories is the only list of platforms.
//! - `testing` (feature `testing`): `FakeConnector` and the conformance suite.

pub mod connector;
pub mod error;
pub mod event;
pub mod factory;
pub mod ids;
pub mod names;
pub mod outgoing;
pub mod rich_text;
#[cfg(feature = "testing")]
pub mod testing;

pub use connector::{
    Ack, Capabilities, Connector, ConnectorState, EventSink, Health, MemoryState, ReactionKeys,
    RoomInfo, SinkClosed, Submission,
};
pub use error::ConnectorError;
pub use event::{
    Attachment, AttachmentKind, Authority, Event, EventKind, Message, ReactionCount, Sender,
    Standing,
};
pub use factory::{
    BuildContext, BuildError, Built, MessageLink, OpenIdHomeserver, PlatformFactory, Section,
    SectionError,
};
pub use ids::{
    InboundId, LinkId, MirrorId, PendingId, Platform, RemoteMsgId, RemoteUserId, RoomId, RoomRef,
    ThreadId, UserKey,
};
pub use outgoing::{Outgoing, OutgoingFile, Persona, Private, SendReceipt, ThreadTarget};
pub use rich_text::{RichText, Span};
