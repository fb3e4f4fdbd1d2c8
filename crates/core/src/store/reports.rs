//! The reports tree: people's reports on a bridged message (`/report`, `!report`, 🚩), one
//! record per message, with its card in the moderation room and the copies hidden pending a
//! decision. Reporters are people: erasure removes their reports.

use super::read::{self, Read};
use super::{keys, StoreError, Tree, Tx, TxError};
use civicbridge_api::{LinkId, MirrorId, RemoteMsgId, RoomRef, UserKey};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub by: UserKey,
    /// Their display name then, and whether they reported from a public room (a resident):
    /// the card names them as the link's privacy rules name residents.
    pub name: String,
    pub public: bool,
    pub reason: Option<String>,
    pub at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRecord {
    pub mirror: MirrorId,
    pub link: LinkId,
    /// Each person once, in the order they reported.
    pub reports: Vec<Report>,
    /// Waiting for a moderator (a takedown or a dismissal closes it; a new report reopens it).
    pub open: bool,
    /// The report card, once posted.
    #[serde(default)]
    pub card: Option<(RoomRef, RemoteMsgId)>,
    /// Rooms whose copies were taken down pending a decision (`hide_after_reports`), to send
    /// again if the report is dismissed.
    #[serde(default)]
    pub hidden: Vec<RoomRef>,
    /// When they were hidden (absent in records from before this was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_at_ms: Option<u64>,
}

pub trait ReportReads: Read {
    fn report(&self, mirror: MirrorId) -> Result<Option<ReportRecord>, StoreError> {
        read::get(self, Tree::Reports, &keys::id(mirror.0))
    }

    /// Every open report (a scan: for the console's Reports page).
    fn open_reports(&self) -> Result<Vec<ReportRecord>, StoreError> {
        Ok(read::all::<ReportRecord>(self, Tree::Reports)?
            .into_iter()
            .filter(|r| r.open)
            .collect())
    }

    /// Every report record naming `user` as a reporter (a scan: for erasure and export).
    fn reports_by(&self, user: &UserKey) -> Result<Vec<ReportRecord>, StoreError> {
        Ok(read::all::<ReportRecord>(self, Tree::Reports)?
            .into_iter()
            .filter(|r| r.reports.iter().any(|p| &p.by == user))
            .collect())
    }
}

impl<R: Read + ?Sized> ReportReads for R {}

impl Tx<'_> {
    pub fn put_report(&mut self, r: &ReportRecord) -> Result<(), TxError> {
        self.put(Tree::Reports, &keys::id(r.mirror.0), r)
    }

    pub fn remove_report(&mut self, mirror: MirrorId) -> Result<(), TxError> {
        self.remove(Tree::Reports, &keys::id(mirror.0))
    }
}
