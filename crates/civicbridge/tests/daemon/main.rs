//! The daemon in-process on fake or local platforms: the pipeline, moderation, privacy, the store,
//! the outbox, restarts, a fourth platform, and the Telegram and Discord connectors through it.
//!
//! One test binary per group: each links the whole daemon, so fewer binaries build faster.

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod admin_api;
mod backlog;
mod console;
mod console_audit;
mod console_browser;
mod console_links;
mod console_openid;
mod console_published;
mod console_reports;
mod discord_telegram_bridge;
mod fourth_platform;
mod hygiene;
mod links_commands;
mod links_runtime;
mod moderation;
mod names;
mod outbox;
mod pipeline;
mod privacy;
mod reactions;
mod remote;
mod reports;
mod restart;
mod store;
mod subject_access;
mod telegram_bridge;
mod tell;
