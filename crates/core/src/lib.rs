//! civicbridge's daemon as a library: a moderated bridge between chat platforms. It names no
//! platform: each one plugs in through its `civicbridge_api::PlatformFactory`, and the binary
//! (`crates/civicbridge`) holds the list.
//!
//! Codemap, grouped by concern in the order a message meets them (ARCHITECTURE.md walks the
//! same journey):
//! - [`pipeline`]: the way through: `router` (echo guard, hardening, to the link's worker),
//!   `link` (one worker per link, deciding each event in one store transaction), `render` (a
//!   copy shaped for one target room), `outbox` (persisted jobs, one ordered lane per target
//!   room, retries by error kind), `dead_letter` (what cannot progress is set aside).
//! - [`moderation`]: what may cross and who decides: `rules`, the pure `evaluate` verdict,
//!   `approval` (held items, revisions, decisions), `cards`, `room` (moderation-room events),
//!   `commands`, `hygiene` (reminders, expiry), `notice`, and the hash-chained `audit` log.
//! - [`privacy`]: how people are named (pseudonyms, keyed hashes), retention pruning, erasure.
//! - [`store`]: durable state by tree over the `civicbridge-kv` engine; reads written once for
//!   the committed state and a transaction; one transaction per state change.
//! - [`ops`]: running it: `config`, `daemon` (wiring and shutdown), `watch` (connector
//!   supervision), `status` (readiness), `metrics` (Prometheus), `admin` (the HTTP listener
//!   for `/livez`, `/readyz`, `/metrics`), `telemetry` (logging with secrets redacted).

/// mimalloc for every binary built on this crate (the daemon, its tests and benches): sled and
/// the pipeline allocate and free on every write; with glibc's allocator the pipeline bench
/// relayed about a quarter fewer messages per second on the same machine.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod moderation;
pub mod ops;
pub mod pipeline;
pub mod privacy;
pub mod store;
