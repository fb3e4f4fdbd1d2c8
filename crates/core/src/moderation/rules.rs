//! Per-link moderation rules: what may cross a link, in which direction, under which filters.
//!
//! Rules are seeded from the config file and kept in the store, where moderators and admins can
//! change them at runtime (`civicbridge rules set`, `!set`). `moderation::evaluate` reads them.

pub use crate::moderation::tell::{TellResidents, TellTexts};
use civicbridge_api::AttachmentKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Which people a room serves. Directions are named from sides: staff→public, public→staff …
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Staff,
    Public,
}

/// What happens to a message going one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Crosses at once (filters may still hold it).
    Auto,
    /// Held until a moderator approves it.
    Approve,
    /// Never crosses.
    Off,
}

/// Whether an edit of a message that already crossed follows to the copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EditPolicy {
    /// As the message itself was treated: the direction's policy (its `in_thread` policy for a
    /// message inside a thread). Under rules where a resident's message needs approval, so does
    /// their edit of it, on every side.
    #[default]
    Direction,
    /// Follows at once (filters may still hold it).
    Auto,
    /// Goes back to the queue; the copies keep their text until a moderator approves.
    Approve,
    /// Never follows.
    Off,
}

impl EditPolicy {
    /// The explicit policy, if this setting overrides the direction's.
    pub fn explicit(self) -> Option<Policy> {
        match self {
            EditPolicy::Direction => None,
            EditPolicy::Auto => Some(Policy::Auto),
            EditPolicy::Approve => Some(Policy::Approve),
            EditPolicy::Off => Some(Policy::Off),
        }
    }
}

/// Whether people's reactions on a message show on its copies in rooms of another side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReactionPolicy {
    /// The bot shows, on each copy, the reactions made on the others (as itself: no reactor's
    /// name crosses).
    #[default]
    Auto,
    Off,
}

pub use super::reasons::Reason;

/// Which messages a direction's policy covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every message.
    #[default]
    All,
    /// Only threads whose root a moderator approved: a message outside a thread is a candidate
    /// root (handled by `policy`), a reply inside an approved thread follows `in_thread`, and a
    /// reply inside any other thread is held.
    ApprovedThreads,
    /// Only threads someone asked to publish (`!publish`) and a moderator approved: a message
    /// outside a thread is kept as a candidate root but neither relayed nor held, a reply inside
    /// a published thread follows `in_thread`, and a reply inside any other thread stays put.
    /// For internal staff rooms where most threads are not for the public.
    OnRequest,
}

/// The rule for one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectionRule {
    pub policy: Policy,
    #[serde(default)]
    pub scope: Scope,
    /// The policy for messages inside a thread that has already crossed; defaults to `policy`.
    #[serde(default)]
    pub in_thread: Option<Policy>,
}

impl DirectionRule {
    pub const fn new(policy: Policy) -> Self {
        DirectionRule {
            policy,
            scope: Scope::All,
            in_thread: None,
        }
    }
}

/// How links in a message are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkPolicy {
    Allow,
    Approve,
    Drop,
}

/// What may be attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRule {
    /// Kinds that may cross without approval; others are held.
    pub allowed: Vec<AttachmentKind>,
    /// Larger attachments are held.
    pub max_bytes: u64,
}

impl Default for AttachmentRule {
    fn default() -> Self {
        AttachmentRule {
            allowed: vec![AttachmentKind::Image, AttachmentKind::File],
            max_bytes: 10 * 1024 * 1024,
        }
    }
}

/// Whether a link relays (`live`) or only shows what it would do (`dry_run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkMode {
    #[default]
    Live,
    /// Every message is judged as in `live`, and the moderation room is told what would have
    /// happened ("🧪 Dry run: … would be held"); nothing is relayed, held or stored but the
    /// dry-run history. For trying a new link's rules before residents depend on it.
    DryRun,
}

/// How residents (authors in public rooms) are named in staff-side rooms and approval cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResidentNames {
    /// Their display name on their platform.
    #[default]
    Name,
    /// A stable pseudonym per person and link (`Resident 4f2a9c`), from a keyed hash whose key
    /// staff never see (see `privacy`). Staff are never pseudonymised, and residents always see
    /// each other by name.
    Pseudonym,
}

