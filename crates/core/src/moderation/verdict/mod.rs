//! Pure moderation: `evaluate(rules, candidate) -> Verdict`. No I/O, no clock, no async: every
//! fact it needs (thread state, the sender's last relayed message) is passed in, so the whole
//! decision table is tested here in microseconds.

use crate::moderation::rules::{LinkPolicy, Policy, Rules, Scope, Side, UserKey};
use civicbridge_api::rich_text::MAX_CHARS;
use civicbridge_api::{names, AttachmentKind, Message};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Rules with their patterns compiled once.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    pub rules: Rules,
    patterns: Vec<(String, Regex)>,
}

impl CompiledRules {
    /// Fails only if a pattern does not compile; `Rules::validate` prevents that upstream.
    pub fn new(rules: Rules) -> Result<Self, regex::Error> {
        let patterns = rules
            .blocked_patterns
            .iter()
            .map(|p| Regex::new(p).map(|r| (p.clone(), r)))
            .collect::<Result<_, _>>()?;
        Ok(CompiledRules { rules, patterns })
    }
}

/// Where a message stands thread-wise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadState {
    /// Not in a thread (it may become a thread root).
    None,
    /// In a thread whose root crossed.
    Published,
    /// In a thread whose root did not cross (held, rejected, or never seen).
    Unpublished,
    /// In a thread staff stopped (`!unpublish`): nothing in it crosses.
    Stopped,
}

/// One message about to go one direction.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub from: Side,
    pub to: Side,
    pub message: &'a Message,
    pub sender: &'a UserKey,
    pub thread: ThreadState,
    /// It replies to a message that never crossed.
    pub reply_to_unbridged: bool,
    /// Milliseconds since this sender's previous relayed message on this link.
    pub since_last_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Forward,
    Hold(HoldReason),
    Drop(DropReason),
}

/// Why a message waits for a moderator. Stored with the held item (`HoldReasons`), so a
/// variant's name and fields are part of the on-disk format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The direction's policy is `approve`.
    Policy {
        from: Side,
        to: Side,
    },
    /// In a thread whose root has not been approved.
    ThreadNotPublished,
    /// A reply to something that never crossed.
    ReplyToUnbridged,
    TooLong {
        len: usize,
        max: usize,
    },
    Links,
    /// An attachment of a kind the link does not allow.
    AttachmentKind(AttachmentKind),
    /// An attachment over the link's size limit. The file's name is not part of the reason:
    /// reasons go into the audit log, which outlives erasure.
    AttachmentTooLarge {
        max_bytes: u64,
    },
    MassMention,
    /// Edits of relayed messages go back to the queue on this link.
    Edit,
    /// A held message its author edited while it waited: whatever the rules say of the new
    /// text, a moderator already has it in front of them, so it stays for them to decide.
    EditedWhileHeld,
    /// A staff member asked (`!publish`) to publish a thread whose root never crossed.
    PublishRequested {
        by: String,
    },
}

/// Why a held item waits: each target's reason, each reason once, in the order first met.
/// A store written before reasons were typed holds their joined text; it reads back as
/// `Written` and is shown as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HoldReasons {
    Typed(Vec<HoldReason>),
    Written(String),
}

impl HoldReasons {
    /// The reasons of `per_target`, each once.
    pub fn of<'a, T: 'a>(per_target: impl IntoIterator<Item = &'a (T, HoldReason)>) -> HoldReasons {
        HoldReasons::Typed(distinct(per_target.into_iter().map(|(_, r)| r.clone())))
    }

    pub fn one(reason: HoldReason) -> HoldReasons {
        HoldReasons::Typed(vec![reason])
    }
}

impl fmt::Display for HoldReasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldReasons::Typed(reasons) => {
                for (i, r) in reasons.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    r.fmt(f)?;
                }
                Ok(())
            }
            HoldReasons::Written(text) => f.write_str(text),
        }
    }
}

/// `items` without repeats, in the order first met.
pub fn distinct<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    BlockedSender,
    DirectionOff {
        from: Side,
        to: Side,
    },
    BlockedPattern(String),
    SlowMode {
        wait_secs: u64,
    },
    Links,
    /// Under scope `on_request`: not in a thread someone asked to publish.
    NotPublished,
    /// No text (or only whitespace and invisible characters) and no attachment: nothing to
    /// relay. Discord sends every message this way to a bot without the Message Content intent.
    Empty,
}

