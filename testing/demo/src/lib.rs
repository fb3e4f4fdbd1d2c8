//! `civicbridge demo` and the one end-to-end world: the demo, the end-to-end tests (in process
//! and through the shipped binary) and the relay bench all build it.
//!
//! - [`world`]: builds the world (a real Synapse, the local Telegram and Discord servers, the
//!   people, the rooms, a config for one link) and runs the real daemon on it. The end-to-end
//!   tests (`crates/civicbridge/tests/e2e/`) and the demo share it.
//! - `config`: the config file the world writes, for the in-process daemon and `civicbridge run`.
//! - [`matrix`]: a person on Matrix through the plain client-server API (the only one).
//! - [`scenario`]: the demo's story, checked step by step, and transcripts of what each
//!   participant sees.
//! - [`wait`]: waiting on conditions with a deadline.
//! - [`cli`]: the `civicbridge demo` command (data directory, progress, instructions).

pub mod cli;
mod config;
mod error;
pub mod matrix;
pub mod scenario;
pub mod wait;
pub mod world;

pub use config::rules_toml;
pub use error::DemoError;
pub use world::{Homeserver, Saved, World, WorldOptions, LINK, PATIENCE};
