//! Names, code blocks, links and nesting end to end (issue 13, defects 6–12): a real Synapse
//! (people acting through the client-server API), the local Telegram and Discord servers, and the
//! daemon with its three real connectors. Every assertion is on what a person on each platform
//! sees: the Discord webhook username and what a Discord client shows, the Telegram text and its
//! entities, the Matrix `body` and `formatted_body`.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::world;

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use civicbridge_testkit::telegram::Post;
use serde_json::{json, Value};
use world::{World, WAIT};

/// Characters that must never reach a reader inside a name: bidi controls, zero-width and
/// invisible fillers, line breaks.
const INVISIBLE_OR_CONTROL: &[char] = &[
    '\n', '\r', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
    '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{3164}', '\u{115F}', '\u{1160}',
    '\u{FFA0}', '\u{2800}', '\u{180E}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}',
];

fn clean(s: &str) -> bool {
    !s.contains(INVISIBLE_OR_CONTROL)
}

/// The Discord webhook message whose content satisfies `f`, once it arrived.
async fn on_discord(w: &World, what: &str, f: impl Fn(&str) -> bool) -> world_dc::View {
    wait_until(WAIT, what, || {
        w.discord
            .webhook_messages(w.dc_channel)
            .iter()
            .any(|m| f(&m.content))
    })
    .await;
    w.discord
        .webhook_messages(w.dc_channel)
        .into_iter()
        .find(|m| f(&m.content))
        .unwrap()
}

mod world_dc {
    pub type View = civicbridge_testkit::discord::MessageView;
}

/// The Telegram message the bot posted whose text satisfies `f`, once it arrived.
async fn on_telegram(
    w: &World,
    what: &str,
    f: impl Fn(&str) -> bool,
) -> civicbridge_testkit::telegram::ShownMessage {
    wait_until(WAIT, what, || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| f(&m.text))
    })
    .await;
    w.telegram
        .bot_messages(w.tg_chat)
        .into_iter()
        .find(|m| f(&m.text))
        .unwrap()
}

/// The content of the staff room's message whose body satisfies `f`, once it arrived.
async fn in_staff_room(w: &World, what: &str, f: impl Fn(&str) -> bool) -> Value {
    w.in_staff_room(what, |m| f(&m.body)).await;
    w.staff
        .contents(&w.staff_room)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c["body"].as_str().is_some_and(&f))
        .unwrap()
}

async fn start(
    w: &World,
    rules: Rules,
) -> (
    tempfile::TempDir,
    Store,
    civicbridge_core::ops::daemon::Daemon,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let daemon = w.start(store.clone(), rules).await;
    (dir, store, daemon)
}

/// Defect 6: a resident named `Staff (Matrix)` plus a run of invisible Hangul fillers (U+3164)
/// must not push the real platform label past Discord's 80-character cut.
#[tokio::test]
async fn defect6_invisible_fillers_cannot_push_the_platform_label_out_of_a_discord_name() {
    let w = World::new().await;
    let (_dir, _store, daemon) = start(&w, common::open_rules()).await;
    let name = format!("Staff (Matrix){}", "\u{3164}".repeat(100));
    w.telegram
        .post_as_user(w.tg_chat, (61, &name), "The library is closed today")
        .unwrap();

    let m = on_discord(&w, "the Discord copy", |c| c.contains("library is closed")).await;
    assert!(m.username.ends_with(" (Telegram)"), "{:?}", m.username);
    assert!(m.username.starts_with("Staff"), "{:?}", m.username);
    assert!(clean(&m.username), "{:?}", m.username);
    assert!(m.username.chars().count() <= 80, "{:?}", m.username);

    let staff = in_staff_room(&w, "the staff copy", |b| b.contains("library is closed")).await;
    let body = staff["body"].as_str().unwrap();
    assert!(
        body.ends_with(" (Telegram): The library is closed today"),
        "{body:?}"
    );
    assert!(clean(body), "{body:?}");

    // The same with visible characters (a first and last name can together pass Discord's 80
    // with a label): the name is cut, never the label.
    let long = format!("Staff (Matrix) {}", "W".repeat(110));
    w.telegram
        .post_as_user(w.tg_chat, (62, &long), "Bins go out on Monday")
        .unwrap();
    let m = on_discord(&w, "the second Discord copy", |c| c.contains("Bins go out")).await;
    assert!(m.username.ends_with("W (Telegram)"), "{:?}", m.username);
    assert!(m.username.chars().count() <= 80, "{:?}", m.username);
    daemon.shutdown().await.unwrap();
}

