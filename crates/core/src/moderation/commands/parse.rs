//! Parsing moderator commands. Pure: text in, a [`Command`] or a short usage line out.

use super::Command;
use crate::moderation::approval::ItemRef;
use crate::moderation::commands::takedown::Target;
use crate::moderation::rules::Side;
use crate::store::LinkRoom;
use civicbridge_api::{LinkId, MirrorId, PendingId, RemoteMsgId, RoomRef, UserKey};

/// One line per command, for `!help` and usage replies.
pub const HELP: &str = "\
Commands (moderation room):
!approve ID… — send held items (ID as on its card: #12, or #12v2 once its author edited it; several: #3 #4 #7, or #3-#9); ✅ on the card does the same
!reject ID… [reason] — drop held items; the reason is one of the link's codes (!reasons), optionally followed by your words, or your words alone; ❌ on the card does the same
!reasons — the link's reasons and their codes
!edit ID TEXT — send a held item with TEXT instead (the original stays in the audit log)
!claim ID — take a held item so the other moderators leave it to you (for the link's claim_minutes); 🙋 on the card does the same
!release ID — give up your claim (admins: anyone's)
!dismiss mN — the reports on message mN were unfounded (copies hidden because of them are sent again); ❌ on the report card does the same. ✅ on it, or !takedown mN, takes the message down
!note WHO [TEXT] — a private note about a sender, shown on their later cards here (WHO: platform:id, or #12 for the author of a held item); without TEXT, the notes about them
!export WHO — everything the bridge holds about a person on your links, sent to you in a direct message as files (WHO as for !note) (admins)
!takedown WHAT — delete every copy of a bridged message. WHAT is its id (m7, from the decided card), a pending id (#12), a message link (matrix.to, t.me/c/…, discord.com/channels/…), or a message id in one of the link's rooms
!queue — the held items (and anything parked)
!parked — jobs and events the bridge set aside after they failed (dead letters)
!retry ID — run a parked item (ID as listed, e.g. P3) again (admins)
!drop ID — remove a parked item for good (admins)
!rules [LINK] — a link's rules
!set LINK KEY VALUE — change a rule (admins)
!set --dry-run LINK KEY VALUE — what the change would have done to the link's recent messages; changes nothing
!link NAME SIDE=ROOM SIDE=ROOM… — create link NAME (moderated from this room), or change its rooms; SIDE is staff or public, ROOM platform:id, e.g. !link library staff=matrix:!abc:example.org public=telegram:-1001234 (admins)
!unlink NAME — stop a link; its rooms no longer cross (admins)
!rooms — the rooms of the links moderated here, by name and id
!pause LINK / !resume LINK — copies on the link wait in the outbox until resumed (admins)
!trust USER [LINK] / !block USER [LINK] — USER as platform:id, e.g. telegram:42 (admins)
!audit [N] — the last N audit entries (default 10)
!weblogin — a link that signs you in to the web console, sent to you in a direct message (once, for 5 minutes)
!help — this text
In a staff room, as a reply in a thread (or a reply to its first message): !publish asks the moderators to publish the thread; !unpublish stops it crossing.";

/// Whom `!note` or `!export` is about: `platform:id`, or the author of a held item (`#12`).
fn about(word: &str) -> Option<super::notes::About> {
    match (word.parse::<UserKey>(), word.parse::<ItemRef>()) {
        (Ok(u), _) => Some(super::notes::About::User(u)),
        (_, Ok(i)) => Some(super::notes::About::Item(i)),
        _ => None,
    }
}

/// The most items one `!approve` or `!reject` decides: a backlog is worked through in pages, and
/// a mistyped range (`#1-#99999`) must not decide a month of items at once.
pub const MAX_ITEMS_AT_ONCE: usize = 50;

/// The held items named at the start of `words` (`#3`, `#3v2`, `#3-#9`, `#3-9`), each once, in
/// order, and how many words named them. `Err(None)`: none; `Err(Some(why))`: too many, or a
/// range backwards.
fn item_refs(words: &[&str]) -> Result<(Vec<ItemRef>, usize), Option<String>> {
    let mut ids: Vec<ItemRef> = Vec::new();
    let mut used = 0;
    let too_many = || {
        Some(format!(
            "At most {MAX_ITEMS_AT_ONCE} items at once; decide the rest in another command."
        ))
    };
    for (i, w) in words.iter().enumerate() {
        // After the first item, only `#` starts another: `!reject #4 3 times` gives a reason.
        if i > 0 && !w.starts_with('#') {
            break;
        }
        let found: Vec<ItemRef> = if let Ok(one) = w.parse::<ItemRef>() {
            vec![one]
        } else if let Some((a, b)) = w.split_once('-') {
            let (Ok(a), Ok(b)) = (a.parse::<ItemRef>(), b.parse::<ItemRef>()) else {
                break;
            };
            if a.revision.is_some() || b.revision.is_some() {
                break;
            }
            if b.id.0 < a.id.0 {
                return Err(Some(format!("The range {w} runs backwards.")));
            }
            if b.id.0 - a.id.0 >= MAX_ITEMS_AT_ONCE as u64 {
                return Err(too_many());
            }
            (a.id.0..=b.id.0)
                .map(|n| ItemRef::first(PendingId(n)))
                .collect()
        } else {
            break;
        };
        used += 1;
        for r in found {
            if !ids.contains(&r) {
                ids.push(r);
            }
        }
        if ids.len() > MAX_ITEMS_AT_ONCE {
            return Err(too_many());
        }
    }
    if ids.is_empty() {
        return Err(None);
    }
    Ok((ids, used))
}

/// The usage line of one command.
fn usage(verb: &str) -> String {
    let line = HELP
        .lines()
        .find(|l| l.starts_with(&format!("!{verb} ")) || l.starts_with(&format!("!{verb} —")))
        .unwrap_or("");
    let form = line.split(" — ").next().unwrap_or(line);
    format!("usage: {form} (!help lists every command)")
}

/// Parses a message. `None` if it is not a command (does not start with `!`);
/// `Some(Err(usage))` if it is one but malformed or unknown.
pub fn parse(text: &str) -> Option<Result<Command, String>> {
    let text = text.trim();
    let rest = text.strip_prefix('!')?;
    let (verb, args) = match rest.split_once(char::is_whitespace) {
        Some((v, a)) => (v, a.trim()),
        None => (rest, ""),
    };
    let verb = verb.to_lowercase();
    let words: Vec<&str> = args.split_whitespace().collect();
    let bad = || Err(usage(&verb));
    Some(match verb.as_str() {
        "approve" => match item_refs(&words) {
            Ok((ids, n)) if n == words.len() => Ok(Command::Approve(ids)),
            Err(Some(e)) => Err(e),
            _ => bad(),
        },
        "reject" => match item_refs(&words) {
            Ok((ids, n)) => {
                let reason = after_words(args, n);
                Ok(Command::Reject(
                    ids,
                    (!reason.is_empty()).then(|| reason.to_owned()),
                ))
            }
            Err(Some(e)) => Err(e),
            Err(None) => bad(),
        },
        "reasons" if words.is_empty() => Ok(Command::Reasons),
        "edit" => match words.first().map(|w| w.parse::<ItemRef>()) {
            Some(Ok(id)) if words.len() > 1 => {
                Ok(Command::Edit(id, args[words[0].len()..].trim().to_owned()))
            }
            _ => bad(),
        },
        "note" => match words.first().and_then(|w| about(w)) {
            Some(a) => {
                let text = after_words(args, 1);
                Ok(Command::Note(a, (!text.is_empty()).then(|| text.to_owned())))
            }
            None => bad(),
        },
        "export" => match words.as_slice() {
            [who] => match about(who) {
                Some(a) => Ok(Command::Export(a)),
                None => bad(),
            },
            _ => bad(),
        },
        "dismiss" => match words.as_slice() {
            [m] => match target(m) {
                Some(Target::Mirror(id)) => Ok(Command::Dismiss(id)),
                _ => bad(),
            },
            _ => bad(),
        },
        "claim" | "release" => match words.as_slice() {
            [id] => match id.parse::<ItemRef>() {
                Ok(id) if verb == "claim" => Ok(Command::Claim(id)),
                Ok(id) => Ok(Command::Release(id)),
                Err(_) => bad(),
            },
            _ => bad(),
        },
        "takedown" => match words.as_slice() {
            [what] => target(what)
                .map(Command::Takedown)
                .ok_or_else(|| usage(&verb)),
            _ => bad(),
        },
        "publish" if words.is_empty() => Ok(Command::Publish),
        "unpublish" if words.is_empty() => Ok(Command::Unpublish),
        "queue" if words.is_empty() => Ok(Command::Queue),
        "rules" => match words.as_slice() {
            [] => Ok(Command::Rules(None)),
            [link] => Ok(Command::Rules(Some(LinkId::new(*link)))),
            _ => bad(),
        },
        // `paused` is a rule like any other: stored, audited, seeded by the config.
        "pause" | "resume" => match words.as_slice() {
            [link] => Ok(Command::Set {
                link: LinkId::new(*link),
                key: "paused".into(),
                value: (verb == "pause").to_string(),
            }),
            _ => bad(),
        },
        "set" => match words.as_slice() {
            ["--dry-run", link, key, _, ..] => Ok(Command::DryRun {
                link: LinkId::new(*link),
                key: (*key).to_owned(),
                value: after_words(args, 3).to_owned(),
            }),
            [link, key, _, ..] if *link != "--dry-run" => {
                // Everything after the second word (a link named like the key once took the
                // key's first occurrence: `!set _ _ a` read the value as `_ a`).
                let value = after_words(args, 2);
                Ok(Command::Set {
                    link: LinkId::new(*link),
                    key: (*key).to_owned(),
                    value: value.to_owned(),
                })
            }
            _ => bad(),
        },
        "trust" | "block" => match words.as_slice() {
            [user] | [user, _] => match user.parse::<UserKey>() {
                Ok(user) => {
                    let link = words.get(1).map(|l| LinkId::new(*l));
                    Ok(if verb == "trust" {
                        Command::Trust(user, link)
                    } else {
                        Command::Block(user, link)
                    })
                }
                Err(_) => bad(),
            },
            _ => bad(),
        },
        "audit" => match words.as_slice() {
            [] => Ok(Command::Audit(10)),
            [n] => match n.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => Ok(Command::Audit(n)),
                _ => Err("usage: !audit [N] with N from 1 to 100".to_owned()),
            },
            _ => bad(),
        },
        "link" => match words.as_slice() {
            [name, rooms @ ..] if rooms.len() >= 2 => link(name, rooms),
            [_, ..] => Err("usage: a link joins at least two rooms: !link NAME SIDE=ROOM SIDE=ROOM… (!help lists every command)".to_owned()),
            _ => bad(),
        },
        "unlink" => match words.as_slice() {
            [name] => link_name(name).map(Command::Unlink),
            _ => bad(),
        },
        "parked" if words.is_empty() => Ok(Command::Parked),
        "rooms" if words.is_empty() => Ok(Command::Rooms),
        "weblogin" if words.is_empty() => Ok(Command::WebLogin),
        "retry" | "drop" => match words.as_slice() {
            [id] => match id.parse() {
                Ok(id) if verb == "retry" => Ok(Command::Retry(id)),
                Ok(id) => Ok(Command::Drop(id)),
                Err(_) => bad(),
            },
            _ => bad(),
        },
        "help" => Ok(Command::Help),
        "publish" | "unpublish" | "queue" | "parked" | "rooms" | "weblogin" => bad(),
        _ => Err(format!(
            "unknown command `!{verb}`; !help lists the commands"
        )),
    })
}

/// The most rooms one `!link` may join.
const MAX_LINK_ROOMS: usize = 32;

/// The longest room id `!link` takes.
const MAX_ROOM_ID_BYTES: usize = 255;

fn link_name(name: &str) -> Result<LinkId, String> {
    if LinkId::is_valid_name(name) {
        Ok(LinkId::new(name))
    } else {
        Err(format!(
            "`{}` cannot name a link: use letters, digits, - and _ only, at most {}",
            shown(name),
            LinkId::MAX_NAME_LEN
        ))
    }
}

/// `!link NAME SIDE=ROOM…`: each room as `staff=platform:id` or `public=platform:id`.
fn link(name: &str, words: &[&str]) -> Result<Command, String> {
    let link = link_name(name)?;
    if words.len() > MAX_LINK_ROOMS {
        return Err(format!("a link joins at most {MAX_LINK_ROOMS} rooms"));
    }
    let mut rooms: Vec<LinkRoom> = Vec::new();
    for w in words {
        let Some((side, room)) = w.split_once('=') else {
            return Err(format!(
                "`{}`: write each room as staff=platform:id or public=platform:id",
                shown(w)
            ));
        };
        let side = match side.to_ascii_lowercase().as_str() {
            "staff" => Side::Staff,
            "public" => Side::Public,
            _ => return Err(format!("`{}`: the side is staff or public", shown(side))),
        };
        let room: RoomRef = room.parse().map_err(|e: String| shown(&e))?;
        // Matrix room ids are at most 255 bytes, and the other platforms' far shorter: a
        // longer one is a mistake, and would be stored and repeated in every notice.
        if room.room.as_str().len() > MAX_ROOM_ID_BYTES {
            return Err(format!(
                "`{}…`: a room id is at most {MAX_ROOM_ID_BYTES} bytes",
                shown(room.room.as_str())
            ));
        }
        if rooms.iter().any(|r| r.room == room) {
            return Err(format!("room {} is named twice", shown(&room.to_string())));
        }
        rooms.push(LinkRoom { room, side });
    }
    Ok(Command::Link { link, rooms })
}

/// Someone's text quoted back in a reply: bounded, on one line.
fn shown(s: &str) -> String {
    civicbridge_api::names::normalize(s, 80)
}

/// `s` after its first `n` white-space separated words, trimmed.
fn after_words(s: &str, n: usize) -> &str {
    let mut rest = s.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest.trim_end()
}

/// What `!takedown` accepts; see [`HELP`].
pub fn target(s: &str) -> Option<Target> {
    let s = s.trim().trim_matches(|c| c == '<' || c == '>');
    if let Some(rest) = s.strip_prefix('m') {
        if let Ok(n) = rest.parse::<u64>() {
            return Some(Target::Mirror(MirrorId(n)));
        }
    }
    if s.starts_with('#') {
        return s.parse::<PendingId>().ok().map(Target::Pending);
    }
    if s.contains("://") {
        // A link to a message, in whatever form its platform writes them: read by the
        // platforms' factories when the command runs.
        return Some(Target::Link(s.to_owned()));
    }
    // A bare message id in one of the link's rooms.
    (!s.is_empty() && !s.contains('/')).then(|| Target::Message {
        platform: None,
        room: None,
        msg: RemoteMsgId::new(s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use civicbridge_api::Platform;

    #[test]
    fn decisions() {
        assert_eq!(parse("hello"), None);
        assert_eq!(
            parse("!approve #3"),
            Some(Ok(Command::Approve(vec![ItemRef::first(PendingId(3))])))
        );
        assert_eq!(
            parse("  !APPROVE 3 "),
            Some(Ok(Command::Approve(vec![ItemRef::first(PendingId(3))])))
        );
        assert_eq!(
            parse("!approve #3v2"),
            Some(Ok(Command::Approve(vec![ItemRef {
                id: PendingId(3),
                revision: Some(2)
            }])))
        );
        assert_eq!(
            parse("!reject 4 off topic, sorry"),
            Some(Ok(Command::Reject(
                vec![ItemRef::first(PendingId(4))],
                Some("off topic, sorry".into())
            )))
        );
        assert_eq!(
            parse("!reject #4"),
            Some(Ok(Command::Reject(
                vec![ItemRef::first(PendingId(4))],
                None
            )))
        );
        assert_eq!(
            parse("!edit #5 Is the hall free on Friday?"),
            Some(Ok(Command::Edit(
                ItemRef::first(PendingId(5)),
                "Is the hall free on Friday?".into()
            )))
        );
        for bad in [
            "!approve",
            "!approve x",
            "!approve 1 2",
            "!approve #1v",
            "!approve #1v0",
            "!edit #5",
            "!reject",
        ] {
            let e = parse(bad).unwrap().unwrap_err();
            assert!(e.starts_with("usage: !"), "{bad}: {e}");
        }
        assert!(parse("!approve")
            .unwrap()
            .unwrap_err()
            .contains("!approve ID"));
    }

    #[test]
    fn several_items_at_once() {
        let ids = |ns: &[u64]| {
            ns.iter()
                .map(|n| ItemRef::first(PendingId(*n)))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            parse("!approve #3 #4 #7"),
            Some(Ok(Command::Approve(ids(&[3, 4, 7]))))
        );
        assert_eq!(
            parse("!approve #3-#6 #5 #9v2"),
            Some(Ok(Command::Approve(
                ids(&[3, 4, 5, 6])
                    .into_iter()
                    .chain([ItemRef {
                        id: PendingId(9),
                        revision: Some(2)
                    }])
                    .collect()
            ))),
            "ranges, each item once, revisions kept"
        );
        assert_eq!(
            parse("!reject #3-9 spam again"),
            Some(Ok(Command::Reject(
                ids(&[3, 4, 5, 6, 7, 8, 9]),
                Some("spam again".into())
            )))
        );
        // After the first item only `#` starts another, so a reason may begin with a number.
        assert_eq!(
            parse("!reject #4 3 times now"),
            Some(Ok(Command::Reject(ids(&[4]), Some("3 times now".into()))))
        );
        let limit = parse("!approve #1-#51").unwrap().unwrap_err();
        assert!(limit.contains("At most 50"), "{limit}");
        let limit = parse("!reject #1-#18446744073709551615")
            .unwrap()
            .unwrap_err();
        assert!(limit.contains("At most 50"), "{limit}");
        let many: String = (1..=51).map(|n| format!(" #{n}")).collect();
        assert!(parse(&format!("!approve{many}")).unwrap().is_err());
        let backwards = parse("!approve #9-#3").unwrap().unwrap_err();
        assert!(backwards.contains("backwards"), "{backwards}");
        assert!(
            parse("!approve #3-#4v2").unwrap().is_err(),
            "no revision in a range"
        );
        assert_eq!(parse("!reasons"), Some(Ok(Command::Reasons)));
        assert_eq!(
            parse(r#"!set --dry-run planning blocked_patterns ["(?i)watch es"]"#),
            Some(Ok(Command::DryRun {
                link: LinkId::new("planning"),
                key: "blocked_patterns".into(),
                value: r#"["(?i)watch es"]"#.into(),
            }))
        );
        assert!(parse("!set --dry-run planning links").unwrap().is_err());
        assert_eq!(
            parse("!claim #12"),
            Some(Ok(Command::Claim(ItemRef::first(PendingId(12)))))
        );
        assert_eq!(
            parse("!release 12"),
            Some(Ok(Command::Release(ItemRef::first(PendingId(12)))))
        );
        assert_eq!(
            parse("!note telegram:42 asked twice already"),
            Some(Ok(Command::Note(
                super::super::notes::About::User("telegram:42".parse().unwrap()),
                Some("asked twice already".into())
            )))
        );
        assert_eq!(
            parse("!note #3"),
            Some(Ok(Command::Note(
                super::super::notes::About::Item(ItemRef::first(PendingId(3))),
                None
            )))
        );
        for bad in [
            "!claim",
            "!claim #1 #2",
            "!release x",
            "!note",
            "!note someone text",
        ] {
            assert!(parse(bad).unwrap().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_other_commands() {
        assert_eq!(parse("!queue"), Some(Ok(Command::Queue)));
        assert_eq!(parse("!publish"), Some(Ok(Command::Publish)));
        assert_eq!(parse("!unpublish"), Some(Ok(Command::Unpublish)));
        assert_eq!(parse("!rules"), Some(Ok(Command::Rules(None))));
        assert_eq!(
            parse("!rules planning"),
            Some(Ok(Command::Rules(Some(LinkId::new("planning")))))
        );
        assert_eq!(
            parse("!set planning public_to_staff { policy = \"auto\" }"),
            Some(Ok(Command::Set {
                link: LinkId::new("planning"),
                key: "public_to_staff".into(),
                value: "{ policy = \"auto\" }".into()
            }))
        );
        assert_eq!(
            parse("!trust telegram:42"),
            Some(Ok(Command::Trust("telegram:42".parse().unwrap(), None)))
        );
        assert_eq!(
            parse("!block matrix:@spam:example.org planning"),
            Some(Ok(Command::Block(
                "matrix:@spam:example.org".parse().unwrap(),
                Some(LinkId::new("planning"))
            )))
        );
        assert!(parse("!trust 42").unwrap().is_err(), "needs platform:id");
        assert_eq!(parse("!audit"), Some(Ok(Command::Audit(10))));
        assert_eq!(parse("!audit 3"), Some(Ok(Command::Audit(3))));
        assert!(parse("!audit 0").unwrap().is_err());
        assert!(parse("!set planning").unwrap().is_err());
        for (text, value) in [("!pause planning", "true"), ("!RESUME planning", "false")] {
            assert_eq!(
                parse(text),
                Some(Ok(Command::Set {
                    link: LinkId::new("planning"),
                    key: "paused".into(),
                    value: value.into(),
                })),
                "{text}"
            );
        }
        assert!(parse("!pause").unwrap().is_err());
        assert!(parse("!pause planning other").unwrap().is_err());
        assert!(parse("!queue now").unwrap().is_err());
        assert_eq!(parse("!help"), Some(Ok(Command::Help)));
        let e = parse("!dance").unwrap().unwrap_err();
        assert!(e.contains("unknown command `!dance`"), "{e}");
    }

    #[test]
    fn takedown_targets() {
        let msg = |p, room: Option<(Platform, &str)>, m: &str| Target::Message {
            platform: p,
            room: room.map(|(p, r)| civicbridge_api::RoomRef::new(p, r)),
            msg: RemoteMsgId::new(m),
        };
        assert_eq!(target("m7"), Some(Target::Mirror(MirrorId(7))));
        assert_eq!(target("#3"), Some(Target::Pending(PendingId(3))));
        assert_eq!(
            target("<https://t.me/c/1234567890/45>"),
            Some(Target::Link("https://t.me/c/1234567890/45".into())),
            "links are the platforms' to read, when the command runs"
        );
        assert_eq!(
            target("chat://room/7"),
            Some(Target::Link("chat://room/7".into())),
            "whatever their scheme"
        );
        assert_eq!(target("$ev1"), Some(msg(None, None, "$ev1")));
        assert!(parse("!takedown").unwrap().is_err());
    }
}

#[cfg(test)]
mod fuzz {
    //! The command and message-link parsers on hostile input, under the workspace's proptest
    //! configuration (fixed seed in CI; `civicbridge_api::testing::fuzz_config`).
    use super::*;
    use civicbridge_api::testing::fuzz_config;
    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = String> {
        "[a-z_0-9]{1,10}"
    }

    proptest! {
        #![proptest_config(fuzz_config(512))]

        /// Any text: no panic; a text without `!` is never a command; a command's usage reply
        /// is one short line.
        #[test]
        fn fuzz_command_parse_anything(s in "(!|#|m|[a-z]{1,8}| |\\n|[0-9]{1,3}|https://|\\PC){0,16}") {
            match parse(&s) {
                None => prop_assert!(!s.trim().starts_with('!')),
                Some(Err(usage)) => prop_assert!(!usage.contains('\n') && usage.len() < 400, "{}", usage),
                Some(Ok(_)) => prop_assert!(s.trim().starts_with('!')),
            }
        }

        /// `!set LINK KEY VALUE` gives back exactly those three, whatever the words contain.
        #[test]
        fn fuzz_command_set_keeps_its_words(link in word(), key in word(), value in "[a-z_0-9 ]{0,20}[a-z0-9]") {
            let got = parse(&format!("!set {link} {key} {value}"));
            prop_assert_eq!(
                got,
                Some(Ok(Command::Set { link: LinkId::new(link.as_str()), key: key.clone(), value: value.trim().to_owned() }))
            );
        }

        /// `!reject ID REASON` and `!edit ID TEXT` keep the rest of the line exactly.
        #[test]
        fn fuzz_command_reject_and_edit_keep_the_rest(id in 1u64..100_000, rest in "[a-zA-Z0-9#!é ]{0,30}[a-z]") {
            let reason = rest.trim().to_owned();
            prop_assert_eq!(
                parse(&format!("!reject #{id} {rest}")),
                Some(Ok(Command::Reject(vec![ItemRef::first(PendingId(id))], Some(reason.clone()))))
            );
            prop_assert_eq!(parse(&format!("!edit {id} {rest}")), Some(Ok(Command::Edit(ItemRef::first(PendingId(id)), reason))));
        }

        /// Any string as a `!takedown` target: no panic.
        #[test]
        fn fuzz_message_link_anything(s in "(https?://|matrix\\.to/#/|t\\.me/c/|discord\\.com/channels/|[/!$%@:?#]|[0-9]{1,4}|[a-z]{1,5}|\\PC){0,12}") {
            let _ = target(&s);
        }
    }
}
