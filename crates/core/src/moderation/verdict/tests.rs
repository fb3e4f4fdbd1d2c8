//! The decision table of `evaluate` and `evaluate_edit`, case by case.

use super::*;
use crate::moderation::rules::DirectionRule;
use civicbridge_api::{Attachment, AttachmentKind};

fn rules(f: impl FnOnce(&mut Rules)) -> CompiledRules {
    let mut r = Rules {
        links: LinkPolicy::Allow,
        staff_to_public: DirectionRule::new(Policy::Auto),
        public_to_staff: DirectionRule::new(Policy::Auto),
        ..Rules::default()
    };
    f(&mut r);
    CompiledRules::new(r).expect("patterns compile")
}

fn key(s: &str) -> UserKey {
    s.parse().unwrap()
}

fn cand<'a>(m: &'a Message, from: Side, to: Side) -> Candidate<'a> {
    Candidate {
        from,
        to,
        message: m,
        sender: Box::leak(Box::new(key("telegram:1"))),
        thread: ThreadState::None,
        reply_to_unbridged: false,
        since_last_ms: None,
    }
}

fn msg(text: &str) -> Message {
    Message::text("1", text)
}

#[test]
fn direction_policies_decide_plain_messages() {
    let m = msg("hello");
    let r = rules(|r| r.staff_to_public.policy = Policy::Approve);
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Staff, Side::Public)),
        Verdict::Hold(HoldReason::Policy {
            from: Side::Staff,
            to: Side::Public
        })
    );
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Forward
    );
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Public)),
        Verdict::Drop(DropReason::DirectionOff {
            from: Side::Public,
            to: Side::Public
        })
    );
}

#[test]
fn approved_threads_scope() {
    let m = msg("reply");
    let r = rules(|r| {
        r.staff_to_public = DirectionRule {
            policy: Policy::Approve,
            scope: Scope::ApprovedThreads,
            in_thread: Some(Policy::Auto),
        }
    });
    let mut c = cand(&m, Side::Staff, Side::Public);
    assert!(
        matches!(evaluate(&r, &c), Verdict::Hold(HoldReason::Policy { .. })),
        "a new root is held"
    );
    c.thread = ThreadState::Published;
    assert_eq!(
        evaluate(&r, &c),
        Verdict::Forward,
        "replies in an approved thread follow in_thread"
    );
    c.thread = ThreadState::Unpublished;
    assert_eq!(
        evaluate(&r, &c),
        Verdict::Hold(HoldReason::ThreadNotPublished)
    );
}

#[test]
fn on_request_scope_relays_only_published_threads_and_holds_nothing() {
    let m = msg("internal chat");
    let r = rules(|r| {
        r.staff_to_public = DirectionRule {
            policy: Policy::Approve,
            scope: Scope::OnRequest,
            in_thread: Some(Policy::Auto),
        }
    });
    let mut c = cand(&m, Side::Staff, Side::Public);
    assert_eq!(evaluate(&r, &c), Verdict::Drop(DropReason::NotPublished));
    c.thread = ThreadState::Unpublished;
    assert_eq!(evaluate(&r, &c), Verdict::Drop(DropReason::NotPublished));
    c.thread = ThreadState::Published;
    assert_eq!(evaluate(&r, &c), Verdict::Forward);
    c.thread = ThreadState::Stopped;
    assert_eq!(evaluate(&r, &c), Verdict::Drop(DropReason::NotPublished));
}

#[test]
fn edits_follow_the_policy_their_message_crossed_under() {
    let r = rules(|r| {
        r.public_to_staff.policy = Policy::Approve;
        r.public_to_public.policy = Policy::Approve;
    });
    for to in [Side::Staff, Side::Public] {
        assert_eq!(
            evaluate_edit(
                &r,
                Side::Public,
                to,
                false,
                &key("telegram:1"),
                &msg("fixed")
            ),
            Verdict::Hold(HoldReason::Edit),
            "public to {to:?}"
        );
    }
    assert_eq!(
        evaluate_edit(
            &r,
            Side::Staff,
            Side::Public,
            false,
            &key("matrix:@s"),
            &msg("fixed")
        ),
        Verdict::Forward,
        "staff to public is auto here"
    );
    let r = rules(|r| {
        r.public_to_public.policy = Policy::Approve;
        r.edits = crate::moderation::rules::EditPolicy::Auto;
    });
    assert_eq!(
        evaluate_edit(
            &r,
            Side::Public,
            Side::Public,
            false,
            &key("telegram:1"),
            &msg("fixed")
        ),
        Verdict::Forward,
        "an explicit setting overrides"
    );
}

