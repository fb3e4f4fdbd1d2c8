//! Reports in bridged rooms: `/report [reason]` or `!report [reason]` as a reply to a bridged
//! message, or 🚩 on it, from anyone in the link's rooms (`moderation::reports` decides what
//! follows). The report itself never crosses; a report command that replies to nothing is
//! dropped.

use super::{Effects, LinkWorker};
use crate::moderation::reports;
use crate::moderation::rules::Side;
use crate::store::prelude::*;
use crate::store::{Tx, TxError};
use civicbridge_api::{Event, EventKind, RemoteMsgId};

/// The report an event makes, if it makes one: the message reported, and the reason given.
pub(super) enum Asked<'a> {
    Report(&'a RemoteMsgId, Option<String>),
    /// A report command that names no message (not a reply): nothing to do, nothing to relay.
    Nothing,
}

/// Whether `ev` is a report, and of what.
pub(super) fn asked(ev: &Event) -> Option<Asked<'_>> {
    match &ev.kind {
        EventKind::Message(m) => {
            let reason = reports::parse_command(&m.text.to_plain())?;
            Some(match &m.reply_to {
                Some(target) => Asked::Report(target, reason),
                None => Asked::Nothing,
            })
        }
        EventKind::Reaction { target, key, .. } if key.trim_end_matches('\u{fe0f}') == "🚩" => {
            Some(Asked::Report(target, None))
        }
        _ => None,
    }
}

impl LinkWorker {
    pub(super) fn report(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        asked: Asked<'_>,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let Asked::Report(target, reason) = asked else {
            return Ok(());
        };
        let Some(m) = tx
            .mirror_of(&ev.room, target)?
            .map(|id| tx.mirror(id))
            .transpose()?
            .flatten()
        else {
            return Ok(());
        };
        if m.deleted || m.link != self.link.id {
            return Ok(());
        }
        let public = self.link.side_of(&ev.room) == Some(Side::Public);
        fx.jobs.extend(reports::report(
            tx,
            &self.link,
            &self.rules.rules,
            &m,
            reports::Reporter {
                key: ev.sender_key(),
                name: &ev.sender.display_name,
                public,
                reason,
            },
        )?);
        Ok(())
    }
}
