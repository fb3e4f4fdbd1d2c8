//! The text of approval cards: one per revision of a held item, posted to the link's moderation
//! room, and edited in place once the item is decided, withdrawn, or superseded by a newer
//! revision (so the room's history shows every outcome).
//!
//! A card shows exactly what would be sent: the content of its revision (the item's, not the
//! mirror's), and above it what each copy will show of the message it answers (a quote only
//! where that message crossed itself, else a neutral placeholder).
//!
//! Pure: the caller passes what the card shows (a [`CardView`]), who decided and when.

use crate::pipeline::render;
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

/// What a copy shows above itself of the message it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyShown {
    /// That message crossed to the target: a reply to its copy (or a quote of it).
    Shared { author: String, excerpt: String },
    /// It did not (rejected, held, taken down, never relayed): the placeholder.
    NotShared,
}

impl ReplyShown {
    fn line(&self) -> String {
        match self {
            ReplyShown::Shared { author, excerpt } => format!("↩ {author}: {excerpt}"),
            ReplyShown::NotShared => crate::pipeline::render::NOT_SHARED.to_owned(),
        }
    }
}

/// Everything a card shows.
#[derive(Debug, Clone)]
pub struct CardView<'a> {
    pub item: &'a PendingItem,
    /// The message, with its author named as the moderation room may see them.
    pub mirror: &'a MirrorRecord,
    pub standing: SenderStanding,
    /// For a reply: what each target's copy will show of the message it answers.
    pub reply: Vec<(RoomRef, ReplyShown)>,
    /// How people know the rooms it names ("Riverside residents (Telegram)"); a room not
    /// listed is shown by its id.
    pub rooms: Vec<(RoomRef, String)>,
    /// The moderators' notes about the sender on this link (`!note`), one line each.
    pub notes: Vec<String>,
}

impl CardView<'_> {
    fn room(&self, room: &RoomRef) -> String {
        self.rooms
            .iter()
            .find(|(r, _)| r == room)
            .map_or_else(|| room.to_string(), |(_, label)| label.clone())
    }
}

