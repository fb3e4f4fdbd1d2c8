//! A link's rules as a form, and what a posted form would change. Pure: the pages
//! ([`super::rules_page`]) read the store and run the commands.
//!
//! Each key `!set` accepts ([`Rules::KEYS`]) is one field, `rule.KEY`, holding the key's value
//! as `!set` reads it (TOML, a bare word where that reads the same). A posted form becomes a
//! diff of the keys whose value would change the rules; the confirm form carries that diff in
//! hidden fields (`key`, `old.KEY`, `new.KEY`), so the server keeps nothing between the two
//! steps. Applying checks each `old.KEY` against the rules now (someone may have changed them
//! since: then nothing is applied) and every new value with `Rules::set`, the same validation
//! `!set` runs, in the order they will be applied, before the first is.

use super::form::Form;
use crate::moderation::rules::{RuleError, Rules};
use serde::Serialize;
use std::collections::BTreeMap;

/// Values longer than this get a text area rather than a one-line field (which would hide
/// their end); a text area shows about this many characters a row.
const LONG: usize = 36;
/// The most rows a text area opens with (it scrolls past them).
const MAX_ROWS: usize = 8;

/// One field of the rules form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub key: &'static str,
    pub value: String,
    pub long: bool,
    /// Rows of its text area, when long.
    pub rows: usize,
}

/// One changed key, as the diff page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub key: String,
    pub old: String,
    pub new: String,
    /// Why `!set` would refuse the new value (it names the key).
    pub error: Option<String>,
    /// What `!set --dry-run` says the change would have done to recent messages.
    pub dry_run: Option<String>,
}

/// Why a confirmed diff is not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("`{0}` is not a rule")]
    UnknownKey(String),
    #[error("the form names `{0}` twice")]
    Repeated(String),
    #[error("{0}: the form does not say its old or new value")]
    Incomplete(String),
    #[error("{0} has changed since you reviewed it; nothing was changed, review again")]
    Stale(String),
    #[error("{0}")]
    Invalid(#[from] RuleError),
    #[error("the form changes nothing")]
    Nothing,
}

/// One change to apply, read from the confirm form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub key: &'static str,
    pub old: String,
    pub new: String,
}

/// The key as [`Rules::KEYS`] spells it (a `'static` name for the form's field).
fn known(key: &str) -> Option<&'static str> {
    Rules::KEYS.iter().copied().find(|k| *k == key)
}

/// Each key's value as `!set` takes it; an unset optional rule is empty.
pub fn values(rules: &Rules) -> BTreeMap<&'static str, String> {
    let table = match toml::Value::try_from(rules) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    Rules::KEYS
        .iter()
        .map(|k| (*k, table.get(*k).map(inline).unwrap_or_default()))
        .collect()
}

/// A value as one line of TOML; a string that is a bare word `!set` reads as the same string
/// is shown bare (`approve`, not `"approve"`).
fn inline(v: &toml::Value) -> String {
    if let toml::Value::String(s) = v {
        let bare = !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            && format!("v = {s}").parse::<toml::Table>().is_err();
        if bare {
            return s.clone();
        }
    }
    v.to_string()
}

/// The form's fields, in `Rules::KEYS` order.
pub fn fields(rules: &Rules) -> Vec<Field> {
    let mut values = values(rules);
    Rules::KEYS
        .iter()
        .map(|k| {
            let value = values.remove(k).unwrap_or_default();
            let chars = value.chars().count();
            Field {
                key: k,
                long: chars > LONG || value.contains('\n'),
                rows: (chars / LONG + 1).clamp(2, MAX_ROWS),
                value,
            }
        })
        .collect()
}

/// The keys a posted rules form would change, in `Rules::KEYS` order. A field left as shown,
/// or rewritten to the same value (`[ "a" ]` for `["a"]`), is no change; a field the form
/// leaves out is none either. A value `!set` would refuse is a change with its error.
pub fn diff(rules: &Rules, form: &Form) -> Vec<Change> {
    let old = values(rules);
    let mut after = rules.clone();
    let mut out = Vec::new();
    for key in Rules::KEYS {
        let Some(new) = form.get(&format!("rule.{key}")) else {
            continue;
        };
        let new = new.trim();
        let was = old.get(key).cloned().unwrap_or_default();
        if new == was {
            continue;
        }
        let mut alone = rules.clone();
        if alone.set(key, new).is_ok() && alone == *rules {
            continue;
        }
        let error = after.set(key, new).err().map(|e| e.to_string());
        out.push(Change {
            key: (*key).to_owned(),
            old: was,
            new: new.to_owned(),
            error,
            dry_run: None,
        });
    }
    out
}

