//! `!queue` and `!audit`: listings that need a scan of the store, gathered before the
//! transaction that handles the command ([`Prepared`]). Only what belongs to links moderated
//! from the asking room is shown: other links' queues and logs are not this room's business.

use crate::audit::AuditEntry;
use crate::store::{PendingItem, Store};
use civicbridge_api::{LinkId, MirrorId, PendingId, RoomRef};
use std::collections::HashMap;

/// The held items `items`, a line each after a count: `#3 [link] who: text — reason`. In a
/// moderation room (`shown_in`), people are named as that room may see them (a pseudonym, per
/// link) with an excerpt; for the admin's command line (`None`), by name with the whole text.
pub fn queue_listing(
    store: &Store,
    items: &[PendingItem],
    shown_in: Option<&RoomRef>,
) -> Vec<String> {
    let mut lines = vec![format!("{} held item(s)", items.len())];
    for item in items {
        let who = match store.mirror(item.mirror) {
            Ok(Some(m)) => match shown_in {
                Some(room) => {
                    let who = store
                        .shown_author(&m, room)
                        .map_or_else(|_| m.author.display_name.clone(), |s| s.name);
                    format!("{who}: {}", crate::render::excerpt(item.text(&m)))
                }
                None => format!(
                    "{} {}",
                    crate::render::attribution(&m),
                    item.text(&m).to_plain()
                ),
            },
            Ok(None) => format!("(message {} is gone)", item.mirror),
            // Say so rather than show a blank line: the item is there and can be decided.
            Err(e) => format!("(message {} cannot be read: {e})", item.mirror),
        };
        lines.push(format!(
            "{} [{}] {} — {}",
            item.reference(),
            item.link,
            who,
            item.reason
        ));
    }
    lines
}

/// How many recent audit entries `!audit` can show.
const AUDIT_TAIL: usize = 100;

/// Scans done before a batch's transaction, for the commands in it.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The `!queue` listing.
    pub queue: String,
    /// The `!parked` listing (also the tail of `!queue` when something is parked).
    pub parked: String,
    /// Recent audit entries of this room's links, oldest first.
    pub audit: Vec<AuditEntry>,
    /// For decided items: the message each was about (from the audit log), for `!takedown #N`.
    pub decided: HashMap<PendingId, MirrorId>,
    /// Messages with a held item, for `!publish` (no second item for the same root).
    pub held: HashMap<MirrorId, PendingId>,
}

impl Prepared {
    /// Gathers everything for the moderation room `here`. Read errors leave a part empty (the
    /// commands then say they found nothing) rather than failing the batch.
    pub fn gather(store: &Store, here: &RoomRef) -> Prepared {
        let links: Vec<LinkId> = store
            .links()
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.moderation_room.as_ref() == Some(here))
            .map(|l| l.id)
            .collect();
        let items: Vec<_> = store
            .pending()
            .unwrap_or_default()
            .into_iter()
            .filter(|i| links.contains(&i.link))
            .collect();
        let mut lines = queue_listing(store, &items, Some(here));
        let log: Vec<AuditEntry> = store
            .audit_log()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.link.as_ref().is_some_and(|l| links.contains(l)))
            .collect();
        let decided = log
            .iter()
            .filter_map(|e| {
                let id = e.subject.as_deref()?.parse::<PendingId>().ok()?;
                let m = e.detail.get("mirror")?.as_u64()?;
                Some((id, MirrorId(m)))
            })
            .collect();
        let parked: Vec<_> = match store.parked() {
            Ok(all) => all
                .into_iter()
                .filter(|p| p.link.as_ref().is_none_or(|l| links.contains(l)))
                .map(|p| p.line())
                .collect(),
            Err(e) => vec![format!("(the parked items cannot be read: {e})")],
        };
        let mut parked_lines = vec![format!("{} parked item(s)", parked.len())];
        parked_lines.extend(parked);
        if parked_lines.len() > 1 {
            lines.extend(parked_lines.iter().cloned());
        }
        let skip = log.len().saturating_sub(AUDIT_TAIL);
        Prepared {
            queue: lines.join("\n"),
            parked: parked_lines.join("\n"),
            audit: log.into_iter().skip(skip).collect(),
            decided,
            held: items.iter().map(|i| (i.mirror, i.id)).collect(),
        }
    }

    /// The last `n` entries, one line each.
    pub fn audit_tail(&self, n: usize) -> String {
        let skip = self.audit.len().saturating_sub(n);
        let mut lines = vec![format!("Last {} audit entries:", self.audit.len() - skip)];
        for e in self.audit.iter().skip(skip) {
            let when = chrono::DateTime::from_timestamp_millis(e.at_ms as i64)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            let action = serde_json::to_value(e.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            lines.push(format!(
                "{} {when} {} {action} {} {}",
                e.seq,
                e.actor,
                e.link.as_ref().map(|l| l.as_str()).unwrap_or("-"),
                e.subject.as_deref().unwrap_or(""),
            ));
        }
        lines.join("\n")
    }
}
