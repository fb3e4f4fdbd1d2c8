//! Running a page's commands as the signed-in person: each `(link, command)` in order through
//! [`crate::ops::remote::RemoteCommands::run_command`], the rooms' own code, permissions and
//! audit entries. Every page that acts (queue, item, published, reports, parked) runs its
//! commands here and answers from the replies.

use super::guard::Signed;
use crate::moderation::commands::Command;
use crate::ops::remote::RemoteError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use civicbridge_api::LinkId;

/// What a page's commands answered.
#[derive(Debug, Default)]
pub struct Ran {
    /// Each command's reply, in order.
    pub lines: Vec<String>,
    /// At least one was refused for want of a role (audited by the command's code).
    pub refused: bool,
    /// At least one did nothing for a reason its reply gives (a closed report, an item
    /// someone else claimed).
    pub declined: bool,
}

impl Ran {
    /// The replies, one a line.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

impl Signed {
    /// Runs `commands` in order as this session's person. A store failure stops at that
    /// command: those before it stand (each is its own transaction, as in the room).
    pub async fn run_all(&self, commands: Vec<(LinkId, Command)>) -> Result<Ran, RemoteError> {
        let mut ran = Ran::default();
        for (link, cmd) in commands {
            let out = self
                .console
                .0
                .remote
                .run_command(&link, cmd, self.session.person.actor())
                .await?;
            ran.refused |= out.refused;
            ran.declined |= out.declined;
            ran.lines.push(out.reply);
        }
        Ok(ran)
    }
}

impl Signed {
    /// Audits a page's action on several things (`what`; their ids under `key`, the links they
    /// touched, whether a command was refused) and answers: 403 with the replies when one was
    /// refused, else back to `back` with the replies as a notice.
    pub fn answer_all(
        &self,
        what: &str,
        key: &str,
        ids: Vec<String>,
        mut links: Vec<&LinkId>,
        ran: &Ran,
        back: &str,
    ) -> Response {
        links.sort();
        links.dedup();
        if let Err(e) = super::audit::write(
            self.console.store(),
            &self.session.person,
            what,
            None,
            serde_json::json!({ key: ids, "links": links, "refused": ran.refused }),
        ) {
            return super::admins::store_failed(self, &e);
        }
        if ran.refused {
            return self.message(StatusCode::FORBIDDEN, "Refused", &ran.text());
        }
        self.notice(ran.text());
        Redirect::to(back).into_response()
    }
}
