//! The demo's story, played on a running [`World`] and checked step by step: a resident asks
//! on Telegram; the question is held and a card reaches the moderator; the moderator approves;
//! the question reaches the staff room (and Discord); a staff member answers in the thread; the
//! answer reaches the Telegram topic and a Discord thread; a second resident replies on Discord
//! and waits for approval. Each step waits on what a participant sees, never on time.
//!
//! Checks are about outcomes (a message arrived, a card exists), not the exact wording of cards,
//! so the scenario keeps working while cards and commands evolve.

use super::matrix::{Mark, RoomMessage};
use super::wait::wait_for;
use super::world::{World, PATIENCE};
use super::DemoError;
use civicbridge_testkit::discord::MessageView;
use civicbridge_testkit::telegram::ShownMessage;

pub const ADA: (i64, &str) = (4242, "Ada");
pub const QUESTION: &str = "Is the library open late on Thursday?";
pub const ANSWER: &str = "Yes: on Thursdays the library stays open until 8 pm.";
pub const FOLLOW_UP: &str = "Great, can I bring my kids to the evening reading club?";

/// What the scenario produced, for further checks.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub question: i32,
    pub card: RoomMessage,
    pub staff_copy: RoomMessage,
    pub answer: String,
    pub telegram_answer: ShownMessage,
    pub discord_question: MessageView,
    pub discord_thread: u64,
    pub discord_answer: MessageView,
    pub follow_up_card: RoomMessage,
    /// Where the Matrix views start (for transcripts).
    pub staff_mark: Mark,
    pub moderator_mark: Mark,
}

/// Plays the story on `world` (whose daemon must be running), telling `say` what happens.
pub async fn play(world: &World, say: &mut dyn FnMut(&str)) -> Result<Outcome, DemoError> {
    let staff_mark = world.staff.mark().await?;
    let moderator_mark = world.moderator.mark().await?;
    let bot = world.bot.user_id.clone();

    say(&format!(
        "1. Ada, a resident, asks in the Telegram topic \"Library\": {QUESTION}"
    ));
    let question = world.ask_on_telegram(ADA, QUESTION)?;

    let card = wait_for(
        PATIENCE,
        "the approval card in the moderation room",
        || async {
            Ok(from_bot(
                &world
                    .moderator
                    .messages_since(&world.moderation_room, &moderator_mark)
                    .await?,
                &bot,
                QUESTION,
            ))
        },
    )
    .await?;
    say(&format!(
        "2. The moderator sees a card in the moderation room:\n{}",
        indent(&card.body)
    ));
    let early = world
        .staff
        .messages_since(&world.staff_room, &staff_mark)
        .await?;
    if early.iter().any(|m| m.body.contains(QUESTION)) {
        return Err(DemoError::Check(
            "the question reached the staff room before anyone approved it".into(),
        ));
    }
    if discord_with(world, world.dc_channel, QUESTION).is_some() {
        return Err(DemoError::Check(
            "the question reached Discord before anyone approved it".into(),
        ));
    }
    say("   (held: nobody else sees it yet)");

    world
        .moderator
        .react(&world.moderation_room, &card.event_id, "✅")
        .await?;
    say("3. The moderator approves it with a ✅ reaction on the card.");

    let staff_copy = wait_for(PATIENCE, "the question in the staff room", || async {
        Ok(from_bot(
            &world
                .staff
                .messages_since(&world.staff_room, &staff_mark)
                .await?,
            &bot,
            QUESTION,
        ))
    })
    .await?;
    say(&format!(
        "4. The staff room shows it: {}",
        staff_copy.body.trim()
    ));
    let discord_question = wait_for(PATIENCE, "the question on Discord", || async {
        Ok(discord_with(world, world.dc_channel, QUESTION))
    })
    .await?;
    say(&format!(
        "   and Discord's #ask-the-council shows it: {}",
        discord_question.shown.trim()
    ));

    let answer = world
        .staff
        .say_in_thread(&world.staff_room, &staff_copy.event_id, ANSWER)
        .await?;
    say(&format!(
        "5. A staff member answers in the thread: {ANSWER}"
    ));

    let telegram_answer = wait_for(PATIENCE, "the answer on Telegram", || async {
        Ok(world
            .telegram_bot_posts()
            .into_iter()
            .find(|m| m.text.contains(ANSWER)))
    })
    .await?;
    if telegram_answer.thread != Some(world.tg_topic) {
        return Err(DemoError::Check(
            "the answer reached Telegram outside the question's topic".into(),
        ));
    }
    say(&format!(
        "6. Ada sees the answer in the Telegram topic: {}",
        telegram_answer.text
    ));
    let discord_answer = wait_for(PATIENCE, "the answer in a Discord thread", || async {
        Ok(world
            .discord
            .thread_parent(discord_question.id)
            .and_then(|_| discord_with(world, discord_question.id, ANSWER)))
    })
    .await?;
    let discord_thread = discord_question.id;
    say(&format!(
        "   and on Discord it arrives in a thread on the question: {}",
        discord_answer.shown.trim()
    ));

    let bea = world.discord.create_user("bea", Some("Bea"));
    world.discord.post_as_user(discord_thread, bea, FOLLOW_UP);
    say(&format!(
        "7. Bea, another resident, replies in the Discord thread: {FOLLOW_UP}"
    ));
    let follow_up_card = wait_for(PATIENCE, "the card for Bea's reply", || async {
        Ok(from_bot(
            &world
                .moderator
                .messages_since(&world.moderation_room, &moderator_mark)
                .await?,
            &bot,
            FOLLOW_UP,
        ))
    })
    .await?;
    let staff_now = world
        .staff
        .messages_since(&world.staff_room, &staff_mark)
        .await?;
    if staff_now.iter().any(|m| m.body.contains(FOLLOW_UP)) {
        return Err(DemoError::Check(
            "Bea's reply reached the staff room without approval".into(),
        ));
    }
    say("8. Bea's reply waits for approval: the moderator has a new card, the staff room does not have it yet.");

    Ok(Outcome {
        question,
        card,
        staff_copy,
        answer,
        telegram_answer,
        discord_question,
        discord_thread,
        discord_answer,
        follow_up_card,
        staff_mark,
        moderator_mark,
    })
}

