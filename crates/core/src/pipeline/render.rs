//! Shapes a bridged message for one target room, reading the target's `Capabilities`:
//! attribution (a bold `Name (Platform):` prefix unless the target shows per-message personas;
//! the name is the one `privacy::display_name_for` chose for the room, a pseudonym for residents
//! in staff rooms where the link says so, and then no avatar goes with it),
//! replies (native, or a quote line where the target has none or the copy is unknown), threads,
//! attachments the target cannot take (a text line instead), and splitting at the target's length
//! limit (grapheme-safe; the attribution never goes alone). Names are normalised here again on
//! the way out (`civicbridge_api::names`), for records stored before the router normalised them.
//! Pure: the outbox resolves ids and fetches files first.

use crate::privacy::Shown;
use crate::store::MirrorRecord;
use civicbridge_api::names;
use civicbridge_api::{
    Capabilities, Outgoing, OutgoingFile, Persona, RemoteMsgId, RichText, RoomId, Span,
    ThreadTarget,
};

/// The placeholder a copy shows for a message it answers that was not shared with its room
/// (cards show the same).
pub const NOT_SHARED: &str = "↩ a message that was not shared";

/// How the message being rendered answers another, as resolved for the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyTarget {
    /// Reply natively to this message in the target room.
    Native(RemoteMsgId),
    /// Show a quote of the message answered (the target has no native replies).
    Quote { author: String, excerpt: String },
    /// The message answered never crossed to this target (rejected, held, taken down, not
    /// relayed there): a neutral placeholder, never its words.
    NotShared,
}

/// Everything `render` needs, resolved by the outbox.
#[derive(Debug)]
pub struct RenderInput<'a> {
    pub mirror: &'a MirrorRecord,
    /// The text this copy shows (the job's, which may differ from `mirror.text`: see
    /// `JobKind::Send`).
    pub text: &'a RichText,
    /// How the author is shown in this room (`privacy::shown_author`).
    pub author: Shown,
    pub caps: &'a Capabilities,
    pub room: &'a RoomId,
    /// The job's id: part `i` is sent with transaction id `{txn_base}-{i}`.
    pub txn_base: String,
    pub reply: Option<ReplyTarget>,
    pub thread: Option<ThreadTarget>,
    pub files: Vec<OutgoingFile>,
    /// Attachments that could not be sent (too big, unsupported, failed to fetch): named in text.
    pub unshown: Vec<String>,
}

/// The longest excerpt quoted when a reply cannot be native.
const EXCERPT_CHARS: usize = 80;

/// The attribution shown before relayed text, with the author's own name: `Name (Platform):`.
/// For text going to a room, use [`attribution_as`] with the name chosen for that room.
pub fn attribution(mirror: &MirrorRecord) -> String {
    attribution_as(&mirror.author.display_name, &mirror.author.label())
}

/// `Name (Platform):` with the name as shown in the target room, normalised and cut before the
/// label is added (`civicbridge_api::names`), so the label always shows and the name is one line.
pub fn attribution_as(name: &str, label: &str) -> String {
    names::attribution(name, label)
}

/// A short single-line excerpt of a message, for quotes.
pub fn excerpt(text: &RichText) -> String {
    let plain = text
        .to_plain()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if plain.chars().count() <= EXCERPT_CHARS {
        return plain;
    }
    let cut: String = plain.chars().take(EXCERPT_CHARS - 1).collect();
    format!("{cut}…")
}

