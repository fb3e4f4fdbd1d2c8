//! The Synapse launcher against a real Synapse (installs it on first run).
#![cfg(feature = "synapse")]

use civicbridge_testkit::synapse::{self, SynapseOptions};

#[tokio::test]
async fn starts_registers_users_and_stops_by_pid() {
    let server = synapse::Synapse::start(SynapseOptions::default())
        .await
        .expect("synapse starts");
    let alice = server
        .register_fresh("alice")
        .await
        .expect("registers a user");
    assert!(alice.user_id.starts_with("@alice-"));
    assert!(alice.user_id.ends_with(":localhost"));
    let again = server.register(&alice.localpart, "other", false).await;
    let err = again.expect_err("a second registration of the same name fails");
    assert!(err.to_string().contains("M_USER_IN_USE"), "{err}");

    // The access token works against the client API.
    let http = reqwest::Client::new();
    let whoami: serde_json::Value = http
        .get(format!("{}/_matrix/client/v3/account/whoami", server.url()))
        .bearer_auth(&alice.access_token)
        .send()
        .await
        .expect("whoami")
        .json()
        .await
        .expect("json");
    assert_eq!(whoami["user_id"], alice.user_id.as_str());

    let url = server.url().to_owned();
    drop(server);
    // Stopped: nothing answers on the port any more.
    let after = http
        .get(format!("{url}/_matrix/client/versions"))
        .send()
        .await;
    assert!(after.is_err(), "synapse still answers after drop");
}

#[tokio::test]
async fn a_second_start_reuses_the_venv() {
    let venv = synapse::ensure_venv().expect("venv installed");
    let stamp_count = std::fs::read_dir(&venv)
        .expect("venv dir")
        .filter(|e| {
            e.as_ref()
                .map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".civicbridge-synapse-")
                })
                .unwrap_or(false)
        })
        .count();
    assert_eq!(stamp_count, 1);
    let modified = std::fs::metadata(venv.join("bin/python"))
        .and_then(|m| m.modified())
        .expect("python exists");
    let again = synapse::ensure_venv().expect("second ensure");
    assert_eq!(again, venv);
    let modified_again = std::fs::metadata(venv.join("bin/python"))
        .and_then(|m| m.modified())
        .expect("python exists");
    assert_eq!(modified, modified_again, "the venv was not rebuilt");
}
