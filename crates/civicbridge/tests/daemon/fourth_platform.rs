//! A fourth platform, written for the tests only (`testing/loopback`), relays through a link with
//! moderation. The config names it, its factory checks the section and builds the connector, the
//! daemon runs it, its own message links work in `!takedown`; and no file of the contract
//! (`crates/api`) or the core (`crates/core`) changed to let it in.
#![allow(clippy::unwrap_used)]

use civicbridge_api::testing::wait_until;
use civicbridge_api::{PlatformFactory, Standing};
use civicbridge_core::ops::config::Settings;
use civicbridge_core::ops::daemon::{Daemon, Options};
use civicbridge_core::store::Store;
use civicbridge_loopback::{LoopbackFactory, Network};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

const CONFIG: &str = r#"
[store]
path = "data"

[loopback]
network = "fourth-platform"

[links.hall]
moderation_room = "loopback:mods"
moderators = ["loopback:mo"]
rooms = [
  { room = "loopback:staff", side = "staff" },
  { room = "loopback:square", side = "public" },
]

[links.hall.rules]
public_to_staff = { policy = "approve" }
staff_to_public = { policy = "auto" }
"#;

fn texts(net: &Network, room: &str) -> Vec<String> {
    net.shown(room).into_iter().map(|m| m.text).collect()
}

#[tokio::test]
async fn a_platform_the_core_never_heard_of_relays_under_moderation() {
    let net = Network::create("fourth-platform");
    let dir = tempfile::tempdir().unwrap();
    let factories: Vec<Arc<dyn PlatformFactory>> = vec![Arc::new(LoopbackFactory)];
    let settings = Settings::from_toml(CONFIG, dir.path(), &factories).unwrap();
    let mut connectors = Vec::new();
    for p in &settings.platforms {
        let ctx = settings.build_context(p.factory.platform());
        connectors.push(p.factory.build(&p.section, ctx).await.unwrap().connector);
    }
    let store = Store::open(&settings.store_path).unwrap();
    let options = Options {
        platforms: factories.clone(),
        ..Options::default()
    };
    let daemon = Daemon::start(store, &settings.links, connectors, options)
        .await
        .unwrap();

    // A resident's question waits for a moderator.
    net.post(
        "square",
        ("ada", "Ada"),
        Standing::Member,
        "Is the hall free on Friday?",
    );
    wait_until(WAIT, "the card in the moderation room", || {
        texts(&net, "mods").iter().any(|t| t.contains("Held #1"))
    })
    .await;
    assert!(texts(&net, "staff").is_empty(), "nothing crossed yet");

    // Someone who is not a moderator cannot approve it; the moderator can.
    net.post("mods", ("eve", "Eve"), Standing::Member, "!approve #1");
    wait_until(WAIT, "the refusal", || {
        texts(&net, "mods").iter().any(|t| t.starts_with("Sorry"))
    })
    .await;
    net.post("mods", ("mo", "Mo"), Standing::Member, "!approve #1");
    wait_until(WAIT, "the approved question in the staff room", || {
        texts(&net, "staff") == ["Ada (Loopback): Is the hall free on Friday?"]
    })
    .await;

    // Staff answer at once (staff → public is auto here).
    net.post("staff", ("sam", "Sam"), Standing::Member, "Yes, from 6pm.");
    wait_until(WAIT, "the answer in the public room", || {
        texts(&net, "square")
            .iter()
            .any(|t| t == "Sam (Loopback): Yes, from 6pm.")
    })
    .await;

    // The platform's own message links work in `!takedown`.
    let copy = net.shown("staff")[0].id.clone();
    net.post(
        "mods",
        ("mo", "Mo"),
        Standing::Member,
        &format!("!takedown loop://staff/{copy}"),
    );
    wait_until(WAIT, "the copy taken down", || {
        !texts(&net, "staff")
            .iter()
            .any(|t| t.contains("Is the hall free"))
    })
    .await;
    daemon.shutdown().await.unwrap();
}
