//! The `ReportCard` job: a notice to the moderation room about a reported message, whose first
//! part is filed as the report's card (`IndexEntry::Report`), so ✅ and ❌ on it decide the
//! report. Like every card, its parts are remembered on the message for erasure.

use super::*;
use civicbridge_api::MirrorId;

pub(super) async fn send_report_card(
    inner: &Arc<Inner>,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    mirror: MirrorId,
    text: &RichText,
) -> Result<(), JobError> {
    let parts = render::notice(&job.target.room, &txn_base(inner, job), text, caps);
    send_parts(inner, conn, job, &parts, |tx, i, receipt| {
        if let Some(mut m) = tx.mirror(mirror)? {
            m.cards.extend(
                receipt
                    .ids
                    .iter()
                    .map(|id| (job.target.clone(), id.clone())),
            );
            tx.put_mirror(&m)?;
        }
        if let (0, Some(first)) = (i, receipt.ids.first()) {
            tx.index(&job.target, first, IndexEntry::Report(mirror))?;
            if let Some(mut r) = tx.report(mirror)? {
                r.card = Some((job.target.clone(), first.clone()));
                tx.put_report(&r)?;
            }
        }
        Ok(())
    })
    .await
}
