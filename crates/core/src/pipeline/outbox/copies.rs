//! What each kind of job does on its target platform: a copy sent (with its reply and thread
//! context and its files), edited or deleted, a notice to moderators posted or rewritten. Each
//! records the copy's ids in the same transaction that advances or finishes the job.

use super::*;

/// How the copy answers another message and which thread it goes in, for this target.
///
/// Nothing crosses by reference that did not cross itself: a reply, a quote or a thread start
/// refers to the message answered only where that message is shared (`MirrorRecord::shared_in`:
/// written there, or a live copy there). Otherwise the copy shows a neutral placeholder, so a
/// rejected, held or taken-down message never comes back as the quote above an approved reply.
/// An existing thread in the target stays usable (joining it reveals nothing of its root).
pub(super) fn resolve_context(
    inner: &Inner,
    caps: &Capabilities,
    target: &RoomRef,
    m: &MirrorRecord,
) -> Result<(Option<ReplyTarget>, Option<ThreadTarget>), StoreError> {
    let mut reply = None;
    if let Some(r) = m
        .reply_to
        .map(|r| inner.store.mirror(r))
        .transpose()?
        .flatten()
    {
        reply = Some(match r.id_in(target) {
            _ if !r.shared_in(target) => ReplyTarget::NotShared,
            Some(id) if caps.replies => ReplyTarget::Native(id.clone()),
            _ => ReplyTarget::Quote {
                author: crate::privacy::shown_author(&mut &inner.store, &r, target)?.name,
                excerpt: render::excerpt(&r.text),
            },
        });
    }
    let mut thread = None;
    if let Some(root) = m
        .thread_root
        .map(|t| inner.store.mirror(t))
        .transpose()?
        .flatten()
    {
        let existing = root.thread_in(target).cloned();
        let here = root.id_in(target).filter(|_| root.shared_in(target));
        match (caps.threads, existing, here) {
            (true, Some(t), _) => thread = Some(ThreadTarget::Existing(t)),
            (true, None, Some(id)) => thread = Some(ThreadTarget::StartFrom(id.clone())),
            (false, _, Some(id)) if reply.is_none() && caps.replies => {
                reply = Some(ReplyTarget::Native(id.clone()))
            }
            _ => {}
        }
    }
    Ok((reply, thread))
}

/// Downloads the attachments the target can take; names the others.
pub(super) async fn fetch_files(
    inner: &Inner,
    caps: &Capabilities,
    m: &MirrorRecord,
) -> Result<(Vec<OutgoingFile>, Vec<String>), JobError> {
    let mut files = Vec::new();
    let mut unshown = Vec::new();
    for a in &m.attachments {
        let label = format!("{}: {}", a.kind.as_str(), a.name);
        if !caps.attachments {
            unshown.push(format!("{label}, not supported here"));
            continue;
        }
        if let (Some(max), Some(size)) = (caps.max_attachment_bytes, a.size) {
            if size > max {
                unshown.push(format!("{label}, too large"));
                continue;
            }
        }
        match connector(inner, m.source.platform)?.fetch(a).await {
            Ok(data) => files.push(OutgoingFile {
                kind: a.kind,
                name: a.name.clone(),
                mime: a.mime.clone(),
                data,
            }),
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => unshown.push(format!("{label}, unavailable: {e}")),
        }
    }
    Ok((files, unshown))
}

/// `conn.send(part)`, its duration observed whatever its outcome.
async fn timed_send(
    inner: &Inner,
    conn: &Arc<dyn Connector>,
    part: &civicbridge_api::Outgoing,
) -> Result<SendReceipt, civicbridge_api::ConnectorError> {
    let started = std::time::Instant::now();
    let sent = conn.send(part).await;
    inner
        .instruments
        .send_took(conn.platform(), started.elapsed());
    sent
}