#[test]
fn a_blocked_authors_edits_and_empty_edits_never_follow() {
    let r = rules(|r| r.blocked = vec!["telegram:1".parse().unwrap()]);
    assert_eq!(
        evaluate_edit(
            &r,
            Side::Public,
            Side::Staff,
            false,
            &key("telegram:1"),
            &msg("now rude")
        ),
        Verdict::Drop(DropReason::BlockedSender)
    );
    let r = rules(|_| {});
    assert_eq!(
        evaluate_edit(
            &r,
            Side::Public,
            Side::Staff,
            false,
            &key("telegram:1"),
            &msg(" \u{200b} ")
        ),
        Verdict::Drop(DropReason::Empty)
    );
}

#[test]
fn empty_and_invisible_messages_are_dropped_but_a_bare_attachment_is_not() {
    let r = rules(|_| {});
    for text in [
        "",
        "   ",
        "\n\t",
        "\u{3164}\u{3164}",
        "\u{200b}\u{2060}",
        "\u{2800}",
        "\u{FFF9}\u{FFFB}",
        "\u{1D173}\u{1BCA0}",
    ] {
        assert_eq!(
            evaluate(&r, &cand(&msg(text), Side::Public, Side::Staff)),
            Verdict::Drop(DropReason::Empty),
            "{text:?}"
        );
    }
    let mut m = msg("");
    m.attachments.push(Attachment {
        kind: AttachmentKind::Image,
        name: "p.jpg".into(),
        mime: None,
        size: Some(10),
        url: "x".into(),
    });
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Forward
    );
    assert_eq!(
        evaluate(&r, &cand(&msg("ok"), Side::Public, Side::Staff)),
        Verdict::Forward
    );
}

#[test]
fn a_huge_slow_mode_saturates_instead_of_overflowing() {
    let r = rules(|r| r.slow_mode_secs = u64::MAX);
    let m = msg("again");
    let mut c = cand(&m, Side::Public, Side::Staff);
    c.since_last_ms = Some(1);
    assert!(matches!(
        evaluate(&r, &c),
        Verdict::Drop(DropReason::SlowMode { .. })
    ));
}

#[test]
fn a_reply_to_something_never_shared_is_held_even_under_auto() {
    let m = msg("reply");
    let r = rules(|_| {});
    let mut c = cand(&m, Side::Public, Side::Staff);
    c.reply_to_unbridged = true;
    assert_eq!(
        evaluate(&r, &c),
        Verdict::Hold(HoldReason::ReplyToUnbridged)
    );
}

#[test]
fn filters() {
    let r = rules(|r| {
        r.blocked_patterns = vec!["(?i)\\bspam\\b".into()];
        r.max_length = Some(10);
        r.links = LinkPolicy::Approve;
    });
    let m = msg("buy SPAM now");
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Drop(DropReason::BlockedPattern("(?i)\\bspam\\b".into()))
    );
    let m = msg("far too long for this link");
    assert!(matches!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Hold(HoldReason::TooLong { len: 26, max: 10 })
    ));
    let m = msg("www.x.org");
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Hold(HoldReason::Links)
    );
    let m = msg("@everyone");
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Hold(HoldReason::MassMention)
    );
    let r = rules(|r| r.links = LinkPolicy::Drop);
    let m = msg("see https://x.org");
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Drop(DropReason::Links)
    );
}

#[test]
fn text_past_the_bridge_limit_is_held_whatever_the_rules() {
    let r = rules(|r| r.max_length = None);
    let m = msg(&"x".repeat(MAX_CHARS + 1));
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Hold(HoldReason::TooLong {
            len: MAX_CHARS + 1,
            max: MAX_CHARS
        })
    );
    let r = rules(|r| r.max_length = Some(MAX_CHARS * 2));
    assert!(matches!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Hold(HoldReason::TooLong { max: MAX_CHARS, .. })
    ));
    // Trusted senders too; under the bridge's limit, the link's own limit is a hold they skip.
    let r = rules(|r| {
        r.max_length = Some(10);
        r.trusted = vec!["telegram:1".parse().unwrap()];
    });
    assert!(matches!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Hold(HoldReason::TooLong { max: 10, .. })
    ));
    assert_eq!(
        evaluate(&r, &cand(&msg("a longer text"), Side::Public, Side::Staff)),
        Verdict::Forward
    );
}