pub use civicbridge_api::UserKey;

/// Everything a link's moderation depends on. Defaults are the cautious choice for a council:
/// nothing from the public crosses without approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    pub staff_to_public: DirectionRule,
    pub public_to_staff: DirectionRule,
    pub public_to_public: DirectionRule,
    pub staff_to_staff: DirectionRule,
    /// Regular expressions; a match drops the message.
    pub blocked_patterns: Vec<String>,
    /// Longer messages (in characters) are held.
    pub max_length: Option<usize>,
    pub links: LinkPolicy,
    pub attachments: AttachmentRule,
    /// Hold messages that try to notify a whole room (`@everyone`, `@room` …). The text never
    /// pings anyone on the other side either way: connectors render it inert.
    pub hold_mass_mentions: bool,
    /// Seconds a public sender must wait between relayed messages; 0 turns it off.
    pub slow_mode_secs: u64,
    /// Whether an edit of a relayed message follows to its copies (`auto`), goes back to the
    /// queue (`approve`), or is dropped (`off`), for every direction but public→staff. Default
    /// `direction`: as the message itself was treated, so under rules where a message needs
    /// approval its edits do too (a resident could otherwise rewrite an approved message).
    pub edits: EditPolicy,
    /// The same for edits of a public message whose copy is in a staff room (default
    /// `direction`). Copies keep their old text until a moderator approves the new one.
    pub edits_public_to_staff: EditPolicy,
    /// Whether reactions cross, for every direction but public→staff (default `auto`): staff
    /// see how residents reacted only if the next setting lets them.
    pub reactions: ReactionPolicy,
    /// The same for residents' reactions showing in staff rooms (default `off`: a reaction is
    /// not moderated, so it does not reach staff unless the council wants it).
    pub reactions_public_to_staff: ReactionPolicy,
    /// Words a resident's display name may not imitate ("council", the council's name): a
    /// public sender whose name contains one, after look-alike folding, is shown as unverified
    /// (`moderation::lookalike`). Staff names of the link are protected without being listed.
    pub protected_names: Vec<String>,
    /// `live`, or `dry_run`: judge and tell the moderators, relay nothing.
    pub mode: LinkMode,
    /// Once this many different people reported a message, its copies are taken down pending
    /// a moderator's decision (sent again if the report is dismissed); 0 never hides.
    pub hide_after_reports: u32,
    /// How many of the link's recent messages are kept for dry runs of rule changes
    /// (`!set --dry-run`), within `retention_days`; 0 keeps none.
    pub history_size: u64,
    /// Minutes a claim on a held item (`!claim`, 🙋) lasts unless released; at most a day.
    pub claim_minutes: u64,
    /// The reasons moderators give by code (`!reject #3 spam`); see [`Reason`].
    pub reasons: Vec<Reason>,
    /// Whether a resident is told when their message is held or rejected (`off`, `rejected`,
    /// `held_and_rejected`); see `moderation::tell`.
    pub tell_residents: TellResidents,
    /// Seconds after which the bot deletes a notice it had to post as a reply in the room
    /// (the resident could not be reached privately); 0 keeps it.
    pub tell_reply_secs: u64,
    /// The language of the notices when the resident's is unknown or not in `tell_texts`.
    pub tell_language: String,
    /// The notices' texts by language (`en`, `de` …); a language not listed uses the built-in
    /// English.
    pub tell_texts: BTreeMap<String, TellTexts>,
    pub trusted: Vec<UserKey>,
    pub blocked: Vec<UserKey>,
    /// How residents are shown in staff rooms (`name` or `pseudonym`).
    pub resident_names: ResidentNames,
    /// Days after which mirrored content and its id mappings are pruned; 0 keeps everything.
    pub retention_days: u32,
    /// Seconds a held item may wait before the moderation room is reminded of it; 0 turns
    /// reminders off. Each item is reminded once.
    pub remind_after_secs: u64,
    /// Seconds after which a held item nobody decided is discarded (audited, the moderators
    /// told); 0 keeps items until decided.
    pub expire_after_secs: u64,
    /// Posted once in each public room of the link when the link starts (and again if the text
    /// changes): residents should know that a council moderates the room and reads along.
    pub public_notice: Option<String>,
    /// While true, no copy goes out on the link (`!pause`/`!resume`): copies and their edits
    /// wait in the outbox, in order, and go when it is false again. Events are still received
    /// and decided; the bridge's notices still go, and so do takedowns, except in a room where
    /// copies wait (a room's jobs keep their order, so they wait behind them).
    pub paused: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            staff_to_public: DirectionRule::new(Policy::Approve),
            public_to_staff: DirectionRule::new(Policy::Approve),
            public_to_public: DirectionRule::new(Policy::Off),
            staff_to_staff: DirectionRule::new(Policy::Auto),
            blocked_patterns: Vec::new(),
            max_length: None,
            links: LinkPolicy::Approve,
            attachments: AttachmentRule::default(),
            hold_mass_mentions: true,
            slow_mode_secs: 0,
            edits: EditPolicy::Direction,
            edits_public_to_staff: EditPolicy::Direction,
            reactions: ReactionPolicy::Auto,
            reactions_public_to_staff: ReactionPolicy::Off,
            protected_names: vec!["council".into()],
            mode: LinkMode::Live,
            hide_after_reports: 0,
            history_size: 500,
            claim_minutes: 30,
            reasons: Reason::defaults(),
            tell_residents: TellResidents::Off,
            tell_reply_secs: 300,
            tell_language: "en".into(),
            tell_texts: BTreeMap::new(),
            trusted: Vec::new(),
            blocked: Vec::new(),
            resident_names: ResidentNames::Name,
            retention_days: 0,
            remind_after_secs: 3600,
            expire_after_secs: 0,
            public_notice: None,
            paused: false,
        }
    }
}

