//! Naming people from the store: how an author appears in a room ([`shown_author`]) and how the
//! audit log names people ([`person_ref_in`], [`audit_rules_in`], [`audit_rule_value_in`]), for
//! the committed store and a transaction alike. The policy is here; the store only keeps the
//! key ([`crate::store::Store::privacy_key`]).

use super::{audit_rule_value, audit_rules, display_name_for, person_ref, PrivacyKey, Shown};
use crate::moderation::rules::{ResidentNames, Rules, Side};
use crate::store::prelude::*;
use crate::store::{LinkRecord, MirrorRecord, Store, StoreError, Tx};
use civicbridge_api::RoomRef;

/// A view of the store that can also give the privacy key, creating it if there is none: the
/// committed store (`&Store`: created durably on first use) or a transaction (`Tx`: created in
/// it). Written as `&mut` so a transaction can write the key it creates.
pub trait KeyedRead: Read {
    fn privacy_key(&mut self) -> Result<PrivacyKey, StoreError>;
}

impl KeyedRead for &Store {
    fn privacy_key(&mut self) -> Result<PrivacyKey, StoreError> {
        Store::privacy_key(self)
    }
}

impl KeyedRead for Tx<'_> {
    fn privacy_key(&mut self) -> Result<PrivacyKey, StoreError> {
        Tx::privacy_key(self).map_err(|crate::store::TxError::Abort(e)| e)
    }
}

/// The side a room is on for a link: moderation rooms and rooms no longer in the link count as
/// staff (the cautious reading when a resident's name is at stake).
fn side_in(link: &LinkRecord, room: &RoomRef) -> Side {
    link.side_of(room).unwrap_or(Side::Staff)
}

/// The side an author wrote on; a source room no longer in the link counts as public.
fn author_side(link: &LinkRecord, m: &MirrorRecord) -> Side {
    link.side_of(&m.source).unwrap_or(Side::Public)
}

/// How `m`'s author appears in `target` (see [`display_name_for`]), by the link's rules as
/// `s` reads them. The key is read (or created) only for a link that pseudonymises.
pub fn shown_author(
    s: &mut impl KeyedRead,
    m: &MirrorRecord,
    target: &RoomRef,
) -> Result<Shown, StoreError> {
    let (Some(link), Some(rules)) = (s.link(&m.link)?, s.rules(&m.link)?) else {
        return Ok(Shown::named(&m.author));
    };
    if rules.resident_names == ResidentNames::Name {
        return Ok(Shown::named(&m.author));
    }
    let key = s.privacy_key()?;
    Ok(display_name_for(
        &rules,
        &m.link,
        &m.author,
        author_side(&link, m),
        side_in(&link, target),
        &key,
    ))
}

/// How the audit log names `user` (`platform:id`): see [`person_ref`].
pub fn person_ref_in(
    s: &mut impl KeyedRead,
    user: &civicbridge_api::UserKey,
) -> Result<String, StoreError> {
    Ok(person_ref(&s.privacy_key()?, user))
}

/// A link's rules as the audit log shows them: see [`audit_rules`].
pub fn audit_rules_in(
    s: &mut impl KeyedRead,
    rules: &Rules,
) -> Result<serde_json::Value, StoreError> {
    Ok(audit_rules(&s.privacy_key()?, rules))
}

/// One rule's value as the audit log shows it: see [`audit_rule_value`].
pub fn audit_rule_value_in(
    s: &mut impl KeyedRead,
    rule: &str,
    value: &serde_json::Value,
) -> Result<serde_json::Value, StoreError> {
    Ok(audit_rule_value(&s.privacy_key()?, rule, value))
}
