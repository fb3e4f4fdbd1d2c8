//! The text of approval cards: one per held item, posted to the link's moderation room, and
//! edited in place once the item is decided (so the room's history shows every outcome).
//!
//! Pure: the caller passes what the card shows (the item, its message, whether the sender is
//! trusted, who decided and when).

use crate::render;
use crate::store::{MirrorRecord, PendingItem, PendingKind};
use civicbridge_api::{RichText, RoomRef, Span};

/// What a card says about its sender beyond the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderStanding {
    /// On the link's trusted list.
    Trusted,
    /// Not on it: the moderator decides without that shortcut.
    New,
}

impl SenderStanding {
    fn label(self) -> &'static str {
        match self {
            SenderStanding::Trusted => "trusted sender",
            SenderStanding::New => "new sender (not on the trusted list)",
        }
    }
}

/// The text an item would cross with (for an edit: the new text).
pub fn held_text<'a>(item: &'a PendingItem, mirror: &'a MirrorRecord) -> &'a RichText {
    match &item.kind {
        PendingKind::Message => &mirror.text,
        PendingKind::Edit { text } => text,
    }
}

/// Who, from where, to where, and the text as recipients would see it.
fn body(
    item: &PendingItem,
    mirror: &MirrorRecord,
    text: &RichText,
    standing: SenderStanding,
) -> Vec<Span> {
    let targets: Vec<String> = item.targets.iter().map(RoomRef::to_string).collect();
    let thread = match mirror.thread_root {
        Some(root) if root != mirror.id => format!(" (in the thread of {root})"),
        _ => String::new(),
    };
    let mut quoted = vec![Span::Bold(vec![Span::Text(render::attribution(mirror))])];
    quoted.push(Span::Text(" ".into()));
    quoted.extend(text.spans.iter().cloned());
    let mut spans = vec![
        Span::Text(format!(
            "\nFrom {} on {}, {}\nIn {}{thread} → {}\n",
            mirror.author.display_name,
            mirror.author.platform.label(),
            standing.label(),
            mirror.source,
            targets.join(", "),
        )),
        Span::Quote(quoted),
    ];
    for a in &mirror.attachments {
        spans.push(Span::Text(format!("\n[{}: {}]", a.kind.as_str(), a.name)));
    }
    spans
}

/// The card for a newly held item.
pub fn held(item: &PendingItem, mirror: &MirrorRecord, standing: SenderStanding) -> RichText {
    let what = match &item.kind {
        PendingKind::Message => "Held",
        PendingKind::Edit { .. } => "Edit held",
    };
    let mut spans = vec![
        Span::Bold(vec![Span::Text(format!("{what} {}", item.id))]),
        Span::Text(format!(" · rule: {}", item.reason)),
    ];
    spans.extend(body(item, mirror, held_text(item, mirror), standing));
    spans.push(Span::Text(format!(
        "\nReact ✅ or ❌, or reply !approve {id} / !reject {id} [reason] / !edit {id} TEXT",
        id = item.id
    )));
    RichText { spans }
}

/// How an item was decided, for its card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    /// Approved with a moderator's text instead of the original.
    ApprovedEdited(RichText),
    Rejected(Option<String>),
}

/// The card of a decided item: the decision, who took it and when, then what was held.
pub fn decided(
    item: &PendingItem,
    mirror: &MirrorRecord,
    standing: SenderStanding,
    outcome: &Outcome,
    by: &str,
    at_ms: u64,
) -> RichText {
    let when = chrono::DateTime::from_timestamp_millis(at_ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let (head, text) = match outcome {
        Outcome::Approved => ("✅ Approved", held_text(item, mirror)),
        Outcome::ApprovedEdited(t) => ("✏️ Approved with edits", t),
        Outcome::Rejected(_) => ("❌ Rejected", held_text(item, mirror)),
    };
    let mut spans = vec![
        Span::Bold(vec![Span::Text(format!("{head} {}", item.id))]),
        Span::Text(format!(" by {by} at {when}")),
    ];
    match outcome {
        Outcome::Rejected(Some(reason)) => spans.push(Span::Text(format!(" · reason: {reason}"))),
        Outcome::Rejected(None) => {}
        Outcome::Approved | Outcome::ApprovedEdited(_) => spans.push(Span::Text(format!(
            " · message {m} (!takedown {m} removes every copy)",
            m = mirror.id
        ))),
    }
    spans.extend(body(item, mirror, text, standing));
    RichText { spans }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Author;
    use civicbridge_api::{LinkId, MirrorId, PendingId, Platform, RemoteMsgId};

    fn item() -> (PendingItem, MirrorRecord) {
        let mut m = MirrorRecord::new(
            MirrorId(7),
            LinkId::new("l"),
            RoomRef::new(Platform::Telegram, "-100"),
            RemoteMsgId::new("5"),
            Author::new(Platform::Telegram, "42", "Ada"),
            RichText::plain("Is the hall free?"),
        );
        m.thread_root = Some(MirrorId(3));
        let item = PendingItem {
            id: PendingId(2),
            link: LinkId::new("l"),
            mirror: m.id,
            kind: PendingKind::Message,
            targets: vec![RoomRef::new(Platform::Matrix, "!staff")],
            reason: "public to staff messages need approval".into(),
            held_at_ms: 0,
            card: None,
            card_job: None,
        };
        (item, m)
    }

    #[test]
    fn a_held_card_names_who_where_why_and_the_id() {
        let (i, m) = item();
        let t = held(&i, &m, SenderStanding::New).to_plain();
        for part in [
            "Held #2",
            "rule: public to staff messages need approval",
            "From Ada on Telegram, new sender",
            "In telegram:-100 (in the thread of m3) → matrix:!staff",
            "Ada (Telegram): Is the hall free?",
            "!approve #2",
        ] {
            assert!(t.contains(part), "{part:?} missing in {t}");
        }
    }

    #[test]
    fn a_decided_card_shows_the_decision_who_and_when() {
        let (i, m) = item();
        let t = decided(
            &i,
            &m,
            SenderStanding::Trusted,
            &Outcome::Rejected(Some("off topic".into())),
            "Mo",
            1_795_000_000_000,
        )
        .to_plain();
        assert!(t.starts_with("❌ Rejected #2 by Mo at 2026-"), "{t}");
        assert!(
            t.contains("reason: off topic") && t.contains("trusted sender"),
            "{t}"
        );
        let t = decided(
            &i,
            &m,
            SenderStanding::New,
            &Outcome::ApprovedEdited(RichText::plain("Is the hall free on Friday?")),
            "Mo",
            0,
        )
        .to_plain();
        assert!(
            t.contains("Approved with edits #2") && t.contains("Friday"),
            "{t}"
        );
        assert!(t.contains("!takedown m7"), "{t}");
    }
}
