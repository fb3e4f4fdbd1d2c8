use super::*;

fn kinds(text: &str) -> Vec<(&'static str, String)> {
    let units: Vec<u16> = text.encode_utf16().collect();
    detect(text)
        .into_iter()
        .map(|(k, s, e)| (k, String::from_utf16_lossy(&units[s as usize..e as usize])))
        .collect()
}

#[test]
fn telegram_detects_links_addresses_mentions_tags_and_commands() {
    assert_eq!(
        kinds("/start@civicbridge_bot see https://x.org/a?b=1 or docs.rs, mail ada@example.org"),
        vec![
            ("bot_command", "/start@civicbridge_bot".into()),
            ("url", "https://x.org/a?b=1".into()),
            ("url", "docs.rs".into()),
            ("email", "ada@example.org".into()),
        ]
    );
    assert_eq!(
        kinds("😀 @adalovelace #roads_2026 $USD and/or /x #123 @ada"),
        vec![
            ("mention", "@adalovelace".into()),
            ("hashtag", "#roads_2026".into()),
            ("cashtag", "$USD".into()),
            ("bot_command", "/x".into()),
        ]
    );
    assert_eq!(kinds("v1.2 costs 5$ a@b"), vec![]);
}

#[test]
fn offsets_are_utf16_and_whitespace_is_trimmed() {
    let (text, entities) = finish(
        "  \n😀 漢字 https://x.org ",
        vec![json!({"type": "bold", "offset": 0, "length": 6})],
    );
    assert_eq!(text, "😀 漢字 https://x.org");
    assert_eq!(
        entities,
        vec![
            json!({"type": "bold", "offset": 0, "length": 3}),
            json!({"type": "url", "offset": 6, "length": 13}),
        ]
    );
}

#[test]
fn entities_are_cut_to_the_text_and_detection_skips_code() {
    let (text, entities) = finish(
        "run /stop in `https://x.org`",
        vec![
            json!({"type": "code", "offset": 13, "length": 15}),
            json!({"type": "italic", "offset": 20, "length": 50}),
            json!({"type": "bold", "offset": 40, "length": 2}),
        ],
    );
    assert_eq!(text, "run /stop in `https://x.org`");
    assert_eq!(
        entities,
        vec![
            json!({"type": "bot_command", "offset": 4, "length": 5}),
            json!({"type": "code", "offset": 13, "length": 15}),
            json!({"type": "italic", "offset": 20, "length": 8}),
        ]
    );
}

#[test]
fn entity_lists_are_read_like_the_bot_api_reads_them() {
    let refused = |v: Value| read_list(&v).expect_err("refused").description;
    assert_eq!(
        refused(json!([{"type": "sparkle", "offset": 0, "length": 1}])),
        "Bad Request: can't parse MessageEntity: Unsupported type specified"
    );
    assert_eq!(
        refused(json!([{"type": "text_link", "offset": 0, "length": 1}])),
        "Bad Request: can't parse MessageEntity: Can't find field \"url\""
    );
    assert_eq!(
        refused(json!([{"type": "bold", "length": 1}])),
        "Bad Request: can't parse MessageEntity: Can't find field \"offset\""
    );
    assert_eq!(
        refused(json!([{"offset": 0, "length": 1}])),
        "Bad Request: can't parse MessageEntity: Can't find field \"type\""
    );
    assert_eq!(
        refused(json!({"type": "bold"})),
        "Bad Request: expected an Array of MessageEntity"
    );
    assert_eq!(
        refused(json!([{"type": "bold", "offset": -1, "length": 1}])),
        "Bad Request: receive an entity with incorrect offset -1"
    );
    let kept = read_list(&json!([
        {"type": "url", "offset": 0, "length": 3},
        {"type": "bold", "offset": "1", "length": 2, "url": "https://x.org"},
        {"type": "pre", "offset": 0, "length": 2, "language": ""},
        {"type": "text_link", "offset": 0, "length": 2, "url": "https://x.org", "language": "c"}
    ]))
    .expect("valid");
    assert_eq!(
        kept,
        vec![
            json!({"type": "bold", "offset": 1, "length": 2}),
            json!({"type": "pre", "offset": 0, "length": 2}),
            json!({"type": "text_link", "offset": 0, "length": 2, "url": "https://x.org"}),
        ],
        "detected kinds dropped, only each type's own fields kept"
    );
}

#[test]
fn any_text_and_entities_come_out_within_the_text() {
    let alphabet: Vec<char> = "a Z_9@#$/.:-\n\t 😀漢é\u{301}\u{200b}\u{3000}https://x.org ada@b.io"
        .chars()
        .collect();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..2000 {
        let len = next(40);
        let text: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
        let entities = (0..next(4))
            .map(|_| json!({"type": "bold", "offset": next(50), "length": next(50)}))
            .collect();
        let (out, found) = finish(&text, entities);
        assert_eq!(out, text.trim());
        let units = out.encode_utf16().count() as i64;
        for e in &found {
            let (o, l) = (e["offset"].as_i64().unwrap(), e["length"].as_i64().unwrap());
            assert!(o >= 0 && l > 0 && o + l <= units, "{e} in {out:?}");
        }
    }
}
