//! The notes tree: moderators' private notes about a sender (`!note USER TEXT`), per link,
//! shown on that sender's later approval cards. Notes are about a person, so erasure removes
//! them (`privacy::erase`) and a subject-access export includes them.

use super::read::{self, Read};
use super::{keys, StoreError, Tree, Tx, TxError};
use civicbridge_api::{LinkId, UserKey};
use serde::{Deserialize, Serialize};

/// At most this many notes are kept per person and link (the oldest go first), each at most
/// [`MAX_NOTE_CHARS`] long: a note is a reminder, not a file.
pub const MAX_NOTES: usize = 20;
pub const MAX_NOTE_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Who wrote it, as the audit log names them.
    pub by: String,
    /// Their name as cards show it.
    pub by_name: String,
    pub at_ms: u64,
    pub text: String,
}

/// One person's notes on one link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notes {
    pub link: LinkId,
    pub about: UserKey,
    pub notes: Vec<Note>,
}

pub trait NoteReads: Read {
    fn notes(&self, link: &LinkId, about: &UserKey) -> Result<Vec<Note>, StoreError> {
        Ok(
            read::get::<Notes>(self, Tree::Notes, &keys::note(link, about))?
                .map(|n| n.notes)
                .unwrap_or_default(),
        )
    }

    /// Every link's notes about `about` (a scan: erasure and export are rare).
    fn notes_about(&self, about: &UserKey) -> Result<Vec<Notes>, StoreError> {
        Ok(read::all::<Notes>(self, Tree::Notes)?
            .into_iter()
            .filter(|n| &n.about == about)
            .collect())
    }
}

impl<R: Read + ?Sized> NoteReads for R {}

impl Tx<'_> {
    /// Adds a note (the oldest drops out past [`MAX_NOTES`]).
    pub fn add_note(&mut self, link: &LinkId, about: &UserKey, note: Note) -> Result<(), TxError> {
        let mut notes = self.notes(link, about)?;
        notes.push(note);
        if notes.len() > MAX_NOTES {
            notes.remove(0);
        }
        let record = Notes {
            link: link.clone(),
            about: about.clone(),
            notes,
        };
        self.put(Tree::Notes, &keys::note(link, about), &record)
    }

    /// Removes every note about `about`; returns how many there were.
    pub fn remove_notes_about(&mut self, about: &UserKey) -> Result<usize, TxError> {
        let mut n = 0;
        for notes in self.notes_about(about)? {
            n += notes.notes.len();
            self.remove(Tree::Notes, &keys::note(&notes.link, about))?;
        }
        Ok(n)
    }
}
