//! Who posts under which name: staff names are remembered (as staff post in the link's staff
//! rooms and moderation room), and a public sender's name is checked against them and the
//! link's protected words (`moderation::lookalike`). An unverified name is shown so wherever
//! the bridge shows it, and the moderation room is told once per sender and link.

use super::{Effects, LinkWorker};
use crate::moderation::lookalike;
use crate::moderation::rules::Side;
use crate::store::prelude::*;
use crate::store::{JobKind, Tx, TxError};
use civicbridge_api::Event;

impl LinkWorker {
    /// Remembers a staff member's name (a person in a staff room or the moderation room).
    pub(super) fn note_staff_name(&self, tx: &mut Tx<'_>, ev: &Event) -> Result<(), TxError> {
        if ev.sender.is_bridge || !matches!(ev.kind, civicbridge_api::EventKind::Message(_)) {
            return Ok(());
        }
        tx.note_staff_name(&self.link.id, &ev.sender_key(), &ev.sender.display_name)?;
        Ok(())
    }

    /// For message `mirror` from side `from`: remembers a staff name, or returns why a public
    /// sender's name is unverified (telling the moderation room the first time).
    pub(super) fn screen_name(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        from: Side,
        hidden_in_name: bool,
        mirror: civicbridge_api::MirrorId,
        fx: &mut Effects,
    ) -> Result<Option<String>, TxError> {
        if from == Side::Staff {
            self.note_staff_name(tx, ev)?;
            return Ok(None);
        }
        let staff = tx.staff_names(&self.link.id)?;
        let Some(why) = lookalike::check(
            &ev.sender.display_name,
            hidden_in_name,
            &staff,
            &self.rules.rules.protected_names,
        ) else {
            return Ok(None);
        };
        let person = crate::privacy::person_ref(&tx.privacy_key()?, &ev.sender_key());
        if let Some(room) = &self.link.moderation_room {
            if !tx.lookalike_told(&self.link.id, &person)? {
                tx.set_lookalike_told(&self.link.id, &person)?;
                let text = format!(
                    "⚠ Link {}: a sender on {} calls themselves \"{}\", and {why}. Their messages \
                     show as \"{} ({}, unverified name)\" wherever the bridge shows them.",
                    self.link.id,
                    ev.room.platform.label(),
                    ev.sender.display_name,
                    ev.sender.display_name,
                    ev.room.platform.label(),
                );
                // About the message, so that erasing its author removes the notice too.
                let kind = JobKind::Notice {
                    text: text.into(),
                    card: None,
                    about: Some(mirror),
                };
                fx.jobs.push(tx.push_job(&self.link.id, room, kind)?);
            }
        }
        Ok(Some(why.to_string()))
    }
}
