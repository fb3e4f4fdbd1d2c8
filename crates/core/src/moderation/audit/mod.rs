//! The audit log: append-only and hash-chained, so a removed or altered entry is detectable.
//!
//! Each entry carries the hash of the entry before it and its own hash over
//! `prev_hash + canonical JSON of the entry without its hash`. `verify` walks a sequence of
//! entries (from the store or from an exported JSON Lines file) and names the first bad one.

use civicbridge_api::{LinkId, UserKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

pub mod report;

/// The hash the first entry points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened. Closed, so that exports can be filtered and counted reliably.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Held,
    Approved,
    Rejected,
    EditApproved,
    Takedown,
    RulesSeeded,
    RulesChanged,
    LinkChanged,
    /// A link left the config while the bridge ran; its rooms no longer cross.
    LinkRemoved,
    /// An admin created a link or changed its rooms while the bridge ran (`!link`).
    Linked,
    /// An admin took a link out of service while the bridge ran (`!unlink`).
    Unlinked,
    /// The config changed a link that had been changed at runtime: the config's version is in
    /// force again (the runtime change is in `detail`).
    LinkOverrideDropped,
    SendRejected,
    Refused,
    Erased,
    /// Approved with a moderator's text (`!edit`); the entry keeps the original.
    EditedAndApproved,
    /// Someone asked for a thread to be published (`!publish`); a card follows.
    PublishRequested,
    /// A thread stopped crossing (`!unpublish`).
    Unpublished,
    /// Retention removed old mirrored content (count and cutoff in `detail`).
    Pruned,
    /// A held item nobody decided within the link's `expire_after_secs`.
    Expired,
    /// A held item's author edited it while it waited: a new revision, with a card of its own.
    HeldRevised,
    /// A held item left the queue undecided: its message was deleted or taken down at the
    /// source, or an edit made the rules drop it.
    Withdrawn,
    /// A job or event the bridge stopped retrying (dead letter; reason in `detail`).
    Parked,
    /// An admin put a parked item back (`!retry`, `civicbridge queue retry`).
    ParkedRetried,
    /// An admin dropped a parked item for good (`!drop`, `civicbridge queue drop`).
    ParkedDropped,
    /// A moderator took a held item (`!claim`, 🙋 on its card).
    Claimed,
    /// A claim was given up (`!release`) before it lapsed.
    ClaimReleased,
    /// A moderator wrote a private note about a sender (`!note`); the note is not in the log.
    NoteAdded,
    /// Everything held about a person was exported for them (subject access).
    Exported,
    /// Someone reported a bridged message (`/report`, `!report`, 🚩); by keyed hash.
    Reported,
    /// A moderator dismissed the reports on a message (its hidden copies are sent again).
    ReportDismissed,
    /// A resident was told that their message was held or rejected (`tell_residents`), and
    /// how: privately or by a reply in the room.
    Told,
    /// A page action in the moderation console (sign-in, sign-out, decisions asked for):
    /// `detail.via` is `console`, `detail.action` what was done. The decisions themselves
    /// follow as their own entries, written by the same code as in the rooms.
    ConsoleAction,
}

/// Who did what an entry records. Written as text (`config`, `cli`, `bridge`, or the person's
/// `platform:id`), so entries sealed before this type existed read back and verify unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum AuditActor {
    /// Seeding links and rules from the config file.
    Config,
    /// An admin at the command line.
    Cli,
    /// The bridge on its own (expiry, withdrawals, dead letters, scheduled pruning).
    Bridge,
    /// A moderator or admin, by their `platform:id`: the log records their official acts.
    Person(UserKey),
    /// A caller of the admin API, by the name of its token (never the token itself).
    Token(String),
    /// Anyone else (someone refused a command), by the keyed hash of their `platform:id`
    /// (`person:<hash>`, see `privacy::person_ref`), so an export keeps no id erasure could miss.
    Hashed(String),
    /// Text this build reads as none of the above (a store written by another version): kept
    /// as written so the chain still verifies. Never written by this build.
    Other(String),
}

