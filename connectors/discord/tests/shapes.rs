//! Every kind of dispatch the local Discord gateway sends, checked against `discord-api-types`
//! (see `civicbridge_testkit::shapes`): residents and the bridge do what they do (messages,
//! replies, files, edits, deletions, reactions added and removed, threads, forum posts, webhook posts), the real
//! client reads it all, and each frame the server sent becomes a TypeScript constant typed
//! `GatewayDispatchPayload`, which `tsc --strict` must accept.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{Connector, Outgoing, Persona, RoomId};
use civicbridge_testkit::shapes::check;
use common::world;

/// A 3×2 PNG, so the server reports an image attachment's width and height.
const PNG: [u8; 73] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0,
    0, 0, 18, 22, 241, 77, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 56, 33, 39, 7, 65, 12, 112,
    22, 0, 65, 0, 6, 25, 60, 69, 65, 150, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_gateway_dispatch_matches_discord_api_types() {
    let w = world().await;
    let root = w.server.post_as_user(w.channel, w.ada, "Hello council");
    w.server.reply_as_user(w.channel, w.bob, root, "an answer");
    w.server
        .upload_as_user(w.channel, w.ada, "the map", "map.png", "image/png", &PNG);
    w.server.edit_as_user(root, "Hello council, edited");
    w.server.react_as_user(root, w.bob, "👍");
    w.server.unreact_as_user(root, w.bob, "👍");
    let thread = w
        .server
        .start_thread_as_user(w.channel, root, w.ada, "Roads");
    w.server.post_as_user(thread, w.bob, "in the thread");
    w.server
        .forum_post_as_user(w.forum, w.ada, "Parks", "more benches");
    let gone = w.server.post_as_user(w.channel, w.bob, "oops");
    w.server.delete_as_user(gone);
    // The bridge posts, as a persona (webhook) and as itself.
    let room = RoomId::new(w.channel.to_string());
    let mut out = Outgoing::text(
        room.clone(),
        "shape-1",
        "Sam (Matrix): the hall opens at nine",
    );
    out.persona = Some(Persona {
        display_name: "Sam".into(),
        avatar_url: None,
        platform_label: "Matrix".into(),
    });
    w.connector.send(&out).await.unwrap();
    w.connector
        .send(&Outgoing::text(room.clone(), "shape-2", "a notice"))
        .await
        .unwrap();
    // The bot reacts and takes its reaction back.
    let root_id = civicbridge_api::RemoteMsgId::new(root.to_string());
    w.connector.react(&room, &root_id, "✅").await.unwrap();
    w.connector.unreact(&room, &root_id, "✅").await.unwrap();
    w.all_dispatches_handled().await;

    let frames = w.server.dispatch_frames();
    let mut kinds: Vec<String> = Vec::new();
    // Each frame's `d` is checked as the typings' data of its `t`. The typings use TypeScript
    // enums (`t`, `op`, every flags field, locales), which JSON text cannot be typed as, so enum
    // types are read as the numbers or strings they stand for (`Loose`); field names, required
    // fields and primitive types are checked as written. `_trace` is left out: Discord sends it
    // in READY, the typings do not list it.
    let mut ts = String::from(
        "import type { GatewayDispatchPayload } from \"discord-api-types/v10\";\n\
         type Loose<T> = T extends string ? string : T extends number ? number : T extends boolean | null | undefined ? T \
           : T extends readonly (infer U)[] ? Loose<U>[] : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;\n\
         type Data = { [P in GatewayDispatchPayload as `${P[\"t\"]}`]: Loose<P[\"d\"]> };\n",
    );
    for (i, f) in frames.iter().enumerate() {
        let t = f["t"].as_str().unwrap_or_default().to_owned();
        let mut d = f["d"].clone();
        if let Some(m) = d.as_object_mut() {
            m.remove("_trace");
        }
        ts.push_str(&format!("export const d{i}: Data[\"{t}\"] = {d};\n"));
        if !kinds.contains(&t) {
            kinds.push(t);
        }
    }
    for expected in [
        "READY",
        "GUILD_CREATE",
        "MESSAGE_CREATE",
        "MESSAGE_UPDATE",
        "MESSAGE_DELETE",
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE",
        "THREAD_CREATE",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "no {expected} in {kinds:?}"
        );
    }
    check("discord_gateway", &ts);
}
