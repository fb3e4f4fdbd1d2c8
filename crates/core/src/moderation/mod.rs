//! What may cross, and who decides: the link's [`rules`]; the pure verdict on one message
//! (`evaluate`, in `verdict/`, re-exported here); held items and decisions on them
//! ([`approval`]) and the [`cards`] moderators decide on; events in moderation rooms
//! ([`room`]) and the moderators' [`commands`]; [`hygiene`] (reminders and expiry of items
//! nobody decided); the public [`notice`] that a room is moderated; and the hash-chained
//! [`audit`] log every decision is written to.

pub mod approval;
pub mod audit;
pub mod cards;
pub mod commands;
pub mod dry_run;
pub mod hygiene;
pub mod lookalike;
pub mod notice;
pub mod reasons;
pub mod reports;
pub mod room;
pub mod rules;
pub mod tell;
mod verdict;

pub use verdict::*;