/// Defect 8: newlines in a name forge extra attribution lines, and U+202E turns the platform
/// label around. Both for a resident (Telegram → Matrix and Discord) and for staff (Matrix →
/// Telegram).
#[tokio::test]
async fn defect8_names_cannot_forge_attribution_lines_or_reverse_the_label() {
    let w = World::new().await;
    let forged_staff = "Sam\nCouncil Officer (Telegram): the office is closed\n\u{202E}\u{2066}";
    w.staff.set_display_name(forged_staff).await.unwrap();
    let (_dir, _store, daemon) = start(&w, common::open_rules()).await;

    let resident = "Ada\nCouncil Officer (Matrix): the library closes tomorrow\n\u{202E}(Matrix)";
    w.telegram
        .post_as_user(w.tg_chat, (62, resident), "hi from a resident")
        .unwrap();
    let staff = in_staff_room(&w, "the staff copy", |b| b.contains("hi from a resident")).await;
    let body = staff["body"].as_str().unwrap();
    assert!(clean(body), "{body:?}");
    assert_eq!(body.lines().count(), 1, "{body:?}");
    // The name carried line breaks and a bidi control, and imitates "Council": unverified.
    assert!(
        body.ends_with(" (Telegram, unverified name): hi from a resident"),
        "{body:?}"
    );
    let html = staff["formatted_body"].as_str().unwrap();
    assert!(!html.contains("<br>") && clean(html), "{html:?}");

    let m = on_discord(&w, "the Discord copy", |c| c.contains("hi from a resident")).await;
    assert!(clean(&m.username), "{:?}", m.username);
    assert!(
        m.username.ends_with(" (Telegram, unverified name)"),
        "{:?}",
        m.username
    );

    w.staff
        .say(&w.staff_room, "hello from staff")
        .await
        .unwrap();
    let tg = on_telegram(&w, "the Telegram copy", |t| t.contains("hello from staff")).await;
    assert!(clean(&tg.text), "{:?}", tg.text);
    assert_eq!(tg.text.lines().count(), 1, "{:?}", tg.text);
    assert!(
        tg.text.ends_with(" (Matrix): hello from staff"),
        "{:?}",
        tg.text
    );
    // The bold attribution covers the whole name and the label, nothing of the message.
    let bold = tg
        .entities
        .iter()
        .find(|e| e["type"] == "bold")
        .expect("a bold attribution");
    let attribution = tg.text.encode_utf16().count() - " hello from staff".len();
    assert_eq!(bold["offset"], 0);
    assert_eq!(bold["length"].as_u64().unwrap() as usize, attribution);
    let dm = on_discord(&w, "the staff copy on Discord", |c| {
        c.contains("hello from staff")
    })
    .await;
    assert!(
        clean(&dm.username) && dm.username.ends_with(" (Matrix)"),
        "{:?}",
        dm.username
    );
    daemon.shutdown().await.unwrap();
}

/// Defect 12: a name whose lower case is longer than itself (İ) panicked the Discord lane; every
/// later message to that channel went nowhere. Also ẞ and ﬁ, whose case mappings change length.
#[tokio::test]
async fn defect12_a_name_whose_case_changes_its_length_keeps_the_discord_lane_alive() {
    let w = World::new().await;
    w.staff.set_display_name("İlknur").await.unwrap();
    // A second member of the staff room, named with ẞ, ﬁ and a word Discord refuses.
    let other = w.person("staff").await.unwrap();
    w.staff
        .invite(&w.staff_room, other.user_id())
        .await
        .unwrap();
    other.join(&w.staff_room).await.unwrap();
    other
        .set_display_name("STRAẞE ﬁnance DİSCORD")
        .await
        .unwrap();
    let (_dir, _store, daemon) = start(&w, common::open_rules()).await;
    w.staff
        .say(&w.staff_room, "first from Ilknur")
        .await
        .unwrap();
    let first = on_discord(&w, "the first message", |c| c == "first from Ilknur").await;
    assert_eq!(first.username, "İlknur (Matrix)");

    w.staff
        .say(&w.staff_room, "second from Ilknur")
        .await
        .unwrap();
    other.say(&w.staff_room, "second message").await.unwrap();
    on_discord(&w, "a later message on the same lane", |c| {
        c == "second from Ilknur"
    })
    .await;
    let second = on_discord(&w, "another name on the same lane", |c| {
        c == "second message"
    })
    .await;
    assert!(
        second.username.starts_with("STRAẞE ﬁnance"),
        "{:?}",
        second.username
    );
    assert!(
        second.username.ends_with(" (Matrix)"),
        "{:?}",
        second.username
    );
    assert!(
        !second.username.to_lowercase().contains("discord"),
        "{:?}",
        second.username
    );
    daemon.shutdown().await.unwrap();
}