/// Renders the message as one or more parts, in order.
pub fn render(input: RenderInput<'_>) -> Vec<Outgoing> {
    let m = input.mirror;
    let mut text = input.text.clone();
    text.mentions_to_text();
    // What goes before the text on the first part only: a reply quote, the attribution. It is
    // split off with the text (`split_with_head`), so it never makes a part of its own.
    let mut head = Vec::new();
    if !input.caps.personas {
        head = vec![
            Span::Bold(vec![Span::Text(attribution_as(
                &input.author.name,
                &m.author.label(),
            ))]),
            Span::Text(" ".into()),
        ];
    }
    let mut reply_to = None;
    match input.reply {
        Some(ReplyTarget::Native(id)) => reply_to = Some(id),
        Some(ReplyTarget::Quote { author, excerpt }) => {
            let author = names::normalize(&author, names::MAX_NAME_CHARS);
            head.splice(
                0..0,
                [
                    Span::Quote(vec![Span::Text(format!("{author}: {excerpt}"))]),
                    Span::Text("\n".into()),
                ],
            );
        }
        Some(ReplyTarget::NotShared) => {
            head.splice(
                0..0,
                [
                    Span::Quote(vec![Span::Text(NOT_SHARED.into())]),
                    Span::Text("\n".into()),
                ],
            );
        }
        None => {}
    }
    for name in &input.unshown {
        text.spans.push(Span::Text(format!("\n[{name}]")));
    }
    let persona = Some(Persona {
        display_name: names::normalize(&input.author.name, names::MAX_NAME_CHARS),
        // A resident's avatar would name them as surely as their name.
        avatar_url: if input.author.pseudonymous {
            None
        } else {
            m.author.avatar_url.clone()
        },
        platform_label: m.author.label(),
    });
    let mut files = Some(input.files);
    text.split_with_head(head, input.caps.max_text_len)
        .into_iter()
        .enumerate()
        .map(|(i, part)| Outgoing {
            room: input.room.clone(),
            txn_id: format!("{}-{i}", input.txn_base),
            persona: persona.clone(),
            text: part,
            reply_to: if i == 0 { reply_to.clone() } else { None },
            thread: input.thread.clone(),
            attachments: if i == 0 {
                files.take().unwrap_or_default()
            } else {
                Vec::new()
            },
            notice: false,
        })
        .collect()
}