pub fn when(at_ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(i64::try_from(at_ms).unwrap_or(i64::MAX))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A claim as cards and the console show it: `Claimed by Mo until 2026-12-07 10:15 UTC`.
pub fn claimed_by(c: &crate::store::Claim) -> String {
    format!(
        "Claimed by {} until {}",
        civicbridge_api::names::normalize(&c.name, civicbridge_api::names::MAX_NAME_CHARS),
        when(c.until_ms)
    )
}

/// Who, from where, to where, and the text as recipients would see it.
fn body(v: &CardView<'_>, text: &RichText) -> Vec<Span> {
    let (item, mirror) = (v.item, v.mirror);
    let targets: Vec<String> = item.targets.iter().map(|r| v.room(r)).collect();
    let thread = match mirror.thread_root {
        Some(root) if root != mirror.id => format!(" (in the thread of {root})"),
        _ => String::new(),
    };
    let mut quoted = Vec::new();
    // Above the text, what the copies will show of the message it answers.
    let mut shown: Vec<(&ReplyShown, Vec<&RoomRef>)> = Vec::new();
    for (room, r) in &v.reply {
        match shown.iter_mut().find(|(s, _)| *s == r) {
            Some((_, rooms)) => rooms.push(room),
            None => shown.push((r, vec![room])),
        }
    }
    for (r, rooms) in &shown {
        let line = match shown.len() {
            1 => r.line(),
            _ => format!(
                "{} (in {})",
                r.line(),
                rooms
                    .iter()
                    .map(|r| v.room(r))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        quoted.push(Span::Text(format!("{line}\n")));
    }
    quoted.push(Span::Bold(vec![Span::Text(render::attribution(mirror))]));
    quoted.push(Span::Text(" ".into()));
    quoted.extend(text.spans.iter().cloned());
    let mut spans = vec![
        Span::Text(format!(
            "\nFrom {} on {}, {}\nIn {}{thread} → {}\n",
            civicbridge_api::names::normalize(
                &mirror.author.display_name,
                civicbridge_api::names::MAX_NAME_CHARS
            ),
            match &mirror.author.unverified {
                Some(why) => format!(
                    "{} (unverified name: {why})",
                    mirror.author.platform.label()
                ),
                None => mirror.author.platform.label(),
            },
            v.standing.label(),
            v.room(&mirror.source),
            targets.join(", "),
        )),
        Span::Quote(quoted),
    ];
    for a in item.attachments(mirror) {
        spans.push(Span::Text(format!("\n[{}: {}]", a.kind.as_str(), a.name)));
    }
    spans
}

/// The card of an item's current revision.
pub fn held(v: &CardView<'_>) -> RichText {
    let item = v.item;
    let what = match &item.kind {
        PendingKind::Message => "Held",
        PendingKind::Edit { .. } => "Edit held",
    };
    let mut spans = match item.revision {
        0 | 1 => vec![Span::Bold(vec![Span::Text(format!("{what} {}", item.id))])],
        r => vec![
            Span::Bold(vec![Span::Text(format!(
                "{what} {} · revision {r}",
                item.id
            ))]),
            Span::Text(format!(
                " · edited by its author after it was held{}; the earlier card is superseded",
                item.revised_at_ms
                    .map(|t| format!(" (at {})", when(t)))
                    .unwrap_or_default()
            )),
        ],
    };
    spans.push(Span::Text(format!(" · rule: {}", item.reason)));
    if let Some(c) = &item.claim {
        // Words, not only the emoji: a screen reader and a plain-text client say it too.
        spans.push(Span::Text(format!(
            "\n🙋 {} (others: leave it to them; !release {} frees it)",
            claimed_by(c),
            item.id
        )));
    }
    for note in &v.notes {
        spans.push(Span::Text(format!("\n{note}")));
    }
    spans.extend(body(v, item.text(v.mirror)));
    spans.push(Span::Text(format!(
        "\nReact ✅ or ❌ on this card (🙋 to claim it), or reply !approve {id} / !reject {id} [reason] / !edit {id} TEXT",
        id = item.reference()
    )));
    RichText { spans }
}

/// What an earlier revision's card turns into once its author edited the item: it keeps what
/// it showed, says which revision replaced it, and that decisions on it are refused.
pub fn superseded(v: &CardView<'_>, current: u32) -> RichText {
    let item = v.item;
    let mut spans = vec![
        Span::Bold(vec![Span::Text(format!(
            "⤵ Superseded: {} revision {}",
            item.id, item.revision
        ))]),
        Span::Text(format!(
            " · its author edited it after it was held; revision {current} has a card of its own. \
             A decision on this card is refused."
        )),
    ];
    spans.extend(body(v, item.text(v.mirror)));
    RichText { spans }
}

/// Why a held item left the queue without a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withdrawal {
    /// Its author deleted the message (or the platform reported a deletion it vouches for).
    Deleted,
    /// Someone who may remove others' messages in its room removed it: a takedown.
    TakenDown { by: String },
    /// Its author's edit made the rules drop it everywhere.
    Dropped { reason: String },
    /// Its author edited it `max` times while it was held: each revision gets a card, and the
    /// moderation room is not theirs to flood.
    TooManyRevisions { max: u32 },
    /// Nobody decided within the link's `expire_after_secs` (`after`, as people say it).
    Expired { after: String },
}

impl Withdrawal {
    pub fn reason(&self) -> String {
        match self {
            Withdrawal::Deleted => "the message was deleted at its source".to_owned(),
            Withdrawal::TakenDown { by } => format!("taken down by {by} in its own room"),
            Withdrawal::Dropped { reason } => format!("after its author's edit, {reason}"),
            Withdrawal::TooManyRevisions { max } => {
                format!("its author edited it {max} times while it was held")
            }
            Withdrawal::Expired { after } => format!("nobody decided within {after}"),
        }
    }
}

/// The card of an item withdrawn before a decision.
pub fn withdrawn(v: &CardView<'_>, why: &Withdrawal, at_ms: u64) -> RichText {
    let mut spans = vec![
        Span::Bold(vec![Span::Text(format!("🗑 Withdrawn {}", v.item.id))]),
        Span::Text(format!(
            " at {}: {}; nothing was relayed.",
            when(at_ms),
            why.reason()
        )),
    ];
    spans.extend(body(v, v.item.text(v.mirror)));
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
pub fn decided(v: &CardView<'_>, outcome: &Outcome, by: &str, at_ms: u64) -> RichText {
    let (item, mirror) = (v.item, v.mirror);
    let (head, text) = match outcome {
        Outcome::Approved => ("✅ Approved", item.text(mirror)),
        Outcome::ApprovedEdited(t) => ("✏️ Approved with edits", t),
        Outcome::Rejected(_) => ("❌ Rejected", item.text(mirror)),
    };
    let revision = match item.revision {
        0 | 1 => String::new(),
        r => format!(" revision {r}"),
    };
    let mut spans = vec![
        Span::Bold(vec![Span::Text(format!("{head} {}{revision}", item.id))]),
        Span::Text(format!(" by {by} at {}", when(at_ms))),
    ];
    match outcome {
        Outcome::Rejected(Some(reason)) => spans.push(Span::Text(format!(" · reason: {reason}"))),
        Outcome::Rejected(None) => {}
        Outcome::Approved | Outcome::ApprovedEdited(_) => spans.push(Span::Text(format!(
            " · message {m} (!takedown {m} removes every copy)",
            m = mirror.id
        ))),
    }
    spans.extend(body(v, text));
    RichText { spans }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Author, HeldContent};
    use civicbridge_api::{LinkId, MirrorId, PendingId, Platform, RemoteMsgId};

    fn item() -> (PendingItem, MirrorRecord) {
        let mut m = MirrorRecord::new(
            MirrorId(7),
            LinkId::new("l"),
            RoomRef::new(Platform::new("telegram"), "-100"),
            RemoteMsgId::new("5"),
            Author::new(Platform::new("telegram"), "42", "Ada"),
            RichText::plain("Is the hall free?"),
        );
        m.thread_root = Some(MirrorId(3));
        let mut item = PendingItem::new(
            LinkId::new("l"),
            m.id,
            PendingKind::Message,
            vec![RoomRef::new(Platform::new("matrix"), "!staff")],
            crate::moderation::HoldReasons::one(crate::moderation::HoldReason::Policy {
                from: crate::moderation::rules::Side::Public,
                to: crate::moderation::rules::Side::Staff,
            }),
            0,
        );
        item.id = PendingId(2);
        (item, m)
    }

    fn view<'a>(i: &'a PendingItem, m: &'a MirrorRecord) -> CardView<'a> {
        CardView {
            item: i,
            mirror: m,
            standing: SenderStanding::New,
            reply: Vec::new(),
            rooms: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_held_card_names_who_where_why_and_the_id() {
        let (i, m) = item();
        let t = held(&view(&i, &m)).to_plain();
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
    fn a_revised_card_shows_the_new_content_its_revision_and_how_to_name_it() {
        let (mut i, m) = item();
        i.revision = 3;
        i.revised_at_ms = Some(1_795_000_000_000);
        i.content = Some(HeldContent {
            text: RichText::plain("visit http://evil.example"),
            attachments: Vec::new(),
        });
        let t = held(&view(&i, &m)).to_plain();
        assert!(
            t.starts_with("Held #2 · revision 3 · edited by its author"),
            "{t}"
        );
        assert!(
            t.contains("Ada (Telegram): visit http://evil.example"),
            "{t}"
        );
        assert!(
            !t.contains("hall free"),
            "the card shows this revision: {t}"
        );
        assert!(t.contains("!approve #2v3"), "{t}");
        let old = superseded(&view(&i, &m), 4).to_plain();
        assert!(
            old.starts_with("⤵ Superseded: #2 revision 3") && old.contains("revision 4"),
            "{old}"
        );
    }

    #[test]
    fn a_reply_card_shows_what_each_copy_will_show_of_its_parent() {
        let (i, m) = item();
        let mut v = view(&i, &m);
        v.reply = vec![(
            RoomRef::new(Platform::new("matrix"), "!staff"),
            ReplyShown::NotShared,
        )];
        let t = held(&v).to_plain();
        assert!(
            t.contains("↩ a message that was not shared\nAda (Telegram): Is the hall free?"),
            "{t}"
        );
        v.reply.push((
            RoomRef::new(Platform::new("discord"), "9"),
            ReplyShown::Shared {
                author: "Bob".into(),
                excerpt: "who?".into(),
            },
        ));
        let t = held(&v).to_plain();
        assert!(
            t.contains("↩ a message that was not shared (in matrix:!staff)")
                && t.contains("↩ Bob: who? (in discord:9)"),
            "{t}"
        );
    }

    #[test]
    fn a_decided_card_shows_the_decision_who_and_when() {
        let (i, m) = item();
        let mut v = view(&i, &m);
        v.standing = SenderStanding::Trusted;
        let t = decided(
            &v,
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
            &view(&i, &m),
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
        let w = withdrawn(&view(&i, &m), &Withdrawal::Deleted, 0).to_plain();
        assert!(w.starts_with("🗑 Withdrawn #2 at "), "{w}");
    }
}
