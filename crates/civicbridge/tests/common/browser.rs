//! A real headless Chromium for the console's browser tests (Debian's `chromium` and
//! `chromium-driver`, driven through WebDriver with fantoccini), shared by the tests on fake
//! platforms (`daemon/console_browser.rs`) and on the real world (`e2e/console_e2e.rs`):
//! starting chromedriver, a browser session, axe-core on a page, waiting on a page.
//!
//! Without chromium (or axe-core's `npm ci` in `testing/testkit/axe`) the tests say so and pass,
//! unless `CI` is set: there they must run (`.ci/install-browser.sh` installs both).
#![allow(dead_code, clippy::unwrap_used)]

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a page may take to show what a test waits for: generous, since the suite runs
/// in parallel on small CI machines.
pub const PAGE_WAIT: Duration = Duration::from_secs(60);

/// A chromedriver process, stopped when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn axe_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testing/testkit/axe/node_modules/axe-core/axe.min.js")
}

/// Whether the browser tests can run here; panics in CI when they cannot.
pub fn available() -> bool {
    let have = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let missing: Vec<&str> = [
        (!have("chromium")).then_some("chromium"),
        (!have("chromedriver")).then_some("chromedriver (chromium-driver)"),
        (!axe_path().exists()).then_some("axe-core (npm ci in testing/testkit/axe)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "the browser tests must run in CI, but {} is missing: run .ci/install-browser.sh",
            missing.join(", ")
        );
    }
    eprintln!(
        "SKIPPED: the console's browser tests need {}; run .ci/install-browser.sh",
        missing.join(", ")
    );
    false
}

/// Starts chromedriver on a free port; returns once it listens.
pub async fn driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = tokio::time::Instant::now() + PAGE_WAIT;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return driver;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not listen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A new headless browser session (its own profile: no cookies shared with another).
pub async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

/// Runs axe-core on the page: every WCAG 2.0–2.2 A and AA rule; panics listing violations.
/// `page` names it in the failure (and the screenshot).
pub async fn axe(c: &Client, page: &str) {
    let source = std::fs::read_to_string(axe_path()).unwrap();
    c.execute(&source, vec![]).await.unwrap();
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
               .then(r => done(JSON.stringify(r.violations.map(v => ({ id: v.id, help: v.help, nodes: v.nodes.map(n => n.html) })))))
               .catch(e => done('error: ' + e));",
            vec![],
        )
        .await
        .unwrap();
    let found = found.as_str().unwrap().to_owned();
    assert_eq!(found, "[]", "axe-core violations on the {page} page");
    screenshot(c, page).await;
}

/// For looking at the pages: with `CIVICBRIDGE_SCREENSHOTS=DIR`, keeps a PNG of the page as
/// `DIR/<page>.png` (spaces as dashes).
pub async fn screenshot(c: &Client, page: &str) {
    if let Some(dir) = std::env::var_os("CIVICBRIDGE_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        let name = page.replace(' ', "-");
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).unwrap();
    }
}

/// Waits until `cond` holds of the page's source, reading it again every 50 ms; panics with
/// the page after [`PAGE_WAIT`].
pub async fn until_page(c: &Client, what: &str, cond: impl Fn(&str) -> bool) {
    let deadline = tokio::time::Instant::now() + PAGE_WAIT;
    loop {
        let html = c.source().await.unwrap();
        if cond(&html) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}:\n{html}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Types `keys` (each a key press and release).
pub async fn press(c: &Client, keys: &str) {
    let mut actions = KeyActions::new("keyboard".into());
    for k in keys.chars() {
        actions = actions
            .then(KeyAction::Down { value: k })
            .then(KeyAction::Up { value: k });
    }
    c.perform_actions(actions).await.unwrap();
}

/// Marks the open page, so [`still_loaded_once`] can tell it was not reloaded.
pub async fn mark_loaded_once(c: &Client) {
    c.execute("document.body.dataset.loadedOnce = 'yes';", vec![])
        .await
        .unwrap();
}

/// Whether the page marked by [`mark_loaded_once`] is still the same document.
pub async fn still_loaded_once(c: &Client) -> bool {
    let marked = c
        .execute(
            "return document.body.dataset.loadedOnce || 'reloaded';",
            vec![],
        )
        .await
        .unwrap();
    marked == "yes"
}