impl fmt::Display for AuditActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditActor::Config => f.write_str("config"),
            AuditActor::Cli => f.write_str("cli"),
            AuditActor::Bridge => f.write_str("bridge"),
            AuditActor::Person(key) => key.fmt(f),
            AuditActor::Token(name) => write!(f, "token:{name}"),
            AuditActor::Hashed(hash) => write!(f, "person:{hash}"),
            AuditActor::Other(text) => f.write_str(text),
        }
    }
}

impl From<String> for AuditActor {
    fn from(text: String) -> AuditActor {
        match text.as_str() {
            "config" => AuditActor::Config,
            "cli" => AuditActor::Cli,
            "bridge" => AuditActor::Bridge,
            _ if text.starts_with("person:") => AuditActor::Hashed(text["person:".len()..].into()),
            _ if text.starts_with("token:") => AuditActor::Token(text["token:".len()..].into()),
            _ => match text.parse::<UserKey>() {
                // Only the key's own spelling: an entry must write back exactly as it was
                // sealed, or its hash no longer verifies (`Telegram:42` stays `Other`).
                Ok(key) if key.to_string() == text => AuditActor::Person(key),
                _ => AuditActor::Other(text),
            },
        }
    }
}

impl From<&str> for AuditActor {
    fn from(text: &str) -> AuditActor {
        AuditActor::from(text.to_owned())
    }
}

/// An actor equals its written form (`cli`, `matrix:@mod:example.org`, `person:<hash>`).
impl PartialEq<&str> for AuditActor {
    fn eq(&self, text: &&str) -> bool {
        self.is(text)
    }
}

impl PartialEq<String> for AuditActor {
    fn eq(&self, text: &String) -> bool {
        self.is(text)
    }
}

impl AuditActor {
    /// Whether `text` is how this actor is written.
    fn is(&self, text: &str) -> bool {
        match self {
            AuditActor::Config => text == "config",
            AuditActor::Cli => text == "cli",
            AuditActor::Bridge => text == "bridge",
            AuditActor::Person(key) => *key == *text,
            AuditActor::Hashed(hash) => text.strip_prefix("person:") == Some(hash.as_str()),
            AuditActor::Token(name) => text.strip_prefix("token:") == Some(name.as_str()),
            AuditActor::Other(written) => written == text,
        }
    }
}

impl From<AuditActor> for String {
    fn from(actor: AuditActor) -> String {
        actor.to_string()
    }
}

/// An entry before it is sealed into the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDraft {
    pub actor: AuditActor,
    pub action: AuditAction,
    pub link: Option<LinkId>,
    /// What it was about: a pending id, a mirror id, a rule key.
    pub subject: Option<String>,
    /// Free-form details (old and new values, reasons, content).
    pub detail: serde_json::Value,
}

/// A sealed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at_ms: u64,
    pub actor: AuditActor,
    pub action: AuditAction,
    pub link: Option<LinkId>,
    pub subject: Option<String>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// Seals `draft` as entry `seq`, chained to `prev_hash`.
    pub fn seal(draft: AuditDraft, seq: u64, at_ms: u64, prev_hash: String) -> AuditEntry {
        let mut e = AuditEntry {
            seq,
            at_ms,
            actor: draft.actor,
            action: draft.action,
            link: draft.link,
            subject: draft.subject,
            detail: draft.detail,
            prev_hash,
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    /// The hash this entry should carry, recomputed from its fields.
    pub fn compute_hash(&self) -> String {
        let mut unsealed = self.clone();
        unsealed.hash = String::new();
        // serde_json writes struct fields in declaration order and `detail` maps sorted (no
        // `preserve_order` feature), so this is canonical.
        let body = serde_json::to_vec(&unsealed).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(&body);
        hex::encode(h.finalize())
    }
}

/// Why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("entry {seq}: its hash does not match its content (altered)")]
    Altered { seq: u64 },
    #[error(
        "entry {seq}: it does not follow entry {prev_seq} (an entry was removed or reordered, \
         or entry {prev_seq} was altered and re-hashed)"
    )]
    Broken { seq: u64, prev_seq: u64 },
    #[error("entry {seq}: the first entry of the log must point to the genesis hash")]
    BadGenesis { seq: u64 },
    #[error("line {line}: not an audit entry: {problem}")]
    Unreadable { line: usize, problem: String },
}