#[test]
fn links_and_mass_mentions_as_platforms_mean_them() {
    let r = rules(|r| r.links = LinkPolicy::Approve);
    for linked in ["see (https://x.org/a)", "log in at evil.example/login"] {
        let m = msg(linked);
        assert_eq!(
            evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
            Verdict::Hold(HoldReason::Links),
            "{linked}"
        );
    }
    let r = rules(|_| {});
    for plain in ["thanks @Allison", "mail bob@heredia.org"] {
        let m = msg(plain);
        assert_eq!(
            evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
            Verdict::Forward,
            "{plain}"
        );
    }
    let mut m = msg("");
    m.text = civicbridge_api::RichText {
        spans: vec![civicbridge_api::Span::GroupMention {
            name: "role".into(),
        }],
    };
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Hold(HoldReason::MassMention)
    );
}

#[test]
fn attachments_by_kind_and_size() {
    let r = rules(|r| r.attachments.max_bytes = 100);
    let mut m = msg("");
    m.attachments.push(Attachment {
        kind: AttachmentKind::Voice,
        name: "v.ogg".into(),
        mime: None,
        size: Some(10),
        url: "x".into(),
    });
    assert!(matches!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Hold(HoldReason::AttachmentKind(_) | HoldReason::AttachmentTooLarge { .. })
    ));
    m.attachments[0].kind = AttachmentKind::Image;
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Forward
    );
    m.attachments[0].size = Some(1000);
    assert!(matches!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Hold(HoldReason::AttachmentKind(_) | HoldReason::AttachmentTooLarge { .. })
    ));
}

#[test]
fn slow_mode_applies_to_public_senders_only() {
    let r = rules(|r| r.slow_mode_secs = 30);
    let m = msg("again");
    let mut c = cand(&m, Side::Public, Side::Staff);
    c.since_last_ms = Some(10_500);
    assert_eq!(
        evaluate(&r, &c),
        Verdict::Drop(DropReason::SlowMode { wait_secs: 20 })
    );
    c.since_last_ms = Some(30_000);
    assert_eq!(evaluate(&r, &c), Verdict::Forward);
    let mut c = cand(&m, Side::Staff, Side::Public);
    c.since_last_ms = Some(1);
    assert_eq!(evaluate(&r, &c), Verdict::Forward);
}

#[test]
fn trusted_senders_skip_holds_but_not_drops_and_blocked_senders_never_cross() {
    let r = rules(|r| {
        r.public_to_staff.policy = Policy::Approve;
        r.trusted = vec!["telegram:1".parse().unwrap()];
        r.blocked_patterns = vec!["spam".into()];
    });
    let m = msg("hello @everyone");
    assert_eq!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Forward
    );
    let m = msg("spam");
    assert!(matches!(
        evaluate(&r, &cand(&m, Side::Public, Side::Staff)),
        Verdict::Drop(_)
    ));
    let r = rules(|r| r.blocked = vec!["telegram:1".parse().unwrap()]);
    assert_eq!(
        evaluate(&r, &cand(&msg("hi"), Side::Public, Side::Staff)),
        Verdict::Drop(DropReason::BlockedSender)
    );
}

#[test]
fn edits_follow_or_return_to_the_queue() {
    let edit = |r: &CompiledRules, text: &str| {
        evaluate_edit(
            r,
            Side::Staff,
            Side::Public,
            false,
            &key("telegram:1"),
            &msg(text),
        )
    };
    let r = rules(|_| {});
    assert_eq!(edit(&r, "fixed"), Verdict::Forward);
    let r = rules(|r| r.edits = crate::moderation::rules::EditPolicy::Approve);
    assert_eq!(edit(&r, "fixed"), Verdict::Hold(HoldReason::Edit));
    let r = rules(|r| r.blocked_patterns = vec!["spam".into()]);
    assert!(matches!(edit(&r, "now spam"), Verdict::Drop(_)));
}
