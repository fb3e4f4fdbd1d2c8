//! civicbridge: a moderated bridge between Matrix, Telegram and Discord.
//!
//! Codemap (one concept per module):
//! - [`config`]: the typed config file, validated with errors that name the bad key.
//! - [`rules`]: per-link moderation rules (directions, scopes, filters) and runtime `set`.
//! - [`moderation`]: pure `evaluate(rules, message, context) -> Verdict`.
//! - [`store`]: durable state over sled (or memory), one transaction per state change.
//! - [`audit`]: the hash-chained audit log: sealing, verifying, JSON Lines.
//! - [`render`]: a bridged message shaped for one target (attribution, replies, threads, splits).
//! - [`router`]: echo guard and routing of inbound events to their link's worker.
//! - [`link`]: one worker per link, handling its events serially and durably.
//! - [`approval`]: moderator commands and decisions on held messages.
//! - [`outbox`]: persisted send jobs, one ordered lane per target room, retries by error kind.
//! - [`daemon`]: wires connectors, store, router, workers and outbox; graceful shutdown.
//! - [`demo`]: `civicbridge demo` and the end-to-end world (real Synapse, local Telegram and
//!   Discord servers, the real daemon).
//! - [`telemetry`]: tracing setup (`RUST_LOG`, text or JSON).

pub mod approval;
pub mod audit;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod link;
pub mod moderation;
pub mod outbox;
pub mod render;
pub mod router;
pub mod rules;
pub mod store;
pub mod telemetry;
