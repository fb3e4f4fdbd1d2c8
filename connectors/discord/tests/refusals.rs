//! What the local Discord refuses, over raw HTTP: each refusal with Discord's status, JSON
//! error `code` and `message`, so a request the real Discord would refuse fails in tests too.
#![allow(clippy::unwrap_used)]

use civicbridge_testkit::discord::DiscordServer;
use serde_json::{json, Value};

const MIB: usize = 1024 * 1024;

struct Raw {
    server: DiscordServer,
    guild: u64,
    channel: u64,
    client: reqwest::Client,
}

impl Raw {
    async fn new() -> Raw {
        let server = DiscordServer::start().await.unwrap();
        let guild = server.create_guild("G");
        let channel = server.create_channel(guild, "c");
        Raw {
            server,
            guild,
            channel,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v10{path}", self.server.api_base())
    }

    fn auth(&self) -> String {
        format!("Bot {}", self.server.token())
    }

    /// (status, JSON body or Null) of a request with the bot's token.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("authorization", self.auth());
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        read(req.send().await.unwrap()).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// A multipart POST with `payload_json` and one file of `size` bytes.
    async fn upload(&self, path: &str, payload: Value, size: usize) -> (u16, Value) {
        let boundary = "civicbridgeboundary7d3";
        let mut body = Vec::with_capacity(size + 512);
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\
                 Content-Type: application/json\r\n\r\n{payload}\r\n--{boundary}\r\n\
                 Content-Disposition: form-data; name=\"files[0]\"; filename=\"big.bin\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.resize(body.len() + size, b'x');
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = self
            .client
            .post(self.url(path))
            .header("authorization", self.auth())
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        read(req.send().await.unwrap()).await
    }

    /// A webhook of the bot's in the channel: (id, token).
    async fn webhook(&self) -> (String, String) {
        let (s, w) = self
            .post(
                &format!("/channels/{}/webhooks", self.channel),
                json!({"name": "civicbridge"}),
            )
            .await;
        assert_eq!(s, 200, "{w}");
        (
            w["id"].as_str().unwrap().to_owned(),
            w["token"].as_str().unwrap().to_owned(),
        )
    }
}

async fn read(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Discord's "Invalid Form Body" with an error under `field`; returns that error's `code`.
fn form_error(r: &(u16, Value), field: &str) -> String {
    assert_eq!(r.0, 400, "{}", r.1);
    assert_eq!(r.1["code"], 50035, "{}", r.1);
    assert_eq!(r.1["message"], "Invalid Form Body", "{}", r.1);
    let mut e = &r.1["errors"];
    for part in field.split('.') {
        e = &e[part];
    }
    e["_errors"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error under {field}: {}", r.1))
        .to_owned()
}

// ---- 1. uploads --------------------------------------------------------------------------------

#[tokio::test]
async fn uploads_over_the_guilds_limit_are_too_large() {
    let raw = Raw::new().await;
    let messages = format!("/channels/{}/messages", raw.channel);
    let (s, m) = raw
        .upload(&messages, json!({"content": "nine"}), 9 * MIB)
        .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["attachments"][0]["size"], 9 * MIB);
    let too_large = json!({"code": 40005, "message": "Request entity too large"});
    let r = raw
        .upload(&messages, json!({"content": "eleven"}), 11 * MIB)
        .await;
    assert_eq!(r, (413, too_large.clone()));
    let (id, token) = raw.webhook().await;
    let hook = format!("/webhooks/{id}/{token}?wait=true");
    let r = raw
        .upload(&hook, json!({"content": "eleven"}), 11 * MIB)
        .await;
    assert_eq!(r, (413, too_large.clone()));
    // Boost level 2 raises the limit to 50 MiB.
    raw.server.set_premium_tier(raw.guild, 2);
    let (s, m) = raw
        .upload(&messages, json!({"content": "eleven"}), 11 * MIB)
        .await;
    assert_eq!(s, 200, "{m}");
    let r = raw.upload(&hook, json!({"content": "51"}), 51 * MIB).await;
    assert_eq!(r, (413, too_large));
    assert_eq!(raw.server.messages_in(raw.channel).len(), 2);
}

// ---- 2. reserved names -------------------------------------------------------------------------

#[tokio::test]
async fn webhook_names_and_usernames_with_clyde_or_discord_are_refused() {
    let raw = Raw::new().await;
    let hooks = format!("/channels/{}/webhooks", raw.channel);
    for name in ["Clyde", "my discord bot", "DISCORDIA"] {
        let r = raw.post(&hooks, json!({"name": name})).await;
        assert_eq!(form_error(&r, "name"), "USERNAME_INVALID_CONTAINS");
    }
    let (id, token) = raw.webhook().await;
    let hook = format!("/webhooks/{id}/{token}?wait=true");
    for name in ["clyde", "Discord Mod", "xXcLyDeXx"] {
        let r = raw
            .post(&hook, json!({"content": "hi", "username": name}))
            .await;
        assert_eq!(form_error(&r, "username"), "USERNAME_INVALID_CONTAINS");
    }
    let (s, m) = raw
        .post(&hook, json!({"content": "hi", "username": "Cly·de"}))
        .await;
    assert_eq!((s, m["author"]["username"].as_str()), (200, Some("Cly·de")));
    assert!(raw.server.webhook_messages(raw.channel).len() == 1);
}

// ---- 7. embeds ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_message_with_only_embeds_is_posted_and_returned_with_them() {
    let raw = Raw::new().await;
    let messages = format!("/channels/{}/messages", raw.channel);
    let embed = json!({"title": "Minutes", "description": "of the council"});
    let (s, m) = raw.post(&messages, json!({"embeds": [embed]})).await;
    assert_eq!(s, 200, "{m}");
    let want = json!([{"title": "Minutes", "description": "of the council", "type": "rich"}]);
    assert_eq!((&m["content"], &m["embeds"]), (&json!(""), &want));
    let id = m["id"].as_str().unwrap();
    let (_, got) = raw
        .call(reqwest::Method::GET, &format!("{messages}/{id}"), None)
        .await;
    assert_eq!(got["embeds"], want);
    // Its embeds keep an edit that empties its text from being empty.
    let (s, _) = raw
        .call(
            reqwest::Method::PATCH,
            &format!("{messages}/{id}"),
            Some(json!({"content": ""})),
        )
        .await;
    assert_eq!(s, 200);
    let r = raw
        .call(
            reqwest::Method::PATCH,
            &format!("{messages}/{id}"),
            Some(json!({"embeds": []})),
        )
        .await;
    assert_eq!(
        r,
        (
            400,
            json!({"code": 50006, "message": "Cannot send an empty message"})
        )
    );
    let r = raw
        .post(
            &messages,
            json!({"embeds": vec![json!({"title": "x"}); 11]}),
        )
        .await;
    assert_eq!(form_error(&r, "embeds"), "BASE_TYPE_MAX_LENGTH");
    let r = raw.post(&messages, json!({"embeds": []})).await;
    assert_eq!(
        r,
        (
            400,
            json!({"code": 50006, "message": "Cannot send an empty message"})
        )
    );
}

// ---- 4. allowed_mentions -----------------------------------------------------------------------

#[tokio::test]
async fn allowed_mentions_that_contradict_themselves_are_refused() {
    let raw = Raw::new().await;
    let messages = format!("/channels/{}/messages", raw.channel);
    let post = |am: Value| raw.post(&messages, json!({"content": "hi", "allowed_mentions": am}));
    let r = post(json!({"parse": ["users"], "users": ["123"]})).await;
    assert_eq!(
        form_error(&r, "allowed_mentions"),
        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"
    );
    let r = post(json!({"parse": ["roles"], "roles": ["123"]})).await;
    assert_eq!(
        form_error(&r, "allowed_mentions"),
        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"
    );
    let r = post(json!({"parse": ["channels"]})).await;
    assert_eq!(
        form_error(&r, "allowed_mentions.parse.0"),
        "BASE_TYPE_CHOICES"
    );
    // What the connector sends, and lists with an empty parse, pass.
    for ok in [
        json!({"parse": []}),
        json!({"parse": ["users"], "users": []}),
        json!({"parse": [], "users": ["123"]}),
    ] {
        assert_eq!(post(ok.clone()).await.0, 200, "{ok}");
    }
}

// ---- 6. avatar_url -----------------------------------------------------------------------------

#[tokio::test]
async fn webhook_avatar_urls_must_be_http_urls() {
    let raw = Raw::new().await;
    let (id, token) = raw.webhook().await;
    let hook = format!("/webhooks/{id}/{token}?wait=true");
    for bad in [
        json!("mxc://matrix.org/abc"),
        json!("not a url"),
        json!("https://"),
        json!("https:// example.org/a.png"),
        json!(42),
    ] {
        let r = raw
            .post(&hook, json!({"content": "hi", "avatar_url": bad}))
            .await;
        assert_eq!(
            form_error(&r, "avatar_url"),
            "URL_TYPE_INVALID_URL",
            "{bad}"
        );
    }
    let (s, _) = raw
        .post(
            &hook,
            json!({"content": "hi", "avatar_url": "https://example.org/a.png"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(raw.server.webhook_messages(raw.channel).len(), 1);
}

// ---- 5. reactions ------------------------------------------------------------------------------

#[tokio::test]
async fn reactions_with_emoji_discord_does_not_know_are_refused() {
    let raw = Raw::new().await;
    let ada = raw.server.create_user("ada", None);
    let m = raw.server.post_as_user(raw.channel, ada, "vote");
    let party = raw.server.create_emoji(raw.guild, "party");
    let raw = &raw;
    let react = |emoji: String| {
        let path = format!(
            "/channels/{}/messages/{m}/reactions/{emoji}/@me",
            raw.channel
        );
        async move { raw.call(reqwest::Method::PUT, &path, None).await }
    };
    for ok in ["👍", "👍🏽", "\u{2764}\u{fe0f}", "\u{2764}", "✅"] {
        assert_eq!(react(ok.to_owned()).await.0, 204, "{ok}");
    }
    assert_eq!(react(format!("party:{party}")).await.0, 204);
    // A bot may use the custom emoji of any server it is in.
    let elsewhere = raw.server.create_guild("Other");
    let wave = raw.server.create_emoji(elsewhere, "wave");
    assert_eq!(react(format!("wave:{wave}")).await.0, 204);
    let unknown = json!({"code": 10014, "message": "Unknown Emoji"});
    for bad in [
        "thumbsup".to_owned(),
        ":+1:".to_owned(),
        "a".to_owned(),
        format!("other:{party}"),
        "party:1".to_owned(),
    ] {
        assert_eq!(react(bad.clone()).await, (400, unknown.clone()), "{bad}");
    }
}

/// Delete Own Reaction and Delete User Reaction: 204 also when there is nothing to remove,
/// 10014 for an unknown emoji, 10008 for an unknown message, 50013 for someone else's reaction
/// without Manage Messages; a message's `reactions` count each emoji's reactors and say whether
/// the bot is one of them.
#[tokio::test]
async fn reactions_are_removed_as_on_discord() {
    let raw = Raw::new().await;
    let ada = raw.server.create_user("ada", None);
    let m = raw.server.post_as_user(raw.channel, ada, "vote");
    let raw = &raw;
    let at = |emoji: &str, who: &str| {
        format!(
            "/channels/{}/messages/{m}/reactions/{emoji}/{who}",
            raw.channel
        )
    };
    let reactions = || async move {
        let path = format!("/channels/{}/messages/{m}", raw.channel);
        raw.call(reqwest::Method::GET, &path, None).await.1["reactions"].clone()
    };
    let thumbs = "%F0%9F%91%8D";
    assert_eq!(
        raw.call(reqwest::Method::PUT, &at(thumbs, "@me"), None)
            .await
            .0,
        204
    );
    raw.server.react_as_user(m, ada, "👍");
    raw.server.react_as_user(m, ada, "✅");
    let counted = |count: u64, me: bool, name: &str| {
        json!({"count": count, "count_details": {"burst": 0, "normal": count}, "me": me,
               "me_burst": false, "burst_colors": [], "emoji": {"id": null, "name": name}})
    };
    assert_eq!(
        reactions().await,
        json!([counted(2, true, "👍"), counted(1, false, "✅")])
    );

    let delete = |path: String| async move { raw.call(reqwest::Method::DELETE, &path, None).await };
    assert_eq!(delete(at(thumbs, "@me")).await, (204, Value::Null));
    assert_eq!(
        reactions().await,
        json!([counted(1, false, "👍"), counted(1, false, "✅")])
    );
    // Again: the bot has no such reaction any more, and Discord still answers 204.
    assert_eq!(delete(at(thumbs, "@me")).await, (204, Value::Null));
    let unknown_emoji = json!({"code": 10014, "message": "Unknown Emoji"});
    assert_eq!(delete(at("thumbsup", "@me")).await, (400, unknown_emoji));
    let gone = format!(
        "/channels/{}/messages/1/reactions/{thumbs}/@me",
        raw.channel
    );
    assert_eq!(
        delete(gone).await,
        (404, json!({"code": 10008, "message": "Unknown Message"}))
    );

    // Someone else's reaction needs Manage Messages.
    raw.server.set_can_manage_messages(false);
    assert_eq!(
        delete(at(thumbs, &ada.to_string())).await,
        (
            403,
            json!({"code": 50013, "message": "Missing Permissions"})
        )
    );
    raw.server.set_can_manage_messages(true);
    assert_eq!(delete(at(thumbs, &ada.to_string())).await.0, 204);
    assert_eq!(raw.server.reactions(m), vec![("✅".to_owned(), ada)]);
    assert_eq!(delete(at("%E2%9C%85", &ada.to_string())).await.0, 204);
    assert_eq!(reactions().await, Value::Null, "no reactions: no field");
}

// ---- 11. what Discord reports of images --------------------------------------------------------

/// The header of a PNG of `w`×`h` (all that is needed to know its size).
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    png.extend(b"IHDR");
    png.extend(w.to_be_bytes());
    png.extend(h.to_be_bytes());
    png.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png
}

#[tokio::test]
async fn image_attachments_report_their_dimensions() {
    let raw = Raw::new().await;
    let ada = raw.server.create_user("ada", None);
    let png = png_header(640, 480);
    let m = raw
        .server
        .upload_as_user(raw.channel, ada, "", "a.png", "image/png", &png);
    let t = raw
        .server
        .upload_as_user(raw.channel, ada, "", "a.txt", "text/plain", b"not an image");
    let raw = &raw;
    let get = |id: u64| {
        let path = format!("/channels/{}/messages/{id}", raw.channel);
        async move { raw.call(reqwest::Method::GET, &path, None).await.1 }
    };
    let v = get(m).await;
    let a = &v["attachments"][0];
    assert_eq!((&a["width"], &a["height"]), (&json!(640), &json!(480)));
    let v = get(t).await;
    let a = &v["attachments"][0];
    assert_eq!((&a["width"], &a["height"]), (&Value::Null, &Value::Null));
}

// ---- direct messages ---------------------------------------------------------------------------

/// `POST /users/@me/channels` opens the one DM channel with anyone Discord knows (the same one
/// every time, typed `APIDMChannel`); an unknown user is 10013, a body without a snowflake
/// 50035. Posting there is refused with 403: 50007 when the person closed DMs, 50278 when they
/// share no server with the bot.
#[tokio::test]
async fn direct_messages_are_refused_as_discord_refuses_them() {
    let raw = Raw::new().await;
    let ada = raw.server.create_user("ada", None);
    let open = |who: Value| raw.post("/users/@me/channels", json!({ "recipient_id": who }));
    let (s, dm) = open(json!(ada.to_string())).await;
    assert_eq!(s, 200, "{dm}");
    assert_eq!(dm["type"], 1);
    assert_eq!(dm["name"], Value::Null);
    assert_eq!(dm["recipients"][0]["id"], ada.to_string());
    assert!(dm.get("guild_id").is_none(), "a DM is in no server: {dm}");
    assert_eq!(
        open(json!(ada)).await.1["id"],
        dm["id"],
        "one channel per person"
    );
    assert_eq!(
        open(json!("4242")).await,
        (404, json!({"code": 10013, "message": "Unknown User"}))
    );
    assert_eq!(
        form_error(&open(json!("ada")).await, "recipient_id"),
        "NUMBER_TYPE_COERCE"
    );
    assert_eq!(
        form_error(
            &raw.post("/users/@me/channels", json!({})).await,
            "recipient_id"
        ),
        "BASE_TYPE_REQUIRED"
    );

    let messages = format!("/channels/{}/messages", dm["id"].as_str().unwrap());
    let (s, m) = raw.post(&messages, json!({"content": "hello"})).await;
    assert_eq!(s, 200, "{m}");
    assert!(m.get("guild_id").is_none(), "{m}");
    raw.server.close_dms(ada);
    assert_eq!(
        raw.post(&messages, json!({"content": "again"})).await,
        (
            403,
            json!({"code": 50007, "message": "Cannot send messages to this user"})
        )
    );
    raw.server.open_dms(ada);
    raw.server.leave_guild(raw.guild, ada);
    assert_eq!(
        raw.post(&messages, json!({"content": "again"})).await,
        (
            403,
            json!({"code": 50278, "message": "Cannot send messages to this user due to having no mutual guilds"})
        )
    );
    // Another bot never takes DMs from a bot.
    let (_, own) = open(json!(raw.server.bot_id().to_string())).await;
    let own_messages = format!("/channels/{}/messages", own["id"].as_str().unwrap());
    assert_eq!(
        raw.post(&own_messages, json!({"content": "me"})).await.0,
        403
    );
    assert_eq!(
        raw.server.dm_messages(ada).len(),
        1,
        "only the first one landed"
    );
}
