//! The connector of each platform, replaceable while the bridge runs.
//!
//! A reload that changes a platform's section (a new token, another homeserver) restarts only
//! that platform's connector ([`crate::ops::daemon::Daemon::replace_connector`]): its
//! supervisor stops the running connector and waits for it to end, the new one is built (while
//! nothing reads that platform, so two clients never share its session files), and the
//! supervisor starts it. If the new one cannot be built, the old one starts again. The outbox
//! reads the current connector for every job, so what it sends next goes out through the new
//! account; a job that failed on the old one is retried as any failure is. The set of
//! platforms is fixed at start: a platform added to or removed from the config needs a restart.

use civicbridge_api::{Connector, Platform};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// What a platform's supervisor is told to run.
#[derive(Clone)]
pub struct Wanted {
    pub connector: Arc<dyn Connector>,
    /// Stop the connector and wait: a replacement is being built.
    pub suspended: bool,
}

/// One platform's connector and its supervisor's side of the exchange.
#[derive(Clone)]
pub struct Slot {
    pub wanted: watch::Sender<Wanted>,
    /// Whether the supervisor has a run of the connector going.
    pub running: watch::Sender<bool>,
}

/// Every platform's [`Slot`]; cheap to clone.
#[derive(Clone)]
pub struct Connectors {
    slots: Arc<HashMap<Platform, Slot>>,
}

impl std::fmt::Debug for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wanted")
            .field("platform", &self.connector.platform())
            .field("suspended", &self.suspended)
            .finish()
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("wanted", &*self.wanted.borrow())
            .field("running", &*self.running.borrow())
            .finish()
    }
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.slots.keys()).finish()
    }
}

impl Connectors {
    pub fn new(connectors: impl IntoIterator<Item = Arc<dyn Connector>>) -> Connectors {
        let slots = connectors
            .into_iter()
            .map(|c| {
                let slot = Slot {
                    wanted: watch::Sender::new(Wanted {
                        connector: c.clone(),
                        suspended: false,
                    }),
                    running: watch::Sender::new(false),
                };
                (c.platform(), slot)
            })
            .collect();
        Connectors {
            slots: Arc::new(slots),
        }
    }

    /// The connector of `p` now.
    pub fn get(&self, p: Platform) -> Option<Arc<dyn Connector>> {
        self.slots
            .get(&p)
            .map(|s| s.wanted.borrow().connector.clone())
    }

    pub fn platforms(&self) -> impl Iterator<Item = Platform> + '_ {
        self.slots.keys().copied()
    }

    pub fn contains(&self, p: Platform) -> bool {
        self.slots.contains_key(&p)
    }

    pub fn slot(&self, p: Platform) -> Option<&Slot> {
        self.slots.get(&p)
    }
}

impl Slot {
    /// Asks the supervisor to stop the connector, and waits until it has (or no run is going).
    pub async fn suspend(&self) {
        self.wanted.send_modify(|w| w.suspended = true);
        let mut running = self.running.subscribe();
        // The sender lives in `self`, so the watch cannot close while this waits.
        let _ = running.wait_for(|r| !*r).await;
    }

    /// Lets the supervisor run `connector` (`None`: the one it had).
    pub fn resume(&self, connector: Option<Arc<dyn Connector>>) {
        self.wanted.send_modify(|w| {
            if let Some(c) = connector {
                w.connector = c;
            }
            w.suspended = false;
        });
    }
}
