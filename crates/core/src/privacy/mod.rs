//! Privacy: how residents are named to staff, how long mirrored content is kept, and erasure.
//!
//! - **Pseudonyms** ([`display_name_for`]): per link, residents (authors in public rooms) can be
//!   shown in staff-side rooms, approval cards and personas as `Resident 4f2a9c` instead of their
//!   display name. The pseudonym is an HMAC of the link and the person's `platform:id` under a
//!   random key kept in the store's meta tree ([`PrivacyKey`]): stable per person and link,
//!   different across links, and not reversible by staff, who never see the key. Staff are never
//!   pseudonymised, and residents see each other by name.
//! - **Retention** ([`retention`]): a link's `retention_days` rule prunes mirror records, their
//!   message-index and thread-map entries once older than that, in bounded audited batches.
//! - **Erasure** ([`erase`]): deletes every copy of a person's messages the bot can delete (as
//!   durable outbox jobs), discards their held items, and replaces their content in the store by
//!   a tombstone; audited with a keyed hash of their id, never the id or the text.
//!
//! Audit entries about content carry [`content_hash`] (SHA-256 of the plain text) rather than the
//! text, so the log can outlive retention and erasure without keeping what was said.

pub mod erase;
pub mod export;
mod naming;
pub mod retention;

pub use naming::{audit_rule_value_in, audit_rules_in, person_ref_in, shown_author, KeyedRead};

use crate::moderation::rules::{ResidentNames, Rules, Side};
use crate::store::Author;
use civicbridge_api::{LinkId, RichText, UserKey};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Readies the store for the daemon: the privacy key exists and is durable, so a pseudonym
/// shown once stays the same after a crash.
pub async fn prepare(store: &crate::store::Store) -> Result<(), crate::store::StoreError> {
    store.privacy_key()?;
    store.flush().await
}

/// What a tombstoned message and its author are replaced by after erasure.
pub const TOMBSTONE: &str = "[erased]";

/// The store's secret for pseudonyms and user hashes. Never leaves the store; a new store gets a
/// new key (so pseudonyms differ between installations).
#[derive(Clone, PartialEq, Eq)]
pub struct PrivacyKey([u8; 32]);

impl std::fmt::Debug for PrivacyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivacyKey(…)")
    }
}

