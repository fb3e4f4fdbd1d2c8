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

/// Run by `no_stray_synapse_survives_a_killed_test_process` in a child process: starts the
/// shared Synapse, prints its URL, and waits to be killed.
#[tokio::test]
#[ignore = "helper, run by another test"]
#[allow(clippy::print_stdout)] // the parent test reads the URL from our stdout
async fn helper_start_synapse_and_wait() {
    if std::env::var_os("CIVICBRIDGE_STRAY_HELPER").is_none() {
        return;
    }
    let server = synapse::shared().await.expect("synapse starts");
    println!("SYNAPSE_URL={}", server.url());
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn no_stray_synapse_survives_a_killed_test_process() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "helper_start_synapse_and_wait",
            "--ignored",
            "--nocapture",
        ])
        .env("CIVICBRIDGE_STRAY_HELPER", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("helper starts");
    let stdout = child.stdout.take().expect("stdout");
    let url = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("SYNAPSE_URL=").map(str::to_owned))
    })
    .await
    .expect("reader")
    .expect("the helper printed the URL");
    let http = reqwest::Client::new();
    let versions = format!("{url}/_matrix/client/versions");
    assert!(
        http.get(&versions).send().await.is_ok(),
        "helper's synapse is up"
    );

    // SIGKILL: no destructor runs in the helper.
    child.kill().expect("kill");
    child.wait().expect("reaped");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if http.get(&versions).send().await.is_err() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "synapse outlived the killed test process"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn whoami(base: &str, token: &str) -> Option<String> {
    let r: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/_matrix/client/v3/account/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    r["user_id"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn a_restart_and_a_kept_data_dir_keep_users_and_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SynapseOptions {
        data_dir: Some(dir.path().join("hs")),
        ..SynapseOptions::default()
    };
    let server = synapse::Synapse::start(opts.clone())
        .await
        .expect("synapse starts");
    let user = server.register_fresh("keep").await.expect("registers");
    let before = server.pid().expect("running");

    server.restart().await.expect("restarts");
    assert_ne!(server.pid(), Some(before), "a new process");
    assert_eq!(
        whoami(server.url(), &user.access_token).await.as_deref(),
        Some(user.user_id.as_str()),
        "the token works after a restart on the same port"
    );
    let url = server.url().to_owned();
    drop(server);
    assert!(dir.path().join("hs/homeserver.db").exists(), "kept");

    let again = synapse::Synapse::start(opts).await.expect("starts again");
    assert_eq!(again.url(), url, "the same port when it is free");
    assert_eq!(
        whoami(again.url(), &user.access_token).await.as_deref(),
        Some(user.user_id.as_str()),
        "the same users on a second start"
    );
}
