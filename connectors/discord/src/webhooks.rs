//! Webhooks: finding or creating the one to post personas through, and telling the bridge's
//! own webhooks (echoes) from a partner's.

use super::*;

impl Inner {
    pub(crate) fn hook_by_id(&self, id: u64) -> Option<Hook> {
        self.known().hooks_by_id.get(&id).cloned()
    }

    pub(crate) fn forget_webhook(&self, channel: ChannelId, id: u64) {
        let mut k = self.known();
        k.hooks.remove(&channel.get());
        k.hooks_by_id.remove(&id);
    }

    pub(crate) fn adopt_hook(&self, channel: ChannelId, hook: Hook) -> Hook {
        let mut k = self.known();
        k.own_hooks.insert(hook.id);
        k.hooks_by_id.insert(hook.id, hook.clone());
        k.hooks.insert(channel.get(), HookSlot::Ready(hook.clone()));
        hook
    }

    /// The webhook to post personas through in `channel`: a configured one, else one the bot made
    /// earlier (same name), else a new one. `None` when the bot may not manage webhooks (403).
    pub(crate) async fn webhook_for(
        &self,
        channel: ChannelId,
    ) -> Result<Option<Hook>, DiscordError> {
        match self.known().hooks.get(&channel.get()) {
            Some(HookSlot::Ready(h)) => return Ok(Some(h.clone())),
            Some(HookSlot::Unavailable(at)) if at.elapsed() < HOOK_RETRY => return Ok(None),
            _ => {}
        }
        let bot = self.bot_id().await?;
        let list = Request::new(
            Route::ChannelWebhooks {
                channel_id: channel,
            },
            LightMethod::Get,
        );
        let existing = match self.rest.json::<Vec<RestWebhook>>(list).await {
            Ok(v) => v,
            Err(e) if e.status() == Some(403) => return Ok(self.no_webhook(channel)),
            Err(e) => return Err(e),
        };
        let mine = existing.into_iter().find(|w| {
            w.user.as_ref().map(|u| u.id.as_str()) == Some(bot.to_string().as_str())
                && w.name.as_deref() == Some(self.cfg.webhook_name.as_str())
                && w.token.is_some()
        });
        let hook = match mine {
            Some(w) => w,
            None => {
                let body = serde_json::json!({"name": self.cfg.webhook_name});
                let req = Request::new(
                    Route::ChannelWebhooks {
                        channel_id: channel,
                    },
                    LightMethod::Post,
                )
                .body(Some(body.to_string().into_bytes()));
                match self.rest.json::<RestWebhook>(req).await {
                    Ok(w) => w,
                    Err(e) if e.status() == Some(403) => return Ok(self.no_webhook(channel)),
                    Err(e) => return Err(e),
                }
            }
        };
        let id = hook
            .id
            .parse::<u64>()
            .map_err(|e| DiscordError::Decode(e.to_string()))?;
        let token = hook
            .token
            .ok_or_else(|| DiscordError::Decode("webhook without a token".into()))?;
        Ok(Some(self.adopt_hook(channel, Hook { id, token })))
    }

    pub(crate) fn no_webhook(&self, channel: ChannelId) -> Option<Hook> {
        tracing::warn!(%channel, "the bot may not manage webhooks here and none is configured: posting with name prefixes");
        self.known()
            .hooks
            .insert(channel.get(), HookSlot::Unavailable(Instant::now()));
        None
    }

    pub(crate) async fn bot_id(&self) -> Result<u64, DiscordError> {
        if let Some(id) = self.known().bot_id {
            return Ok(id);
        }
        let me: RestUser = self
            .rest
            .json(Request::new(Route::UserMe, LightMethod::Get))
            .await?;
        let id = me
            .id
            .parse::<u64>()
            .map_err(|e| DiscordError::Decode(e.to_string()))?;
        self.known().bot_id = Some(id);
        Ok(id)
    }

    /// Whether a message by `author` (and `webhook`) is the bridge's own: the bot user, or a
    /// webhook the bot created or was configured with.
    pub(crate) async fn is_bridge(&self, author: UserId, webhook: Option<WebhookId>) -> bool {
        let bot = self.known().bot_id;
        if bot == Some(author.get()) {
            return true;
        }
        let Some(w) = webhook.map(WebhookId::get) else {
            return false;
        };
        {
            let k = self.known();
            if k.own_hooks.contains(&w) {
                return true;
            }
            if k.foreign_hooks.contains(&w) {
                return false;
            }
        }
        let req = Request::new(
            Route::Webhook {
                webhook_id: WebhookId::new(w),
            },
            LightMethod::Get,
        );
        let own = match (self.rest.json::<RestWebhook>(req).await, bot) {
            (Ok(hook), Some(bot)) => hook.user.is_some_and(|u| u.id == bot.to_string()),
            (Ok(_), None) => return false,
            // Not ours to see (403) or gone (404): not one the bot made.
            (Err(e), _) if matches!(e.status(), Some(403 | 404)) => false,
            (Err(e), _) => {
                tracing::warn!(webhook = w, "cannot look up webhook: {e}");
                return false;
            }
        };
        let mut k = self.known();
        if own {
            k.own_hooks.insert(w);
        } else {
            k.foreign_hooks.insert(w);
        }
        own
    }
}
