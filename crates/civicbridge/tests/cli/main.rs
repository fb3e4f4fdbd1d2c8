//! The `civicbridge` binary as an admin runs it: the command line, exit codes, and processes
//! killed for real.
//!
//! One test binary per group: each links the whole daemon, so fewer binaries build faster.

#[path = "../common/bridge_process.rs"]
mod bridge_process;
#[path = "../common/mod.rs"]
mod common;
#[path = "../common/world.rs"]
mod world;

mod admin_run;
mod binary;
mod cli;
mod cli_privacy;
mod crash;
mod moderation_cli;
mod store_crash;
