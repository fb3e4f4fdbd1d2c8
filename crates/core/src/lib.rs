//! civicbridge's daemon as a library: a moderated bridge between chat platforms. It names no
//! platform: each one plugs in through its `civicbridge_api::PlatformFactory`, and the binary
//! (`crates/civicbridge`) holds the list.
//!
//! Codemap (one concept per module):
//! - [`config`]: the typed config file, validated with errors that name the bad key.
//! - [`rules`]: per-link moderation rules (directions, scopes, filters) and runtime `set`.
//! - [`moderation`]: pure `evaluate(rules, message, context) -> Verdict`.
//! - [`store`]: durable state, by tree (links and rules, seen, mirrors, pending, outbox, audit,
//!   parked, connector state, meta) over the `civicbridge-kv` engine; reads written once for the
//!   committed state and a transaction; one transaction per state change.
//! - [`audit`]: the hash-chained audit log: sealing, verifying, JSON Lines.
//! - [`render`]: a bridged message shaped for one target (attribution, replies, threads, splits).
//! - [`router`]: echo guard and routing of inbound events to their link's worker.
//! - [`link`]: one worker per link, handling its events serially and durably.
//! - [`approval`]: held items (revisions, withdrawals) and decisions on the version shown.
//! - [`cards`]: the text of approval cards: held, revised, superseded, withdrawn, decided.
//! - [`commands`]: moderator commands: parser, permissions, one file per family.
//! - [`moderation_room`]: events in moderation rooms, and `!publish` in staff rooms.
//! - [`hygiene`]: reminders about held items that wait too long, and their expiry.
//! - [`notice`]: the "this room is moderated" notice each public room gets once.
//! - [`outbox`]: persisted send jobs, one ordered lane per target room, retries by error kind.
//! - [`privacy`]: how people are named (pseudonyms for residents in staff rooms, the audit
//!   log's keyed hashes), retention pruning, erasure.
//! - [`daemon`]: wires connectors, store, router, workers and outbox; graceful shutdown.
//! - [`telemetry`]: tracing setup (`RUST_LOG`, text or JSON).

/// mimalloc for every binary built on this crate (the daemon, its tests and benches): sled and
/// the pipeline allocate and free on every write; with glibc's allocator the pipeline bench
/// relayed about a quarter fewer messages per second on the same machine.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod approval;
pub mod audit;
pub mod cards;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod dead_letter;
pub mod hygiene;
pub mod link;
pub mod moderation;
pub mod moderation_room;
pub mod notice;
pub mod outbox;
pub mod privacy;
pub mod render;
pub mod router;
pub mod rules;
pub mod store;
pub mod telemetry;
pub mod watch;
