//! The audit page's filters, read from its query string strictly: a link that is not the
//! person's, an action that does not exist, a time or cursor that does not parse answer 400
//! with a sentence (never a panic); free text is clamped. Which entries a person may see at
//! all is [`Scope`]: entries on their links, and entries about no link (erasures, exports,
//! sign-ins) only if they administer every link.

use crate::moderation::audit::{self, AuditAction, AuditEntry};
use crate::moderation::commands::permissions::Role;
use crate::store::LinkRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The longest actor text compared.
const MAX_ACTOR: usize = 200;
/// The longest time text read.
const MAX_TIME: usize = 40;

/// The query string as sent. Empty fields filter nothing.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Raw {
    pub link: String,
    /// A part of the actor as the log writes it (`matrix:@mod:x`, `cli`), in any case.
    pub actor: String,
    /// An action's name (`takedown`, `console_action` …).
    pub action: String,
    /// From this time on (a date, midnight UTC, or RFC 3339).
    pub from: String,
    /// Before this time (same forms).
    pub to: String,
    /// Paging: only entries older than this sequence number.
    pub before: String,
}

/// Why a filter was refused (answered 400, or 403 for another's link).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("`{0}` is not one of your links")]
    NotYourLink(String),
    #[error("there is no audit action `{0}`")]
    NoSuchAction(String),
    #[error("{field}: {problem}")]
    BadTime {
        field: &'static str,
        problem: String,
    },
    #[error("`before` must be an entry number")]
    BadCursor,
}

/// Which entries a person may see: those on their links; those on no link if they
/// administer every link in force.
#[derive(Debug, Clone)]
pub struct Scope {
    links: BTreeSet<String>,
    unlinked: bool,
}

impl Scope {
    pub fn of(person: &super::who::Person, all: &[LinkRecord]) -> Scope {
        Scope {
            links: person.links(all).iter().map(|l| l.id.to_string()).collect(),
            unlinked: !all.is_empty() && all.iter().all(|l| person.role(l) >= Role::Admin),
        }
    }

    pub fn admits(&self, e: &AuditEntry) -> bool {
        self.admits_link(e.link.as_ref())
    }

    /// Whether entries of `link` (`None`: of no link) are the person's to see.
    pub fn admits_link(&self, link: Option<&civicbridge_api::LinkId>) -> bool {
        match link {
            Some(l) => self.links.contains(l.as_str()),
            None => self.unlinked,
        }
    }

    pub fn links(&self) -> impl Iterator<Item = &String> {
        self.links.iter()
    }
}

/// A checked filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub link: Option<String>,
    actor: String,
    pub action: Option<AuditAction>,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    pub before: Option<u64>,
}

fn time(field: &'static str, s: &str) -> Result<Option<u64>, FilterError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().count() > MAX_TIME {
        return Err(FilterError::BadTime {
            field,
            problem: "too long to be a time".into(),
        });
    }
    audit::parse_since(s)
        .map(Some)
        .map_err(|problem| FilterError::BadTime { field, problem })
}

impl Filter {
    pub fn read(raw: &Raw, scope: &Scope) -> Result<Filter, FilterError> {
        let link = match raw.link.trim() {
            "" => None,
            l if scope.links.contains(l) => Some(l.to_owned()),
            l => return Err(FilterError::NotYourLink(l.chars().take(80).collect())),
        };
        let action = match raw.action.trim() {
            "" => None,
            a => Some(
                serde_json::from_value(serde_json::Value::String(a.to_owned()))
                    .map_err(|_| FilterError::NoSuchAction(a.chars().take(80).collect()))?,
            ),
        };
        let before = match raw.before.trim() {
            "" => None,
            b => Some(b.parse::<u64>().map_err(|_| FilterError::BadCursor)?),
        };
        Ok(Filter {
            link,
            actor: raw
                .actor
                .trim()
                .chars()
                .take(MAX_ACTOR)
                .collect::<String>()
                .to_lowercase(),
            action,
            from_ms: time("from", &raw.from)?,
            to_ms: time("to", &raw.to)?,
            before,
        })
    }

    /// Whether `e` passes the filter (paging aside).
    pub fn admits(&self, e: &AuditEntry) -> bool {
        self.link
            .as_deref()
            .is_none_or(|l| e.link.as_ref().is_some_and(|el| el.as_str() == l))
            && self.action.is_none_or(|a| e.action == a)
            && (self.actor.is_empty() || e.actor.to_string().to_lowercase().contains(&self.actor))
            && self.from_ms.is_none_or(|f| e.at_ms >= f)
            && self.to_ms.is_none_or(|t| e.at_ms < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            links: ["planning".to_owned()].into(),
            unlinked: false,
        }
    }

    fn read(q: &str) -> Result<Filter, FilterError> {
        let mut raw = Raw::default();
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            let v = v.into_owned();
            match k.as_ref() {
                "link" => raw.link = v,
                "actor" => raw.actor = v,
                "action" => raw.action = v,
                "from" => raw.from = v,
                "to" => raw.to = v,
                "before" => raw.before = v,
                _ => {}
            }
        }
        Filter::read(&raw, &scope())
    }

    #[test]
    fn filters_are_read_strictly_and_clamped() {
        assert!(read("link=planning&action=takedown&from=2026-01-01").is_ok());
        assert_eq!(
            read("link=parks").unwrap_err(),
            FilterError::NotYourLink("parks".into())
        );
        assert!(matches!(
            read("action=nuke"),
            Err(FilterError::NoSuchAction(_))
        ));
        assert!(matches!(
            read("from=yesterday"),
            Err(FilterError::BadTime { .. })
        ));
        let huge = format!("to={}", "9".repeat(5000));
        assert!(matches!(read(&huge), Err(FilterError::BadTime { .. })));
        assert_eq!(read("before=-1").unwrap_err(), FilterError::BadCursor);
        assert_eq!(
            read(&format!("before={}", "9".repeat(40))).unwrap_err(),
            FilterError::BadCursor
        );
        let long = format!("actor={}", "a".repeat(10_000));
        assert_eq!(read(&long).expect("clamped").actor.len(), MAX_ACTOR);
    }
}