/// What each participant sees now, platform by platform.
pub async fn transcript(world: &World, outcome: &Outcome) -> Result<String, DemoError> {
    let mut out = String::new();
    out.push_str("── Telegram · \"Riverside residents\" (what residents see; [topic])\n");
    let topics: std::collections::BTreeMap<i32, String> =
        world.telegram.topics(world.tg_chat).into_iter().collect();
    let mut id = 1;
    let mut missing = 0;
    while missing < 3 {
        match world.telegram.message(world.tg_chat, id) {
            Some(m) if !m.text.is_empty() => {
                let who = if m.from == ADA.0 {
                    "Ada".to_owned()
                } else if m.from == world.telegram.bot().id {
                    "bridge bot".to_owned()
                } else {
                    format!("user {}", m.from)
                };
                let topic = m
                    .thread
                    .and_then(|t| topics.get(&t))
                    .map(|t| format!("[{t}] "))
                    .unwrap_or_default();
                out.push_str(&format!("   {topic}{who}: {}\n", m.text));
                missing = 0;
            }
            Some(_) => missing = 0,
            None => missing += 1,
        }
        id += 1;
    }
    out.push_str("── Discord · #ask-the-council (what residents see)\n");
    for m in world.discord.messages_in(world.dc_channel) {
        out.push_str(&format!("   {}: {}\n", m.username, m.shown.trim()));
        if m.id == outcome.discord_thread {
            for t in world.discord.messages_in(outcome.discord_thread) {
                out.push_str(&format!(
                    "      ↳ thread · {}: {}\n",
                    t.username,
                    t.shown.trim()
                ));
            }
        }
    }
    out.push_str("── Matrix · staff room (what the staff member sees)\n");
    for m in world
        .staff
        .messages_since(&world.staff_room, &outcome.staff_mark)
        .await?
    {
        let thread = if m.thread.is_some() {
            "↳ thread · "
        } else {
            ""
        };
        out.push_str(&format!(
            "   {thread}{}: {}\n",
            short(&m.sender),
            m.body.trim()
        ));
    }
    out.push_str("── Matrix · moderation room (what the moderator sees)\n");
    for m in world
        .moderator
        .messages_since(&world.moderation_room, &outcome.moderator_mark)
        .await?
    {
        out.push_str(&format!("   {}:\n{}\n", short(&m.sender), indent(&m.body)));
    }
    Ok(out)
}

fn from_bot(messages: &[RoomMessage], bot: &str, text: &str) -> Option<RoomMessage> {
    messages
        .iter()
        .find(|m| m.sender == bot && m.edit_of.is_none() && m.body.contains(text))
        .cloned()
}

fn discord_with(world: &World, channel: u64, text: &str) -> Option<MessageView> {
    world
        .discord
        .messages_in(channel)
        .into_iter()
        .find(|m| !m.deleted && m.content.contains(text))
}

fn short(user_id: &str) -> &str {
    user_id
        .trim_start_matches('@')
        .split(':')
        .next()
        .unwrap_or(user_id)
}

fn indent(text: &str) -> String {
    text.trim()
        .lines()
        .map(|l| format!("      │ {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
