//! A client keeps one connection to the Bot API for call after call, uploads included: the
//! local server reads every request body to its end, so a chunked multipart upload, even one it
//! refuses early, never costs the connection. Spoken over one raw TCP socket, so the test sees
//! exactly what a kept-alive connection carries (reqwest's chunked bodies need a feature the
//! workspace does not build).
#![allow(clippy::unwrap_used)]

use civicbridge_testkit::telegram::{png, Fault, TelegramServer};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const BOUNDARY: &str = "civicbridge-test-boundary";
const WAIT: Duration = Duration::from_secs(20);

type Field = (&'static str, Option<&'static str>, Vec<u8>);

fn multipart(fields: &[Field]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, data) in fields {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"").bytes(),
        );
        if let Some(f) = file {
            body.extend(
                format!("; filename=\"{f}\"\r\nContent-Type: application/octet-stream").bytes(),
            );
        }
        body.extend(b"\r\n\r\n");
        body.extend(data);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").bytes());
    body
}

/// A POST with a `Transfer-Encoding: chunked` body in pieces of 1000 bytes.
fn chunked_post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
    )
    .into_bytes();
    for piece in body.chunks(1000) {
        req.extend(format!("{:x}\r\n", piece.len()).bytes());
        req.extend(piece);
        req.extend(b"\r\n");
    }
    req.extend(b"0\r\n\r\n");
    req
}

/// Reads one response (the server answers with `Content-Length`): status and JSON body.
async fn response(r: &mut BufReader<TcpStream>) -> (u16, Value) {
    let mut status = String::new();
    r.read_line(&mut status).await.unwrap();
    assert!(!status.is_empty(), "the server closed the connection");
    let code = status.split(' ').nth(1).unwrap().parse().unwrap();
    let mut len = None;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = Some(v.trim().parse::<usize>().unwrap());
            }
        }
    }
    let mut body = vec![0; len.expect("a Content-Length")];
    r.read_exact(&mut body).await.unwrap();
    (code, serde_json::from_slice(&body).unwrap())
}

async fn exchange(conn: &mut BufReader<TcpStream>, request: &[u8], what: &str) -> (u16, Value) {
    let run = async {
        if let Err(e) = conn.get_mut().write_all(request).await {
            panic!("{what}: the connection is gone: {e}");
        }
        response(conn).await
    };
    tokio::time::timeout(WAIT, run)
        .await
        .expect("answered in time")
}

#[tokio::test]
async fn a_chunked_upload_keeps_the_connection_alive_whatever_the_answer() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let token = server.token().to_owned();
    let addr = server.url().trim_start_matches("http://").to_owned();
    let mut conn = BufReader::new(TcpStream::connect(&addr).await.unwrap());
    let chat_id = || ("chat_id", None, chat.to_string().into_bytes());
    let get_me = format!("GET /bot{token}/getMe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");

    let truncated = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n{chat}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"d.bin\"\r\n"
    );
    let uploads: Vec<(String, Vec<u8>, u16)> = vec![
        (
            format!("/bot{token}/sendPhoto"),
            multipart(&[chat_id(), ("photo", Some("p.png"), png(300, 200))]),
            200,
        ),
        // Refused for its bytes.
        (
            format!("/bot{token}/sendPhoto"),
            multipart(&[chat_id(), ("photo", Some("p.jpg"), vec![7; 20_000])]),
            400,
        ),
        // Refused before any method runs: a wrong token.
        (
            "/bot1:wrong/sendDocument".to_owned(),
            multipart(&[chat_id(), ("document", Some("d.bin"), vec![1; 50_000])]),
            401,
        ),
        // Refused by flood control (queued below).
        (
            format!("/bot{token}/sendVoice"),
            multipart(&[chat_id(), ("voice", Some("v.ogg"), vec![3; 40_000])]),
            429,
        ),
        // A method the server does not have.
        (
            format!("/bot{token}/sendSticker"),
            multipart(&[chat_id(), ("sticker", Some("s.webp"), vec![2; 30_000])]),
            404,
        ),
        // A multipart body that breaks off inside a part: the server reads it to its end
        // and answers from what it could read.
        (
            format!("/bot{token}/sendDocument"),
            truncated.into_bytes(),
            400,
        ),
    ];
    server.fail_method("sendVoice", 1, Fault::TooManyRequests { retry_after: 3 });
    for (path, upload, status) in uploads {
        let (got, body) = exchange(&mut conn, &chunked_post(&path, &upload), &path).await;
        assert_eq!(got, status, "{path}: {body}");
        let after = format!("getMe after {path}");
        let (got, body) = exchange(&mut conn, get_me.as_bytes(), &after).await;
        assert_eq!(got, 200, "the next call on the same connection: {body}");
        assert_eq!(body["ok"], true);
    }
    assert_eq!(server.connections_accepted(), 1);
}
