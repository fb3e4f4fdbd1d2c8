//! `!weblogin`: a moderator asks in a moderation room for a console sign-in link, and the bridge
//! sends it to them privately through their platform's connector ([`Connector::tell`]).
//!
//! The command is checked like any other (only a moderator of the room's link may ask; a
//! refusal is audited by `commands::run`); its transaction stores nothing of the link. The link
//! worker hands the ask here once the command's event is durably seen (a crash cannot replay
//! it into a second link). The link itself is a secret: it goes straight to
//! [`Connector::tell`], never into the store, the outbox, the audit log or the log. The room
//! only hears that a link was sent, or why not.

use super::who::Person;
use super::ConsoleSlot;
use crate::moderation::commands::permissions::Actor;
use crate::pipeline::outbox::Outbox;
use crate::store::{JobKind, Store};
use civicbridge_api::{ConnectorError, LinkId, Private, RichText, RoomRef};
use std::time::Instant;

/// One `!weblogin`, allowed.
#[derive(Debug, Clone)]
pub struct WebLoginAsk {
    pub link: LinkId,
    /// The moderation room it was typed in (on the asker's platform).
    pub room: RoomRef,
    /// The asker, with their standing in that room.
    pub actor: Actor,
}

/// Sends the asker a sign-in link (on a task of its own: the caller is a link's committer),
/// then tells the room the outcome.
pub fn ask(console: &ConsoleSlot, store: &Store, outbox: &Outbox, ask: WebLoginAsk) {
    let console = console.clone();
    let store = store.clone();
    let outbox = outbox.clone();
    tokio::spawn(async move {
        let answer = send(&console, &ask).await;
        reply(&store, &outbox, &ask, answer).await;
    });
}

/// Tries to send the link; the room's answer.
async fn send(console: &ConsoleSlot, ask: &WebLoginAsk) -> String {
    let Actor::Person {
        key,
        name,
        standing,
    } = &ask.actor
    else {
        return "!weblogin works for a person in a moderation room.".into();
    };
    let Some(console) = console.get() else {
        return if console.is_on() {
            format!("{name}: the console is still starting; try again in a moment.")
        } else {
            format!("{name}: the web console is not turned on for this bridge ([console] in its config).")
        };
    };
    if key.platform != ask.room.platform {
        return format!("{name}: !weblogin works for people of the room's own platform.");
    }
    let Some(connector) = console.connector(ask.room.platform) else {
        return format!(
            "{name}: I cannot reach {} right now.",
            ask.room.platform.label()
        );
    };
    if !connector.capabilities().private_messages {
        return format!(
            "{name}: I cannot send direct messages on {}, so I cannot send you a link.",
            ask.room.platform.label()
        );
    }
    let person = Person {
        key: key.clone(),
        name: name.clone(),
        standing: standing.clone(),
    };
    let url = console.issue_sign_in(person, Instant::now());
    let private = Private {
        to: key.id.clone(),
        met_in: ask.room.room.clone(),
        txn_id: format!("weblogin-{}", &super::sessions::secret()[..24]),
        text: RichText::plain(format!(
            "Your sign-in link for the civicbridge moderation console. It works once, within \
             5 minutes, and only for you ({key}); do not share it. If you did not type \
             !weblogin, ignore this message.\n{url}"
        )),
        files: Vec::new(),
    };
    // Never log `private`: its text is the link.
    match connector.tell(&private).await {
        Ok(_) => format!(
            "{name}: I sent you a sign-in link in a direct message. It works once, within 5 minutes."
        ),
        Err(ConnectorError::Rejected(_)) => format!(
            "{name}: I could not send you a direct message (your settings may not allow it, or \
             we share no room where it is possible). Allow direct messages from the bridge, \
             then type !weblogin again."
        ),
        Err(e) => {
            tracing::warn!(link = %ask.link, kind = e.kind(), "a console sign-in link could not be sent");
            format!("{name}: sending you the link failed for now; try !weblogin again shortly.")
        }
    }
}

/// Posts `text` in the room the ask came from, through the outbox like every notice.
async fn reply(store: &Store, outbox: &Outbox, ask: &WebLoginAsk, text: String) {
    let queued = store.transact(|tx| {
        tx.push_job(
            &ask.link,
            &ask.room,
            JobKind::notice(RichText::plain(text.clone())),
        )
    });
    match queued {
        Ok(job) => {
            if let Err(e) = store.flush().await {
                tracing::error!(error = %e, "cannot flush the !weblogin answer");
            }
            outbox.enqueue(&[job]);
        }
        Err(e) => tracing::error!(error = %e, "cannot queue the !weblogin answer"),
    }
}