/// Sends `parts` in order, skipping those an earlier attempt delivered. After each part,
/// `record` runs inside the transaction that also advances (or, after the last part, finishes)
/// the job, so a receipt and the job's progress are never out of step.
pub(super) async fn send_parts(
    inner: &Inner,
    conn: &Arc<dyn Connector>,
    job: &Job,
    parts: &[civicbridge_api::Outgoing],
    mut record: impl FnMut(&mut Tx<'_>, usize, &SendReceipt) -> Result<(), TxError>,
) -> Result<(), JobError> {
    let total = parts.len();
    for (i, part) in parts.iter().enumerate().skip(job.parts_done as usize) {
        let receipt = timed_send(inner, conn, part).await?;
        inner.store.transact(|tx| {
            record(tx, i, &receipt)?;
            if i + 1 == total {
                tx.finish_job(job.id)
            } else {
                let mut j = job.clone();
                j.parts_done = i as u32 + 1;
                tx.update_job(&j)
            }
        })?;
    }
    if total <= job.parts_done as usize {
        finish(inner, job)?;
    }
    Ok(())
}

pub(super) async fn send_copy(
    inner: &Inner,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    m: &MirrorRecord,
    text: &RichText,
) -> Result<(), JobError> {
    if m.deleted {
        return finish(inner, job);
    }
    let (reply, thread) = resolve_context(inner, caps, &job.target, m)?;
    let (files, unshown) = fetch_files(inner, caps, m).await?;
    let parts = render::render(RenderInput {
        mirror: m,
        text,
        author: crate::privacy::shown_author(&mut &inner.store, m, &job.target)?,
        caps,
        room: &job.target.room,
        txn_base: txn_base(inner, job),
        reply,
        thread: thread.clone(),
        files,
        unshown,
    });
    send_parts(inner, conn, job, &parts, |tx, _, receipt| {
        let mut mm = tx.mirror_required(m.id)?;
        let copy = mm.copy_in_mut(&job.target);
        copy.ids.extend(receipt.ids.iter().cloned());
        if copy.thread.is_none() {
            copy.thread = receipt.thread.clone();
        }
        tx.put_mirror(&mm)?;
        for id in &receipt.ids {
            tx.index(&job.target, id, IndexEntry::Mirror(m.id))?;
        }
        // A thread started from the root's copy belongs to the root.
        if let (Some(ThreadTarget::StartFrom(_)), Some(t), Some(root)) =
            (&thread, &receipt.thread, m.thread_root)
        {
            let mut r = tx.mirror_required(root)?;
            r.set_thread_in(&job.target, t.clone());
            tx.put_mirror(&r)?;
            tx.put_thread(&job.target, t, root)?;
        }
        Ok(())
    })
    .await?;
    // Received → copy sent, by the message's own time (0 in records that never had one).
    let sent_at = crate::store::now_ms();
    if m.at_ms > 0 && sent_at >= m.at_ms {
        inner.instruments.relayed(
            m.source.platform,
            job.target.platform,
            std::time::Duration::from_millis(sent_at - m.at_ms),
        );
    }
    Ok(())
}

pub(super) async fn edit_copy(
    inner: &Inner,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    m: &MirrorRecord,
    text: &RichText,
) -> Result<(), JobError> {
    let Some(copy) = m.copy_in(&job.target).filter(|_| caps.edits) else {
        return finish(inner, job);
    };
    let parts = render::render(RenderInput {
        mirror: m,
        text,
        author: crate::privacy::shown_author(&mut &inner.store, m, &job.target)?,
        caps,
        room: &job.target.room,
        txn_base: txn_base(inner, job),
        reply: None,
        thread: None,
        files: Vec::new(),
        unshown: Vec::new(),
    });
    if !m.attachments.is_empty() {
        return edit_with_files(conn, job, copy, &parts)
            .await
            .and_then(|()| finish(inner, job));
    }
    for (id, part) in copy.ids.iter().zip(&parts) {
        conn.edit(&job.target.room, id, part).await?;
    }
    // The new text needs more parts than before: post the rest; fewer: remove the surplus.
    let mut ids = copy.ids.clone();
    for part in parts.iter().skip(copy.ids.len()) {
        let receipt = timed_send(inner, conn, part).await?;
        ids.extend(receipt.ids);
        record_ids(inner, m, &job.target, &ids)?;
    }
    if caps.deletes {
        while ids.len() > parts.len() {
            if let Some(id) = ids.last() {
                conn.delete(&job.target.room, id).await?;
            }
            ids.pop();
            record_ids(inner, m, &job.target, &ids)?;
        }
    }
    finish(inner, job)
}

/// Edits the copy of a message with attachments. Its ids mix text parts and files in a way
/// each platform decides (Matrix posts files as events of their own after the text, Telegram
/// captions the first file or posts the text before the files, Discord puts the first file on
/// the first part), so only the first id, the one carrying the text, is edited: never a file's
/// message with text, never a "surplus" part removed (that was the photo), never a part added.
/// A new text longer than one part is cut to it.
pub(super) async fn edit_with_files(
    conn: &Arc<dyn Connector>,
    job: &Job,
    copy: &crate::store::Copy,
    parts: &[Outgoing],
) -> Result<(), JobError> {
    if parts.len() > 1 {
        tracing::warn!(job = %job.id, parts = parts.len(), "edit of a message with files cut to one part");
    }
    if let (Some(id), Some(part)) = (copy.ids.first(), parts.first()) {
        conn.edit(&job.target.room, id, part).await?;
    }
    Ok(())
}

pub(super) fn record_ids(
    inner: &Inner,
    m: &MirrorRecord,
    target: &RoomRef,
    ids: &[civicbridge_api::RemoteMsgId],
) -> Result<(), StoreError> {
    inner.store.transact(|tx| {
        let mut mm = tx.mirror_required(m.id)?;
        mm.copy_in_mut(target).ids = ids.to_vec();
        for id in ids {
            tx.index(target, id, IndexEntry::Mirror(m.id))?;
        }
        tx.put_mirror(&mm)
    })
}

pub(super) async fn delete_copy(
    inner: &Inner,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    m: &MirrorRecord,
) -> Result<(), JobError> {
    if let Some(copy) = m.copy_in(&job.target).filter(|_| caps.deletes) {
        for id in &copy.ids {
            conn.delete(&job.target.room, id).await?;
        }
    }
    inner.store.transact(|tx| {
        let mut mm = tx.mirror_required(m.id)?;
        mm.copies.retain(|c| c.room != job.target);
        tx.put_mirror(&mm)?;
        tx.finish_job(job.id)
    })?;
    Ok(())
}

pub(super) async fn send_notice(
    inner: &Arc<Inner>,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    text: &RichText,
    card: Option<civicbridge_api::PendingId>,
    about: Option<civicbridge_api::MirrorId>,
) -> Result<(), JobError> {
    let parts = render::notice(&job.target.room, &txn_base(inner, job), text, caps);
    let mut decided_meanwhile = Vec::new();
    send_parts(inner, conn, job, &parts, |tx, i, receipt| {
        // Every part of a card quotes its message: remember them all for erasure. A message
        // record that cannot be read (the notice may be about just that) does not hold the
        // notice back.
        let about = match about.map(|m| tx.mirror(m)).transpose() {
            Ok(m) => m.flatten(),
            Err(StoreError::Corrupt(e)) => {
                tracing::warn!(job = %job.id, error = %e, "a notice about an unreadable message");
                None
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(mut m) = about {
            m.cards.extend(
                receipt
                    .ids
                    .iter()
                    .map(|id| (job.target.clone(), id.clone())),
            );
            tx.put_mirror(&m)?;
        }
        if let (0, Some(pid), Some(first)) = (i, card, receipt.ids.first()) {
            // Filed as the item's card (or a superseded one); edited if it changed meanwhile.
            decided_meanwhile.extend(crate::moderation::approval::card_posted(
                tx, job, text, pid, first,
            )?);
        }
        Ok(())
    })
    .await?;
    Outbox {
        inner: inner.clone(),
    }
    .enqueue(&decided_meanwhile);
    Ok(())
}

/// Rewrites a notice the bridge posted (a decided card). Only its first part is edited: a card
/// long enough to be split keeps its later parts.
pub(super) async fn edit_notice(
    inner: &Arc<Inner>,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    message: &civicbridge_api::RemoteMsgId,
    text: &RichText,
) -> Result<(), JobError> {
    if caps.edits {
        let parts = render::notice(&job.target.room, &txn_base(inner, job), text, caps);
        if let Some(first) = parts.first() {
            conn.edit(&job.target.room, message, first).await?;
        }
    }
    finish(inner, job)
}
