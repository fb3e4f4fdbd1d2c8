//! Reloading the config while the bridge runs (`civicbridge run` on SIGHUP).
//!
//! The new file is read and validated whole first: on any error the bridge keeps running on
//! what it had, and the error names the key. A valid file's links and rules are put in force
//! without a restart and without dropping anything in flight ([`Daemon::apply_links`]). A
//! platform whose section changed (a token, a homeserver) is listed in [`Reload::connectors`]:
//! the caller, which can build connectors, restarts that one alone
//! ([`Daemon::replace_connector`]). What only a restart can change (the store's path, a platform
//! added or removed, the log filter, the outage notice delay, where the admin listener listens,
//! `[console]`)
//! is named in the log and left as it was; the admin API's tokens change at once.

use crate::ops::config::{ConfigError, Settings};
use crate::ops::daemon::{Daemon, DaemonError};
use crate::ops::links::LinkChanges;
use civicbridge_api::PlatformFactory;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new file is unreadable or invalid; nothing changed.
    #[error("the new config was not applied: {0}")]
    Config(#[from] ConfigError),
    /// The new links cannot be served by this process; nothing changed.
    #[error("the new links were not applied: {0}")]
    Links(#[from] DaemonError),
}

/// What a reload did.
#[derive(Debug, Clone)]
pub struct Reload {
    pub links: LinkChanges,
    /// Settings that differ in the file but keep their old value until a restart.
    pub need_restart: Vec<String>,
    /// Platforms whose section changed, with the new section: their connectors are to be
    /// rebuilt. `current` keeps their old sections until the caller records the new one
    /// ([`Settings::platforms`]), so a failed rebuild is tried again at the next reload.
    pub connectors: Vec<crate::ops::config::PlatformSettings>,
}

/// Reads `path` and puts its links and rules in force on `daemon`; `current` is the config in
/// force, updated to match what was applied.
pub fn reload(
    daemon: &mut Daemon,
    path: &Path,
    factories: &[Arc<dyn PlatformFactory>],
    current: &mut Settings,
) -> Result<Reload, ReloadError> {
    let new = Settings::load(path, factories)?;
    let need_restart = needs_restart(current, &new);
    let connectors = changed_sections(current, &new);
    let links = daemon.apply_links(&new.links)?;
    // Tokens change at once when the listener stays where it is (rotating a token needs no
    // restart); `needs_restart` names any other change of `[admin]`.
    if let (Some(old), Some(now)) = (&current.admin, &new.admin) {
        if old.listen == now.listen && old.tokens != now.tokens {
            daemon.set_admin_tokens(now.tokens.clone());
        }
    }
    for s in &new.secrets {
        crate::ops::telemetry::add_secret(s);
    }
    current.links = new.links;
    if let (Some(old), Some(now)) = (&mut current.admin, new.admin) {
        if old.listen == now.listen {
            old.tokens = now.tokens;
        }
    }
    Ok(Reload {
        links,
        need_restart,
        connectors,
    })
}

/// The platforms of both `old` and `new` whose section changed, with the new section.
pub fn changed_sections(
    old: &Settings,
    new: &Settings,
) -> Vec<crate::ops::config::PlatformSettings> {
    let value =
        |p: &crate::ops::config::PlatformSettings| p.section.parse::<serde_json::Value>().ok();
    new.platforms
        .iter()
        .filter(|p| {
            old.platforms
                .iter()
                .any(|o| o.section.name() == p.section.name() && value(o) != value(p))
        })
        .cloned()
        .collect()
}

/// The settings of `new` that differ from `old` and only a restart applies, by config key.
pub fn needs_restart(old: &Settings, new: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    if old.store_path != new.store_path {
        out.push("store.path".to_owned());
    }
    if old.log.filter != new.log.filter || old.log.json != new.log.json {
        out.push("log".to_owned());
    }
    if old.outage_notice_after != new.outage_notice_after {
        out.push("connectors.outage_notice_after_secs".to_owned());
    }
    // Tokens alone are applied by a reload (see `reload`); the listener is not.
    let listen = |s: &Settings| s.admin.as_ref().map(|a| a.listen);
    if listen(old) != listen(new) {
        out.push("admin.listen".to_owned());
    }
    // The console's settings are read when it starts (its routes, cookies, policy).
    let console = |s: &Settings| s.admin.as_ref().and_then(|a| a.console.clone());
    if console(old) != console(new) {
        out.push("console".to_owned());
    }
    let sections = |s: &Settings| -> Vec<(String, Option<serde_json::Value>)> {
        s.platforms
            .iter()
            .map(|p| (p.section.name().to_owned(), p.section.parse().ok()))
            .collect()
    };
    // A platform added or removed; a changed one is restarted alone (see `reload`).
    let (before, after) = (sections(old), sections(new));
    for (name, _) in &after {
        if !before.iter().any(|(n, _)| n == name) {
            out.push(name.clone());
        }
    }
    for (name, _) in &before {
        if !after.iter().any(|(n, _)| n == name) {
            out.push(name.clone());
        }
    }
    out
}
