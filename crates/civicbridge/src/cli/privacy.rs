//! CLI handlers for privacy and the audit log: `erase`, `prune`, `audit export`, `audit verify`.
//! With the bridge stopped they act on the store, and what they queue (delete jobs) runs when
//! it next starts; while it runs they go through its admin API (`cli::remote`), if on, and the
//! deletes run at once.

use crate::cli::moderation::{open_or_remote, Access};
use crate::{input, load, out, person, print_raw, AuditCmd, Failure};
use anyhow::Context;
use civicbridge_core::moderation::audit::{self, AuditEntry};
use civicbridge_core::privacy;
use civicbridge_core::store::prelude::*;
use std::path::Path;

pub async fn erase(config: &Path, user: &str) -> Result<(), Failure> {
    let settings = load(config)?;
    let user = person(&settings, user)?;
    let store = match open_or_remote(&settings)? {
        Access::Store(store) => store,
        Access::Running(remote) => {
            let body = serde_json::json!({ "user": user.to_string() });
            let (_, done) = remote
                .call(reqwest::Method::POST, "/erase", Some(body))
                .await?;
            out(format!(
                "erased {user}: {} message(s) replaced by tombstones, {} held item(s) discarded, \
                 {} queued job(s) cancelled; {} delete job(s) running now",
                done["messages"], done["held_discarded"], done["jobs_cancelled"], done["deletes"]
            ));
            return Ok(());
        }
    };
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
    let store = match open_or_remote(&settings)? {
        Access::Store(store) => store,
        Access::Running(remote) => {
            let (_, done) = remote.call(reqwest::Method::POST, "/prune", None).await?;
            let links = done["links"].as_array().cloned().unwrap_or_default();
            if links.is_empty() {
                out("no link has a retention period (rule retention_days); nothing pruned");
            }
            for p in links {
                out(format!(
                    "link {}: {} message(s) older than {} pruned",
                    p["link"].as_str().unwrap_or_default(),
                    p["messages"],
                    p["cutoff"].as_str().unwrap_or_default()
                ));
            }
            return Ok(());
        }
    };
    // The links the bridge would run: the config's, with the changes made at runtime.
    civicbridge_core::ops::links::sync(
        &store,
        &settings.links,
        &settings.platforms().into_iter().collect(),
    )
    .context("syncing config")?;
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

pub async fn export(config: &Path, user: &str, file: &Path) -> Result<(), Failure> {
    let settings = load(config)?;
    let user = person(&settings, user)?;
    let json = match open_or_remote(&settings)? {
        Access::Store(store) => {
            let done = privacy::export::export_audited(
                &store,
                &user,
                &civicbridge_core::moderation::audit::AuditActor::Cli,
            )
            .context("exporting")?;
            store.flush().await.context("flushing")?;
            serde_json::to_value(&done).context("encoding the export")?
        }
        Access::Running(remote) => {
            let body = serde_json::json!({ "user": user.to_string() });
            remote
                .call(reqwest::Method::POST, "/export", Some(body))
                .await?
                .1
        }
    };
    let done: privacy::export::SubjectExport =
        serde_json::from_value(json.clone()).map_err(|e| {
            input(format!(
                "the bridge answered with an export this build cannot read: {e}"
            ))
        })?;
    let text = serde_json::to_string_pretty(&json).context("encoding the export")?;
    std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
    let summary_path = file.with_extension("txt");
    let summary = privacy::export::summary(&done);
    std::fs::write(&summary_path, &summary)
        .with_context(|| format!("writing {}", summary_path.display()))?;
    out(format!(
        "exported what the bridge holds about {user} to {} (summary in {}): {} message(s), {} \
         note(s), {} audit entr(ies)",
        file.display(),
        summary_path.display(),
        done.messages.len(),
        done.notes.len(),
        done.audit.len()
    ));
    Ok(())
}

pub async fn report(config: &Path, from: &str, to: &str, file: &Path) -> Result<(), Failure> {
    let settings = load(config)?;
    let from_ms = audit::parse_since(from).map_err(|e| input(format!("--from: {e}")))?;
    let to_ms = audit::parse_since(to).map_err(|e| input(format!("--to: {e}")))?;
    if from_ms >= to_ms {
        return Err(input("--from must be before --to"));
    }
    let rows: Vec<audit::report::Row> = match open_or_remote(&settings)? {
        Access::Store(store) => {
            let log = store.audit_log().context("reading the audit log")?;
            let links = store.links().context("reading the links")?;
            audit::report::report(&log, &links, from_ms, to_ms)
        }
        Access::Running(remote) => {
            let path = format!("/report?from={from_ms}&to={to_ms}");
            let (_, rows) = remote.call(reqwest::Method::GET, &path, None).await?;
            serde_json::from_value(rows).map_err(|e| {
                input(format!(
                    "the bridge answered with rows this build cannot read: {e}"
                ))
            })?
        }
    };
    let csv = file.with_extension("csv");
    let json = file.with_extension("json");
    std::fs::write(&csv, audit::report::to_csv(&rows))
        .with_context(|| format!("writing {}", csv.display()))?;
    std::fs::write(
        &json,
        serde_json::to_string_pretty(&rows).context("encoding")?,
    )
    .with_context(|| format!("writing {}", json.display()))?;
    let total: u64 = rows.iter().map(|r| r.count).sum();
    out(format!(
        "{total} decision(s) and event(s) in {} row(s), written to {} and {}",
        rows.len(),
        csv.display(),
        json.display()
    ));
    Ok(())
}

pub async fn audit_cmd(config: &Path, action: AuditCmd) -> Result<(), Failure> {
    let settings = load(config)?;
    match action {
        AuditCmd::Export { since, out: file } => {
            let since_ms = match since {
                None => 0,
                Some(d) => audit::parse_since(&d).map_err(|e| input(format!("--since: {e}")))?,
            };
            let text = match open_or_remote(&settings)? {
                Access::Store(store) => {
                    let log = store.audit_log().context("reading the audit log")?;
                    let mut text = String::new();
                    for e in audit::since(&log, since_ms) {
                        text.push_str(&serde_json::to_string(e).context("encoding an entry")?);
                        text.push('\n');
                    }
                    text
                }
                Access::Running(remote) => {
                    let path = format!("/audit?since={since_ms}");
                    let (_, answer) = remote.call(reqwest::Method::GET, &path, None).await?;
                    answer["text"].as_str().unwrap_or_default().to_owned()
                }
            };
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
                    let store = match open_or_remote(&settings)? {
                        Access::Store(store) => store,
                        Access::Running(remote) => {
                            let (_, v) = remote
                                .call(reqwest::Method::GET, "/audit/verify", None)
                                .await?;
                            out(format!(
                                "audit log intact: {} entries (seq {} to {})",
                                v["entries"], v["first_seq"], v["last_seq"]
                            ));
                            return Ok(());
                        }
                    };
                    // A block at a time: the log may hold hundreds of thousands of entries.
                    store
                        .audit_verify()
                        .context("reading the audit log")?
                        .map_err(|e| not_intact(&e, &[]))?
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
