//! `POST /users/@me/channels` `{"recipient_id"}`: opens (or returns) the DM channel with a
//! person. Discord answers any user it knows with the channel (`APIDMChannel`); whether the bot
//! may post there is decided by `POST /channels/{id}/messages` (`state/dms.rs`). Refusals: a
//! body without a readable `recipient_id` is 400 / 50035 "Invalid Form Body", a user Discord
//! does not know 404 / 10013 "Unknown User".

use super::*;

pub(super) async fn create_dm(
    s: S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let (body, _) = match read_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    s.call(
        &method,
        &uri,
        &headers,
        body.clone(),
        FaultRoute::CreateDm,
        true,
        |st| {
            let raw = body.get("recipient_id").filter(|v| !v.is_null());
            let recipient = match raw {
                None => {
                    return form_error(
                        "recipient_id",
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    )
                }
                Some(v) => v
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
                    .unwrap_or_else(|| v.to_string()),
            };
            let Ok(user) = recipient.parse::<u64>() else {
                return form_error(
                    "recipient_id",
                    "NUMBER_TYPE_COERCE",
                    &format!("Value \"{recipient}\" is not snowflake."),
                );
            };
            match st.open_dm(user) {
                Some(channel) => ok(StatusCode::OK, payloads::channel(st, channel)),
                None => api_error(404, 10013, "Unknown User"),
            }
        },
    )
}
