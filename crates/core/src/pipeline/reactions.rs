//! Reactions that cross a link: the people's reactions on every copy of a message are tallied
//! per room, and the bot shows on each copy the keys reacted with on the others (as far as the
//! link's rules let reactions cross between those sides and the target platform takes them).
//!
//! The tallies live in the store (`store::reactions`); the link worker updates them
//! (`link/reactions.rs`) and queues a `Reactions` job for each room concerned; the job
//! (`outbox/reactions.rs`) compares [`wanted`] with what the bot shows there and adds or
//! removes the difference. Only the bot reacts on the other side: no reactor's name crosses.

use crate::moderation::rules::{Rules, Side};
use crate::store::reactions::ReactionRecord;
use civicbridge_api::{ReactionKeys, RoomRef};

/// At most this many characters of a reaction key are kept: a key is an emoji or a short word.
pub const MAX_KEY_CHARS: usize = 32;

/// A reaction key made safe to store and show: control, bidi and line characters removed, cut
/// at [`MAX_KEY_CHARS`] on a grapheme boundary. Joiners and variation selectors stay: they are
/// part of emoji. An empty result means the reaction is ignored.
pub fn clean_key(key: &str) -> String {
    use unicode_segmentation::UnicodeSegmentation;
    let kept: String = key
        .chars()
        .filter(|c| {
            !c.is_control() && !is_bidi_control(*c) && !matches!(c, '\u{2028}' | '\u{2029}')
        })
        .collect();
    let mut out = String::new();
    let mut chars = 0;
    for g in kept.trim().graphemes(true) {
        chars += g.chars().count();
        if chars > MAX_KEY_CHARS {
            break;
        }
        out.push_str(g);
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The keys the bot should show on the message in `target`, most reacted first.
///
/// Every key people reacted with on the message's other rooms counts, where reactions from that
/// room's side may cross to `target`'s side (`Rules::reactions_cross`), written as the target
/// platform takes it (`ReactionKeys::admit`: others are dropped), unless that platform refused
/// it before. A key counts each person once per room; the same key from several rooms adds up.
/// At most `max` keys (a Telegram bot shows one: the most frequent, the earliest on a tie).
/// Reactions made in `target` itself are already visible there and are not repeated.
pub fn wanted(
    rec: &ReactionRecord,
    target: &RoomRef,
    side_of: impl Fn(&RoomRef) -> Option<Side>,
    rules: &Rules,
    keys: ReactionKeys,
    max: Option<usize>,
) -> Vec<String> {
    let Some(to) = side_of(target) else {
        return Vec::new();
    };
    let refused: &[String] = rec.room(target).map_or(&[], |r| &r.refused);
    let mut tally: Vec<(String, usize)> = Vec::new();
    for room in rec.rooms.iter().filter(|r| &r.room != target) {
        let Some(from) = side_of(&room.room) else {
            continue;
        };
        if !rules.reactions_cross(from, to) {
            continue;
        }
        for key in room.keys() {
            let n = room.count(key);
            let Some(key) = keys.admit(key).filter(|_| n > 0) else {
                continue;
            };
            if refused.contains(&key) {
                continue;
            }
            match tally.iter_mut().find(|(k, _)| *k == key) {
                Some((_, total)) => *total += n,
                None => tally.push((key, n)),
            }
        }
    }
    // Stable: equal counts keep the order first seen.
    tally.sort_by_key(|t| std::cmp::Reverse(t.1));
    let mut out: Vec<String> = tally.into_iter().map(|(k, _)| k).collect();
    if let Some(max) = max {
        out.truncate(max);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reactions::Reaction;
    use civicbridge_api::{LinkId, MirrorId, Platform, ReactionCount, UserKey};

    const T: Platform = Platform::new("telegram");
    const M: Platform = Platform::new("matrix");
    const D: Platform = Platform::new("discord");

    fn staff() -> RoomRef {
        RoomRef::new(M, "!staff")
    }
    fn tg() -> RoomRef {
        RoomRef::new(T, "-100")
    }
    fn dc() -> RoomRef {
        RoomRef::new(D, "42")
    }
    fn side(r: &RoomRef) -> Option<Side> {
        match r.platform.as_str() {
            "matrix" => Some(Side::Staff),
            "telegram" | "discord" => Some(Side::Public),
            _ => None,
        }
    }
    fn react(rec: &mut ReactionRecord, room: RoomRef, who: &str, key: &str) {
        rec.room_mut(&room).people.push(Reaction {
            key: key.into(),
            by: UserKey::new(room.platform, civicbridge_api::RemoteUserId::new(who)),
            id: None,
        });
    }
    fn record() -> ReactionRecord {
        ReactionRecord::new(MirrorId(1), LinkId::new("l"))
    }
    const TELEGRAM: ReactionKeys = ReactionKeys::Only(&["👍", "❤", "🔥"]);

    #[test]
    fn staff_reactions_show_on_public_copies_and_public_ones_stay_out_of_staff_rooms_by_default() {
        let mut rec = record();
        react(&mut rec, staff(), "@a", "👍");
        react(&mut rec, tg(), "1", "🔥");
        let rules = Rules::default();
        assert_eq!(
            wanted(&rec, &tg(), side, &rules, ReactionKeys::Any, None),
            vec!["👍"]
        );
        assert_eq!(
            wanted(&rec, &dc(), side, &rules, ReactionKeys::Any, None),
            vec!["👍", "🔥"],
            "public to public follows `reactions`"
        );
        assert!(wanted(&rec, &staff(), side, &rules, ReactionKeys::Any, None).is_empty());
        let open = Rules {
            reactions_public_to_staff: crate::moderation::rules::ReactionPolicy::Auto,
            ..Rules::default()
        };
        assert_eq!(
            wanted(&rec, &staff(), side, &open, ReactionKeys::Any, None),
            vec!["🔥"]
        );
        let closed = Rules {
            reactions: crate::moderation::rules::ReactionPolicy::Off,
            ..Rules::default()
        };
        assert!(wanted(&rec, &tg(), side, &closed, ReactionKeys::Any, None).is_empty());
    }

    #[test]
    fn a_telegram_bot_shows_the_most_frequent_key_it_may_use() {
        let mut rec = record();
        react(&mut rec, staff(), "@a", "👀");
        react(&mut rec, staff(), "@b", "👀");
        react(&mut rec, staff(), "@c", "👀");
        react(&mut rec, staff(), "@a", "❤️");
        react(&mut rec, dc(), "7", "🔥");
        react(&mut rec, dc(), "8", "❤️");
        let rules = Rules::default();
        // 👀 is not in the set; ❤️ is written as the set writes it, and counts 2 over 🔥's 1.
        assert_eq!(
            wanted(&rec, &tg(), side, &rules, TELEGRAM, Some(1)),
            vec!["❤"]
        );
        assert_eq!(
            wanted(&rec, &tg(), side, &rules, TELEGRAM, None),
            vec!["❤", "🔥"]
        );
    }

    #[test]
    fn anonymous_counts_add_up_without_the_bots_own_and_refused_keys_are_not_tried_again() {
        let mut rec = record();
        let room = rec.room_mut(&tg());
        room.counted = vec![
            ReactionCount {
                key: "🔥".into(),
                count: 3,
            },
            ReactionCount {
                key: "👍".into(),
                count: 1,
            },
        ];
        room.shown = vec!["👍".into()];
        room.counted_shown = vec!["👍".into()];
        let rules = Rules::default();
        assert_eq!(
            wanted(&rec, &dc(), side, &rules, ReactionKeys::Any, None),
            vec!["🔥"],
            "the only 👍 is the bot's own"
        );
        rec.room_mut(&dc()).refused.push("🔥".into());
        assert!(wanted(&rec, &dc(), side, &rules, ReactionKeys::Any, None).is_empty());
    }

    #[test]
    fn rooms_no_longer_in_the_link_count_for_nothing() {
        let mut rec = record();
        react(&mut rec, RoomRef::new(M, "!gone"), "@a", "👍");
        let side = |r: &RoomRef| (r != &RoomRef::new(M, "!gone")).then_some(Side::Staff);
        assert!(wanted(
            &rec,
            &staff(),
            side,
            &Rules::default(),
            ReactionKeys::Any,
            None
        )
        .is_empty());
    }

    #[test]
    fn keys_lose_control_and_bidi_characters_and_stay_short() {
        assert_eq!(clean_key(" 👍\u{202e}\n "), "👍");
        assert_eq!(clean_key("👨‍👩‍👧"), "👨‍👩‍👧", "joiners are part of the emoji");
        assert_eq!(clean_key("❤️"), "❤️", "so are variation selectors");
        assert_eq!(clean_key(&"a".repeat(1000)).chars().count(), MAX_KEY_CHARS);
        assert_eq!(clean_key("\u{0}\u{7}"), "");
    }
}
