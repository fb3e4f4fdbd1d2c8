//! Telling residents why (`tell_residents`): when a resident's message is held or rejected, the
//! bridge tells that resident what happened and why, as "the moderation team", never naming the
//! moderator who decided, and giving the reason's public label, never the moderator's own words.
//!
//! It writes privately where the resident's platform lets a bot reach them (a Discord DM, a
//! Telegram private chat once they started the bot), else replies to their message in the room
//! and deletes that reply after `tell_reply_secs` (`pipeline::outbox::tell`). The texts are per
//! link and language (`tell_texts`): the resident's language where their platform reports it
//! (Telegram's `language_code`), else `tell_language`, else the built-in English.
//!
//! This module decides whether to tell and what to say; the outbox's `Tell` job carries the
//! texts (fixed when queued, so a later change of rules does not rewrite a notice on its way)
//! and delivers them.

use crate::moderation::rules::{Rules, Side};
use crate::store::prelude::*;
use crate::store::{Job, JobKind, LinkRecord, MirrorRecord, Tx, TxError};
use civicbridge_api::RichText;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// When residents are told (`tell_residents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TellResidents {
    /// Never: the council explains decisions some other way.
    #[default]
    Off,
    /// When a moderator rejects their message.
    Rejected,
    /// Also when their message is held for review.
    HeldAndRejected,
}

/// The texts of one language. `{reason}` is replaced by the reason, `{excerpt}` by the start
/// of the resident's own message (private texts only: in the room the notice is a reply to it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TellTexts {
    /// Sent privately when a message is held.
    pub held: String,
    /// Sent privately when a message is rejected.
    pub rejected: String,
    /// A reply in the room when a message is held and the resident cannot be reached privately.
    pub held_in_room: String,
    /// The same when a message is rejected.
    pub rejected_in_room: String,
    /// The reason given when a moderator rejected without one of the link's reason codes
    /// (their own words are never passed on).
    pub unspecified: String,
    /// Added to a reply in the room where the platform can reach people privately once they
    /// allow it (Telegram: start the bot).
    pub invite: String,
}

impl Default for TellTexts {
    fn default() -> Self {
        TellTexts {
            held: "The moderation team is reviewing your message “{excerpt}” before it is \
                   shared ({reason})."
                .into(),
            rejected: "The moderation team did not share your message “{excerpt}”. \
                       Reason: {reason}."
                .into(),
            held_in_room: "The moderation team is reviewing this message before it is \
                           shared ({reason})."
                .into(),
            rejected_in_room: "The moderation team did not share this message. Reason: {reason}."
                .into(),
            unspecified: "it does not follow this group's rules".into(),
            invite: "Start a private chat with this bot to get these notices privately.".into(),
        }
    }
}

/// The longest text of a notice template, and the most languages a link may list.
pub const MAX_TEXT: usize = 1000;
pub const MAX_LANGUAGES: usize = 50;
/// The longest wait before a reply in the room is deleted: a day (0 keeps it).
pub const MAX_REPLY_SECS: u64 = 86_400;
/// A resident is told of each kind (held, rejected) at most once in this time per link: a
/// resident posting fifty messages, or fifty of theirs rejected at once, gets one notice of
/// each, not fifty replies in their room (where the bot cannot write to them privately) or
/// fifty jobs in the lane their room's copies share.
pub const COOLDOWN_MS: u64 = 10 * 60 * 1000;
/// How much of the resident's message a private notice quotes.
const EXCERPT_CHARS: usize = 80;

/// What happened to the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Told {
    Held,
    Rejected,
}

impl Told {
    pub fn as_str(self) -> &'static str {
        match self {
            Told::Held => "held",
            Told::Rejected => "rejected",
        }
    }
}

