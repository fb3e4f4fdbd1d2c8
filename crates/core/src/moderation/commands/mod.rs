//! Moderator commands: typed in a link's moderation room (and `!publish`/`!unpublish` in a staff
//! room), parsed by [`parse`], checked against [`permissions`], and run inside the link worker's
//! store transaction, so a command's effects, its audit entry, its reply and the seen mark of its
//! event commit together (a replayed command does nothing twice).
//!
//! One file per family: [`decide`] (approve, reject, edit), [`takedown`], [`threads`] (publish,
//! unpublish), [`admin`] (rules, set, trust, block), [`info`] (queue, parked, audit), [`parked`]
//! (retry, drop). Commands that scan the store (`!queue`, `!audit`, `!takedown #N` of a decided
//! item, `!publish`) scan inside the transaction too, so they see what earlier commands of the
//! same batch did.

pub mod admin;
pub mod claims;
pub mod decide;
pub mod export;
pub mod info;
pub mod links;
pub mod notes;
pub mod parked;
pub mod parse;
pub mod permissions;
pub mod takedown;
pub mod threads;

pub use parse::{parse, HELP};

use crate::moderation::approval::{audit_refusal, ItemRef};
use crate::store::prelude::*;
use crate::store::{Job, LinkRecord, Tx, TxError};
use civicbridge_api::{LinkId, PlatformFactory, RoomRef, UserKey};
use permissions::{role, Actor, Role};
use std::sync::Arc;

/// A command a person can type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `!approve #3 #4 #7`, `!approve #3-#9`: one or more held items.
    Approve(Vec<ItemRef>),
    /// `!reject #3-#9 spam`: the reason by its code or in the moderator's words.
    Reject(Vec<ItemRef>, Option<String>),
    Edit(ItemRef, String),
    /// `!claim #12`: take a held item so the other moderators leave it.
    Claim(ItemRef),
    /// `!release #12`: give a claim up.
    Release(ItemRef),
    /// `!dismiss m7`: the reports on a message were unfounded.
    Dismiss(civicbridge_api::MirrorId),
    /// `!note WHO [TEXT]`: add a private note about a sender, or list them.
    Note(notes::About, Option<String>),
    /// `!export WHO`: what the store holds about a person, sent to the admin privately.
    Export(notes::About),
    Takedown(takedown::Target),
    Publish,
    Unpublish,
    Queue,
    Rules(Option<LinkId>),
    /// `!reasons`: the link's reasons and their codes.
    Reasons,
    Set {
        link: LinkId,
        key: String,
        value: String,
    },
    /// `!set --dry-run LINK KEY VALUE`: what the change would have done to recent messages.
    DryRun {
        link: LinkId,
        key: String,
        value: String,
    },
    Trust(UserKey, Option<LinkId>),
    Block(UserKey, Option<LinkId>),
    Audit(usize),
    /// `!parked`: the dead letters of this room's links.
    Parked,
    /// `!retry P3`: put a parked item back (admins).
    Retry(crate::store::ParkedId),
    /// `!drop P3`: remove a parked item for good (admins).
    Drop(crate::store::ParkedId),
    /// `!link NAME staff=ROOM public=ROOM…`: create a link, or change its rooms (admins).
    Link {
        link: LinkId,
        rooms: Vec<crate::store::LinkRoom>,
    },
    /// `!unlink NAME`: take a link out of service (admins).
    Unlink(LinkId),
    /// `!rooms`: the rooms of the links moderated here, by name and id.
    Rooms,
    /// `!weblogin`: a sign-in link to the web console, sent to the asker privately
    /// (`ops::console::weblogin`, after the transaction: the link is a secret and never
    /// enters the store).
    WebLogin,
    Help,
}

impl Command {
    /// The role the command needs on its link (decisions check the item's own link).
    pub fn needs(&self) -> Role {
        match self {
            Command::Help | Command::Publish | Command::Unpublish => Role::Nobody,
            Command::Set { .. }
            | Command::Trust(..)
            | Command::Block(..)
            | Command::Retry(_)
            | Command::Drop(_)
            | Command::Link { .. }
            | Command::Unlink(_)
            | Command::Export(_) => Role::Admin,
            _ => Role::Moderator,
        }
    }

