//! The store commands an admin runs (`rules`, `queue`, `takedown`, `trust`, `block`): on the
//! store while the bridge is stopped, through the running bridge's admin API while it runs
//! (`cli::remote`).

use crate::cli::remote::Remote;
use crate::{input, link_id, load, out, platforms, store_failure, Failure, QueueCmd, RulesCmd};
use anyhow::Context;
use civicbridge_core::ops::config::Settings;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{ErrorKind, Store};
use std::path::Path;

/// The store, or, while the running bridge holds it, the bridge's admin API (see
/// `cli::remote`).
pub(crate) enum Access {
    Store(Store),
    Running(Remote),
}

pub(crate) fn open_or_remote(settings: &Settings) -> Result<Access, Failure> {
    match Store::open(&settings.store_path) {
        Ok(store) => Ok(Access::Store(store)),
        Err(e) if e.kind() == ErrorKind::Busy => match Remote::of(settings) {
            Some(remote) => Ok(Access::Running(remote)),
            None => Err(store_failure(e, "opening the store")),
        },
        Err(e) => Err(store_failure(e, "opening the store")),
    }
}

/// `text` as one word of a command sent to the running bridge: it must not carry a second
/// argument (another link, another person) into the command.
fn one_word<'a>(what: &str, text: &'a str) -> Result<&'a str, Failure> {
    let text = text.trim();
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(input(format!("{what}: `{text}` must be one word")));
    }
    Ok(text)
}

pub async fn rules(config: &Path, action: RulesCmd) -> Result<(), Failure> {
    let settings = load(config)?;
    let store = match open_or_remote(&settings)? {
        Access::Store(store) => store,
        Access::Running(remote) => {
            return match action {
                RulesCmd::Show { link } => {
                    let links = match link {
                        Some(name) => vec![link_id(&settings, &name)?],
                        None => settings.links.iter().map(|l| l.link.id.clone()).collect(),
                    };
                    for id in links {
                        remote.run(id.as_str(), &format!("!rules {id}")).await?;
                    }
                    Ok(())
                }
                RulesCmd::Set { link, key, value } => {
                    let id = link_id(&settings, &link)?;
                    let key = one_word("key", &key)?;
                    let text = format!("!set {id} {key} {}", value.trim());
                    remote.run(id.as_str(), &text).await
                }
            };
        }
    };
    // The links the bridge would run: the config's, with the changes made at runtime.
    civicbridge_core::ops::links::sync(
        &store,
        &settings.links,
        &settings.platforms().into_iter().collect(),
    )
    .context("syncing config")?;
    match action {
        RulesCmd::Show { link } => {
            let links = match link {
                Some(name) => vec![link_id(&settings, &name)?],
                None => settings.links.iter().map(|l| l.link.id.clone()).collect(),
            };
            for id in links {
                let rules = store
                    .rules(&id)
                    .context("reading rules")?
                    .unwrap_or_default();
                out(format!("[links.{id}.rules]"));
                out(toml::to_string(&rules).map_err(|e| Failure::Run(e.into()))?);
            }
        }
        RulesCmd::Set { link, key, value } => {
            let id = link_id(&settings, &link)?;
            let rules = store
                .set_rule(
                    &id,
                    &key,
                    &value,
                    &civicbridge_core::moderation::audit::AuditActor::Cli,
                )
                .map_err(|e| store_failure(e, "changing the rules"))?;
            out(format!("link {id}: {key} set"));
            out(toml::to_string(&rules).map_err(|e| Failure::Run(e.into()))?);
        }
    }
    Ok(())
}

pub async fn queue(config: &Path, action: QueueCmd) -> Result<(), Failure> {
    let settings = load(config)?;
    let store = match open_or_remote(&settings)? {
        Access::Store(store) => store,
        Access::Running(remote) => return queue_remote(&settings, &remote, action).await,
    };
    let (id, decision) = match action {
        QueueCmd::List => {
            let items = store.pending().context("reading the queue")?;
            for line in civicbridge_core::moderation::commands::info::queue_listing(
                &mut &store,
                &items,
                None,
            ) {
                out(line);
            }
            let parked = store.parked().context("reading the parked items")?;
            if !parked.is_empty() {
                out(format!("{} parked item(s)", parked.len()));
                for p in parked {
                    out(p.line());
                }
            }
            return Ok(());
        }
        QueueCmd::Parked => {
            let parked = store.parked().context("reading the parked items")?;
            out(format!("{} parked item(s)", parked.len()));
            for p in parked {
                out(p.line());
            }
            return Ok(());
        }
        QueueCmd::Retry { id } => return parked_cmd(&store, &id, true).await,
        QueueCmd::Drop { id } => return parked_cmd(&store, &id, false).await,
        QueueCmd::Approve { id } => (
            id,
            civicbridge_core::moderation::approval::Decision::Approve,
        ),
        QueueCmd::Reject { id, reason } => (
            id,
            civicbridge_core::moderation::approval::Decision::Reject(reason),
        ),
        QueueCmd::Edit { id, text } => (
            id,
            civicbridge_core::moderation::approval::Decision::ApproveEdited(
                civicbridge_api::RichText::plain(text),
            ),
        ),
    };
    // `#3v2` names a revision (as `queue list` shows it); a bare `#3` is the first.
    let item: civicbridge_core::moderation::approval::ItemRef = id.parse().map_err(input)?;
    let id = item.id;
    // The CLI acts as an admin of every link (whoever runs it can write the data directory);
    // it is audited as `cli`. The jobs it queues are sent when the bridge next starts.
    let decided = store
        .transact(|tx| {
            civicbridge_core::moderation::approval::decide(
                tx,
                item.id,
                &decision,
                item.seen(),
                &civicbridge_core::moderation::approval::Actor::Cli,
            )
        })
        .context("recording the decision")?;
    store.flush().await.context("flushing")?;
    match decided {
        Ok(d) => out(format!(
            "{id}: done; {} job(s) queued for the next start",
            d.jobs.len()
        )),
        Err(r) => return Err(input(r)),
    }
    Ok(())
}

