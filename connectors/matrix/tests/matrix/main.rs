#![recursion_limit = "256"]
//! The Matrix connector against a real Synapse (one per test binary, started on first use;
//! every test makes its own users and rooms). The staff member is a second real matrix-sdk
//! client.
#![allow(clippy::unwrap_used)]

mod common;
mod conformance;
mod encryption;
mod events_in;
mod events_out;
mod join;
mod rate_limit;
mod reactions;
mod restart;
mod tell;