    /// The command's name, as typed without its `!` (the audit log records refusals by it).
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Approve(_) => "approve",
            Command::Reject(..) => "reject",
            Command::Edit(..) => "edit",
            Command::Claim(_) => "claim",
            Command::Release(_) => "release",
            Command::Note(..) => "note",
            Command::Export(_) => "export",
            Command::Dismiss(_) => "dismiss",
            Command::Takedown(_) => "takedown",
            Command::Publish => "publish",
            Command::Unpublish => "unpublish",
            Command::Queue => "queue",
            Command::Rules(_) => "rules",
            Command::Reasons => "reasons",
            Command::Set { .. } => "set",
            Command::DryRun { .. } => "dry_run",
            Command::Trust(..) => "trust",
            Command::Block(..) => "block",
            Command::Audit(_) => "audit",
            Command::Help => "help",
            Command::Parked => "parked",
            Command::Retry(_) => "retry",
            Command::Drop(_) => "drop",
            Command::Link { .. } => "link",
            Command::Unlink(_) => "unlink",
            Command::Rooms => "rooms",
            Command::WebLogin => "weblogin",
        }
    }
}

/// What a command asks of the moderation room: the reply and the jobs it queued.
#[derive(Debug, Default)]
pub struct Outcome {
    pub reply: String,
    pub jobs: Vec<Job>,
    /// The actor lacked the role (the refusal is audited; `reply` says so).
    pub refused: bool,
    /// The command did nothing for a reason the reply gives (no such item, an outdated
    /// revision): for callers that answer with a status (the admin API, the command line).
    pub declined: bool,
    /// The command stored a change of links, to be put in force once its transaction has
    /// returned ([`crate::ops::links::LinksView::refresh`]).
    pub links_changed: bool,
    /// A moderator asked for a console sign-in link (`!weblogin`): the caller hands the ask to
    /// the console once the transaction has returned.
    pub weblogin: bool,
}

impl Outcome {
    pub fn reply(text: impl Into<String>) -> Outcome {
        Outcome {
            reply: text.into(),
            ..Outcome::default()
        }
    }

    pub(crate) fn refusal(text: impl Into<String>) -> Outcome {
        Outcome {
            refused: true,
            ..Outcome::reply(text)
        }
    }

    pub(crate) fn declined(text: impl Into<String>) -> Outcome {
        Outcome {
            declined: true,
            ..Outcome::reply(text)
        }
    }
}

/// Who typed a command, where, on behalf of which link (the link whose worker got the event).
#[derive(Debug)]
pub struct Ctx<'a> {
    pub link: &'a LinkRecord,
    pub room: &'a RoomRef,
    pub actor: Actor,
    /// The platforms' factories, which read links to their messages (`!takedown URL`).
    pub platforms: &'a [Arc<dyn PlatformFactory>],
    /// The links in force, for `!link` and `!unlink` (`None`: the bridge is not running).
    pub links: Option<&'a crate::ops::links::LinksView>,
}

impl Ctx<'_> {
    /// Whether commands from here may act on `link`: it is moderated from this room (the CLI
    /// and the admin API act on every link).
    pub fn governs(&self, link: &LinkRecord) -> bool {
        matches!(self.actor, Actor::Cli | Actor::Token { .. })
            || link.moderation_room.as_ref() == Some(self.room)
    }
}

/// Runs `cmd` for `link` as an admin at the command line (`civicbridge takedown`, `trust` …):
/// the same code as in the moderation room, audited as `cli`. The jobs it queues wait in the
/// outbox for the bridge's next start.
pub fn run_as_admin(
    store: &crate::store::Store,
    link: &LinkId,
    cmd: Command,
    platforms: &[Arc<dyn PlatformFactory>],
) -> Result<Outcome, crate::store::StoreError> {
    let env = crate::moderation::room::Env {
        platforms,
        links: None,
    };
    run_as(store, link, cmd, Actor::Cli, &env)
}

/// Runs `cmd` for `link` on behalf of someone outside the rooms (the command line, an admin
/// API token): the same code, permissions and audit entries as in the moderation room, in a
/// transaction of its own. The caller enqueues the jobs (a running daemon) or leaves them in
/// the outbox for the next start.
pub fn run_as(
    store: &crate::store::Store,
    link: &LinkId,
    cmd: Command,
    actor: Actor,
    env: &crate::moderation::room::Env<'_>,
) -> Result<Outcome, crate::store::StoreError> {
    let record = store
        .link(link)?
        .ok_or_else(|| crate::store::StoreError::NotFound(format!("link `{link}`")))?;
    let room = record.moderation_room.clone().unwrap_or_else(|| {
        // Any room will do: the CLI governs every link and posts no reply.
        RoomRef::new(civicbridge_api::Platform::new("cli"), "cli")
    });
    store.transact(|tx| {
        let ctx = Ctx {
            link: &record,
            room: &room,
            actor: actor.clone(),
            platforms: env.platforms,
            links: env.links,
        };
        run(tx, &ctx, cmd.clone())
    })
}