/// `queue …` while the bridge runs: the moderation-room command of each action. Decisions
/// and parked items find their own link, so any link in force carries them.
async fn queue_remote(
    settings: &Settings,
    remote: &Remote,
    action: QueueCmd,
) -> Result<(), Failure> {
    let Some(link) = settings.links.first().map(|l| l.link.id.clone()) else {
        return Err(input("the config has no links"));
    };
    let item = |id: &str| -> Result<String, Failure> {
        let id = one_word("id", id)?;
        id.parse::<civicbridge_core::moderation::approval::ItemRef>()
            .map_err(input)?;
        Ok(id.to_owned())
    };
    let parked = |id: &str| -> Result<String, Failure> {
        let id = one_word("id", id)?;
        id.parse::<civicbridge_core::store::ParkedId>()
            .map_err(input)?;
        Ok(id.to_owned())
    };
    let text = match action {
        QueueCmd::List => "!queue".to_owned(),
        QueueCmd::Parked => "!parked".to_owned(),
        QueueCmd::Retry { id } => format!("!retry {}", parked(&id)?),
        QueueCmd::Drop { id } => format!("!drop {}", parked(&id)?),
        QueueCmd::Approve { id } => format!("!approve {}", item(&id)?),
        QueueCmd::Reject { id, reason } => {
            format!("!reject {} {}", item(&id)?, reason.unwrap_or_default())
        }
        QueueCmd::Edit { id, text } => format!("!edit {} {text}", item(&id)?),
    };
    remote.run(link.as_str(), text.trim_end()).await
}

/// `queue retry|drop P3`: the moderation-room commands, run as an admin of every link.
async fn parked_cmd(store: &Store, id: &str, retry: bool) -> Result<(), Failure> {
    let id: civicbridge_core::store::ParkedId = id.parse().map_err(input)?;
    let link = store
        .transact(|tx| Ok(tx.parked_item(id)?.map(|p| p.link)))
        .context("reading the parked item")?
        .ok_or_else(|| input(format!("there is no parked item {id}")))?;
    let links = store.links().context("reading the links")?;
    let Some(record) = link
        .as_ref()
        .and_then(|l| links.iter().find(|r| &r.id == l))
        .or(links.first())
        .cloned()
    else {
        return Err(input("the store has no links"));
    };
    let cmd = if retry {
        civicbridge_core::moderation::commands::Command::Retry(id)
    } else {
        civicbridge_core::moderation::commands::Command::Drop(id)
    };
    let done = civicbridge_core::moderation::commands::run_as_admin(
        store,
        &record.id,
        cmd,
        &platforms::all(),
    )
    .context("running the command")?;
    store.flush().await.context("flushing")?;
    out(if retry {
        format!("{id}: put back; it runs when the bridge next starts")
    } else {
        done.reply
    });
    Ok(())
}

/// `takedown`, `trust`, `block`: the moderation-room commands, run as an admin (`text` is the
/// command as typed in the room, for the running bridge).
pub async fn admin_command(
    config: &Path,
    link: &str,
    cmd: Result<(civicbridge_core::moderation::commands::Command, String), String>,
) -> Result<(), Failure> {
    let (cmd, text) = cmd.map_err(input)?;
    let settings = load(config)?;
    let id = link_id(&settings, link)?;
    let store = match open_or_remote(&settings)? {
        Access::Store(store) => store,
        Access::Running(remote) => return remote.run(id.as_str(), &text).await,
    };
    let done =
        civicbridge_core::moderation::commands::run_as_admin(&store, &id, cmd, &platforms::all())
            .context("running the command")?;
    store.flush().await.context("flushing")?;
    out(done.reply);
    if !done.jobs.is_empty() {
        out(format!(
            "{} job(s) queued for the next start",
            done.jobs.len()
        ));
    }
    Ok(())
}
