//! CLI handlers for privacy and the audit log: `erase`, `prune`, `audit export`, `audit verify`.
//! Like the other store commands they run with the bridge stopped (sled allows one process per
//! data directory); what they queue (delete jobs) runs when the bridge next starts.

use crate::{input, load, open_store, out, person, print_raw, AuditCmd, Failure};
use anyhow::Context;
use civicbridge_core::moderation::audit::{self, AuditEntry};
use civicbridge_core::privacy;
use civicbridge_core::store::prelude::*;
use std::path::Path;

pub async fn erase(config: &Path, user: &str) -> Result<(), Failure> {
    let settings = load(config)?;
    let user = person(&settings, user)?;
    let store = open_store(&settings)?;
    let done = privacy::erase::erase(
        &store,
        &user,
        &civicbridge_core::moderation::audit::AuditActor::Cli,
    )
    .context("erasing")?;
    store.flush().await.context("flushing")?;
    out(format!(
        "erased {user}: {} message(s) replaced by tombstones, {} held item(s) discarded, \
         {} queued job(s) cancelled; {} delete job(s) will run when the bridge next starts",
        done.messages,
        done.held_discarded,
        done.jobs_cancelled,
        done.deletes.len()
    ));
    Ok(())
}

pub async fn prune(config: &Path) -> Result<(), Failure> {
    let settings = load(config)?;
    let store = open_store(&settings)?;
    let pairs: Vec<_> = settings
        .links
        .iter()
        .map(|l| (l.link.clone(), l.rules.clone()))
        .collect();
    store.sync_config(&pairs).context("syncing config")?;
    let done = privacy::retention::prune(
        &store,
        civicbridge_core::store::now_ms(),
        &civicbridge_core::moderation::audit::AuditActor::Cli,
    )
    .context("pruning")?;
    store.flush().await.context("flushing")?;
    if done.is_empty() {
        out("no link has a retention period (rule retention_days); nothing pruned");
    }
    for p in done {
        out(format!(
            "link {}: {} message(s) older than {} pruned",
            p.link,
            p.messages,
            audit::rfc3339(p.cutoff_ms)
        ));
    }
    Ok(())
}

pub fn audit_cmd(config: &Path, action: AuditCmd) -> Result<(), Failure> {
    let settings = load(config)?;
    match action {
        AuditCmd::Export { since, out: file } => {
            let since_ms = match since {
                None => 0,
                Some(d) => audit::parse_since(&d).map_err(|e| input(format!("--since: {e}")))?,
            };
            let store = open_store(&settings)?;
            let log = store.audit_log().context("reading the audit log")?;
            let mut text = String::new();
            for e in audit::since(&log, since_ms) {
                text.push_str(&serde_json::to_string(e).context("encoding an entry")?);
                text.push('\n');
            }
            match file {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print_raw(&text),
            }
        }
        AuditCmd::Verify { file } => {
            let verified = match &file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| input(format!("{}: {e}", path.display())))?;
                    let entries: Vec<AuditEntry> = audit::parse_jsonl(&text).map_err(input)?;
                    audit::verify_export(&entries).map_err(|e| not_intact(&e, &entries))?
                }
                None => {
                    let store = open_store(&settings)?;
                    let log = store.audit_log().context("reading the audit log")?;
                    let n = audit::verify(&log, Some(audit::GENESIS))
                        .map_err(|e| not_intact(&e, &log))?;
                    audit::Verified {
                        entries: n,
                        first_seq: log.first().map(|e| e.seq),
                        last_seq: log.last().map(|e| e.seq),
                    }
                }
            };
            out(format!("audit log intact: {verified}"));
        }
    }
    Ok(())
}

/// Names the first bad entry by sequence number and by its line in the export.
fn not_intact(e: &audit::VerifyError, entries: &[AuditEntry]) -> Failure {
    let seq = match e {
        audit::VerifyError::Altered { seq }
        | audit::VerifyError::Broken { seq, .. }
        | audit::VerifyError::BadGenesis { seq } => Some(*seq),
        audit::VerifyError::Unreadable { .. } => None,
    };
    let line = seq
        .and_then(|s| entries.iter().position(|x| x.seq == s))
        .map(|i| format!(" (line {})", i + 1))
        .unwrap_or_default();
    input(format!("audit log is NOT intact: {e}{line}"))
}
