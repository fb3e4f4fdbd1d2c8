//! `RichText` ⇄ Discord markdown, both directions.
//!
//! Outbound ([`render`], with [`escape`] and [`escape_into`] for literal text, in `render`):
//! anything a resident typed arrives as the characters they typed, never as markup or a ping.
//! Inbound ([`parse`], in `parse`): the markdown Discord users write becomes the small `RichText`
//! tree, bounded in depth whatever the message says. Both read a bare URL where Discord's
//! autolinker ends it.

mod parse;
mod render;
mod scan;

pub use civicbridge_api::rich_text::normalize;
pub use parse::{parse, NameOf};
pub use render::{escape, escape_into, render};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
