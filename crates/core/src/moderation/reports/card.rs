//! What a report shows moderators, built once ([`view`]): the report card in the moderation
//! room ([`card`]) and the console's Reports page both read a [`ReportView`], so the message,
//! its copies and its reporters are shown the same way in both, reporters named as the link's
//! privacy rules name residents to staff (a pseudonym where `resident_names` says so), their
//! names normalised (no control or bidi characters, bounded).
//!
//! Works on the committed store and on a transaction alike ([`KeyedRead`]).

use crate::pipeline::render;
use crate::privacy::KeyedRead;
use crate::store::prelude::*;
use crate::store::reports::{Report, ReportRecord};
use crate::store::{MirrorRecord, StoreError};
use civicbridge_api::{LinkId, MirrorId, RemoteMsgId, RichText, RoomRef, Span, ThreadId};

/// One person's report as staff may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownReport {
    /// The reporter: a pseudonym, or their normalised name with their platform.
    pub by: String,
    pub reason: Option<String>,
    pub at_ms: u64,
}

impl ShownReport {
    /// As the card lists it: `Bob (Telegram): spam`.
    pub fn line(&self) -> String {
        match &self.reason {
            Some(why) => format!("{}: {why}", self.by),
            None => self.by.clone(),
        }
    }
}

/// A copy of the reported message that is still up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownCopy {
    pub room: RoomRef,
    /// How people know the room ("Riverside residents (Telegram)").
    pub label: String,
    pub thread: Option<ThreadId>,
    /// The copy's first part.
    pub first: Option<RemoteMsgId>,
}

/// A report on one message, as moderators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportView {
    pub mirror: MirrorId,
    pub link: LinkId,
    pub open: bool,
    /// The author, as the link's moderation room sees them.
    pub author: String,
    /// The room the message was written in, by name.
    pub source: String,
    pub excerpt: String,
    /// The copies still up (hidden ones are not).
    pub copies: Vec<ShownCopy>,
    /// Rooms whose copies are hidden pending a decision (`hide_after_reports`), by name.
    pub hidden: Vec<String>,
    /// When they were hidden (records from before this was kept: `None`).
    pub hidden_at_ms: Option<u64>,
    /// Each person once, in the order they reported.
    pub reports: Vec<ShownReport>,
}

/// The view of the report `rec` on `m`.
pub fn view(
    s: &mut impl KeyedRead,
    m: &MirrorRecord,
    rec: &ReportRecord,
) -> Result<ReportView, StoreError> {
    let mut reports = Vec::with_capacity(rec.reports.len());
    for r in &rec.reports {
        reports.push(ShownReport {
            by: shown_reporter(s, &m.link, r)?,
            reason: r.reason.clone(),
            at_ms: r.at_ms,
        });
    }
    let copies = m
        .copies
        .iter()
        .filter(|c| !c.ids.is_empty())
        .map(|c| ShownCopy {
            room: c.room.clone(),
            label: s.room_label(&c.room),
            thread: c.thread.clone(),
            first: c.ids.first().cloned(),
        })
        .collect();
    let moderation_room = s
        .link(&m.link)?
        .and_then(|l| l.moderation_room)
        .unwrap_or_else(|| m.source.clone());
    let author = crate::privacy::shown_author(s, m, &moderation_room)?.name;
    Ok(ReportView {
        mirror: m.id,
        link: m.link.clone(),
        open: rec.open,
        author,
        source: s.room_label(&m.source),
        excerpt: render::excerpt(&m.text),
        copies,
        hidden: rec.hidden.iter().map(|r| s.room_label(r)).collect(),
        hidden_at_ms: rec.hidden_at_ms.filter(|_| !rec.hidden.is_empty()),
        reports,
    })
}

/// A reporter as staff may see them: a resident by pseudonym where the link shows residents
/// so; anyone else by their name, normalised, with their platform.
fn shown_reporter(s: &mut impl KeyedRead, link: &LinkId, r: &Report) -> Result<String, StoreError> {
    let pseudonyms = s.rules(link)?.unwrap_or_default().resident_names
        == crate::moderation::rules::ResidentNames::Pseudonym;
    if pseudonyms && r.public {
        return Ok(s.privacy_key()?.pseudonym(link, &r.by));
    }
    Ok(format!(
        "{} ({})",
        civicbridge_api::names::normalize(&r.name, civicbridge_api::names::MAX_NAME_CHARS),
        r.by.platform.label()
    ))
}