/// A language tag as the texts are keyed: `en`, `pt-br` (lower case, ASCII letters and digits
/// in parts of 1 to 8 joined by `-`, the first of 2 or 3 letters).
pub fn valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase()));
    first_ok
        && tag.len() <= 35
        && parts.all(|p| {
            (1..=8).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The texts for a resident whose platform reports `language` (anything a platform sent:
/// only a tag that passes [`valid_language`] after lower-casing is looked up, then its first
/// part), else the link's `tell_language`, else the built-in English.
pub fn texts_for(rules: &Rules, language: Option<&str>) -> TellTexts {
    let asked = language
        .map(|l| l.trim().to_ascii_lowercase().replace('_', "-"))
        .filter(|l| valid_language(l));
    let primary = asked
        .as_deref()
        .and_then(|l| l.split('-').next())
        .map(str::to_owned);
    [asked, primary, Some(rules.tell_language.clone())]
        .into_iter()
        .flatten()
        .find_map(|l| rules.tell_texts.get(&l).cloned())
        .unwrap_or_default()
}

/// `template` with each `{name}` of `values` replaced, in one pass: a value that itself
/// contains `{reason}` is not expanded again.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    'scan: while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        for (name, value) in values {
            let key = format!("{{{name}}}");
            if tail.starts_with(&key) {
                out.push_str(value);
                rest = &tail[key.len()..];
                continue 'scan;
            }
        }
        out.push('{');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

/// The start of `mirror`'s text as a private notice quotes it: one line, visible characters,
/// at most [`EXCERPT_CHARS`]; a message of files alone is named by its first file.
fn excerpt(mirror: &MirrorRecord) -> String {
    let plain = mirror.text.to_plain();
    let source = if civicbridge_api::names::is_blank(&plain) {
        mirror
            .attachments
            .first()
            .map_or_else(String::new, |a| a.name.clone())
    } else {
        plain
    };
    let cut = civicbridge_api::names::normalize(&source, EXCERPT_CHARS);
    if cut.chars().count() < source.chars().count() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// What a `Tell` job says, privately and in the room, with the reason given.
pub fn job(rules: &Rules, mirror: &MirrorRecord, told: Told, reason: Option<&str>) -> JobKind {
    let texts = texts_for(rules, mirror.author.language.as_deref());
    let reason = civicbridge_api::names::normalize(reason.unwrap_or(&texts.unspecified), 300);
    let excerpt = excerpt(mirror);
    let private_values = [("reason", reason.as_str()), ("excerpt", excerpt.as_str())];
    // In the room the notice is a reply to the message: it quotes nothing, whatever the
    // template asks for.
    let room_values = [("reason", reason.as_str()), ("excerpt", "")];
    let (private, public) = match told {
        Told::Held => (&texts.held, &texts.held_in_room),
        Told::Rejected => (&texts.rejected, &texts.rejected_in_room),
    };
    JobKind::Tell {
        mirror: mirror.id,
        told,
        private: RichText::plain(fill(private, &private_values)),
        in_room: RichText::plain(fill(public, &room_values)),
        invite: RichText::plain(texts.invite.clone()),
        delete_after_secs: rules.tell_reply_secs,
    }
}

/// Queues a `Tell` job for `mirror`'s author if the link's rules ask for one: the author wrote
/// in a public room of the link (a resident; staff are never told this way), and `told` is
/// covered by `tell_residents`, and they were not told the same within [`COOLDOWN_MS`].
/// `reason` is the public label (or the hold's reasons); `None` gives the texts'
/// `unspecified`.
pub fn queue(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    rules: &Rules,
    mirror: &MirrorRecord,
    told: Told,
    reason: Option<&str>,
) -> Result<Option<Job>, TxError> {
    let wanted = match (rules.tell_residents, told) {
        (TellResidents::Off, _) => false,
        (TellResidents::Rejected, Told::Held) => false,
        (TellResidents::Rejected, Told::Rejected) | (TellResidents::HeldAndRejected, _) => true,
    };
    if !wanted || link.side_of(&mirror.source) != Some(Side::Public) {
        return Ok(None);
    }
    // By keyed hash, as the look-alike mark: no id in the key, nothing for erasure to miss.
    let person = crate::privacy::person_ref(&tx.privacy_key()?, &mirror.author.key());
    let now = tx.now_ms();
    let last = tx.resident_told_at(&link.id, &person, told.as_str())?;
    if last.is_some_and(|at| now < at.saturating_add(COOLDOWN_MS)) {
        return Ok(None);
    }
    tx.set_resident_told_at(&link.id, &person, told.as_str(), now)?;
    let kind = job(rules, mirror, told, reason);
    Ok(Some(tx.push_job(&link.id, &mirror.source, kind)?))
}

/// Why a message is held, as its author reads it: the rules' own words ("it contains a link"),
/// but the direction rule ("public to staff messages need approval", once per target side) as
/// one plain "messages here are checked before they are shared".
pub fn held_reason(reasons: &crate::moderation::HoldReasons) -> String {
    use crate::moderation::{HoldReason, HoldReasons};
    match reasons {
        HoldReasons::Typed(list) => {
            let words: Vec<String> = crate::moderation::distinct(list.iter().map(|r| match r {
                HoldReason::Policy { .. } => {
                    "messages here are checked before they are shared".to_owned()
                }
                other => other.to_string(),
            }));
            words.join("; ")
        }
        HoldReasons::Written(text) => text.clone(),
    }
}

/// Checks the texts: known languages, bounded templates.
pub fn validate(
    texts: &BTreeMap<String, TellTexts>,
    language: &str,
    reply_secs: u64,
) -> Result<(), crate::moderation::rules::RuleError> {
    let bad = |key: String, problem: String| crate::moderation::rules::RuleError { key, problem };
    if !valid_language(language) {
        return Err(bad(
            "tell_language".into(),
            format!("`{language}` is not a language tag such as en or pt-br (lower case)"),
        ));
    }
    if reply_secs > MAX_REPLY_SECS {
        return Err(bad(
            "tell_reply_secs".into(),
            format!("{reply_secs} is more than the largest allowed, {MAX_REPLY_SECS}"),
        ));
    }
    if texts.len() > MAX_LANGUAGES {
        return Err(bad(
            "tell_texts".into(),
            format!("at most {MAX_LANGUAGES} languages"),
        ));
    }
    for (lang, t) in texts {
        if !valid_language(lang) {
            return Err(bad(
                format!("tell_texts.{lang}"),
                "not a language tag such as en or pt-br (lower case)".into(),
            ));
        }
        for (name, text) in [
            ("held", &t.held),
            ("rejected", &t.rejected),
            ("held_in_room", &t.held_in_room),
            ("rejected_in_room", &t.rejected_in_room),
            ("unspecified", &t.unspecified),
            ("invite", &t.invite),
        ] {
            if civicbridge_api::names::is_blank(text) || text.chars().count() > MAX_TEXT {
                return Err(bad(
                    format!("tell_texts.{lang}.{name}"),
                    format!("must have between 1 and {MAX_TEXT} characters"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_not_expanded_again_and_unknown_braces_stay() {
        let out = fill(
            "{reason} / {excerpt} / {other} / {",
            &[("reason", "{excerpt}"), ("excerpt", "hi")],
        );
        assert_eq!(out, "{excerpt} / hi / {other} / {");
    }

    #[test]
    fn the_residents_language_then_its_first_part_then_the_links_then_english() {
        let mut rules = Rules::default();
        let de = TellTexts {
            held: "de".into(),
            ..TellTexts::default()
        };
        let pt = TellTexts {
            held: "pt".into(),
            ..TellTexts::default()
        };
        rules.tell_texts.insert("de".into(), de);
        rules.tell_texts.insert("pt".into(), pt);
        assert_eq!(texts_for(&rules, Some("de")).held, "de");
        assert_eq!(texts_for(&rules, Some("DE_at")).held, "de");
        assert_eq!(texts_for(&rules, Some("pt-BR")).held, "pt");
        // Hostile tags are not looked up as given.
        assert_eq!(
            texts_for(&rules, Some("de\u{202e}")).held,
            TellTexts::default().held
        );
        assert_eq!(texts_for(&rules, Some("")).held, TellTexts::default().held);
        rules.tell_language = "pt".into();
        assert_eq!(texts_for(&rules, Some("fr")).held, "pt");
        assert_eq!(texts_for(&rules, None).held, "pt");
    }

    /// What a hostile message or a careless template cannot do: put the message's words into
    /// the room, carry bidi or line breaks into the excerpt, or pass the moderator's words on.
    #[test]
    fn the_room_text_quotes_nothing_and_the_excerpt_is_one_clean_line() {
        use crate::store::Author;
        use civicbridge_api::{LinkId, MirrorId, Platform, RemoteMsgId, RoomRef};
        let tg = Platform::new("telegram");
        let mut m = MirrorRecord::new(
            MirrorId(1),
            LinkId::new("l"),
            RoomRef::new(tg, "-1"),
            RemoteMsgId::new("5"),
            Author::new(tg, "42", "Ada"),
            RichText::plain(format!("call\u{202e} me\n{}", "x".repeat(500))),
        );
        let mut rules = Rules::default();
        rules.tell_texts.insert(
            "en".into(),
            TellTexts {
                rejected_in_room: "{excerpt}|{reason}".into(),
                ..TellTexts::default()
            },
        );
        let JobKind::Tell {
            private, in_room, ..
        } = job(&rules, &m, Told::Rejected, None)
        else {
            unreachable!()
        };
        assert_eq!(in_room.to_plain(), "|it does not follow this group's rules");
        let private = private.to_plain();
        assert!(private.contains("“call me x"), "{private}");
        assert!(!private.contains('\u{202e}') && !private.contains('\n'));
        assert!(private.contains("x…”"), "cut, and says so: {private}");
        m.text = RichText::default();
        let JobKind::Tell { private, .. } = job(&rules, &m, Told::Held, Some("a link")) else {
            unreachable!()
        };
        assert!(private.to_plain().contains("(a link)"));
    }

    #[test]
    fn bad_settings_are_refused_naming_the_key() {
        let mut r = Rules::default();
        r.set("tell_residents", "held_and_rejected")
            .expect("a mode");
        assert_eq!(r.tell_residents, TellResidents::HeldAndRejected);
        let e = r.set("tell_residents", "always").unwrap_err();
        assert_eq!(e.key, "tell_residents");
        assert_eq!(
            r.set("tell_language", "English").unwrap_err().key,
            "tell_language"
        );
        assert_eq!(
            r.set("tell_reply_secs", "86401").unwrap_err().key,
            "tell_reply_secs"
        );
        let e = r.set("tell_texts.de", r#"{ held = "   " }"#).unwrap_err();
        assert_eq!(e.key, "tell_texts.de.held");
        let e = r.set("tell_texts.DE", r#"{ held = "x" }"#).unwrap_err();
        assert_eq!(e.key, "tell_texts.DE");
        r.set("tell_texts.de", r#"{ held = "Geprüft: {reason}" }"#)
            .expect("one text, the rest English");
        assert_eq!(r.tell_texts["de"].held, "Geprüft: {reason}");
        assert_eq!(r.tell_texts["de"].rejected, TellTexts::default().rejected);
    }

    #[test]
    fn a_hold_reads_plainly_to_its_author() {
        use crate::moderation::{HoldReason, HoldReasons};
        let r = HoldReasons::Typed(vec![
            HoldReason::Policy {
                from: Side::Public,
                to: Side::Staff,
            },
            HoldReason::Policy {
                from: Side::Public,
                to: Side::Public,
            },
            HoldReason::Links,
        ]);
        assert_eq!(
            held_reason(&r),
            "messages here are checked before they are shared; it contains a link"
        );
    }

    #[test]
    fn language_tags_are_checked() {
        for ok in ["en", "pt-br", "zh-hant-tw", "ast"] {
            assert!(valid_language(ok), "{ok}");
        }
        for bad in [
            "",
            "e",
            "EN",
            "english",
            "en_",
            "en--gb",
            "en-",
            "ру",
            "en-toolongpart",
        ] {
            assert!(!valid_language(bad), "{bad}");
        }
    }
}
