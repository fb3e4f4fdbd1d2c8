//! Display names that imitate someone: a resident calling themselves "Council Officer", or
//! "Sam Jones" with a Cyrillic "о" when Sam Jones is on the staff side. The bridge shows such a
//! name as unverified ("Council Officer (Telegram, unverified name)") on the card and on every
//! copy, and tells the moderation room once per sender (`pipeline/link`).
//!
//! Names are compared by their UTS #39 skeleton (`unicode-security`): letters that look alike
//! ("о" and "o", "0" and "O", "rn" and "m") fold to the same one, then case and everything but
//! letters and digits go. A public sender is unverified when their folded name equals a staff
//! name of the link (as staff post under it), or contains a protected word (the rule
//! `protected_names`: "council", the council's name), or when the raw name carried control or
//! bidi characters (the router removes them; that someone put them there is the signal).
//! Staff are never checked: their side is the council's.

use unicode_security::skeleton;

/// Why a name is shown as unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookalike {
    /// It looks like the name of this staff member.
    Staff(String),
    /// It contains this protected word.
    Protected(String),
    /// It carried control or bidi characters.
    HiddenCharacters,
}

impl std::fmt::Display for Lookalike {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookalike::Staff(n) => write!(f, "it looks like the staff member \"{n}\""),
            Lookalike::Protected(w) => write!(f, "it contains the protected word \"{w}\""),
            Lookalike::HiddenCharacters => {
                f.write_str("it contained invisible control or direction characters")
            }
        }
    }
}

/// A name folded for comparison: skeleton, lower case, letters and digits only.
pub fn fold(name: &str) -> String {
    // Lower case first (the skeleton maps some capitals to look-alikes of other letters),
    // then the skeleton, then lower case again (it maps "0" to "O").
    skeleton(&name.to_lowercase())
        .collect::<String>()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Whether a public sender named `name` (already normalised) should be shown as unverified.
/// `staff` are the staff names of the link, `protected` the rule's words; both as typed.
pub fn check(
    name: &str,
    hidden_characters: bool,
    staff: &[String],
    protected: &[String],
) -> Option<Lookalike> {
    if hidden_characters {
        return Some(Lookalike::HiddenCharacters);
    }
    let folded = fold(name);
    if folded.is_empty() {
        return None;
    }
    if let Some(s) = staff.iter().find(|s| fold(s) == folded) {
        return Some(Lookalike::Staff(s.clone()));
    }
    protected
        .iter()
        .find(|w| {
            let w = fold(w);
            !w.is_empty() && folded.contains(&w)
        })
        .map(|w| Lookalike::Protected(w.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff() -> Vec<String> {
        vec!["Sam Jones".into(), "Mo".into()]
    }
    fn protected() -> Vec<String> {
        vec!["council".into()]
    }

    #[test]
    fn look_alike_letters_case_and_spacing_fold_away() {
        for name in [
            "Council Officer",
            "Cоuncil Officer", // Cyrillic о
            "C0UNCIL officer", // a zero
            "ｃｏｕｎｃｉｌ",  // full width
            "the-council",
        ] {
            assert_eq!(
                check(name, false, &staff(), &protected()),
                Some(Lookalike::Protected("council".into())),
                "{name}"
            );
        }
        for name in ["Sam Jones", "Sаm Jоnes", "sam  jones", "S a m J o n e s"] {
            assert_eq!(
                check(name, false, &staff(), &protected()),
                Some(Lookalike::Staff("Sam Jones".into())),
                "{name}"
            );
        }
        assert_eq!(check("Samantha", false, &staff(), &protected()), None);
        assert_eq!(check("Ada", false, &staff(), &protected()), None);
        assert_eq!(
            check("Ada", true, &staff(), &protected()),
            Some(Lookalike::HiddenCharacters)
        );
        assert_eq!(
            check("!!!", false, &staff(), &["!".into()]),
            None,
            "nothing to compare"
        );
    }
}