impl Rules {
    pub fn direction(&self, from: Side, to: Side) -> &DirectionRule {
        match (from, to) {
            (Side::Staff, Side::Public) => &self.staff_to_public,
            (Side::Public, Side::Staff) => &self.public_to_staff,
            (Side::Public, Side::Public) => &self.public_to_public,
            (Side::Staff, Side::Staff) => &self.staff_to_staff,
        }
    }

    /// The edit policy for a copy on side `to` of a message from side `from`: the explicit
    /// setting for that direction if there is one, else the policy the message itself crossed
    /// under (`in_thread` for a message inside a thread).
    pub fn edit_policy(&self, from: Side, to: Side, in_thread: bool) -> Policy {
        let explicit = match (from, to) {
            (Side::Public, Side::Staff) => self.edits_public_to_staff,
            _ => self.edits,
        };
        explicit.explicit().unwrap_or_else(|| {
            let dir = self.direction(from, to);
            match (in_thread, dir.in_thread) {
                (true, Some(p)) => p,
                _ => dir.policy,
            }
        })
    }

    /// Whether reactions made on side `from` show on the copy on side `to`.
    pub fn reactions_cross(&self, from: Side, to: Side) -> bool {
        let p = match (from, to) {
            (Side::Public, Side::Staff) => self.reactions_public_to_staff,
            _ => self.reactions,
        };
        p == ReactionPolicy::Auto
    }

