//! Bridge sends arrive on the server with the right fields.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{
    Connector, Outgoing, RemoteMsgId, RichText, RoomId, Span, ThreadId, ThreadTarget,
};
use civicbridge_testkit::telegram::TelegramServer;
use common::{connector, ADA};
use serde_json::json;

fn out(chat: i64, text: RichText) -> Outgoing {
    Outgoing::text(RoomId::new(chat.to_string()), "t1", text)
}

fn attributed(name: &str, text: &str) -> RichText {
    RichText {
        spans: vec![
            Span::Bold(vec![Span::Text(format!("{name} (Matrix):"))]),
            Span::Text(format!(" {text}")),
        ],
    }
}

#[tokio::test]
async fn send_with_attribution_reply_and_topic_arrives_with_the_right_fields() {
    let server = TelegramServer::start().await;
    let chat = server.create_forum("Residents");
    let topic = server.create_topic(chat, "Roads").unwrap();
    let question = server
        .post_in_topic(chat, topic, ADA, "when is it fixed?")
        .unwrap();
    let conn = connector(&server);

    let mut o = out(chat, attributed("Clerk Kim", "next week"));
    o.reply_to = Some(RemoteMsgId::new(question.to_string()));
    o.thread = Some(ThreadTarget::Existing(ThreadId::new(topic.to_string())));
    let receipt = conn.send(&o).await.unwrap();
    assert_eq!(receipt.ids.len(), 1);
    assert_eq!(receipt.thread, Some(ThreadId::new(topic.to_string())));

    let sent = server
        .message(chat, receipt.ids[0].as_str().parse().unwrap())
        .unwrap();
    assert_eq!(sent.from, server.bot().id);
    assert_eq!(sent.text, "Clerk Kim (Matrix): next week");
    assert_eq!(
        sent.entities,
        vec![json!({"type": "bold", "offset": 0, "length": 19})]
    );
    assert_eq!(sent.reply_to, Some(question));
    assert_eq!(sent.thread, Some(topic));
}

#[tokio::test]
async fn a_4500_character_message_arrives_as_two_messages_with_both_ids() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let mut text: String = (0..899).map(|i| format!("w{i:03} ")).collect::<String>();
    text.push_str("fin!!");
    assert_eq!(text.chars().count(), 4500);
    let receipt = conn
        .send(&out(chat, RichText::plain(text.clone())))
        .await
        .unwrap();
    assert_eq!(receipt.ids.len(), 2, "{receipt:?}");
    let shown = server.bot_messages(chat);
    assert_eq!(shown.len(), 2);
    let ids: Vec<RemoteMsgId> = shown
        .iter()
        .map(|m| RemoteMsgId::new(m.id.to_string()))
        .collect();
    assert_eq!(receipt.ids, ids);
    assert!(shown.iter().all(|m| m.text.encode_utf16().count() <= 4096));
    assert!(
        !shown[0].text.ends_with(' ') && !shown[1].text.starts_with(' '),
        "cut on a word boundary"
    );
    assert_eq!(format!("{} {}", shown[0].text, shown[1].text), text);
}

#[tokio::test]
async fn markup_characters_from_any_source_arrive_verbatim() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let nasty = r#"<b>x</b> </i> <a href="j">l</a> &amp; &lt; **b** __u__ _i_ *s* ~t~ ||sp|| `c` ```p``` [l](u) \. > q # - = | { } ! 😀"#;
    let rich = RichText {
        spans: vec![
            Span::Bold(vec![Span::Text("<Ann & Co> (Discord):".into())]),
            Span::Text(format!(" {nasty}")),
            Span::Code("<code>".into()),
        ],
    };
    let receipt = conn.send(&out(chat, rich.clone())).await.unwrap();
    let sent = server
        .message(chat, receipt.ids[0].as_str().parse().unwrap())
        .unwrap();
    assert_eq!(sent.text, rich.to_plain());
    assert_eq!(
        sent.entities.len(),
        2,
        "only the bridge's own styling: {:?}",
        sent.entities
    );
}