/// A notice from the bridge (cards, error reports) split to fit the target.
pub fn notice(
    room: &RoomId,
    txn_base: &str,
    text: &RichText,
    caps: &Capabilities,
) -> Vec<Outgoing> {
    text.split(caps.max_text_len)
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let mut o = Outgoing::text(room.clone(), format!("{txn_base}-{i}"), part);
            o.notice = true;
            o
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Author;
    use civicbridge_api::{LinkId, MirrorId, Platform, RoomRef};

    fn mirror(text: &str) -> MirrorRecord {
        MirrorRecord::new(
            MirrorId(1),
            LinkId::new("l"),
            RoomRef::new(Platform::new("telegram"), "-1"),
            RemoteMsgId::new("5"),
            Author::new(Platform::new("telegram"), "42", "Ada"),
            RichText::plain(text),
        )
    }

    fn input<'a>(m: &'a MirrorRecord, caps: &'a Capabilities, room: &'a RoomId) -> RenderInput<'a> {
        RenderInput {
            mirror: m,
            text: &m.text,
            author: Shown::named(&m.author),
            caps,
            room,
            txn_base: "j1".into(),
            reply: None,
            thread: None,
            files: Vec::new(),
            unshown: Vec::new(),
        }
    }

    #[test]
    fn attribution_is_a_bold_prefix_without_personas_and_absent_with_them() {
        let m = mirror("hello");
        let room = RoomId::new("r");
        let caps = Capabilities {
            personas: false,
            ..Capabilities::default()
        };
        let out = render(input(&m, &caps, &room));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text.to_plain(), "Ada (Telegram): hello");
        assert!(matches!(&out[0].text.spans[0], Span::Bold(_)));
        let caps = Capabilities {
            personas: true,
            ..Capabilities::default()
        };
        let out = render(input(&m, &caps, &room));
        assert_eq!(out[0].text.to_plain(), "hello");
        assert_eq!(
            out[0].persona.as_ref().map(|p| p.display_name.as_str()),
            Some("Ada")
        );
    }

    #[test]
    fn a_pseudonym_replaces_the_name_in_attribution_and_persona_and_drops_the_avatar() {
        let mut m = mirror("hello");
        m.author.avatar_url = Some("mxc://x/ada".into());
        let room = RoomId::new("r");
        let shown = Shown {
            name: "Resident 4f2a9c".into(),
            pseudonymous: true,
        };
        let caps = Capabilities::default();
        let mut i = input(&m, &caps, &room);
        i.author = shown.clone();
        let out = render(i);
        assert_eq!(out[0].text.to_plain(), "Resident 4f2a9c (Telegram): hello");
        let persona = out[0].persona.clone().unwrap();
        assert_eq!(persona.display_name, "Resident 4f2a9c");
        assert_eq!(persona.avatar_url, None);
        let caps = Capabilities {
            personas: true,
            ..Capabilities::default()
        };
        let mut i = input(&m, &caps, &room);
        i.author = shown;
        let out = render(i);
        assert_eq!(out[0].text.to_plain(), "hello");
        assert!(!format!("{:?}", out[0]).contains("Ada"));
    }

    #[test]
    fn long_messages_split_with_reply_on_the_first_part_and_thread_on_all() {
        let m = mirror(&"word ".repeat(100));
        let room = RoomId::new("r");
        let caps = Capabilities {
            max_text_len: 120,
            ..Capabilities::default()
        };
        let mut i = input(&m, &caps, &room);
        i.reply = Some(ReplyTarget::Native(RemoteMsgId::new("9")));
        i.thread = Some(ThreadTarget::Existing(civicbridge_api::ThreadId::new("t")));
        let out = render(i);
        assert!(out.len() >= 4);
        assert!(out.iter().all(|o| o.text.char_len() <= 120));
        assert_eq!(out[0].reply_to, Some(RemoteMsgId::new("9")));
        assert!(out[1..].iter().all(|o| o.reply_to.is_none()));
        assert!(out.iter().all(|o| o.thread.is_some()));
        assert_eq!(out[1].txn_id, "j1-1");
    }

    #[test]
    fn forged_names_stay_on_one_line_with_the_label_last() {
        let mut m = mirror("hi");
        m.author.display_name = "Ada\nCouncil Officer (Matrix): closed\u{202E}\u{3164}".repeat(3);
        let room = RoomId::new("r");
        let caps = Capabilities::default();
        let out = render(input(&m, &caps, &room));
        let plain = out[0].text.to_plain();
        assert!(!plain.contains(['\n', '\u{202E}', '\u{3164}']), "{plain:?}");
        assert!(plain.ends_with(" (Telegram): hi"), "{plain:?}");
        assert!(!plain.contains("(Matrix)"), "{plain:?}");
    }

    #[test]
    fn the_attribution_never_goes_alone() {
        let m = mirror(&"x".repeat(300));
        let room = RoomId::new("r");
        let caps = Capabilities {
            max_text_len: 100,
            ..Capabilities::default()
        };
        let out = render(input(&m, &caps, &room));
        assert!(out[0].text.to_plain().starts_with("Ada (Telegram): x"));
        assert!(out.iter().all(|o| o.text.char_len() <= 100));
        let xs: usize = out
            .iter()
            .map(|o| o.text.to_plain().matches('x').count())
            .sum();
        assert_eq!(xs, 300);
    }

    #[test]
    fn a_quote_stands_in_for_a_native_reply() {
        let m = mirror("answer");
        let room = RoomId::new("r");
        let caps = Capabilities::default();
        let mut i = input(&m, &caps, &room);
        i.reply = Some(ReplyTarget::Quote {
            author: "Bob".into(),
            excerpt: "question?".into(),
        });
        let out = render(i);
        assert_eq!(
            out[0].text.to_plain(),
            "Bob: question?\nAda (Telegram): answer"
        );
        assert_eq!(out[0].reply_to, None);
    }

    #[test]
    fn a_reply_to_a_message_not_shared_shows_the_placeholder_only() {
        let m = mirror("answer");
        let room = RoomId::new("r");
        let caps = Capabilities::default();
        let mut i = input(&m, &caps, &room);
        i.reply = Some(ReplyTarget::NotShared);
        let out = render(i);
        assert_eq!(
            out[0].text.to_plain(),
            "↩ a message that was not shared\nAda (Telegram): answer"
        );
        assert_eq!(out[0].reply_to, None);
    }

    #[test]
    fn unshown_attachments_are_named_and_excerpts_are_short() {
        let m = mirror("look");
        let room = RoomId::new("r");
        let caps = Capabilities::default();
        let mut i = input(&m, &caps, &room);
        i.unshown = vec!["image: cat.jpg, too large".into()];
        assert!(render(i)[0]
            .text
            .to_plain()
            .ends_with("\n[image: cat.jpg, too large]"));
        let e = excerpt(&RichText::plain("x ".repeat(100)));
        assert_eq!(e.chars().count(), EXCERPT_CHARS);
        assert!(e.ends_with('…'));
    }
}
