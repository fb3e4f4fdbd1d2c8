//! `RichText` ⇄ Telegram text with `MessageEntity`s, both directions.
//!
//! Outbound ([`to_telegram`], in `render`), the bot sends plain text plus an explicit entity list
//! and never a `parse_mode`, so no character a person typed can be read as markup: a resident's
//! `<b>` or `*` is sent as those very characters, and nothing needs escaping. Offsets and lengths
//! are in UTF-16 code units, as the Bot API counts them. Consecutive code blocks and quotes are
//! kept apart by a line break (Telegram merges adjacent entities of one kind), and a code block's
//! language is sent only if it is a plain name. [`to_html`] (in `html`) exists for the few places
//! that need markup (it escapes `<`, `>`, `&` and `"`).
//!
//! Inbound ([`from_telegram`], in `parse`), entities become spans (spoilers stay spoilers, both
//! ways); kinds `RichText` has no span for (underline, strikethrough, hashtags, auto-detected
//! URLs, custom emoji) keep their text and lose the styling. Bounded whatever the update says: at
//! most [`MAX_ENTITIES`] entities are read, and entities nested deeper than `PARSE_DEPTH` keep
//! their text only.
//!
//! [`split_to_fit`] (in `split`) cuts a text further when emoji, which count double in UTF-16,
//! push a part past Telegram's limit.

mod html;
mod parse;
mod render;
mod split;

pub use html::to_html;
pub use parse::{from_telegram, MAX_ENTITIES};
pub use render::to_telegram;
pub use split::split_to_fit;

/// UTF-16 length, the unit of Telegram's limits and entity offsets.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

#[cfg(test)]
mod fuzz;
