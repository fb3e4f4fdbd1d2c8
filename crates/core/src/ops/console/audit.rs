//! The console's own audit entries: one per page action (`console_action`, `"via": "console"`),
//! naming the signed-in person as moderators are named in the log (`platform:id`). What the
//! action did on the queue is audited by the shared decision code as it is for the rooms.

use super::who::Person;
use crate::moderation::audit::{AuditAction, AuditActor, AuditDraft};
use crate::store::{Store, StoreError};
use civicbridge_api::LinkId;
use serde_json::Value;

/// Writes one console entry: `action` (`signed_in`, `approve` …), on `link` if one, with
/// `detail` merged into `{"via": "console", "action": …}`.
pub fn write(
    store: &Store,
    person: &Person,
    action: &str,
    link: Option<&LinkId>,
    detail: Value,
) -> Result<(), StoreError> {
    let mut d = serde_json::json!({ "via": "console", "action": action });
    if let (Some(out), Value::Object(more)) = (d.as_object_mut(), detail) {
        out.extend(more);
    }
    let draft = AuditDraft {
        actor: AuditActor::Person(person.key.clone()),
        action: AuditAction::ConsoleAction,
        link: link.cloned(),
        subject: None,
        detail: d,
    };
    store.transact(|tx| tx.audit(draft.clone()))?;
    Ok(())
}