    /// Checks what serde cannot: that every pattern compiles and every duration fits.
    pub fn validate(&self) -> Result<(), RuleError> {
        // Durations are multiplied into milliseconds and added to clocks: keep them where that
        // arithmetic is exact (the code saturates anyway, so a bound is about meaning).
        for (key, value, max) in [
            ("slow_mode_secs", self.slow_mode_secs, MAX_SLOW_MODE_SECS),
            ("claim_minutes", self.claim_minutes, 24 * 60),
            ("history_size", self.history_size, 100_000),
            ("remind_after_secs", self.remind_after_secs, MAX_WAIT_SECS),
            ("expire_after_secs", self.expire_after_secs, MAX_WAIT_SECS),
            (
                "retention_days",
                u64::from(self.retention_days),
                MAX_RETENTION_DAYS,
            ),
        ] {
            if value > max {
                return Err(RuleError {
                    key: key.to_owned(),
                    problem: format!("{value} is more than the largest allowed, {max}"),
                });
            }
        }
        for (i, r) in self.reasons.iter().enumerate() {
            let bad = |problem: String| RuleError {
                key: format!("reasons[{i}]"),
                problem,
            };
            let word =
                |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
            if r.code.is_empty() || r.code.len() > 32 || !r.code.chars().all(word) {
                return Err(bad(format!(
                    "code `{}` must be one word of a-z, 0-9, _ or -, at most 32 characters",
                    r.code
                )));
            }
            if self.reasons[..i].iter().any(|o| o.code == r.code) {
                return Err(bad(format!("code `{}` is given twice", r.code)));
            }
            if r.label.trim().is_empty() || r.label.chars().count() > MAX_REASON_LABEL {
                return Err(bad(format!(
                    "label must have between 1 and {MAX_REASON_LABEL} characters"
                )));
            }
            if r.harm.as_ref().is_some_and(|h| {
                h.is_empty() || h.len() > 128 || h.chars().any(char::is_whitespace)
            }) {
                return Err(bad(
                    "harm must be one identifier such as org.matrix.msc4387.spam".into(),
                ));
            }
        }
        crate::moderation::tell::validate(
            &self.tell_texts,
            &self.tell_language,
            self.tell_reply_secs,
        )?;
        for (i, w) in self.protected_names.iter().enumerate() {
            if crate::moderation::lookalike::fold(w).is_empty() || w.chars().count() > 64 {
                return Err(RuleError {
                    key: format!("protected_names[{i}]"),
                    problem: format!("`{w}` must have a letter or digit and at most 64 characters"),
                });
            }
        }
        if self.protected_names.len() > MAX_REASONS {
            return Err(RuleError {
                key: "protected_names".into(),
                problem: format!("at most {MAX_REASONS} words"),
            });
        }
        if self.reasons.len() > MAX_REASONS {
            return Err(RuleError {
                key: "reasons".into(),
                problem: format!("at most {MAX_REASONS} reasons"),
            });
        }
        for (i, p) in self.blocked_patterns.iter().enumerate() {
            regex::Regex::new(p).map_err(|e| {
                // The regex crate draws a multi-line caret diagram; its last line says why.
                let text = e.to_string();
                let why = text
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .trim_start_matches("error: ");
                RuleError {
                    key: format!("blocked_patterns[{i}]"),
                    problem: format!("`{p}` is not a valid regular expression: {why}"),
                }
            })?;
        }
        Ok(())
    }

    /// Applies `KEY VALUE` as typed by an admin (`rules set planning links drop`). The value is
    /// TOML (`approve`, `2000`, `["spam"]`, `{ policy = "auto" }`); bare words need no quotes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), RuleError> {
        let err = |problem: String| RuleError {
            key: key.to_owned(),
            problem,
        };
        let mut table = match toml::Value::try_from(&*self) {
            Ok(toml::Value::Table(t)) => t,
            _ => return Err(err("the current rules cannot be represented".into())),
        };
        let parsed = parse_value(value).map_err(err)?;
        let (head, rest) = key
            .split_once('.')
            .map_or((key, None), |(h, r)| (h, Some(r)));
        if !Rules::KEYS.contains(&head) {
            return Err(err(format!(
                "unknown rule; known rules: {}",
                Rules::KEYS.join(", ")
            )));
        }
        // An unset optional rule (`max_length`) is absent from the table until given a value.
        let slot = table
            .entry(head.to_owned())
            .or_insert(toml::Value::Table(toml::Table::new()));
        match rest {
            None => *slot = parsed,
            Some(sub) => match slot {
                toml::Value::Table(t) => {
                    t.insert(sub.to_owned(), parsed);
                }
                _ => return Err(err(format!("`{head}` has no field `{sub}`"))),
            },
        }
        let new: Rules = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                err(format!("invalid value `{value}`: {}", e.message()))
            })?;
        new.validate()?;
        *self = new;
        Ok(())
    }

    pub const KEYS: &'static [&'static str] = &[
        "staff_to_public",
        "public_to_staff",
        "public_to_public",
        "staff_to_staff",
        "blocked_patterns",
        "max_length",
        "links",
        "attachments",
        "hold_mass_mentions",
        "slow_mode_secs",
        "edits",
        "edits_public_to_staff",
        "reactions",
        "reactions_public_to_staff",
        "protected_names",
        "mode",
        "hide_after_reports",
        "history_size",
        "claim_minutes",
        "reasons",
        "tell_residents",
        "tell_reply_secs",
        "tell_language",
        "tell_texts",
        "trusted",
        "blocked",
        "resident_names",
        "retention_days",
        "remind_after_secs",
        "expire_after_secs",
        "public_notice",
        "paused",
    ];
}