/// Runs a moderation-room command. Refusals are audited and answered politely.
pub fn run(tx: &mut Tx<'_>, ctx: &Ctx<'_>, cmd: Command) -> Result<Outcome, TxError> {
    // Decisions check the role on the item's own link (inside `approval::decide`); the others
    // on the link they name, or this room's link.
    let target_link = match &cmd {
        Command::Rules(Some(l))
        | Command::Set { link: l, .. }
        | Command::DryRun { link: l, .. }
        | Command::Trust(_, Some(l))
        | Command::Block(_, Some(l))
        | Command::Unlink(l) => Some(l.clone()),
        // Changing a link in force needs its admins; creating one, this room's link's.
        Command::Link { link: l, .. } if ctx.links.is_some_and(|v| v.get(l).is_some()) => {
            Some(l.clone())
        }
        _ => None,
    };
    let link = match &target_link {
        Some(id) => match tx.link(id)? {
            Some(l) if ctx.governs(&l) => l,
            _ => {
                return Ok(Outcome::reply(format!(
                    "There is no link `{id}` moderated from this room."
                )))
            }
        },
        None => ctx.link.clone(),
    };
    let needs = cmd.needs();
    let is_decision = matches!(
        cmd,
        Command::Approve(_)
            | Command::Reject(..)
            | Command::Edit(..)
            | Command::Claim(_)
            | Command::Release(_)
            | Command::Dismiss(_)
    );
    if !is_decision && role(&link, &ctx.actor) < needs {
        let content = format!("{cmd:?}");
        let attempted = crate::moderation::approval::Attempt {
            kind: cmd.kind(),
            content: &content,
        };
        audit_refusal(tx, &ctx.actor, &link, None, attempted, needs)?;
        return Ok(Outcome::refusal(format!(
            "Sorry, only {} of link {} can do that.",
            plural(needs),
            link.id
        )));
    }
    match cmd {
        Command::Approve(ids) => decide::approve(tx, ctx, ids),
        Command::Reject(ids, reason) => decide::reject(tx, ctx, ids, reason),
        Command::Edit(id, text) => decide::edit(tx, ctx, id, text),
        Command::Claim(id) => claims::claim(tx, ctx, id),
        Command::Release(id) => claims::release(tx, ctx, id),
        Command::Note(about, text) => notes::note(tx, ctx, &about, text.as_deref()),
        Command::Export(about) => export::export(tx, ctx, &about),
        Command::Dismiss(m) => Ok(
            match crate::moderation::reports::dismiss(tx, m, &ctx.actor)? {
                Ok(jobs) => Outcome {
                    jobs,
                    ..Outcome::reply(format!(
                        "Reports on {m} dismissed by {}",
                        ctx.actor.display()
                    ))
                },
                Err(e @ crate::moderation::reports::NotDecided::NotAModerator) => {
                    Outcome::refusal(e.text())
                }
                Err(e) => Outcome::declined(e.text()),
            },
        ),
        Command::Takedown(t) => takedown::run(tx, ctx, &t),
        Command::Publish | Command::Unpublish => Ok(Outcome::reply(
            "!publish and !unpublish work in a staff room, as a reply in the thread.",
        )),
        Command::Queue => Ok(Outcome::reply(info::queue(tx, ctx.room))),
        Command::Audit(n) => Ok(Outcome::reply(info::audit_tail(tx, ctx.room, n))),
        Command::Rules(_) => admin::show_rules(tx, &link),
        Command::Reasons => admin::show_reasons(tx, &link),
        Command::Set { key, value, .. } => admin::set(tx, ctx, &link, &key, &value),
        Command::DryRun { key, value, .. } => admin::dry_run(tx, &link, &key, &value),
        Command::Trust(user, _) => admin::trust(tx, ctx, &link, &user, true),
        Command::Block(user, _) => admin::trust(tx, ctx, &link, &user, false),
        Command::Parked => Ok(Outcome::reply(info::parked(tx, ctx.room))),
        Command::Retry(id) => parked::retry(tx, ctx, id),
        Command::Drop(id) => parked::drop(tx, ctx, id),
        Command::Link { link: id, rooms } => links::link(tx, ctx, &link, id, rooms),
        Command::Unlink(_) => links::unlink(tx, ctx, &link),
        Command::Rooms => Ok(links::rooms(tx, ctx)),
        Command::Help => Ok(Outcome::reply(HELP)),
        // Only a person in a room can be sent a link privately; the reply comes from the
        // console once it has tried.
        Command::WebLogin if matches!(ctx.actor, Actor::Person { .. }) => Ok(Outcome {
            weblogin: true,
            ..Outcome::default()
        }),
        Command::WebLogin => Ok(Outcome::declined(
            "!weblogin works in a moderation room: the link is sent to whoever types it.",
        )),
    }
}

fn plural(r: Role) -> &'static str {
    match r {
        Role::Admin => "admins",
        _ => "moderators",
    }
}