impl HoldReason {
    /// The kind of rule, without its particulars: a metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            HoldReason::Policy { .. } => "policy",
            HoldReason::ThreadNotPublished => "thread_not_published",
            HoldReason::ReplyToUnbridged => "reply_to_unbridged",
            HoldReason::TooLong { .. } => "too_long",
            HoldReason::Links => "links",
            HoldReason::AttachmentKind(_) => "attachment_kind",
            HoldReason::AttachmentTooLarge { .. } => "attachment_too_large",
            HoldReason::MassMention => "mass_mention",
            HoldReason::Edit => "edit",
            HoldReason::EditedWhileHeld => "edited_while_held",
            HoldReason::PublishRequested { .. } => "publish_requested",
        }
    }
}

impl DropReason {
    /// The kind of rule, without its particulars (never a blocked pattern): a metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            DropReason::BlockedSender => "blocked_sender",
            DropReason::DirectionOff { .. } => "direction_off",
            DropReason::BlockedPattern(_) => "blocked_pattern",
            DropReason::SlowMode { .. } => "slow_mode",
            DropReason::Links => "links",
            DropReason::NotPublished => "not_published",
            DropReason::Empty => "empty",
        }
    }
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldReason::Policy { from, to } => {
                write!(f, "{} to {} messages need approval", side(*from), side(*to))
            }
            HoldReason::ThreadNotPublished => f.write_str("its thread has not been approved"),
            HoldReason::ReplyToUnbridged => {
                f.write_str("it replies to a message that was not shared")
            }
            HoldReason::TooLong { len, max } => write!(f, "too long ({len} > {max} characters)"),
            HoldReason::Links => f.write_str("it contains a link"),
            HoldReason::AttachmentKind(kind) => {
                write!(f, "attachment: {} not allowed", kind.as_str())
            }
            HoldReason::AttachmentTooLarge { max_bytes } => {
                write!(f, "attachment: a file larger than {max_bytes} bytes")
            }
            HoldReason::MassMention => f.write_str("it tries to notify a whole room"),
            HoldReason::Edit => f.write_str("edits need approval"),
            HoldReason::EditedWhileHeld => f.write_str("it was edited while held"),
            HoldReason::PublishRequested { by } => {
                write!(f, "publication of its thread requested by {by}")
            }
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::BlockedSender => f.write_str("the sender is blocked"),
            DropReason::DirectionOff { from, to } => {
                write!(f, "{} to {} is off", side(*from), side(*to))
            }
            DropReason::BlockedPattern(p) => write!(f, "matches blocked pattern `{p}`"),
            DropReason::SlowMode { wait_secs } => write!(f, "slow mode: wait {wait_secs}s"),
            DropReason::Links => f.write_str("links are not allowed"),
            DropReason::NotPublished => f.write_str("its thread was not published (!publish)"),
            DropReason::Empty => f.write_str("it is empty"),
        }
    }
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Staff => "staff",
        Side::Public => "public",
    }
}

/// Decides what happens to a new message going from `c.from` to `c.to`.
///
/// Order: blocked sender, direction off, blocked pattern and slow mode drop; then the direction's
/// policy (per scope and thread state) gives forward or hold; content checks can only turn a
/// forward into a hold; a trusted sender turns any hold back into forward (never a drop).
pub fn evaluate(rules: &CompiledRules, c: &Candidate<'_>) -> Verdict {
    let r = &rules.rules;
    if is_blank(c.message) {
        return Verdict::Drop(DropReason::Empty);
    }
    if r.blocked.iter().any(|b| b == c.sender) {
        return Verdict::Drop(DropReason::BlockedSender);
    }
    let dir = r.direction(c.from, c.to);
    if dir.policy == Policy::Off {
        return Verdict::Drop(DropReason::DirectionOff {
            from: c.from,
            to: c.to,
        });
    }
    if let Some(d) = drop_for_content(rules, c.message) {
        return Verdict::Drop(d);
    }
    if c.from == Side::Public && r.slow_mode_secs > 0 {
        if let Some(since) = c.since_last_ms {
            let window = r.slow_mode_secs.saturating_mul(1000);
            if since < window {
                return Verdict::Drop(DropReason::SlowMode {
                    wait_secs: (window - since).div_ceil(1000),
                });
            }
        }
    }

    let policy = match (dir.scope, c.thread) {
        (_, ThreadState::Stopped) => return Verdict::Drop(DropReason::NotPublished),
        (_, ThreadState::Published) => Ok(dir.in_thread.unwrap_or(dir.policy)),
        (Scope::OnRequest, _) => return Verdict::Drop(DropReason::NotPublished),
        (Scope::ApprovedThreads, ThreadState::Unpublished) => Err(HoldReason::ThreadNotPublished),
        _ if c.reply_to_unbridged => Err(HoldReason::ReplyToUnbridged),
        _ => Ok(dir.policy),
    };
    let verdict = match policy {
        Ok(Policy::Off) => {
            return Verdict::Drop(DropReason::DirectionOff {
                from: c.from,
                to: c.to,
            })
        }
        Ok(Policy::Auto) => match hold_for_content(r, c.message) {
            Some(h) => Verdict::Hold(h),
            None => Verdict::Forward,
        },
        Ok(Policy::Approve) => Verdict::Hold(HoldReason::Policy {
            from: c.from,
            to: c.to,
        }),
        Err(h) => Verdict::Hold(h),
    };
    trusted_override(r, c.sender, verdict)
}

