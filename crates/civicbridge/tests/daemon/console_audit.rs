//! The console's audit page over HTTP with the real daemon: a moderator sees and exports only
//! their links' entries, hostile filters are answered 400/403 (never a panic), and the JSON
//! Lines export holds exactly the filtered entries, sealed as in the store.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_core::moderation::audit::{self, AuditAction, AuditEntry};
use civicbridge_core::store::prelude::*;
use common::console::*;
use common::*;
use std::time::Duration;

const LIFETIME: Duration = Duration::from_secs(300);

fn on(e: &AuditEntry, link: &str) -> bool {
    e.link.as_ref().is_some_and(|l| l.as_str() == link)
}

#[tokio::test]
async fn the_audit_page_shows_and_exports_only_my_links_entries() {
    let w = start_console(LIFETIME).await;
    let mut web = Web::new(&w.base);
    assert_eq!(
        web.sign_in(&w.weblogin(MODS, MODERATOR, "$a1").await).await,
        303
    );
    w.held(TG, "1", "Planning matter").await;
    w.held(TG, "2", "Another planning matter").await;
    w.held(TG2, "3", "Parks matter").await;
    let log = w.store.audit_log().unwrap();

    let (status, _, page) = web.get("/console/audit").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Intact: the chain of all"), "{page}");
    assert!(page.contains("aria-current=\"page\">Audit log"), "{page}");
    for e in &log {
        let shown = page.contains(&format!("data-seq=\"{}\"", e.seq));
        assert_eq!(shown, on(e, "planning"), "entry {} {:?}", e.seq, e.link);
    }

    // Another link, a made-up action, unreadable or huge times and cursors: refused clearly.
    for (q, want) in [
        ("link=parks", 403),
        ("action=nuke", 400),
        ("from=yesterday", 400),
        ("to=99999999999999999999999999999999999999999999", 400),
        ("before=-3", 400),
        ("before=99999999999999999999999999", 400),
        ("from=%FF%FE", 400),
    ] {
        let (status, _, page) = web.get(&format!("/console/audit?{q}")).await;
        assert_eq!(status, want, "{q}: {page}");
        let (status, _, _) = web.get(&format!("/console/audit.jsonl?{q}")).await;
        assert_eq!(status, want, "{q} (export)");
    }
    let long = "x".repeat(20_000);
    let (status, _, page) = web.get(&format!("/console/audit?actor={long}")).await;
    assert_eq!(status, 200, "a long actor is clamped");
    assert!(page.contains("No entries match."));

    // The export of a filtered range: exactly the permitted entries matching, as sealed.
    let held: Vec<&AuditEntry> = log
        .iter()
        .filter(|e| on(e, "planning") && e.action == AuditAction::Held)
        .collect();
    assert_eq!(held.len(), 2);
    let (status, headers, text) = web.get("/console/audit.jsonl?action=held").await;
    assert_eq!(status, 200, "{text}");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let exported = audit::parse_jsonl(&text).unwrap();
    assert_eq!(exported.iter().collect::<Vec<_>>(), held);
    for e in &exported {
        assert_eq!(
            e.compute_hash(),
            e.hash,
            "entry {} is sealed as stored",
            e.seq
        );
    }
    // A range with nothing of others in it is a contiguous run: the verifier checks its links.
    // It ends (exclusive) where the parks item was held: everything before that is committed.
    let first = held[0];
    let from = chrono::DateTime::from_timestamp_millis(first.at_ms as i64)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let parks = log
        .iter()
        .find(|e| on(e, "parks") && e.action == AuditAction::Held)
        .unwrap();
    let to = chrono::DateTime::from_timestamp_millis(parks.at_ms as i64)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let run: Vec<&AuditEntry> = log
        .iter()
        .filter(|e| e.at_ms >= first.at_ms && e.at_ms < parks.at_ms)
        .collect();
    assert!(!run.is_empty());
    let (status, _, text) = web
        .get(&format!(
            "/console/audit.jsonl?from={}&to={}",
            enc(&from),
            enc(&to)
        ))
        .await;
    assert_eq!(status, 200, "{text}");
    let exported = audit::parse_jsonl(&text).unwrap();
    let mine: Vec<&AuditEntry> = run.iter().copied().filter(|e| on(e, "planning")).collect();
    assert_eq!(exported.iter().collect::<Vec<_>>(), mine);
    // The daemon may log an entry of another kind (a console action, of no link) inside that
    // window: between two of ours it leaves a gap, and the export must not verify as one run;
    // without a gap it must.
    let contiguous = mine.windows(2).all(|p| p[1].seq == p[0].seq + 1);
    match contiguous {
        true => {
            audit::verify_export(&exported).unwrap();
        }
        false => assert!(
            audit::verify_export(&exported).is_err(),
            "an export with a gap does not verify as one run"
        ),
    }
    // Each export is audited.
    assert!(w.store.audit_log().unwrap().iter().any(|e| {
        e.action == AuditAction::ConsoleAction
            && e.detail["action"] == "audit_export"
            && e.detail["via"] == "console"
    }));

    // Paging: 50 a page, newest first, and "older" reaches the rest exactly once.
    for _ in 0..55 {
        let (status, _, _) = web.get("/console/audit.jsonl?link=planning").await;
        assert_eq!(status, 200);
    }
    let visible: Vec<u64> = w
        .store
        .audit_log()
        .unwrap()
        .iter()
        .rev()
        .filter(|e| on(e, "planning"))
        .map(|e| e.seq)
        .collect();
    assert!(visible.len() > 55);
    let seqs = |page: &str| -> Vec<u64> {
        page.split("data-seq=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
            .collect()
    };
    let (_, _, first) = web.get("/console/audit?link=planning").await;
    assert_eq!(seqs(&first), visible[..50]);
    let at = first.find("id=\"older\"").expect("an older link");
    let href = &first[first[..at].rfind("href=\"").unwrap() + 6..];
    // As the browser reads the attribute (the template escapes `/` and `&`).
    let href = href[..href.find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    assert_eq!(
        href,
        format!("/console/audit?link=planning&before={}", visible[49])
    );
    let (_, _, second) = web.get(&href).await;
    assert_eq!(seqs(&second), visible[50..visible.len().min(100)]);

    // The other link's moderator sees theirs and none of these.
    let mut oz = Web::new(&w.base);
    assert_eq!(
        oz.sign_in(&w.weblogin(MODS2, OTHER_MODERATOR, "$a2").await)
            .await,
        303
    );
    let (status, _, text) = oz.get("/console/audit.jsonl").await;
    assert_eq!(status, 200);
    let theirs = audit::parse_jsonl(&text).unwrap();
    assert!(!theirs.is_empty());
    assert!(theirs.iter().all(|e| on(e, "parks")), "{text}");
    w.daemon.shutdown().await.unwrap();
}
