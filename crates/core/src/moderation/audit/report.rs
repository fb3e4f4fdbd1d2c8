//! The transparency report: how many messages were held, approved, rejected, taken down …, by
//! link, month, direction, reason code and outcome, counted from the audit log alone and with
//! no personal data (`civicbridge report --from DATE --to DATE`), as CSV and JSON ready to
//! publish. Each row counts audit entries, so the report always matches the log it came from.

use super::{AuditAction, AuditEntry};
use crate::moderation::rules::Side;
use crate::store::LinkRecord;
use civicbridge_api::RoomRef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One row: how many entries share these values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Row {
    /// `2026-12`, in UTC.
    pub month: String,
    pub link: String,
    /// `public_to_staff`, `staff_to_public` …, `public_to_public+staff` for a message held for
    /// rooms of both sides, or `unknown` where the entry does not say (older entries).
    pub direction: String,
    pub outcome: String,
    /// The reason's code for a rejection given by code, else empty.
    pub reason_code: String,
    /// Its MSC4387 harm category, if it has one.
    pub harm: String,
    pub count: u64,
}

/// The outcomes a report counts, with their names in it.
fn outcome(action: AuditAction) -> Option<&'static str> {
    Some(match action {
        AuditAction::Held => "held",
        AuditAction::Approved => "approved",
        AuditAction::EditApproved => "edit_approved",
        AuditAction::EditedAndApproved => "approved_with_edits",
        AuditAction::Rejected => "rejected",
        AuditAction::Expired => "expired",
        AuditAction::Withdrawn => "withdrawn",
        AuditAction::Takedown => "taken_down",
        _ => return None,
    })
}

/// Counts the entries of `log` from `from_ms` (inclusive) to `to_ms` (exclusive).
pub fn report(log: &[AuditEntry], links: &[LinkRecord], from_ms: u64, to_ms: u64) -> Vec<Row> {
    let mut counts: BTreeMap<(String, String, String, String, String, String), u64> =
        BTreeMap::new();
    for e in log.iter().filter(|e| e.at_ms >= from_ms && e.at_ms < to_ms) {
        let Some(outcome) = outcome(e.action) else {
            continue;
        };
        let link = e.link.as_ref().map(|l| l.to_string()).unwrap_or_default();
        let direction = direction(e, links.iter().find(|l| l.id.as_str() == link));
        let text = |k: &str| e.detail[k].as_str().unwrap_or_default().to_owned();
        let key = (
            month(e.at_ms),
            link,
            direction,
            outcome.to_owned(),
            text("reason_code"),
            text("harm"),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
        .into_iter()
        .map(
            |((month, link, direction, outcome, reason_code, harm), count)| Row {
                month,
                link,
                direction,
                outcome,
                reason_code,
                harm,
                count,
            },
        )
        .collect()
}

/// `from_to_sides` when the entry names its source and targets.
fn direction(e: &AuditEntry, link: Option<&LinkRecord>) -> String {
    let unknown = || "unknown".to_owned();
    let Some(link) = link else {
        return unknown();
    };
    let side = |v: &serde_json::Value| {
        serde_json::from_value::<RoomRef>(v.clone())
            .ok()
            .and_then(|r| link.side_of(&r))
    };
    let Some(from) = side(&e.detail["source"]) else {
        return unknown();
    };
    let to: Vec<Side> = e.detail["targets"]
        .as_array()
        .map(|t| t.iter().filter_map(side).collect())
        .unwrap_or_default();
    // One message may go both ways (public to staff and to another public room): both named,
    // so each entry still counts once.
    let sides: Vec<&str> = [Side::Public, Side::Staff]
        .into_iter()
        .filter(|s| to.contains(s))
        .map(name)
        .collect();
    if sides.is_empty() {
        return unknown();
    }
    format!("{}_to_{}", name(from), sides.join("+"))
}

fn name(s: Side) -> &'static str {
    match s {
        Side::Staff => "staff",
        Side::Public => "public",
    }
}

fn month(at_ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(i64::try_from(at_ms).unwrap_or(i64::MAX))
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_default()
}

/// The rows as CSV with a header line. Values are codes and names an admin chose (link names,
/// reason codes), quoted where they need it.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = String::from("month,link,direction,outcome,reason_code,harm,count\n");
    for r in rows {
        let cells = [
            &r.month,
            &r.link,
            &r.direction,
            &r.outcome,
            &r.reason_code,
            &r.harm,
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&format!("{},{}\n", line.join(","), r.count));
    }
    out
}

fn csv_cell(s: &str) -> String {
    // A leading `=`, `+`, `-` or `@` would be a formula in a spreadsheet: quote and prefix it.
    let risky = s.starts_with(['=', '+', '-', '@']);
    if s.contains([',', '"', '\n', '\r']) || risky {
        let body = s.replace('"', "\"\"");
        return if risky {
            format!("\"'{body}\"")
        } else {
            format!("\"{body}\"")
        };
    }
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_a_spreadsheet_would_misread_are_quoted() {
        assert_eq!(csv_cell("spam"), "spam");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
    }
}
