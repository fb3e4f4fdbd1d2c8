//! From gateway dispatch to the core's sink: events in gateway order, message acks feeding
//! per-channel cursors, and backfill of what was posted while the bridge was away.

use super::*;
use crate::ids::{self, ReactionChange};
use civicbridge_api::Event;
use serenity::all::Reaction;

impl Inner {
    /// Turns one dispatch into at most one event and submits it.
    pub(crate) async fn forward(&self, gw: Gw, pipe: &Pipe<'_>) -> Result<(), SinkClosed> {
        let event = match gw {
            Gw::Ready(r) => {
                self.known().bot_id = Some(r.user.id.get());
                None
            }
            Gw::Resumed => None,
            Gw::Guild(g) => {
                self.known()
                    .guild_tiers
                    .insert(g.id.get(), u8::from(g.premium_tier));
                for c in g.channels.values().chain(g.threads.iter()) {
                    self.record_channel(c);
                }
                // A new session: catch up on what was posted while we were away.
                let readable = g
                    .channels
                    .values()
                    .filter(|c| matches!(c.kind, ChannelType::Text | ChannelType::News))
                    .chain(g.threads.iter())
                    .map(|c| c.id);
                for channel in readable.collect::<Vec<_>>() {
                    self.backfill(channel, pipe).await?;
                }
                None
            }
            Gw::GuildTier { guild, tier } => {
                self.known().guild_tiers.insert(guild, tier);
                None
            }
            Gw::Channel(c) => {
                self.record_channel(&c);
                None
            }
            // A DM is never bridged. The bot does not ask for DIRECT_MESSAGES, so Discord
            // sends none; one arriving all the same (no `guild_id`) is dropped here.
            Gw::Message(m) if m.guild_id.is_none() => None,
            Gw::Message(m) => return self.submit_message(&m, pipe).await,
            Gw::Update(e) if e.guild_id.is_none() => None,
            Gw::Update(e) => {
                let place = self.place(e.channel_id, Some(e.id)).await;
                let author = e.author.as_ref().map_or(UserId::new(1), |u| u.id);
                let bridge = self.is_bridge(author, e.webhook_id.flatten()).await;
                inbound::edit_event(&e, &place, bridge)
            }
            Gw::Delete { channel, message } => {
                let place = self.place(channel, Some(message)).await;
                let bridge = self.known().deleted_by_us.remove(&message.get());
                Some(inbound::delete_event(message, &place, bridge, now_ms()))
            }
            Gw::Reaction(r) => self.reaction(&r, ReactionChange::Added).await,
            Gw::ReactionRemoved(r) => self.reaction(&r, ReactionChange::Removed).await,
        };
        if let Some(e) = event {
            // Only messages move a cursor; the other acks matter to the core alone.
            pipe.sink.submit(e).await?;
        }
        Ok(())
    }

    /// A reaction added or removed; the bot's own is the bridge's.
    async fn reaction(&self, r: &Reaction, change: ReactionChange) -> Option<Event> {
        let place = self.place(r.channel_id, Some(r.message_id)).await;
        let bridge = r.user_id.is_some() && r.user_id.map(UserId::get) == self.known().bot_id;
        let occurrence = ids::occurrence();
        inbound::reaction_event(r, change, &place, bridge, now_ms(), &occurrence)
    }

    /// Submits a message and hands its ack to the cursor keeper. System messages (joins, pins,
    /// "thread created", boosts, …) are not messages anyone wrote: they are skipped.
    pub(crate) async fn submit_message(
        &self,
        m: &DMessage,
        pipe: &Pipe<'_>,
    ) -> Result<(), SinkClosed> {
        if !matches!(m.kind, MessageType::Regular | MessageType::InlineReply) {
            return Ok(());
        }
        let place = self.place(m.channel_id, Some(m.id)).await;
        let bridge = self.is_bridge(m.author.id, m.webhook_id).await;
        let ack = pipe
            .sink
            .submit(inbound::message_event(m, &place, bridge))
            .await?;
        let _ = pipe.cursors.send((m.channel_id.get(), m.id.get(), ack));
        Ok(())
    }

    /// Submits every message in `channel` after its stored cursor, oldest first. Channels without
    /// a cursor (never seen) are not backfilled. Replays of messages the core already has are
    /// dropped there by their ids.
    pub(crate) async fn backfill(
        &self,
        channel: ChannelId,
        pipe: &Pipe<'_>,
    ) -> Result<(), SinkClosed> {
        let Some(mut after) = pipe
            .state
            .get(&cursor_key(channel.get()))
            .and_then(|v| v.parse::<u64>().ok())
        else {
            return Ok(());
        };
        for _ in 0..BACKFILL_PAGES {
            let req = Request::new(
                Route::ChannelMessages {
                    channel_id: channel,
                },
                LightMethod::Get,
            )
            .params(Some(vec![
                ("after", after.to_string()),
                ("limit", "100".to_owned()),
            ]));
            let mut page: Vec<DMessage> = match self.rest.json(req).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(%channel, "cannot backfill Discord channel: {e}");
                    return Ok(());
                }
            };
            page.sort_by_key(|m| m.id);
            let full = page.len() >= 100;
            for m in &page {
                after = after.max(m.id.get());
                self.submit_message(m, pipe).await?;
            }
            if !full {
                break;
            }
        }
        Ok(())
    }
}

/// At most this many pages of 100 messages are backfilled per channel and session.
pub(crate) const BACKFILL_PAGES: usize = 50;

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The `ConnectorState` key holding the id of the newest acknowledged message in a channel.
pub fn cursor_key(channel: u64) -> String {
    format!("discord.cursor.{channel}")
}

pub(crate) type CursorItem = (u64, u64, Ack);

/// Where one `run` submits events, and where message acks go to advance cursors.
pub(crate) struct Pipe<'a> {
    pub(crate) sink: &'a EventSink,
    pub(crate) cursors: tokio::sync::mpsc::UnboundedSender<CursorItem>,
    pub(crate) state: &'a Arc<dyn ConnectorState>,
}

/// Advances each channel's cursor once a message's ack resolves, in submission order, so a
/// cursor never passes a message the core has not made durable.
pub(crate) async fn keep_cursors(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<CursorItem>,
    state: Arc<dyn ConnectorState>,
) {
    let mut last: HashMap<u64, u64> = HashMap::new();
    while let Some((channel, id, ack)) = rx.recv().await {
        if ack.wait().await.is_err() {
            return;
        }
        let key = cursor_key(channel);
        let prev = match last.get(&channel) {
            Some(p) => Some(*p),
            None => state.get(&key).and_then(|v| v.parse::<u64>().ok()),
        };
        if prev.is_none_or(|p| id > p) {
            match state.put(&key, &id.to_string()).await {
                Ok(()) => {
                    last.insert(channel, id);
                }
                Err(e) => tracing::warn!(channel, "cannot store the Discord cursor: {e}"),
            }
        }
    }
}
