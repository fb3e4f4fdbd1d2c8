//! Files through the daemon, end to end, with the bytes compared where they land: a resident's
//! photo from Telegram and a document from Discord reach the staff room and the other public
//! room; a staff member's file goes out to both public rooms. A real Synapse, the local
//! Telegram and Discord servers, the three real connectors.
#![allow(clippy::unwrap_used)]

use crate::bridge_process::staff_answers_cross;
use crate::world;

use civicbridge_api::testing::wait_until;
use civicbridge_core::store::Store;
use world::{World, WAIT};

/// A real image, so a server that decodes photos can.
fn png() -> Vec<u8> {
    civicbridge_testkit::telegram::png(3, 2)
}

/// A document whose bytes are not text, with every byte value in it.
fn document() -> Vec<u8> {
    (0..4096u32).map(|i| (i * 7 % 256) as u8).collect()
}

/// Waits for a file message in `room` whose `msgtype` is `kind`; returns its downloaded bytes.
async fn file_in(w: &World, room: &str, kind: &str) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let contents = w.staff.contents(room).await.unwrap();
        let found = contents
            .iter()
            .find(|c| c["msgtype"] == kind && c["url"].is_string())
            .and_then(|c| c["url"].as_str().map(str::to_owned));
        if let Some(url) = found {
            return w.staff.download(&url).await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {kind} in {room}: {contents:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn discord_files(w: &World) -> Vec<(String, Vec<u8>)> {
    w.discord
        .webhook_messages(w.dc_channel)
        .into_iter()
        .chain(w.discord.bot_messages(w.dc_channel))
        .flat_map(|m| m.attachments)
        .collect()
}

#[tokio::test]
async fn a_residents_photo_from_telegram_reaches_staff_and_discord_byte_for_byte() {
    let w = World::new().await;
    let daemon = w.start(Store::memory(), staff_answers_cross()).await;
    w.telegram
        .send_photo(w.tg_chat, (42, "Ada"), png(), "the broken bench")
        .unwrap();
    let photo = png();
    assert_eq!(file_in(&w, &w.staff_room, "m.image").await, photo);
    wait_until(WAIT, "the photo on Discord", || {
        discord_files(&w).iter().any(|(_, bytes)| *bytes == photo)
    })
    .await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_residents_document_from_discord_reaches_staff_and_telegram_byte_for_byte() {
    let w = World::new().await;
    let daemon = w.start(Store::memory(), staff_answers_cross()).await;
    let bea = w.discord.create_user("bea", Some("Bea"));
    let doc = document();
    w.discord.upload_as_user(
        w.dc_channel,
        bea,
        "the minutes",
        "minutes.bin",
        "application/octet-stream",
        &doc,
    );
    assert_eq!(file_in(&w, &w.staff_room, "m.file").await, doc);
    wait_until(WAIT, "the document on Telegram", || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.file.as_deref() == Some(&doc[..]))
    })
    .await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_staff_file_goes_out_to_telegram_and_discord_byte_for_byte() {
    let w = World::new().await;
    let daemon = w.start(Store::memory(), staff_answers_cross()).await;
    let doc = document();
    let map = png();
    w.staff
        .send_file(
            &w.staff_room,
            "timetable.bin",
            "application/octet-stream",
            doc.clone(),
        )
        .await
        .unwrap();
    w.staff
        .send_file(&w.staff_room, "map.png", "image/png", map.clone())
        .await
        .unwrap();
    wait_until(WAIT, "both files on Telegram and Discord", || {
        let tg: Vec<Vec<u8>> = w
            .telegram
            .bot_messages(w.tg_chat)
            .into_iter()
            .filter_map(|m| m.file)
            .collect();
        let dc: Vec<Vec<u8>> = discord_files(&w).into_iter().map(|(_, b)| b).collect();
        [&doc[..], &map[..]]
            .iter()
            .all(|f| tg.iter().any(|b| b == f) && dc.iter().any(|b| b == f))
    })
    .await;
    let names: Vec<String> = discord_files(&w).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"timetable.bin".to_owned()),
        "the file keeps its name: {names:?}"
    );
    daemon.shutdown().await.unwrap();
}
