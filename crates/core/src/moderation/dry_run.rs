//! Dry runs of a rule change (`!set --dry-run LINK KEY VALUE`): the link's recent messages
//! (`store::history`) are judged again by `evaluate` under the current rules and under the
//! changed ones, and the answer says how many would end differently, with examples. Nothing is
//! changed, stored or sent.
//!
//! A message's outcome sums up its directions: `held` if any direction holds it, else
//! `relayed` if any forwards it, else `dropped`.

use super::{evaluate, Candidate, CompiledRules, Verdict};
use crate::pipeline::render;
use crate::store::history::Seen;

/// How many messages went from one outcome to another, with a few of them as examples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub before: &'static str,
    pub after: &'static str,
    pub count: usize,
    pub examples: Vec<String>,
}

/// The examples each shift shows at most.
pub const EXAMPLES: usize = 3;

/// What the history says about a change from `old` to `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    pub messages: usize,
    pub shifts: Vec<Shift>,
}

pub fn dry_run(history: &[Seen], old: &CompiledRules, new: &CompiledRules) -> DryRun {
    let mut shifts: Vec<Shift> = Vec::new();
    for seen in history {
        let (before, after) = (outcome(old, seen), outcome(new, seen));
        if before == after {
            continue;
        }
        let i = match shifts
            .iter()
            .position(|s| s.before == before && s.after == after)
        {
            Some(i) => i,
            None => {
                shifts.push(Shift {
                    before,
                    after,
                    count: 0,
                    examples: Vec::new(),
                });
                shifts.len() - 1
            }
        };
        let s = &mut shifts[i];
        s.count += 1;
        if s.examples.len() < EXAMPLES {
            s.examples.push(render::excerpt(&seen.message.text));
        }
    }
    DryRun {
        messages: history.len(),
        shifts,
    }
}

fn outcome(rules: &CompiledRules, seen: &Seen) -> &'static str {
    let verdicts: Vec<Verdict> = seen
        .to
        .iter()
        .map(|to| {
            evaluate(
                rules,
                &Candidate {
                    from: seen.from,
                    to: *to,
                    message: &seen.message,
                    sender: &seen.sender,
                    thread: seen.thread,
                    reply_to_unbridged: seen.reply_to_unbridged,
                    since_last_ms: seen.since_last_ms,
                },
            )
        })
        .collect();
    if verdicts.iter().any(|v| matches!(v, Verdict::Hold(_))) {
        "held"
    } else if verdicts.iter().any(|v| matches!(v, Verdict::Forward)) {
        "relayed"
    } else {
        "dropped"
    }
}

/// The answer in the moderation room.
pub fn text(link: &str, key: &str, value: &str, keep: u64, d: &DryRun) -> String {
    let mut s = format!(
        "Dry run on link {link}: {key} = {value}, over the last {} message(s) (the link keeps \
         up to {keep}). Nothing was changed.",
        d.messages
    );
    if d.shifts.is_empty() {
        s.push_str("\nNo message would have ended differently.");
    }
    for sh in &d.shifts {
        s.push_str(&format!(
            "\n- {} now {}, would be {}",
            sh.count, sh.before, sh.after
        ));
        for e in &sh.examples {
            s.push_str(&format!("\n    “{e}”"));
        }
    }
    s
}
