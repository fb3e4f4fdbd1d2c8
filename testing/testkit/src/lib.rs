#![recursion_limit = "256"]
//! Local stand-ins for the platforms civicbridge talks to, for tests and `civicbridge demo`.
//!
//! - `telegram` (feature `telegram`): a Telegram Bot API server faithful to the official reference.
//! - `discord` (feature `discord`): Discord REST v10 and gateway.
//! - `synapse` (feature `synapse`): installs and runs a real Synapse homeserver on 127.0.0.1.
//! - `shapes`: checks what the stand-ins send against the platforms' official typings (npm).

#[cfg(feature = "discord")]
pub mod discord;
pub mod shapes;
#[cfg(feature = "synapse")]
pub mod synapse;
#[cfg(feature = "telegram")]
pub mod telegram;
