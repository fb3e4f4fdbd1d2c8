//! `civicbridge run`: the bridge itself, until SIGTERM, or until a connector fails for good
//! (exit 1). SIGHUP reloads the config (`ops::reload`); systemd hears how it is doing
//! (`crate::systemd`).

use crate::{input, load, open_store, platforms, systemd, Failure};
use anyhow::Context;
use civicbridge_api::{BuildError, Connector};
use civicbridge_core::ops::config::Settings;
use civicbridge_core::ops::daemon::{self, Daemon};
use std::path::Path;
use std::sync::Arc;

pub async fn run(config: &Path) -> Result<(), Failure> {
    let settings = load(config)?;
    register_secrets(&settings);
    civicbridge_core::ops::telemetry::init(&settings.log);
    // From here a SIGHUP reloads instead of ending the process.
    let mut hangups = daemon::Hangups::new();
    let store = open_store(&settings)?;
    let connectors = build_connectors(&settings).await?;
    let mut options = daemon::Options {
        platforms: platforms::all(),
        ..daemon::Options::default()
    };
    options.watch.notice_after = settings.outage_notice_after;
    options.admin = settings.admin.clone();
    let mut daemon = Daemon::start(store, &settings.links, connectors, options)
        .await
        .context("starting the bridge")?;
    let mut settings = settings;
    systemd::ready();
    let watchdog = systemd::watchdog(daemon.liveness());
    // One stop signal for the whole run, so a SIGTERM arriving during a reload is not missed.
    let stop = daemon::signal();
    tokio::pin!(stop);
    let failed = loop {
        enum Next {
            Stop,
            Reload,
            Failed((civicbridge_api::Platform, civicbridge_api::ConnectorError)),
        }
        let next = tokio::select! {
            _ = &mut stop => Next::Stop,
            _ = hangups.recv() => Next::Reload,
            f = daemon.connector_failed() => Next::Failed(f),
        };
        match next {
            Next::Stop => break None,
            // A connector refusing its credentials cannot recover by itself: stop, exit 1,
            // one line.
            Next::Failed(f) => break Some(f),
            Next::Reload => {
                systemd::reloading();
                reload(&mut daemon, config, &mut settings).await;
                systemd::ready();
            }
        }
    };
    systemd::stopping();
    drop(watchdog);
    tracing::info!("shutting down");
    let stopped = daemon.shutdown().await;
    if let Some((platform, e)) = failed {
        return Err(Failure::Run(anyhow::anyhow!(
            "the {} connector failed for good: {e}",
            platform.label()
        )));
    }
    stopped.context("shutting down")?;
    Ok(())
}

/// SIGHUP: the config file again. A bad file changes nothing and the bridge runs on. A platform
/// whose section changed gets a new connector, alone; if it cannot be built, the old one runs on.
async fn reload(daemon: &mut Daemon, config: &Path, settings: &mut Settings) {
    use civicbridge_core::ops::reload;
    tracing::info!(config = %config.display(), "reloading the config");
    let r = match reload::reload(daemon, config, &platforms::all(), settings) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "config reload refused; running on as before");
            return;
        }
    };
    tracing::info!(links = %r.links, "config reloaded");
    if !r.need_restart.is_empty() {
        tracing::warn!(
            settings = r.need_restart.join(", "),
            "these settings changed and take effect at the next restart"
        );
    }
    for new in r.connectors {
        let platform = new.factory.platform();
        let ctx = settings.build_context(platform);
        let build = async {
            let built = new
                .factory
                .build(&new.section, ctx)
                .await
                .map_err(|e| e.to_string())?;
            for s in &built.secrets {
                civicbridge_core::ops::telemetry::add_secret(s);
            }
            Ok::<_, String>(built.connector)
        };
        match daemon.replace_connector(platform, build).await {
            Ok(_) => {
                if let Some(old) = settings
                    .platforms
                    .iter_mut()
                    .find(|p| p.factory.platform() == platform)
                {
                    *old = new;
                }
            }
            Err(e) => tracing::error!(
                %platform,
                error = %e,
                "the new settings of this platform did not work; its old connector runs on"
            ),
        }
    }
}

/// Every credential in the config, so the log never shows one (see `telemetry`).
fn register_secrets(settings: &Settings) {
    for s in &settings.secrets {
        civicbridge_core::ops::telemetry::add_secret(s);
    }
}

/// The connectors of the configured platforms, built by their factories. Matrix logs in here
/// (or restores its session), so wrong credentials stop the start with the homeserver's answer.
async fn build_connectors(settings: &Settings) -> Result<Vec<Arc<dyn Connector>>, Failure> {
    let mut out: Vec<Arc<dyn Connector>> = Vec::new();
    for p in &settings.platforms {
        let ctx = settings.build_context(p.factory.platform());
        let built = p
            .factory
            .build(&p.section, ctx)
            .await
            .map_err(|e| match e {
                BuildError::Config(e) => input(e),
                BuildError::Failed(e) => Failure::Run(anyhow::anyhow!(e)),
            })?;
        // What the connector obtained itself (a session's access token) is a secret too.
        for s in &built.secrets {
            civicbridge_core::ops::telemetry::add_secret(s);
        }
        out.push(built.connector);
    }
    Ok(out)
}