/// The most reasons a link may list, and the longest label: a list to pick from, not a text.
pub const MAX_REASONS: usize = 50;
pub const MAX_REASON_LABEL: usize = 200;
/// The longest slow mode: a day between messages.
pub const MAX_SLOW_MODE_SECS: u64 = 86_400;
/// The longest reminder or expiry delay: a year.
pub const MAX_WAIT_SECS: u64 = 366 * 86_400;
/// The longest retention: a hundred years (0 keeps everything).
pub const MAX_RETENTION_DAYS: u64 = 36_600;

fn parse_value(value: &str) -> Result<toml::Value, String> {
    let value = value.trim();
    if let Ok(t) = format!("v = {value}").parse::<toml::Table>() {
        if let Some(v) = t.get("v") {
            return Ok(v.clone());
        }
    }
    // A bare word such as `approve` or a policy shorthand for a direction.
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Ok(toml::Value::String(value.to_owned()));
    }
    Err(format!(
        "`{value}` is not a value (use TOML: 2000, approve, [\"a\"], {{ policy = \"auto\" }})"
    ))
}

/// A rule that cannot be applied, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct RuleError {
    pub key: String,
    pub problem: String,
}

impl fmt::Display for EditPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EditPolicy::Direction => "direction",
            EditPolicy::Auto => "auto",
            EditPolicy::Approve => "approve",
            EditPolicy::Off => "off",
        })
    }
}

