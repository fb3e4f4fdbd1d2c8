//! `Connector::fetch`: an attachment a resident posted, downloaded by `file_id` so the outbox can
//! upload it elsewhere. Bots may download at most 20 MB; larger files are `Rejected` with a notice
//! saying so, and a file Telegram no longer has is `Rejected` too.

use crate::{error, ids, TelegramConnector, MAX_DOWNLOAD_BYTES};
use civicbridge_api::{Attachment, ConnectorError};
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::FileId;

impl TelegramConnector {
    pub(crate) async fn fetch_impl(
        &self,
        attachment: &Attachment,
    ) -> Result<Vec<u8>, ConnectorError> {
        let too_big = || {
            ConnectorError::Rejected(format!(
                "{} is larger than the 20 MB a Telegram bot may download; it cannot be mirrored",
                attachment.name
            ))
        };
        let file_id = ids::file_id(&attachment.url).ok_or_else(|| {
            ConnectorError::Rejected(format!(
                "`{}` is not a Telegram file reference",
                attachment.name
            ))
        })?;
        if attachment.size.is_some_and(|s| s > MAX_DOWNLOAD_BYTES) {
            return Err(too_big());
        }
        let file = match self.bot.get_file(FileId(file_id.to_owned())).send().await {
            Ok(f) => f,
            Err(teloxide::RequestError::Api(e))
                if error::description(&e).contains("file is too big") =>
            {
                return Err(too_big())
            }
            Err(e) => return Err(error::classify(&e, &self.config.token)),
        };
        let mut data = Vec::new();
        if let Err(e) = self.bot.download_file(&file.path, &mut data).await {
            let why = error::scrub(&e.to_string(), &self.config.token);
            let gone = matches!(&e, teloxide::DownloadError::Network(n)
                if n.status().is_some_and(|s| s.is_client_error()));
            return Err(if gone {
                ConnectorError::Rejected(format!(
                    "{} is no longer on Telegram: {why}",
                    attachment.name
                ))
            } else {
                ConnectorError::Transient(why)
            });
        }
        Ok(data)
    }
}
