//! The `Export` job: an admin's `!export USER` answered privately with two files, what the
//! store holds about that person on the admin's links as JSON and the readable summary
//! (`privacy::export`). The export is built when the job runs, so it is never kept in the
//! outbox, and audited (`exported`, by the admin) once the platform took it. When the admin
//! cannot be written to privately, the moderation room is told so; nothing is posted there.

use super::*;
use crate::privacy::export::{export as gather, summary};
use civicbridge_api::{AttachmentKind, Private};

pub(super) async fn export(
    inner: &Arc<Inner>,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
) -> Result<(), JobError> {
    let JobKind::Export {
        subject,
        to,
        links,
        by,
    } = &job.kind
    else {
        return finish(inner, job);
    };
    if !caps.private_messages {
        return refuse(inner, job, "this platform has no direct messages");
    }
    // A scan of the person's messages and of the whole audit log: off the async workers, which
    // carry every other room's jobs meanwhile.
    let (store, who, on) = (inner.store.clone(), subject.clone(), links.clone());
    let built = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        let mut e = gather(&store, &who)?;
        e.restrict(&on);
        let json = serde_json::to_vec_pretty(&e)
            .map_err(|err| StoreError::Corrupt(format!("cannot write the export: {err}")))?;
        let readable = summary(&e).into_bytes();
        Ok((e, json, readable))
    })
    .await
    .map_err(|err| StoreError::Backend(format!("the export task failed: {err}")))?;
    let (e, json, readable) = built?;
    if caps
        .max_attachment_bytes
        .is_some_and(|max| json.len() as u64 > max)
    {
        return refuse(
            inner,
            job,
            "the export is larger than the platform lets the bot upload; run `civicbridge \
             export` on the server",
        );
    }
    let name = file_stem(subject);
    let files = vec![
        OutgoingFile {
            kind: AttachmentKind::File,
            name: format!("{name}.json"),
            mime: Some("application/json".into()),
            data: json,
        },
        OutgoingFile {
            kind: AttachmentKind::File,
            name: format!("{name}.txt"),
            mime: Some("text/plain".into()),
            data: readable,
        },
    ];
    let links_list = links
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let text = RichText::plain(format!(
        "The export you asked for: what the bridge holds about {subject} on {links_list}. It \
         is personal data: keep it safe and delete it when you are done."
    ));
    let private = Private {
        to: to.clone(),
        met_in: job.target.room.clone(),
        txn_id: txn_base(inner, job),
        text,
        files,
    };
    match conn.tell(&private).await {
        Ok(_) => {
            let mut detail = e.counts();
            detail["via"] = "direct message".into();
            detail["links"] = serde_json::json!(links);
            inner.store.transact(|tx| {
                tx.audit(AuditDraft {
                    actor: by.clone(),
                    action: AuditAction::Exported,
                    link: None,
                    subject: Some(e.audit_name.clone()),
                    detail: detail.clone(),
                })?;
                tx.finish_job(job.id)
            })?;
            Ok(())
        }
        Err(ConnectorError::Rejected(why) | ConnectorError::Unsupported(why)) => {
            refuse(inner, job, &why)
        }
        Err(e) => Err(e.into()),
    }
}

/// Ends the job and tells the moderation room (the job's target) why no export was sent.
fn refuse(inner: &Arc<Inner>, job: &Job, why: &str) -> Result<(), JobError> {
    let text = format!("⚠ I could not send the export in a direct message: {why}.");
    let notice = inner.store.transact(|tx| {
        tx.finish_job(job.id)?;
        tx.push_job(&job.link, &job.target, JobKind::notice(text.as_str()))
    })?;
    Outbox {
        inner: inner.clone(),
    }
    .enqueue([&notice]);
    Ok(())
}

/// A file name for the export of `subject`: `export-telegram-42`, with anything but ASCII
/// letters, digits, `.`, `_` and `-` replaced (ids come from platforms and people).
fn file_stem(subject: &civicbridge_api::UserKey) -> String {
    let raw = format!("export-{}-{}", subject.platform, subject.id);
    raw.chars()
        .take(100)
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect()
}