impl fmt::Display for ReactionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReactionPolicy::Auto => "auto",
            ReactionPolicy::Off => "off",
        })
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Auto => "auto",
            Policy::Approve => "approve",
            Policy::Off => "off",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_accepts_bare_words_numbers_lists_and_tables() {
        let mut r = Rules::default();
        r.set("links", "drop").expect("bare word");
        assert_eq!(r.links, LinkPolicy::Drop);
        r.set("max_length", "2000").expect("number");
        assert_eq!(r.max_length, Some(2000));
        r.set("blocked_patterns", r#"["(?i)spam"]"#).expect("list");
        assert_eq!(r.blocked_patterns, vec!["(?i)spam".to_owned()]);
        r.set("public_to_staff", r#"{ policy = "auto" }"#)
            .expect("table");
        assert_eq!(r.public_to_staff.policy, Policy::Auto);
        r.set("staff_to_public.in_thread", "auto").expect("sub-key");
        assert_eq!(r.staff_to_public.in_thread, Some(Policy::Auto));
    }

    #[test]
    fn reasons_are_checked_when_set() {
        let mut r = Rules::default();
        r.set("reasons", r#"[{ code = "noise", label = "Too loud" }]"#)
            .expect("one reason");
        assert_eq!(r.reasons.len(), 1);
        for (bad, why) in [
            (r#"[{ code = "Two Words", label = "x" }]"#, "one word"),
            (
                r#"[{ code = "a", label = "x" }, { code = "a", label = "y" }]"#,
                "twice",
            ),
            (r#"[{ code = "a", label = " " }]"#, "label"),
            (
                r#"[{ code = "a", label = "x", harm = "has space" }]"#,
                "harm",
            ),
            (r#"[{ code = "a", label = "x", colour = "red" }]"#, "colour"),
        ] {
            let e = r.set("reasons", bad).expect_err(bad);
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
        assert_eq!(
            r.reasons.len(),
            1,
            "a refused change leaves the rules as they were"
        );
    }

    #[test]
    fn privacy_rules_default_to_names_and_keeping_everything_and_can_be_set() {
        let mut r = Rules::default();
        assert_eq!(r.resident_names, ResidentNames::Name);
        assert_eq!(r.retention_days, 0);
        r.set("resident_names", "pseudonym").expect("bare word");
        assert_eq!(r.resident_names, ResidentNames::Pseudonym);
        r.set("retention_days", "30").expect("number");
        assert_eq!(r.retention_days, 30);
        assert!(r.set("resident_names", "initials").is_err());
        assert!(r.set("retention_days", "-1").is_err());
    }

    #[test]
    fn edits_follow_the_direction_unless_a_setting_overrides_it() {
        let mut r = Rules {
            public_to_public: DirectionRule::new(Policy::Approve),
            staff_to_public: DirectionRule {
                policy: Policy::Approve,
                scope: Scope::ApprovedThreads,
                in_thread: Some(Policy::Auto),
            },
            ..Rules::default()
        };
        assert_eq!(
            r.edit_policy(Side::Public, Side::Public, false),
            Policy::Approve
        );
        assert_eq!(
            r.edit_policy(Side::Public, Side::Staff, false),
            Policy::Approve
        );
        assert_eq!(
            r.edit_policy(Side::Staff, Side::Public, false),
            Policy::Approve
        );
        assert_eq!(
            r.edit_policy(Side::Staff, Side::Public, true),
            Policy::Auto,
            "inside a published thread: the in-thread policy"
        );
        r.set("edits", "auto").expect("explicit");
        assert_eq!(
            r.edit_policy(Side::Public, Side::Public, false),
            Policy::Auto
        );
        assert_eq!(
            r.edit_policy(Side::Public, Side::Staff, false),
            Policy::Approve,
            "`edits` does not reach public to staff"
        );
        r.set("edits_public_to_staff", "off").expect("explicit");
        assert_eq!(r.edit_policy(Side::Public, Side::Staff, false), Policy::Off);
        r.set("edits", "direction").expect("back to the default");
        assert_eq!(r.edits, EditPolicy::Direction);
    }

    #[test]
    fn old_stored_edit_settings_stay_readable() {
        let old: Rules =
            serde_json::from_str(r#"{"edits":"auto","edits_public_to_staff":"approve"}"#)
                .expect("reads");
        assert_eq!(old.edits, EditPolicy::Auto);
        assert_eq!(old.edits_public_to_staff, EditPolicy::Approve);
    }

    #[test]
    fn durations_are_bounded_on_set_and_an_overflowing_number_is_refused() {
        let mut r = Rules::default();
        let before = r.clone();
        // The largest TOML integer: it used to be stored, then overflow `* 1000` in the sweep.
        let e = r
            .set("expire_after_secs", "9223372036854775807")
            .unwrap_err();
        assert!(e.to_string().starts_with("expire_after_secs:"), "{e}");
        assert!(r
            .set("expire_after_secs", "99999999999999999999999")
            .is_err());
        assert!(r.set("slow_mode_secs", "86401").is_err());
        assert!(r.set("remind_after_secs", "-5").is_err());
        assert!(r.set("retention_days", "4294967295").is_err());
        assert_eq!(r, before);
        r.set("expire_after_secs", "604800").expect("a week");
        assert_eq!(r.expire_after_secs, 604_800);
    }

    #[test]
    fn set_names_the_key_and_keeps_the_old_rules_on_error() {
        let mut r = Rules::default();
        let before = r.clone();
        let e = r.set("colour", "red").unwrap_err();
        assert!(e.to_string().starts_with("colour: unknown rule"), "{e}");
        let e = r.set("links", "sometimes").unwrap_err();
        assert!(e.to_string().contains("links: invalid value"), "{e}");
        let e = r.set("blocked_patterns", r#"["(unclosed"]"#).unwrap_err();
        assert!(e.to_string().contains("blocked_patterns[0]"), "{e}");
        assert_eq!(r, before);
    }
}
