//! Seeding a link's rules from the config, key by key.
//!
//! The config seeds each rule; a runtime change (`!set`, `!trust`, `!block`, `civicbridge rules
//! set`) wins for its key until the config changes that same key. So the stored record keeps
//! the config's rules as last seeded (`RulesRecord::config`), and at every start each key the
//! config changed since replaces the stored value, while every other key keeps what it has.
//! The trusted and blocked lists are merged, never replaced: the people the config added are
//! added (and leave the other list), the ones it removed are removed, and the ones added at
//! runtime stay. Each key the config changes is audited on its own.
//!
//! Records from before this (no `config`) carry only a hash of the config they were seeded
//! from, in the old encoding ([`legacy_hash`]). If the config still has that hash, every stored
//! value that differs from it was set at runtime and stays. If not, the old release would have
//! replaced the whole record: the config's values win, except the lists, which are merged. In
//! both cases the old defaults of the edit settings (`edits = "auto"`, `edits_public_to_staff =
//! "approve"`, written into every record) read as the new default, "as the direction", unless
//! the config sets them.

use super::{hex_hash, keys, RulesRecord};
use crate::moderation::rules::{EditPolicy, Policy, Rules, UserKey};
use serde::Serialize;
use serde_json::{Map, Value};

/// The two lists that are merged rather than replaced, each with the list it excludes.
const LISTS: [(&str, &str); 2] = [("trusted", "blocked"), ("blocked", "trusted")];

/// What seeding changed: the new record, and for each changed key its value before and after.
#[derive(Debug)]
pub struct Seeded {
    pub record: RulesRecord,
    pub changes: Vec<(String, Value, Value)>,
}

/// The record for a link whose config rules are `config`, given what is stored (`None`: a new
/// link, seeded whole).
pub fn seed(stored: Option<&RulesRecord>, config: &Rules) -> Seeded {
    let seeded_from = hex_hash(&keys::encode(config));
    let Some(stored) = stored else {
        return Seeded {
            record: RulesRecord {
                rules: config.clone(),
                seeded_from,
                config: Some(config.clone()),
            },
            changes: vec![("*".into(), Value::Null, to_map_value(config))],
        };
    };
    let (rules, changes) = match &stored.config {
        Some(last) => merge(&stored.rules, last, config),
        None => legacy(stored, config),
    };
    Seeded {
        record: RulesRecord {
            rules,
            seeded_from,
            config: Some(config.clone()),
        },
        changes,
    }
}