/// Checks a chain. `start_hash` is the hash the first entry must point to ([`GENESIS`] for a
/// whole log; an export that starts later carries its own first `prev_hash`, so pass `None` to
/// trust it). Entry 1 must point to [`GENESIS`] whatever `start_hash` says, and each entry must
/// carry the next sequence number. Returns how many entries were checked; an error names the
/// first bad entry.
pub fn verify<E: std::borrow::Borrow<AuditEntry>>(
    entries: impl IntoIterator<Item = E>,
    start_hash: Option<&str>,
) -> Result<usize, VerifyError> {
    // The previous entry's seq and hash only, so a walk over the store holds one entry.
    let mut prev: Option<(u64, String)> = None;
    let mut n = 0;
    for e in entries {
        let e = e.borrow();
        if e.compute_hash() != e.hash {
            return Err(VerifyError::Altered { seq: e.seq });
        }
        if prev.is_none() && e.seq == 1 && e.prev_hash != GENESIS {
            return Err(VerifyError::BadGenesis { seq: e.seq });
        }
        let expected = match &prev {
            Some((_, hash)) => Some(hash.as_str()),
            None => start_hash,
        };
        // Checked: a hostile file may claim seq u64::MAX.
        let out_of_sequence = prev
            .as_ref()
            .is_some_and(|(seq, _)| seq.checked_add(1) != Some(e.seq));
        if out_of_sequence || expected.is_some_and(|h| e.prev_hash != h) {
            return Err(VerifyError::Broken {
                seq: e.seq,
                prev_seq: prev.map_or(0, |(seq, _)| seq),
            });
        }
        prev = Some((e.seq, e.hash.clone()));
        n += 1;
    }
    Ok(n)
}

/// What a verified export covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: usize,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
}

impl Verified {
    /// An export that does not begin at entry 1 (`audit export --since`): its internal links are
    /// checked, its link to the entries before it cannot be.
    pub fn mid_chain(&self) -> bool {
        self.first_seq.is_some_and(|s| s > 1)
    }
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} entries verified", self.entries)?;
        if let (Some(a), Some(b)) = (self.first_seq, self.last_seq) {
            write!(f, " (seq {a} to {b})")?;
        }
        if let Some(a) = self.first_seq.filter(|_| self.mid_chain()) {
            write!(
                f,
                "; the export starts mid-chain at seq {a}: its links are intact from there, and \
                 its link to entry {} can only be checked against the full log",
                a - 1
            )?;
        }
        Ok(())
    }
}

/// Verifies an exported sequence (whole or from `--since`): a whole log from [`GENESIS`], a
/// later start from its own first `prev_hash`.
pub fn verify_export(entries: &[AuditEntry]) -> Result<Verified, VerifyError> {
    let n = verify(entries, None)?;
    Ok(Verified {
        entries: n,
        first_seq: entries.first().map(|e| e.seq),
        last_seq: entries.last().map(|e| e.seq),
    })
}

/// Parses `--since`: a date (`2026-01-31`, midnight UTC) or an RFC 3339 time
/// (`2026-01-31T12:00:00Z`, `2026-01-31T13:00:00+01:00`). Returns Unix milliseconds.
pub fn parse_since(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let ms = if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis())
    } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        t.timestamp_millis()
    } else {
        return Err(format!(
            "`{s}` is not a date (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00Z)"
        ));
    };
    Ok(ms.max(0) as u64)
}

/// The entries from the first one at or after `since_ms` to the end: a contiguous run, so the
/// export verifies on its own even if the clock once went backwards.
pub fn since(log: &[AuditEntry], since_ms: u64) -> &[AuditEntry] {
    let start = log
        .iter()
        .position(|e| e.at_ms >= since_ms)
        .unwrap_or(log.len());
    &log[start..]
}

/// Milliseconds since the epoch as RFC 3339 (UTC), for humans reading entries.
pub fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Parses JSON Lines as written by `audit export`.
pub fn parse_jsonl(text: &str) -> Result<Vec<AuditEntry>, VerifyError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| VerifyError::Unreadable {
                line: i + 1,
                problem: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
