//! The binary's list of platforms: the only place in civicbridge that names every one, each
//! behind its cargo feature. Each connector crate provides its `PlatformFactory`; adding a
//! platform is a new crate, a feature in `Cargo.toml` and one line here.

use civicbridge_api::PlatformFactory;
use std::sync::Arc;

/// The platforms this build can connect to.
pub fn all() -> Vec<Arc<dyn PlatformFactory>> {
    let all: Vec<Arc<dyn PlatformFactory>> = vec![
        #[cfg(feature = "matrix")]
        Arc::new(civicbridge_matrix::MatrixFactory),
        #[cfg(feature = "telegram")]
        Arc::new(civicbridge_telegram::TelegramFactory),
        #[cfg(feature = "discord")]
        Arc::new(civicbridge_discord::DiscordFactory),
    ];
    for f in &all {
        f.platform().register_label(f.label());
    }
    all
}