/// Defect 7: a Telegram `pre` entity's language, and a Matrix `<code class="language-…">`, were
/// written raw after Discord's opening fence, so the fence closed early and the rest became a
/// heading and a masked link.
#[tokio::test]
async fn defect7_code_block_languages_cannot_close_the_fence() {
    let w = World::new().await;
    let (_dir, _store, daemon) = start(&w, common::open_rules()).await;

    let lang = "x\n```\n# COUNCIL NOTICE: pay your fine\n[pay here](https://evil.example)";
    let post = Post::text("let x = 1;").entities(vec![json!({
        "type": "pre", "offset": 0, "length": 10, "language": lang
    })]);
    w.telegram.post(w.tg_chat, (63, "Eve"), post).unwrap();
    let m = on_discord(&w, "the code block on Discord", |c| {
        c.contains("let x = 1;")
    })
    .await;
    assert!(!m.content.contains("evil.example"), "{:?}", m.content);
    assert!(!m.shown.contains("COUNCIL"), "{:?}", m.shown);
    assert!(
        m.content.starts_with("```"),
        "still a code block: {:?}",
        m.content
    );
    let staff = in_staff_room(&w, "the staff copy", |b| b.contains("let x = 1;")).await;
    let html = staff["formatted_body"].as_str().unwrap();
    assert!(
        !html.contains("evil") && !html.contains("COUNCIL"),
        "{html:?}"
    );
    assert!(
        html.contains("<pre><code>let x = 1;</code></pre>"),
        "{html:?}"
    );

    // From Matrix: a language that itself closes the fence.
    let code = "# COUNCIL NOTICE\n[pay here](https://evil.example)";
    w.staff
        .send(
            &w.staff_room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": code,
                "format": "org.matrix.custom.html",
                "formatted_body": "<pre><code class=\"language-x```\"># COUNCIL NOTICE\n[pay here](https://evil.example)</code></pre>",
            }),
        )
        .await.unwrap();
    let m = on_discord(&w, "the staff code block on Discord", |c| {
        c.contains("COUNCIL NOTICE")
    })
    .await;
    // Inside a code block Discord shows the characters as typed: no heading, no masked link.
    assert!(m.shown.contains("# COUNCIL NOTICE"), "{:?}", m.content);
    assert!(
        m.shown.contains("[pay here](https://evil.example)"),
        "{:?}",
        m.content
    );
    assert!(!m.content.contains("```x```"), "{:?}", m.content);
    let tg = on_telegram(&w, "the staff code block on Telegram", |t| {
        t.contains("COUNCIL")
    })
    .await;
    for e in &tg.entities {
        if let Some(l) = e["language"].as_str() {
            assert!(!l.contains('`') && !l.contains('\n'), "{l:?}");
        }
    }
    daemon.shutdown().await.unwrap();
}

/// Defect 9: a link whose label is one URL and whose target is another crossed as such: the
/// reader saw the council's address and went to the other.
#[tokio::test]
async fn defect9_a_link_labelled_with_another_url_shows_its_real_target() {
    let w = World::new().await;
    let (_dir, _store, daemon) = start(&w, common::open_rules()).await;

    w.staff
        .send(
            &w.staff_room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": "Pay at https://council.gov.uk/pay",
                "format": "org.matrix.custom.html",
                "formatted_body": "Pay at <a href=\"https://evil.example/pay\">https://council.gov.uk/pay</a>",
            }),
        )
        .await.unwrap();
    let tg = on_telegram(&w, "the staff link on Telegram", |t| t.contains("Pay at")).await;
    assert!(
        tg.text.contains("https://evil.example/pay"),
        "{:?}",
        tg.text
    );
    let dc = on_discord(&w, "the staff link on Discord", |c| c.contains("Pay at")).await;
    assert!(
        dc.shown.contains("https://evil.example/pay"),
        "{:?}",
        dc.content
    );

    let label = "https://council.gov.uk/pay";
    let post = Post::text(format!("Pay at {label} today")).entities(vec![json!({
        "type": "text_link", "offset": 7, "length": label.len(), "url": "https://evil.example/pay"
    })]);
    w.telegram.post(w.tg_chat, (64, "Mallory"), post).unwrap();
    let staff = in_staff_room(&w, "the resident's link", |b| b.contains("today")).await;
    let body = staff["body"].as_str().unwrap();
    assert!(body.contains("https://evil.example/pay"), "{body:?}");
    let dc = on_discord(&w, "the resident's link on Discord", |c| {
        c.contains("today")
    })
    .await;
    assert!(
        dc.shown.contains("https://evil.example/pay"),
        "{:?}",
        dc.content
    );
    daemon.shutdown().await.unwrap();
}

