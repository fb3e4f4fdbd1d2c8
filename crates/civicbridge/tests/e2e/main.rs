//! End to end: a real Synapse, the local Telegram and Discord servers, the three real connectors
//! and the daemon, all on the one world of `civicbridge-demo` (see `common/world.rs`).
//!
//! One test binary per group: each links the whole daemon, so fewer binaries build faster.

// matrix-sdk's futures are deep (the staff client of `e2e_encrypted`), as in the connector.
#![recursion_limit = "256"]

#[path = "../common/bridge_process.rs"]
mod bridge_process;
#[path = "../common/mod.rs"]
mod common;
#[path = "../common/phone.rs"]
mod phone;
#[path = "../common/world.rs"]
mod world;

mod console_e2e;
mod e2e;
mod e2e_burst;
mod e2e_demo;
mod e2e_encrypted;
mod e2e_files;
mod e2e_held;
mod e2e_reactions;
mod e2e_resilience;
mod e2e_retries;
mod e2e_text;
mod links_e2e;
mod moderation_e2e;
mod moderation_tools_e2e;
mod privacy_e2e;
