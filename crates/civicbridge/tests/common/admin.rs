//! Reading the admin listener from a test.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

/// `GET /readyz`: its status and JSON body.
pub async fn readyz(base: &str) -> (u16, serde_json::Value) {
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap())
}

/// Polls `/readyz` until `check` holds for its answer (within `timeout`); returns the body.
pub async fn readyz_until(
    base: &str,
    timeout: Duration,
    what: &str,
    check: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (code, body) = readyz(base).await;
        if check(code, &body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; /readyz said {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