impl PrivacyKey {
    /// A fresh random key.
    pub fn generate() -> PrivacyKey {
        PrivacyKey(rand::random())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<PrivacyKey> {
        bytes.try_into().ok().map(PrivacyKey)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA256 over `parts` joined by NUL, domain-separated by `purpose`.
    fn mac(&self, purpose: &str, parts: &[&str]) -> [u8; 32] {
        // HMAC takes keys of any length; 32 bytes cannot be refused.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(purpose.as_bytes());
        for p in parts {
            mac.update(b"\0");
            mac.update(p.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// `Resident 4f2a9c`: stable for one person (`platform:id`) on one link. Six hex digits keep
    /// accidental clashes rare (about one in 3 300 for two given people among a thousand).
    pub fn pseudonym(&self, link: &LinkId, user: &UserKey) -> String {
        let mac = self.mac("pseudonym", &[link.as_str(), &user.to_string()]);
        format!("Resident {}", &hex::encode(mac)[..6])
    }

    /// A keyed hash of a person's `platform:id`, for audit entries about them. Keyed because
    /// platform ids are few enough to enumerate: a plain hash would name them to anyone with an
    /// export. An admin holding the store can recompute it to answer "was X erased?".
    pub fn user_hash(&self, user: &UserKey) -> String {
        self.text_hash(&user.to_string())
    }

    /// [`Self::user_hash`] of a `platform:id` as written; for text that may not read as one.
    fn text_hash(&self, user: &str) -> String {
        hex::encode(self.mac("user", &[user]))
    }
}

/// The SHA-256 of a message's plain text, for audit entries: whoever holds the text can show it
/// is the one decided on, and the log itself never holds it.
pub fn content_hash(text: &RichText) -> String {
    text_hash(&text.to_plain())
}

/// The SHA-256 of a text from outside (a platform's error message, a failure's detail), for
/// audit entries that must not keep its words.
pub fn text_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// An outbox job described for the audit log: ids as they are, a notice's text as its hash
/// (cards quote the held message and name its author).
pub fn job_summary(kind: &crate::store::JobKind) -> serde_json::Value {
    use crate::store::JobKind;
    match kind {
        JobKind::Notice { text, card, .. } => serde_json::json!({
            "type": "notice",
            "card": card,
            "text_sha256": content_hash(text),
        }),
        JobKind::ReportCard { mirror, text } => serde_json::json!({
            "type": "report_card",
            "mirror": mirror,
            "text_sha256": content_hash(text),
        }),
        JobKind::EditNotice { message, text, .. } => serde_json::json!({
            "type": "edit_notice",
            "message": message,
            "text_sha256": content_hash(text),
        }),
        JobKind::Tell { mirror, told, .. } => serde_json::json!({
            "type": "tell",
            "mirror": mirror,
            "told": told.as_str(),
        }),
        JobKind::Unsay { message } => serde_json::json!({ "type": "unsay", "message": message }),
        // Not whom it is about: the log outlives erasure.
        JobKind::Export { links, .. } => serde_json::json!({ "type": "export", "links": links }),
        JobKind::Send { mirror, .. }
        | JobKind::Edit { mirror, .. }
        | JobKind::Delete { mirror }
        | JobKind::Reactions { mirror } => {
            serde_json::json!({ "type": job_kind_name(kind), "mirror": mirror })
        }
    }
}

fn job_kind_name(kind: &crate::store::JobKind) -> &'static str {
    use crate::store::JobKind;
    match kind {
        JobKind::Send { .. } => "send",
        JobKind::Edit { .. } => "edit",
        JobKind::Delete { .. } => "delete",
        JobKind::Reactions { .. } => "reactions",
        JobKind::ReportCard { .. } => "report_card",
        JobKind::Notice { .. } => "notice",
        JobKind::EditNotice { .. } => "edit_notice",
        JobKind::Tell { .. } => "tell",
        JobKind::Unsay { .. } => "unsay",
        JobKind::Export { .. } => "export",
    }
}

/// How the audit log names a person who is not acting in an official role: `person:` and the
/// keyed hash of their `platform:id` ([`PrivacyKey::user_hash`], the same hash an erasure entry
/// carries). Authors of moderated messages, people on trust and block lists and anyone refused
/// are named this way, so that an exported log keeps no platform id that erasure could not reach.
/// Moderators and admins deciding on a link keep their `platform:id` as the actor: the log is the
/// record of their official acts.
pub fn person_ref(key: &PrivacyKey, user: &UserKey) -> String {
    format!("person:{}", key.user_hash(user))
}

/// A link's rules as the audit log shows them: the trusted and blocked lists name people, so each
/// entry is a [`person_ref`]; everything else as it is.
pub fn audit_rules(key: &PrivacyKey, rules: &Rules) -> serde_json::Value {
    audit_rule_value(key, "*", &serde_json::to_value(rules).unwrap_or_default())
}

/// One rule's value as the audit log shows it (`key` as the seeding audits it: a rule's name, or
/// `*` for the whole rules): the people in the trusted and blocked lists as [`person_ref`]s.
pub fn audit_rule_value(
    key: &PrivacyKey,
    rule: &str,
    value: &serde_json::Value,
) -> serde_json::Value {
    use serde_json::Value;
    let hash_list = |v: &Value| match v {
        Value::Array(users) => Value::Array(
            users
                .iter()
                .map(|u| match u {
                    // A value not (yet) read as a person is still hashed, never shown.
                    Value::String(s) => Value::String(match s.parse::<UserKey>() {
                        Ok(user) => person_ref(key, &user),
                        Err(_) => format!("person:{}", key.text_hash(s)),
                    }),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    };
    match (rule, value) {
        ("trusted" | "blocked", v) => hash_list(v),
        ("*", Value::Object(m)) => Value::Object(
            m.iter()
                .map(|(k, v)| match k.as_str() {
                    "trusted" | "blocked" => (k.clone(), hash_list(v)),
                    _ => (k.clone(), v.clone()),
                })
                .collect(),
        ),
        (_, v) => v.clone(),
    }
}

/// How a person appears in one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub name: String,
    /// A pseudonym stands in for the name: show no avatar or other identifying detail either.
    pub pseudonymous: bool,
}

impl Shown {
    pub fn named(author: &Author) -> Shown {
        Shown {
            name: author.display_name.clone(),
            pseudonymous: false,
        }
    }
}

/// What the bridge calls `author` (who wrote in a room on `author_side` of `link`) in a room on
/// `target` side. Residents become pseudonyms in staff-side rooms when the link's
/// `resident_names` rule says so; everything else keeps its display name. Moderation rooms count
/// as staff side. Pure: the key comes from the store ([`crate::store::Store::privacy_key`]).
pub fn display_name_for(
    rules: &Rules,
    link: &LinkId,
    author: &Author,
    author_side: Side,
    target: Side,
    key: &PrivacyKey,
) -> Shown {
    let pseudonymise = rules.resident_names == ResidentNames::Pseudonym
        && author_side == Side::Public
        && target == Side::Staff
        && author.display_name != TOMBSTONE;
    if pseudonymise {
        Shown {
            name: key.pseudonym(link, &author.key()),
            pseudonymous: true,
        }
    } else {
        Shown::named(author)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use civicbridge_api::Platform;

    fn rules(names: ResidentNames) -> Rules {
        Rules {
            resident_names: names,
            ..Rules::default()
        }
    }

    #[test]
    fn residents_get_a_stable_keyed_pseudonym_in_staff_rooms_only() {
        // A fixed key: with a random one, six hex digits contain "42" about once in 50 runs.
        let key = PrivacyKey::from_bytes(&[7; 32]).unwrap();
        let link = LinkId::new("planning");
        let ada = Author::new(Platform::new("telegram"), "42", "Ada");
        let r = rules(ResidentNames::Pseudonym);
        let shown = display_name_for(&r, &link, &ada, Side::Public, Side::Staff, &key);
        assert!(shown.pseudonymous);
        assert!(shown.name.starts_with("Resident "), "{}", shown.name);
        assert_eq!(shown.name.len(), "Resident ".len() + 6);
        assert!(!shown.name.contains("Ada") && !shown.name.contains("42"));
        // Stable for the same person and link; different for another person, link or key.
        assert_eq!(
            display_name_for(&r, &link, &ada, Side::Public, Side::Staff, &key),
            shown
        );
        let bob = Author::new(Platform::new("telegram"), "43", "Ada");
        assert_ne!(
            display_name_for(&r, &link, &bob, Side::Public, Side::Staff, &key).name,
            shown.name
        );
        let other = LinkId::new("parks");
        assert_ne!(key.pseudonym(&other, &ada.key()), shown.name);
        assert_ne!(
            PrivacyKey::from_bytes(&[8; 32])
                .unwrap()
                .pseudonym(&link, &ada.key()),
            shown.name
        );
        // Never the other way round: residents in public rooms, and staff anywhere, keep names.
        for (from, to) in [
            (Side::Public, Side::Public),
            (Side::Staff, Side::Public),
            (Side::Staff, Side::Staff),
        ] {
            let s = display_name_for(&r, &link, &ada, from, to, &key);
            assert_eq!(s, Shown::named(&ada), "{from:?} -> {to:?}");
        }
        // And only when the link asks for it.
        let by_name = rules(ResidentNames::Name);
        assert_eq!(
            display_name_for(&by_name, &link, &ada, Side::Public, Side::Staff, &key),
            Shown::named(&ada)
        );
    }

    #[test]
    fn hashes_are_hex_and_keyed_where_ids_could_be_enumerated() {
        let key = PrivacyKey::generate();
        let ada: UserKey = "telegram:42".parse().unwrap();
        let h = key.user_hash(&ada);
        assert_eq!(h.len(), 64);
        assert_eq!(h, key.user_hash(&ada));
        assert_ne!(h, PrivacyKey::generate().user_hash(&ada));
        assert_ne!(h, hex::encode(Sha256::digest(b"telegram:42")));
        assert_eq!(
            content_hash(&RichText::plain("hello")),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(format!("{key:?}"), "PrivacyKey(…)", "never printed");
    }
}
