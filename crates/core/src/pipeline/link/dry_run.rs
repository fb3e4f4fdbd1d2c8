//! A link in `mode = "dry_run"`: each message is judged as it would be, and the moderation room
//! is told the outcome; nothing is relayed, held, or recorded beyond the dry-run history. The
//! notice names no one and quotes nothing (erasure could not reach it): where the message was,
//! from which side, and what each target room would have got.

use super::{Effects, LinkWorker};
use crate::moderation::rules::Side;
use crate::moderation::HoldReason;
use crate::store::prelude::*;
use crate::store::{JobKind, Tx, TxError};
use civicbridge_api::{Event, RoomRef};

impl LinkWorker {
    pub(super) fn tell_dry_run(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        from: Side,
        forward: &[RoomRef],
        hold: &[(RoomRef, HoldReason)],
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let Some(room) = &self.link.moderation_room else {
            return Ok(());
        };
        let who = match from {
            Side::Staff => "a staff member",
            Side::Public => "a resident",
        };
        let mut lines = vec![format!(
            "🧪 Dry run on link {}: a message from {who} in {}:",
            self.link.id,
            tx.room_label(&ev.room)
        )];
        for r in forward {
            lines.push(format!("- would be relayed to {}", tx.room_label(r)));
        }
        for (r, why) in hold {
            lines.push(format!(
                "- would be held for {} (rule: {why})",
                tx.room_label(r)
            ));
        }
        let decided: Vec<&RoomRef> = forward.iter().chain(hold.iter().map(|(r, _)| r)).collect();
        for r in self
            .link
            .rooms
            .iter()
            .map(|r| &r.room)
            .filter(|r| **r != ev.room && !decided.contains(r))
        {
            lines.push(format!("- would not reach {}", tx.room_label(r)));
        }
        lines.push("Nothing was relayed (mode = \"dry_run\").".into());
        fx.jobs
            .push(tx.push_job(&self.link.id, room, JobKind::notice(lines.join("\n")))?);
        Ok(())
    }
}
