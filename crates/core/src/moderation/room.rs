//! Events in a link's moderation room (commands, ✅/❌ on cards) and the two commands staff type
//! in their own rooms (`!publish`, `!unpublish`). Called by the link worker inside its
//! transaction; everything here only pushes jobs and writes through `Tx`.

use crate::moderation::approval::{self, Decision};
use crate::moderation::commands::permissions::Actor;
use crate::moderation::commands::{self, threads, Command, Ctx, Outcome};
use crate::moderation::reports;
use crate::store::prelude::*;
use crate::store::{IndexEntry, Job, JobKind, LinkRecord, Tx, TxError};
use civicbridge_api::{Event, EventKind, Message, PlatformFactory, RichText, RoomRef};
use std::sync::Arc;

/// What commands may need beyond the transaction.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    /// The platforms' factories, which read links to their messages (`!takedown URL`).
    pub platforms: &'a [Arc<dyn PlatformFactory>],
    /// The links in force, for `!link` and `!unlink` (`None`: the bridge is not running).
    pub links: Option<&'a crate::ops::links::LinksView>,
}

/// What the caller does once the transaction of a moderation-room event has returned.
#[derive(Debug, Default)]
pub struct After {
    /// A command changed the links: put the change in force.
    pub links_changed: bool,
    /// `!weblogin`, allowed: this person is sent a console sign-in link privately.
    pub weblogin: Option<Actor>,
}

/// Handles one event in the moderation room.
pub fn handle(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    ev: &Event,
    env: &Env<'_>,
    jobs: &mut Vec<Job>,
) -> Result<After, TxError> {
    let actor = Actor::of(ev);
    match &ev.kind {
        EventKind::Message(m) => {
            let Some(cmd) = commands::parse(&m.text.to_plain()) else {
                return Ok(After::default());
            };
            let out = match cmd {
                Err(usage) => Outcome::reply(usage),
                Ok(cmd) => {
                    let ctx = Ctx {
                        link,
                        room: &ev.room,
                        actor,
                        platforms: env.platforms,
                        links: env.links,
                    };
                    commands::run(tx, &ctx, cmd)?
                }
            };
            jobs.extend(out.jobs);
            reply(tx, link, &ev.room, out.reply, jobs)?;
            Ok(After {
                links_changed: out.links_changed,
                weblogin: out.weblogin.then(|| Actor::of(ev)),
            })
        }
        EventKind::Reaction { target, key, .. } => {
            let Some(said) = CardKey::of(key) else {
                return Ok(After::default());
            };
            let id = match tx.lookup_message(&ev.room, target)? {
                Some(IndexEntry::Card(id)) => id,
                Some(IndexEntry::Report(m)) => {
                    // A report card: ✅ takes the message down, ❌ dismisses the report. A
                    // non-moderator's reaction is only audited, with no reply.
                    let decided = match said {
                        CardKey::Yes => reports::take_down(tx, m, &actor)?,
                        CardKey::No => reports::dismiss(tx, m, &actor)?,
                        CardKey::Claim => return Ok(After::default()),
                    };
                    if let Ok(more) = decided {
                        jobs.extend(more);
                    }
                    return Ok(After::default());
                }
                _ => return Ok(After::default()),
            };
            let decision = match said {
                CardKey::Yes => Decision::Approve,
                CardKey::No => Decision::Reject(None),
                CardKey::Claim => {
                    // A claim: its answer goes to the room only when someone else holds the
                    // item (a non-moderator's attempt is audited, with no reply).
                    match approval::claim(tx, id, &actor)? {
                        Ok(claimed) => jobs.extend(claimed),
                        Err(r @ approval::ClaimRefusal::Taken { .. }) => {
                            reply(tx, link, &ev.room, r.text(&link.id), jobs)?;
                        }
                        Err(_) => {}
                    }
                    return Ok(After::default());
                }
            };
            // A decided card ignores later reactions. A non-moderator's reaction is only
            // audited (inside `decide`), with no reply, so it cannot be used to spam the room;
            // a decision shows on the card itself, which is edited. A reaction decides the
            // revision its card shows: on a superseded card it is refused, with a reply that
            // names the current revision (only moderators get that far).
            let Some(item) = tx.pending_item(id)? else {
                return Ok(After::default());
            };
            let seen = approval::seen_on_card(&item, &ev.room, target);
            match approval::decide(tx, id, &decision, seen, &actor)? {
                Ok(decided) => jobs.extend(decided.jobs),
                Err(r @ approval::Refusal::Outdated { .. }) => {
                    let text = commands::decide::refusal_text(&r, &link.id);
                    reply(tx, link, &ev.room, text, jobs)?;
                }
                Err(_) => {}
            }
            Ok(After::default())
        }
        EventKind::Edit { .. }
        | EventKind::Delete { .. }
        | EventKind::ReactionRemoved { .. }
        | EventKind::ReactionCounts { .. } => Ok(After::default()),
    }
}

/// What a reaction on a card says, the same on approval and report cards.
#[derive(Debug, Clone, Copy)]
enum CardKey {
    /// ✅ ✔ 👍: approve, or take the reported message down.
    Yes,
    /// ❌ 👎: reject, or dismiss the report.
    No,
    /// 🙋: claim the held item.
    Claim,
}

impl CardKey {
    fn of(key: &str) -> Option<CardKey> {
        Some(match key.trim_end_matches('\u{fe0f}') {
            "✅" | "✔" | "👍" => CardKey::Yes,
            "❌" | "👎" => CardKey::No,
            "🙋" | "🙋\u{200d}♀" | "🙋\u{200d}♂" => CardKey::Claim,
            _ => return None,
        })
    }
}

/// Handles `!publish`/`!unpublish` typed in a staff room. Returns `false` if `m` is not one of
/// them (it is then an ordinary message).
pub fn staff_command(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    ev: &Event,
    m: &Message,
    jobs: &mut Vec<Job>,
) -> Result<bool, TxError> {
    let actor = Actor::of(ev);
    let out = match commands::parse(&m.text.to_plain()) {
        Some(Ok(Command::Publish)) => threads::publish(tx, link, &ev.room, &actor, m)?,
        Some(Ok(Command::Unpublish)) => threads::unpublish(tx, link, &ev.room, &actor, m)?,
        _ => return Ok(false),
    };
    jobs.extend(out.jobs);
    reply(tx, link, &ev.room, out.reply, jobs)?;
    Ok(true)
}

/// Queues a notice from the bridge into `room`.
fn reply(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    room: &RoomRef,
    text: String,
    jobs: &mut Vec<Job>,
) -> Result<(), TxError> {
    if text.is_empty() {
        return Ok(());
    }
    let kind = JobKind::notice(RichText::plain(text));
    jobs.push(tx.push_job(&link.id, room, kind)?);
    Ok(())
}