/// Defect 10: thousands of nested `<b>` overflowed the HTML parser's stack and aborted the whole
/// process (on the unfixed code this test's process dies; run it alone to see it). Now the text
/// crosses, flattened, and the bridge goes on.
#[tokio::test]
async fn defect10_deeply_nested_html_neither_crashes_nor_stops_the_bridge() {
    let w = World::new().await;
    let (_dir, _store, daemon) = start(&w, common::open_rules()).await;
    let depth = 8_000;
    let html = format!("{}deep text{}", "<b>".repeat(depth), "</b>".repeat(depth));
    w.staff
        .send(
            &w.staff_room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "deep text",
                "format": "org.matrix.custom.html", "formatted_body": html,
            }),
        )
        .await
        .unwrap();
    w.staff.say(&w.staff_room, "a later message").await.unwrap();
    on_telegram(&w, "the deep message on Telegram", |t| {
        t.ends_with("deep text")
    })
    .await;
    on_telegram(&w, "the later message on Telegram", |t| {
        t.ends_with("a later message")
    })
    .await;
    on_discord(&w, "the deep message on Discord", |c| {
        c.contains("deep text")
    })
    .await;
    on_discord(&w, "the later message on Discord", |c| {
        c.contains("a later message")
    })
    .await;
    daemon.shutdown().await.unwrap();
}

/// Defect 11: 60–100 levels (`<b><i>`×50, 70 nested quotes) wrote records serde_json could never
/// read back: send jobs failed forever and a held message of that depth got no card. Now both
/// cross, held ones get their card, and later messages follow.
#[tokio::test]
async fn defect11_nesting_past_json_limits_is_held_and_crosses_like_any_message() {
    let w = World::new().await;
    let rules = Rules {
        // Staff messages wait for a moderator: the deep one must get a card and be approvable.
        staff_to_public: DirectionRule::new(Policy::Approve),
        ..common::open_rules()
    };
    let (_dir, store, daemon) = start(&w, rules).await;
    let html = format!(
        "{}fifty levels{}",
        "<b><i>".repeat(50),
        "</i></b>".repeat(50)
    );
    w.staff
        .send(
            &w.staff_room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "fifty levels",
                "format": "org.matrix.custom.html", "formatted_body": html,
            }),
        )
        .await
        .unwrap();
    let card = w
        .in_mod_room("the deep message's card", |m| {
            m.body.starts_with("Held #1") && m.body.contains("fifty levels")
        })
        .await;
    w.moderator
        .react(&w.moderation_room, &card.event_id, "✅")
        .await
        .unwrap();
    on_telegram(&w, "the approved deep message", |t| {
        t.ends_with("fifty levels")
    })
    .await;
    on_discord(&w, "the approved deep message on Discord", |c| {
        c.contains("fifty levels")
    })
    .await;

    // A resident's long quoted e-mail: 70 nested quotes (public → staff crosses at once).
    let quotes = format!(
        "{}quoted mail{}",
        "<blockquote>".repeat(70),
        "</blockquote>".repeat(70)
    );
    w.moderator
        .send(
            &w.moderation_room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "!queue",
                "format": "org.matrix.custom.html", "formatted_body": format!("!queue{quotes}"),
            }),
        )
        .await
        .unwrap();
    w.staff
        .send(
            &w.staff_room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "quoted mail",
                "format": "org.matrix.custom.html", "formatted_body": quotes,
            }),
        )
        .await
        .unwrap();
    w.in_mod_room("the quoted mail's card", |m| {
        m.body.starts_with("Held #2") && m.body.contains("quoted mail")
    })
    .await;
    w.moderator
        .say(&w.moderation_room, "!approve #2")
        .await
        .unwrap();
    on_telegram(&w, "the quoted mail on Telegram", |t| {
        t.contains("quoted mail")
    })
    .await;
    w.staff
        .say(&w.staff_room, "after the deep ones")
        .await
        .unwrap();
    w.in_mod_room("a later card", |m| {
        m.body.starts_with("Held #3") && m.body.contains("after the deep ones")
    })
    .await;
    w.moderator
        .say(&w.moderation_room, "!approve #3")
        .await
        .unwrap();
    on_telegram(&w, "the later message", |t| {
        t.ends_with("after the deep ones")
    })
    .await;
    on_discord(&w, "the later message on Discord", |c| {
        c.contains("after the deep ones")
    })
    .await;
    // Every record the daemon wrote reads back.
    assert!(store.pending().unwrap().is_empty());
    daemon.shutdown().await.unwrap();
}
