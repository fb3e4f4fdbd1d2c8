//! The reactions a bot may set on Telegram: the emoji a `ReactionTypeEmoji` may carry, as the
//! Bot API reference lists them and spells them (some without the U+FE0F the Unicode emoji
//! list gives them: `❤`, `☃`, `✍`, `🕊`; the core's `ReactionKeys::admit` matches either way
//! and sends this spelling). Telegram refuses any other emoji with `REACTION_INVALID`.

/// Telegram's fixed reaction set (<https://core.telegram.org/bots/api#reactiontypeemoji>).
pub const TELEGRAM_REACTIONS: &[&str] = &[
    "👍",
    "👎",
    "❤",
    "🔥",
    "🥰",
    "👏",
    "😁",
    "🤔",
    "🤯",
    "😱",
    "🤬",
    "😢",
    "🎉",
    "🤩",
    "🤮",
    "💩",
    "🙏",
    "👌",
    "🕊",
    "🤡",
    "🥱",
    "🥴",
    "😍",
    "🐳",
    "❤‍🔥",
    "🌚",
    "🌭",
    "💯",
    "🤣",
    "⚡",
    "🍌",
    "🏆",
    "💔",
    "🤨",
    "😐",
    "🍓",
    "🍾",
    "💋",
    "🖕",
    "😈",
    "😴",
    "😭",
    "🤓",
    "👻",
    "👨‍💻",
    "👀",
    "🎃",
    "🙈",
    "😇",
    "😨",
    "🤝",
    "✍",
    "🤗",
    "🫡",
    "🎅",
    "🎄",
    "☃",
    "💅",
    "🤪",
    "🗿",
    "🆒",
    "💘",
    "🙉",
    "🦄",
    "😘",
    "💊",
    "🙊",
    "😎",
    "👾",
    "🤷‍♂",
    "🤷",
    "🤷‍♀",
    "😡",
];

#[cfg(test)]
mod tests {
    use super::TELEGRAM_REACTIONS;
    use civicbridge_api::ReactionKeys;

    #[test]
    fn the_set_is_the_references_and_admits_variation_selectors() {
        assert_eq!(TELEGRAM_REACTIONS.len(), 73);
        let keys = ReactionKeys::Only(TELEGRAM_REACTIONS);
        assert_eq!(keys.admit("❤️").as_deref(), Some("❤"), "U+FE0F is ignored");
        assert_eq!(keys.admit("👍").as_deref(), Some("👍"));
        assert_eq!(keys.admit("🦀"), None, "not in Telegram's set");
        let mut sorted = TELEGRAM_REACTIONS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), TELEGRAM_REACTIONS.len(), "no duplicates");
    }
}
