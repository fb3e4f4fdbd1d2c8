//! A message's way through the bridge, in the order it travels: the [`router`] takes every
//! inbound event (echo guard, hardening) to its link's worker; the [`link`] worker decides each
//! event inside one store transaction and writes the jobs; [`render`] shapes a copy for one
//! target room; the [`outbox`] sends, edits and deletes, one ordered lane per target room, with
//! retries by error kind; [`dead_letter`] sets aside what cannot make progress so the rest of
//! its room keeps moving.

pub mod dead_letter;
pub mod link;
pub mod outbox;
pub mod reactions;
pub mod render;
pub mod router;