fn to_map(r: &Rules) -> Map<String, Value> {
    match serde_json::to_value(r) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn to_map_value(r: &Rules) -> Value {
    Value::Object(to_map(r))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `stored` with every key `config` changed since `last` taken from `config`, and the lists
/// merged. Returns the rules and the changes.
fn merge(stored: &Rules, last: &Rules, config: &Rules) -> (Rules, Vec<(String, Value, Value)>) {
    let (mut s, o, n) = (to_map(stored), to_map(last), to_map(config));
    let mut changes = Vec::new();
    for (key, new) in &n {
        if LISTS.iter().any(|(l, _)| l == key) || o.get(key) == Some(new) {
            continue;
        }
        let before = s.insert(key.clone(), new.clone()).unwrap_or(Value::Null);
        if &before != new {
            changes.push((key.clone(), before, new.clone()));
        }
    }
    merge_lists(&mut s, &strings_of(&o), &strings_of(&n), &mut changes);
    finish(s, config, changes)
}

fn strings_of(m: &Map<String, Value>) -> Vec<(String, Vec<String>)> {
    LISTS
        .iter()
        .map(|(l, _)| (l.to_string(), strings(m.get(*l))))
        .collect()
}

/// Applies to the stored lists what the config did to its own: additions added (and taken off
/// the other list), removals removed; whatever was added at runtime stays.
fn merge_lists(
    s: &mut Map<String, Value>,
    last: &[(String, Vec<String>)],
    config: &[(String, Vec<String>)],
    changes: &mut Vec<(String, Value, Value)>,
) {
    for ((list, other), ((_, old), (_, new))) in LISTS.iter().zip(last.iter().zip(config)) {
        let added: Vec<&String> = new.iter().filter(|u| !old.contains(u)).collect();
        let removed: Vec<&String> = old.iter().filter(|u| !new.contains(u)).collect();
        if added.is_empty() && removed.is_empty() {
            continue;
        }
        let before = s.get(*list).cloned().unwrap_or(Value::Array(Vec::new()));
        let mut mine = strings(Some(&before));
        mine.retain(|u| !removed.contains(&u));
        for u in &added {
            if !mine.contains(u) {
                mine.push((*u).clone());
            }
        }
        let mut others = strings(s.get(*other));
        let had = others.len();
        others.retain(|u| !added.contains(&u));
        if others.len() != had {
            s.insert((*other).to_owned(), Value::from(others));
        }
        let after = Value::from(mine);
        if after != before {
            changes.push(((*list).to_owned(), before, after.clone()));
        }
        s.insert((*list).to_owned(), after);
    }
}

/// The merged map as rules; if the mix does not hold together (it always should: every value
/// came from valid rules), the config's rules, whole.
fn finish(
    s: Map<String, Value>,
    config: &Rules,
    changes: Vec<(String, Value, Value)>,
) -> (Rules, Vec<(String, Value, Value)>) {
    match serde_json::from_value::<Rules>(Value::Object(s)) {
        Ok(r) if r.validate().is_ok() => (r, changes),
        _ => {
            tracing::error!("merged rules do not hold together; taking the config's");
            (
                config.clone(),
                vec![("*".into(), Value::Null, to_map_value(config))],
            )
        }
    }
}

/// A record from before per-key seeding.
fn legacy(stored: &RulesRecord, config: &Rules) -> (Rules, Vec<(String, Value, Value)>) {
    let mut rules = stored.rules.clone();
    // The old defaults were written into every record: they read as the new default unless
    // the config says otherwise.
    if config.edits == EditPolicy::Direction && rules.edits == EditPolicy::Auto {
        rules.edits = EditPolicy::Direction;
    }
    if config.edits_public_to_staff == EditPolicy::Direction
        && rules.edits_public_to_staff == EditPolicy::Approve
    {
        rules.edits_public_to_staff = EditPolicy::Direction;
    }
    if legacy_hash(config) == stored.seeded_from {
        // The config is the one these rules were seeded from: what differs was set at
        // runtime, and stays.
        let mut changes = Vec::new();
        let (before, after) = (to_map(&stored.rules), to_map(&rules));
        for (k, v) in &after {
            if before.get(k) != Some(v) {
                changes.push((
                    k.clone(),
                    before.get(k).cloned().unwrap_or_default(),
                    v.clone(),
                ));
            }
        }
        return (rules, changes);
    }
    // The config changed while the old release ran, which would have replaced everything:
    // the config wins, but the lists keep what was added at runtime.
    let mut s = to_map(config);
    let stored_map = to_map(&rules);
    let mut changes = Vec::new();
    for (k, v) in &s {
        if LISTS.iter().any(|(l, _)| l == k) {
            continue;
        }
        if stored_map.get(k) != Some(v) {
            changes.push((
                k.clone(),
                stored_map.get(k).cloned().unwrap_or_default(),
                v.clone(),
            ));
        }
    }
    let empty: Vec<(String, Vec<String>)> = LISTS
        .iter()
        .map(|(l, _)| (l.to_string(), Vec::new()))
        .collect();
    // Start from the stored lists, and apply the config's as additions.
    for (l, _) in LISTS {
        s.insert(l.to_owned(), stored_map.get(l).cloned().unwrap_or_default());
    }
    merge_lists(&mut s, &empty, &strings_of(&to_map(config)), &mut changes);
    finish(s, config, changes)
}

/// The hash the previous release stored for `config`: the SHA-256 of its encoding of the rules,
/// whose edit settings were plain policies (`auto` and `approve` by default).
pub fn legacy_hash(config: &Rules) -> String {
    #[derive(Serialize)]
    struct Old<'a> {
        staff_to_public: &'a crate::moderation::rules::DirectionRule,
        public_to_staff: &'a crate::moderation::rules::DirectionRule,
        public_to_public: &'a crate::moderation::rules::DirectionRule,
        staff_to_staff: &'a crate::moderation::rules::DirectionRule,
        blocked_patterns: &'a Vec<String>,
        max_length: &'a Option<usize>,
        links: &'a crate::moderation::rules::LinkPolicy,
        attachments: &'a crate::moderation::rules::AttachmentRule,
        hold_mass_mentions: bool,
        slow_mode_secs: u64,
        edits: Policy,
        edits_public_to_staff: Policy,
        trusted: &'a Vec<UserKey>,
        blocked: &'a Vec<UserKey>,
        resident_names: &'a crate::moderation::rules::ResidentNames,
        retention_days: u32,
        remind_after_secs: u64,
        expire_after_secs: u64,
        public_notice: &'a Option<String>,
    }
    let r = config;
    let old = Old {
        staff_to_public: &r.staff_to_public,
        public_to_staff: &r.public_to_staff,
        public_to_public: &r.public_to_public,
        staff_to_staff: &r.staff_to_staff,
        blocked_patterns: &r.blocked_patterns,
        max_length: &r.max_length,
        links: &r.links,
        attachments: &r.attachments,
        hold_mass_mentions: r.hold_mass_mentions,
        slow_mode_secs: r.slow_mode_secs,
        edits: r.edits.explicit().unwrap_or(Policy::Auto),
        edits_public_to_staff: r
            .edits_public_to_staff
            .explicit()
            .unwrap_or(Policy::Approve),
        trusted: &r.trusted,
        blocked: &r.blocked,
        resident_names: &r.resident_names,
        retention_days: r.retention_days,
        remind_after_secs: r.remind_after_secs,
        expire_after_secs: r.expire_after_secs,
        public_notice: &r.public_notice,
    };
    hex_hash(&keys::encode(&old))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moderation::rules::LinkPolicy;

    fn runtime(rec: &mut RulesRecord, f: impl FnOnce(&mut Rules)) {
        f(&mut rec.rules);
    }

    #[test]
    fn a_config_change_of_one_key_keeps_runtime_changes_of_the_others_and_merges_lists() {
        let mut config = Rules {
            trusted: vec!["telegram:1".parse().unwrap()],
            ..Rules::default()
        };
        let mut rec = seed(None, &config).record;
        runtime(&mut rec, |r| {
            r.slow_mode_secs = 30;
            r.links = LinkPolicy::Drop;
            r.trusted.push("telegram:2".parse().unwrap());
            r.blocked.push("telegram:666".parse().unwrap());
        });
        // An admin edits one key in the file and adds a trusted person.
        config.max_length = Some(500);
        config.trusted.push("discord:9".parse().unwrap());
        let out = seed(Some(&rec), &config);
        let r = &out.record.rules;
        assert_eq!(r.max_length, Some(500), "the config's change applies");
        assert_eq!(r.slow_mode_secs, 30, "runtime changes of other keys stay");
        assert_eq!(r.links, LinkPolicy::Drop);
        assert_eq!(
            r.trusted,
            vec!["telegram:1", "telegram:2", "discord:9"],
            "lists merge"
        );
        assert_eq!(r.blocked, vec!["telegram:666"]);
        let keys: Vec<&str> = out.changes.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["max_length", "trusted"], "each change audited");

        // The same key changed at runtime and then in the config: the config wins.
        let mut rec = out.record;
        runtime(&mut rec, |r| r.max_length = Some(10));
        config.max_length = Some(600);
        assert_eq!(seed(Some(&rec), &config).record.rules.max_length, Some(600));

        // Removed from the config's list: removed; blocked in the config: leaves trusted.
        let mut rec = seed(Some(&rec), &config).record;
        runtime(&mut rec, |_| {});
        config.trusted.retain(|u| u != "telegram:1");
        config.blocked.push("telegram:2".parse().unwrap());
        let r = seed(Some(&rec), &config).record.rules;
        assert_eq!(r.trusted, vec!["discord:9"]);
        assert_eq!(r.blocked, vec!["telegram:666", "telegram:2"]);

        // Nothing changed in the config: nothing changes, nothing is audited.
        let rec = seed(Some(&rec), &config).record;
        let again = seed(Some(&rec), &config);
        assert!(again.changes.is_empty());
        assert_eq!(again.record.rules, rec.rules);
    }

    /// A record as the previous release wrote it: no `config`, the old edit defaults spelled
    /// out, a hash of the old encoding.
    fn old_record(runtime_slow_mode: u64, seeded_from: &Rules) -> RulesRecord {
        let mut rules = seeded_from.clone();
        rules.slow_mode_secs = runtime_slow_mode;
        rules.trusted.push("telegram:7".parse().unwrap());
        let json = serde_json::json!({
            "rules": serde_json::to_value(&rules).expect("json"),
            "seeded_from": legacy_hash(seeded_from),
        })
        .to_string()
        .replace(r#""edits":"direction""#, r#""edits":"auto""#)
        .replace(
            r#""edits_public_to_staff":"direction""#,
            r#""edits_public_to_staff":"approve""#,
        );
        let rec: RulesRecord = serde_json::from_str(&json).expect("an old record decodes");
        assert_eq!(rec.config, None);
        assert_eq!(rec.rules.edits, EditPolicy::Auto);
        rec
    }

    #[test]
    fn an_old_record_keeps_its_runtime_changes_and_reads_the_old_edit_defaults_as_new() {
        let config = Rules::default();
        let rec = old_record(45, &config);
        let r = seed(Some(&rec), &config).record;
        assert_eq!(
            r.rules.slow_mode_secs, 45,
            "the config did not change: kept"
        );
        assert_eq!(r.rules.trusted, vec!["telegram:7"]);
        assert_eq!(r.rules.edits, EditPolicy::Direction);
        assert_eq!(r.rules.edits_public_to_staff, EditPolicy::Direction);
        assert_eq!(r.config.as_ref(), Some(&config));

        // Seeded from another config: the config wins, the lists merge.
        let mut changed = config.clone();
        changed.max_length = Some(99);
        changed.trusted.push("discord:1".parse().unwrap());
        let r = seed(Some(&rec), &changed).record.rules;
        assert_eq!(r.max_length, Some(99));
        assert_eq!(r.slow_mode_secs, 0);
        assert_eq!(r.trusted, vec!["telegram:7", "discord:1"]);
    }

    #[test]
    fn an_explicit_edit_setting_in_the_config_survives_the_migration() {
        let config = Rules {
            edits: EditPolicy::Auto,
            ..Rules::default()
        };
        let rec = old_record(0, &config);
        assert_eq!(
            seed(Some(&rec), &config).record.rules.edits,
            EditPolicy::Auto
        );
    }
}