/// How a report ended, for its card.
#[derive(Debug)]
pub enum Closed<'a> {
    TakenDown(&'a str),
    Dismissed(&'a str),
}

/// The report card: the message, where it is, who reported it and why, what to do.
pub fn card(v: &ReportView, closed: Option<Closed<'_>>) -> RichText {
    let head = match closed {
        None => format!("🚩 Reported {} · {} report(s)", v.mirror, v.reports.len()),
        Some(Closed::TakenDown(by)) => {
            format!("✅ Report on {} closed: taken down by {by}", v.mirror)
        }
        Some(Closed::Dismissed(by)) => format!("❌ Report on {} dismissed by {by}", v.mirror),
    };
    let rooms: Vec<&str> = v.copies.iter().map(|c| c.label.as_str()).collect();
    let reporters: Vec<String> = v.reports.iter().map(ShownReport::line).collect();
    let mut spans = vec![
        Span::Bold(vec![Span::Text(head)]),
        Span::Text(format!(
            "\nMessage in {} by {}, copies in {}{}",
            v.source,
            v.author,
            if rooms.is_empty() {
                "no room".to_owned()
            } else {
                rooms.join(", ")
            },
            if v.hidden.is_empty() {
                ""
            } else {
                " (hidden pending a decision)"
            }
        )),
        Span::Quote(vec![Span::Text(v.excerpt.clone())]),
        Span::Text(format!("\nReported by: {}", reporters.join("; "))),
    ];
    if v.open {
        spans.push(Span::Text(format!(
            "\nReact ✅ to take it down everywhere, ❌ to dismiss the report; or !takedown {id} / !dismiss {id}",
            id = v.mirror
        )));
    }
    RichText { spans }
}

#[cfg(test)]
mod tests {
    use super::*;
    use civicbridge_api::Platform;

    fn v() -> ReportView {
        ReportView {
            mirror: MirrorId(7),
            link: LinkId::new("planning"),
            open: true,
            author: "Sam".into(),
            source: "Staff (Matrix)".into(),
            excerpt: "Bins on Monday".into(),
            copies: vec![ShownCopy {
                room: RoomRef::new(Platform::new("telegram"), "-100"),
                label: "Residents (Telegram)".into(),
                thread: None,
                first: Some(RemoteMsgId::new("5")),
            }],
            hidden: vec![],
            hidden_at_ms: None,
            reports: vec![
                ShownReport {
                    by: "Bob (Telegram)".into(),
                    reason: Some("spam".into()),
                    at_ms: 1,
                },
                ShownReport {
                    by: "Resident 1a2b".into(),
                    reason: None,
                    at_ms: 2,
                },
            ],
        }
    }

    #[test]
    fn a_stored_reporter_name_is_shown_normalised() {
        use crate::store::{Author, Store};
        let m = MirrorRecord::new(
            MirrorId(1),
            LinkId::new("l"),
            RoomRef::new(Platform::new("matrix"), "!staff"),
            RemoteMsgId::new("$1"),
            Author::new(Platform::new("matrix"), "@sam", "Sam"),
            RichText::plain("hello"),
        );
        let rec = ReportRecord {
            mirror: m.id,
            link: m.link.clone(),
            reports: vec![Report {
                by: "telegram:46".parse().expect("key"),
                // As an older build might have kept it: control and bidi characters.
                name: "<b>Eve</b>\u{202E}\u{7}evil".into(),
                public: true,
                reason: Some("spam".into()),
                at_ms: 3,
            }],
            open: true,
            card: None,
            hidden: vec![],
            hidden_at_ms: Some(9),
        };
        let v = view(&mut &Store::memory(), &m, &rec).expect("view");
        assert_eq!(v.reports.len(), 1);
        let by = &v.reports[0].by;
        assert!(
            by.starts_with("<b>Eve</b>") && by.ends_with("(Telegram)"),
            "{by}"
        );
        assert!(!by.contains('\u{202E}') && !by.contains('\u{7}'), "{by:?}");
        assert_eq!(v.hidden_at_ms, None, "nothing hidden, no time");
        assert_eq!(v.author, "Sam");
    }

    #[test]
    fn the_card_is_written_from_the_view() {
        let open = card(&v(), None).to_plain();
        assert!(open.contains("Reported m7 · 2 report(s)"), "{open}");
        assert!(
            open.contains("Message in Staff (Matrix) by Sam, copies in Residents (Telegram)"),
            "{open}"
        );
        assert!(open.contains("Reported by: Bob (Telegram): spam; Resident 1a2b"));
        assert!(open.contains("!dismiss m7") && !open.contains("hidden pending"));
        let mut hidden = v();
        hidden.copies.clear();
        hidden.hidden = vec!["Residents (Telegram)".into()];
        hidden.open = false;
        let closed = card(&hidden, Some(Closed::Dismissed("Mo"))).to_plain();
        assert!(closed.contains("Report on m7 dismissed by Mo"), "{closed}");
        assert!(closed.contains("copies in no room (hidden pending a decision)"));
        assert!(!closed.contains("!dismiss"), "a closed card asks nothing");
    }
}