/// The changes a confirm form carries: every `key` with its `old.KEY` and `new.KEY`.
pub fn planned(form: &Form) -> Result<Vec<Planned>, ApplyError> {
    let mut out: Vec<Planned> = Vec::new();
    for raw in form.all("key") {
        let key =
            known(raw).ok_or_else(|| ApplyError::UnknownKey(raw.chars().take(80).collect()))?;
        if out.iter().any(|p| p.key == key) {
            return Err(ApplyError::Repeated(key.to_owned()));
        }
        let (Some(old), Some(new)) = (
            form.get(&format!("old.{key}")),
            form.get(&format!("new.{key}")),
        ) else {
            return Err(ApplyError::Incomplete(key.to_owned()));
        };
        out.push(Planned {
            key,
            old: old.to_owned(),
            new: new.trim().to_owned(),
        });
    }
    if out.is_empty() {
        return Err(ApplyError::Nothing);
    }
    Ok(out)
}

/// The rules once every change is applied, if each key still has the value reviewed and each
/// new value passes `!set`'s validation in turn. Nothing is applied otherwise.
pub fn check(rules: &Rules, planned: &[Planned]) -> Result<Rules, ApplyError> {
    let now = values(rules);
    let mut after = rules.clone();
    for p in planned {
        if now.get(p.key).map(String::as_str) != Some(p.old.as_str()) {
            return Err(ApplyError::Stale(p.key.to_owned()));
        }
        after.set(p.key, &p.new)?;
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Form::parse(body.as_bytes()).expect("form")
    }

    #[test]
    fn every_key_round_trips_through_set() {
        let rules = Rules::default();
        for f in fields(&rules) {
            if f.value.is_empty() {
                continue;
            }
            let mut r = rules.clone();
            r.set(f.key, &f.value)
                .unwrap_or_else(|e| panic!("{}: {e}", f.key));
            assert_eq!(r, rules, "{} = {}", f.key, f.value);
        }
        assert_eq!(fields(&rules).len(), Rules::KEYS.len());
    }

    #[test]
    fn the_diff_is_exactly_the_changed_keys() {
        let rules = Rules::default();
        let v = values(&rules);
        let mut pairs: Vec<(String, String)> = v
            .iter()
            .map(|(k, val)| (format!("rule.{k}"), val.clone()))
            .collect();
        let set = |pairs: &mut Vec<(String, String)>, k: &str, val: &str| {
            for p in pairs.iter_mut() {
                if p.0 == format!("rule.{k}") {
                    p.1 = val.to_owned();
                }
            }
        };
        set(&mut pairs, "slow_mode_secs", "30");
        set(&mut pairs, "paused", " true ");
        // The same value written otherwise is no change.
        set(&mut pairs, "blocked_patterns", "[ ]");
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let d = diff(&rules, &form(&refs));
        let keys: Vec<_> = d.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["slow_mode_secs", "paused"]);
        assert_eq!(d[1].old, "false");
        assert_eq!(d[1].new, "true");
        assert!(d.iter().all(|c| c.error.is_none()));

        let d = diff(&rules, &form(&[("rule.slow_mode_secs", "soon")]));
        assert!(
            d[0].error.as_deref().unwrap().starts_with("slow_mode_secs"),
            "{d:?}"
        );
    }

    #[test]
    fn applying_checks_staleness_and_validity_before_anything() {
        let rules = Rules::default();
        let ok = form(&[
            ("key", "slow_mode_secs"),
            ("old.slow_mode_secs", "0"),
            ("new.slow_mode_secs", "30"),
        ]);
        let after = check(&rules, &planned(&ok).unwrap()).unwrap();
        assert_eq!(after.slow_mode_secs, 30);
        let stale = form(&[
            ("key", "slow_mode_secs"),
            ("old.slow_mode_secs", "5"),
            ("new.slow_mode_secs", "30"),
        ]);
        assert_eq!(
            check(&rules, &planned(&stale).unwrap()),
            Err(ApplyError::Stale("slow_mode_secs".into()))
        );
        let bad = form(&[
            ("key", "paused"),
            ("old.paused", "false"),
            ("new.paused", "true"),
            ("key", "slow_mode_secs"),
            ("old.slow_mode_secs", "0"),
            ("new.slow_mode_secs", "-4"),
        ]);
        let e = check(&rules, &planned(&bad).unwrap()).unwrap_err();
        assert!(e.to_string().starts_with("slow_mode_secs"), "{e}");
        assert_eq!(
            planned(&form(&[("key", "owner")])),
            Err(ApplyError::UnknownKey("owner".into()))
        );
        assert_eq!(
            planned(&form(&[("key", "paused")])),
            Err(ApplyError::Incomplete("paused".into()))
        );
        assert_eq!(planned(&form(&[])), Err(ApplyError::Nothing));
    }
}