#[tokio::test]
async fn an_edit_and_a_delete_reach_the_server() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let receipt = conn
        .send(&out(chat, RichText::plain("draft")))
        .await
        .unwrap();
    let id = &receipt.ids[0];
    let room = RoomId::new(chat.to_string());
    conn.edit(&room, id, &out(chat, attributed("Kim", "final <i>")))
        .await
        .unwrap();
    // Editing to the same text again (an outbox retry) is not an error.
    conn.edit(&room, id, &out(chat, attributed("Kim", "final <i>")))
        .await
        .unwrap();
    let m = server.message(chat, id.as_str().parse().unwrap()).unwrap();
    assert_eq!(m.text, "Kim (Matrix): final <i>");
    assert_eq!(m.history, vec!["draft".to_owned()]);

    conn.delete(&room, id).await.unwrap();
    assert!(
        server
            .message(chat, id.as_str().parse().unwrap())
            .unwrap()
            .deleted
    );
    conn.delete(&room, id).await.unwrap();
}

#[tokio::test]
async fn start_from_opens_a_topic_in_a_forum_and_replies_elsewhere() {
    let server = TelegramServer::start().await;
    let conn = connector(&server);

    // A plain supergroup: the thread becomes a reply to the root, and no thread is reported.
    let group = server.create_group("Plain");
    let root = server.post_as_user(group, ADA, "a question").unwrap();
    let mut o = out(group, attributed("Kim", "an answer"));
    o.thread = Some(ThreadTarget::StartFrom(RemoteMsgId::new(root.to_string())));
    let receipt = conn.send(&o).await.unwrap();
    assert_eq!(receipt.thread, None);
    let m = server
        .message(group, receipt.ids[0].as_str().parse().unwrap())
        .unwrap();
    assert_eq!(m.reply_to, Some(root));
    assert_eq!(m.thread, None);

    // A forum: a topic is opened, named after the text, and the message lands in it.
    let forum = server.create_forum("Forum");
    let root = server.post_as_user(forum, ADA, "a question").unwrap();
    let mut o = out(forum, attributed("Kim", "an answer"));
    o.thread = Some(ThreadTarget::StartFrom(RemoteMsgId::new(root.to_string())));
    let receipt = conn.send(&o).await.unwrap();
    let topics = server.topics(forum);
    assert_eq!(topics.len(), 1);
    assert_eq!(topics[0].1, "Kim (Matrix): an answer");
    assert_eq!(receipt.thread, Some(ThreadId::new(topics[0].0.to_string())));
    let m = server
        .message(forum, receipt.ids[0].as_str().parse().unwrap())
        .unwrap();
    assert_eq!(m.thread, Some(topics[0].0));
}

#[tokio::test]
async fn a_reply_to_a_message_deleted_meanwhile_still_arrives() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let mut o = out(chat, RichText::plain("late answer"));
    o.reply_to = Some(RemoteMsgId::new("999"));
    let receipt = conn.send(&o).await.unwrap();
    let m = server
        .message(chat, receipt.ids[0].as_str().parse().unwrap())
        .unwrap();
    assert_eq!(m.reply_to, None);
}

#[tokio::test]
async fn a_retried_send_that_opened_a_topic_reuses_it_instead_of_opening_another() {
    use civicbridge_testkit::telegram::Fault;
    let server = TelegramServer::start().await;
    let conn = connector(&server);
    let forum = server.create_forum("Forum");
    let root = server.post_as_user(forum, ADA, "a question").unwrap();
    let mut o = out(forum, attributed("Kim", "an answer"));
    o.thread = Some(ThreadTarget::StartFrom(RemoteMsgId::new(root.to_string())));
    // The topic opens, then the post into it breaks off: the outbox retries the same send.
    server.fail_method("sendMessage", 1, Fault::DropConnection);
    let first = conn.send(&o).await;
    assert!(first.as_ref().is_err_and(|e| e.is_retryable()), "{first:?}");
    let receipt = conn.send(&o).await.unwrap();
    let topics = server.topics(forum);
    assert_eq!(
        topics.len(),
        1,
        "one topic, not one per attempt: {topics:?}"
    );
    assert_eq!(receipt.thread, Some(ThreadId::new(topics[0].0.to_string())));
    let m = server
        .message(forum, receipt.ids[0].as_str().parse().unwrap())
        .unwrap();
    assert_eq!(m.thread, Some(topics[0].0));
    // Another send (another transaction id) opens its own topic.
    let mut other = Outgoing::text(RoomId::new(forum.to_string()), "t2", attributed("Kim", "x"));
    other.thread = o.thread.clone();
    conn.send(&other).await.unwrap();
    assert_eq!(server.topics(forum).len(), 2);
}
