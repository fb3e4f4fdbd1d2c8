//! The reasons a link's moderators give by code (`!reject #3 spam`): each with the label people
//! read and, where one fits, a harm category of Matrix's MSC4387 vocabulary, so that decisions
//! can be counted by kind (`moderation::audit::report`). Kept in the rules (`reasons`).

use serde::{Deserialize, Serialize};

/// A reason a moderator can give for a decision, by its code (`!reject #3 spam`): the code
/// goes into the audit entry (and, with `harm`, lets decisions be counted by kind), the label
/// is what people read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// One word: lower-case letters, digits, `_` or `-`, at most 32 characters.
    pub code: String,
    /// What the card (and, later, the author) reads, e.g. "Spam or advertising".
    pub label: String,
    /// A harm category in the MSC4387 vocabulary (`org.matrix.msc4387.spam` …), if one fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harm: Option<String>,
}

impl Reason {
    fn new(code: &str, label: &str, harm: Option<&str>) -> Reason {
        Reason {
            code: code.into(),
            label: label.into(),
            harm: harm.map(|h| format!("org.matrix.msc4387.{h}")),
        }
    }

    /// The reasons a link starts with: the common ones for a public conversation, with the
    /// MSC4387 harm each falls under.
    pub fn defaults() -> Vec<Reason> {
        vec![
            Reason::new("spam", "Spam or advertising", Some("spam")),
            Reason::new("scam", "A scam or fraud", Some("spam.fraud")),
            Reason::new(
                "impersonation",
                "Pretends to be someone else",
                Some("spam.impersonation"),
            ),
            Reason::new("abuse", "Abusive or harassing", Some("harassment")),
            Reason::new(
                "hate",
                "Hateful towards a group of people",
                Some("harassment.hate"),
            ),
            Reason::new(
                "personal",
                "Shares someone's personal information",
                Some("harassment.doxxing"),
            ),
            Reason::new("violence", "Violent or threatening", Some("violence")),
            Reason::new("adult", "Sexual or adult content", Some("adult")),
            Reason::new("rules", "Against this group's rules", Some("tos")),
            Reason::new("offtopic", "Off topic here", None),
        ]
    }

    /// Reads a reason as typed after a decision: a first word that is one of `reasons`' codes
    /// (any case) gives that reason, and the rest of the text, if any, is the moderator's own
    /// words after it. Returns the reason found and the text to show: "Spam or advertising",
    /// "Spam or advertising (third time today)", or the free text as typed.
    pub fn resolve<'a>(reasons: &'a [Reason], typed: &str) -> (Option<&'a Reason>, String) {
        let typed = typed.trim();
        let (first, rest) = typed
            .split_once(char::is_whitespace)
            .map_or((typed, ""), |(f, r)| (f, r.trim()));
        match reasons.iter().find(|r| r.code.eq_ignore_ascii_case(first)) {
            Some(r) if rest.is_empty() => (Some(r), r.label.clone()),
            Some(r) => (Some(r), format!("{} ({rest})", r.label)),
            None => (None, typed.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_read_by_code_with_the_moderators_words_after_it() {
        let reasons = Reason::defaults();
        let (r, text) = Reason::resolve(&reasons, "spam");
        assert_eq!(r.map(|r| r.code.as_str()), Some("spam"));
        assert_eq!(text, "Spam or advertising");
        let (r, text) = Reason::resolve(&reasons, " SPAM  third time today ");
        assert_eq!(
            r.map(|r| r.harm.as_deref()),
            Some(Some("org.matrix.msc4387.spam"))
        );
        assert_eq!(text, "Spam or advertising (third time today)");
        let (r, text) = Reason::resolve(&reasons, "spammy words");
        assert!(r.is_none());
        assert_eq!(text, "spammy words");
    }
}