/// Decides whether an edit by `author` of a message that crossed from `from` follows to a copy
/// on side `to` (`in_thread`: the message is inside a thread), under `Rules::edit_policy`.
pub fn evaluate_edit(
    rules: &CompiledRules,
    from: Side,
    to: Side,
    in_thread: bool,
    author: &UserKey,
    new: &Message,
) -> Verdict {
    let policy = rules.rules.edit_policy(from, to, in_thread);
    evaluate_edit_under(rules, policy, from, to, author, new)
}

/// [`evaluate_edit`] under an explicit policy. A blocked author's edits never follow.
pub fn evaluate_edit_under(
    rules: &CompiledRules,
    policy: Policy,
    from: Side,
    to: Side,
    author: &UserKey,
    new: &Message,
) -> Verdict {
    let r = &rules.rules;
    if is_blank(new) {
        return Verdict::Drop(DropReason::Empty);
    }
    if r.blocked.iter().any(|b| b == author) {
        return Verdict::Drop(DropReason::BlockedSender);
    }
    if let Some(d) = drop_for_content(rules, new) {
        return Verdict::Drop(d);
    }
    let verdict = match (policy, hold_for_content(r, new)) {
        (Policy::Off, _) => return Verdict::Drop(DropReason::DirectionOff { from, to }),
        (_, Some(h)) => Verdict::Hold(h),
        (Policy::Approve, None) => Verdict::Hold(HoldReason::Edit),
        (Policy::Auto, None) => Verdict::Forward,
    };
    trusted_override(r, author, verdict)
}

/// Whether a message has nothing to relay: no attachment, and a text of nothing but
/// whitespace and characters that show nothing (zero-width and format characters, Hangul and
/// Braille fillers). Such a message is never relayed and never carded.
pub fn is_blank(m: &Message) -> bool {
    m.attachments.is_empty() && names::is_blank(&m.text.to_plain())
}

/// Trusted senders skip holds, but not the bridge's own length limit: past it, a text waits for
/// a moderator whoever wrote it.
fn trusted_override(r: &Rules, sender: &UserKey, v: Verdict) -> Verdict {
    match v {
        Verdict::Hold(HoldReason::TooLong { len, .. }) if len > MAX_CHARS => v,
        Verdict::Hold(_) if r.trusted.iter().any(|t| t == sender) => Verdict::Forward,
        v => v,
    }
}

fn drop_for_content(rules: &CompiledRules, m: &Message) -> Option<DropReason> {
    let plain = m.text.to_plain();
    if let Some((p, _)) = rules.patterns.iter().find(|(_, re)| re.is_match(&plain)) {
        return Some(DropReason::BlockedPattern(p.clone()));
    }
    if rules.rules.links == LinkPolicy::Drop && !m.text.links().is_empty() {
        return Some(DropReason::Links);
    }
    None
}

fn hold_for_content(r: &Rules, m: &Message) -> Option<HoldReason> {
    let len = m.text.char_len();
    // The link's `max_length`, and past it the bridge's own limit: nothing longer crosses
    // without a moderator, whatever the rules say.
    let max = r.max_length.unwrap_or(MAX_CHARS).min(MAX_CHARS);
    if len > max {
        return Some(HoldReason::TooLong { len, max });
    }
    if r.links == LinkPolicy::Approve && !m.text.links().is_empty() {
        return Some(HoldReason::Links);
    }
    if r.hold_mass_mentions && m.text.has_mass_mention() {
        return Some(HoldReason::MassMention);
    }
    for a in &m.attachments {
        if !r.attachments.allowed.contains(&a.kind) {
            return Some(HoldReason::AttachmentKind(a.kind));
        }
        if a.size.is_some_and(|s| s > r.attachments.max_bytes) {
            return Some(HoldReason::AttachmentTooLarge {
                max_bytes: r.attachments.max_bytes,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests;
