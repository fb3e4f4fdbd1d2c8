//! The `Tell` job: a resident is told what happened to their message (`moderation::tell`),
//! privately where their platform lets the bot write to them, else as a reply to the message
//! in the room that is deleted after the link's `tell_reply_secs` (an `expiring` entry, see
//! `expiry.rs`). The private try comes first, once: after a part of the room reply went out
//! (`parts_done > 0`) a retry goes on with the reply. Audited as `told`, by way of which.

use super::*;
use crate::moderation::tell::Told;
use crate::store::expiring::Expiring;

/// A `Tell` job's texts, as queued.
pub(super) struct TellTexts<'a> {
    pub told: Told,
    pub private: &'a RichText,
    pub in_room: &'a RichText,
    pub invite: &'a RichText,
    pub delete_after_secs: u64,
}

pub(super) async fn tell(
    inner: &Arc<Inner>,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    m: &MirrorRecord,
    t: TellTexts<'_>,
) -> Result<(), JobError> {
    // Deleted by its author meanwhile: there is nothing to explain any more.
    if m.deleted {
        return finish(inner, job);
    }
    if job.parts_done == 0 && caps.private_messages {
        let private = civicbridge_api::Private {
            to: m.author.id.clone(),
            met_in: job.target.room.clone(),
            txn_id: format!("{}-p", txn_base(inner, job)),
            // The texts are bounded (`moderation::tell::MAX_TEXT`); cut anyway to what the
            // platform takes, as the contract asks.
            text: t
                .private
                .split(caps.max_text_len)
                .into_iter()
                .next()
                .unwrap_or_default(),
            files: Vec::new(),
        };
        match conn.tell(&private).await {
            Ok(_) => {
                inner.store.transact(|tx| {
                    audit_told(tx, job, m, t.told, "private")?;
                    tx.finish_job(job.id)
                })?;
                return Ok(());
            }
            // They cannot be reached privately: the room it is.
            Err(ConnectorError::Rejected(why) | ConnectorError::Unsupported(why)) => {
                tracing::debug!(job = %job.id, why, "telling in the room instead");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut text = t.in_room.clone();
    if caps.private_messages {
        text.spans.push(civicbridge_api::Span::Text(" ".into()));
        text.spans.extend(t.invite.spans.iter().cloned());
    }
    let mut parts = render::notice(&job.target.room, &txn_base(inner, job), &text, caps);
    if caps.replies {
        for p in &mut parts {
            p.reply_to = Some(m.source_msg.clone());
        }
    }
    let due_ms = crate::store::now_ms().saturating_add(t.delete_after_secs.saturating_mul(1000));
    send_parts(inner, conn, job, &parts, |tx, i, receipt| {
        if t.delete_after_secs > 0 {
            for id in &receipt.ids {
                tx.expire_later(&Expiring {
                    link: job.link.clone(),
                    room: job.target.clone(),
                    message: id.clone(),
                    due_ms,
                })?;
            }
        }
        match i {
            0 => audit_told(tx, job, m, t.told, "room"),
            _ => Ok(()),
        }
    })
    .await?;
    inner.expiry_wake.notify_one();
    Ok(())
}

fn audit_told(
    tx: &mut Tx<'_>,
    job: &Job,
    m: &MirrorRecord,
    told: Told,
    via: &str,
) -> Result<(), TxError> {
    tx.audit(AuditDraft {
        actor: crate::moderation::audit::AuditActor::Bridge,
        action: AuditAction::Told,
        link: Some(job.link.clone()),
        subject: Some(m.id.to_string()),
        detail: serde_json::json!({ "told": told.as_str(), "via": via }),
    })?;
    Ok(())
}

/// The `Unsay` job: deletes a message the bridge posted itself. Gone already is done.
pub(super) async fn unsay(
    inner: &Arc<Inner>,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    message: &civicbridge_api::RemoteMsgId,
) -> Result<(), JobError> {
    if caps.deletes {
        conn.delete(&job.target.room, message).await?;
    }
    finish(inner, job)
}
