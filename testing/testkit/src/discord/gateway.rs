//! The gateway over websocket: HELLO, heartbeats and ACKs (a connection that stops heartbeating is
//! closed), IDENTIFY → READY → GUILD_CREATE, RESUME with replay by sequence number, dispatches,
//! INVALID_SESSION and close codes; payload compression (IDENTIFY `compress: true`, as serenity
//! asks) and transport compression (`?compress=zlib-stream`).
//!
//! Each session keeps a log of every dispatch frame; a connection tails its session's log. A
//! dropped connection leaves the log growing, so a RESUME with the last sequence number the client
//! saw replays exactly what it missed.

use super::state::{KNOWN_INTENTS, PRIVILEGED_INTENTS};
use super::Shared;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What the control API asks live gateway connections to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    None,
    /// Drop the TCP connection without a close frame, as a network failure would.
    Drop,
    /// Close with this close code (4000 lets the client resume; 4004 does not).
    Close(u16),
    /// Send INVALID_SESSION (`d: false`): the client must identify again.
    InvalidSession,
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    Query(q): Query<HashMap<String, String>>,
    State(shared): State<Arc<Shared>>,
) -> Response {
    let shared_kill = shared.kill.subscribe();
    // `compress=zlib-stream`: every frame goes out through one zlib stream, sync-flushed.
    let stream = (q.get("compress").map(String::as_str) == Some("zlib-stream"))
        .then(|| ZlibEncoder::new(Vec::new(), Compression::default()));
    ws.on_upgrade(move |sock| async move {
        let mut hold = shared.hold.subscribe();
        if hold.wait_for(|held| !*held).await.is_err() {
            return;
        }
        let mut conn = Conn {
            sock,
            shared,
            session: None,
            compress: false,
            stream,
            cursor: 0,
            last_beat: Instant::now(),
            kill: {
                let mut k = shared_kill;
                k.mark_unchanged();
                k
            },
        };
        conn.run().await;
    })
}

struct Conn {
    sock: WebSocket,
    shared: Arc<Shared>,
    session: Option<String>,
    /// Whether the session asked for payload compression.
    compress: bool,
    /// Transport compression (`compress=zlib-stream` in the URL): one zlib context for the
    /// whole connection, each message ending in a sync flush (`00 00 ff ff`).
    stream: Option<ZlibEncoder<Vec<u8>>>,
    /// Index into the session log of the next frame to send.
    cursor: usize,
    /// When the client last heartbeated (or connected).
    last_beat: Instant,
    kill: tokio::sync::watch::Receiver<Kill>,
}

enum Next {
    Continue,
    Close(u16, &'static str),
    Stop,
}

impl Conn {
    async fn send(&mut self, v: String) -> bool {
        if let Some(z) = &mut self.stream {
            if z.write_all(v.as_bytes()).is_err() || z.flush().is_err() {
                return false;
            }
            let chunk = std::mem::take(z.get_mut());
            return self.sock.send(Message::Binary(chunk.into())).await.is_ok();
        }
        self.sock.send(Message::Text(v.into())).await.is_ok()
    }

    /// Sends a dispatch frame: zlib-compressed in a binary message when the session asked for
    /// payload compression and the frame is large (as Discord compresses READY, GUILD_CREATE and
    /// other big payloads), as text otherwise.
    async fn send_frame(&mut self, v: String) -> bool {
        // Payload compression is off when the transport is compressed, as on Discord.
        if self.compress && self.stream.is_none() && v.len() >= COMPRESS_FROM {
            if let Some(z) = zlib(v.as_bytes()) {
                return self.sock.send(Message::Binary(z.into())).await.is_ok();
            }
        }
        self.send(v).await
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let _ = self
            .sock
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }

    async fn run(&mut self) {
        let interval = self.shared.heartbeat_ms;
        {
            let mut st = self.shared.lock();
            st.connections += 1;
            st.live_connections += 1;
        }
        let _live = LiveGuard(self.shared.clone());
        let mut events = self.shared.events.subscribe();
        let hello = json!({"op": 10, "d": {"heartbeat_interval": interval}, "s": null, "t": null});
        if !self.send(hello.to_string()).await {
            return;
        }
        // Discord closes a connection that has not heartbeated within the interval (plus grace).
        let grace = Duration::from_millis(interval + interval / 2 + 500);
        loop {
            let deadline = self.last_beat + grace;
            if !self.flush().await {
                return;
            }
            let next = tokio::select! {
                // Control first: a drop must cut the connection before more frames go out.
                biased;
                r = self.kill.changed() => {
                    if r.is_err() { return; }
                    let k = *self.kill.borrow_and_update();
                    match k {
                        Kill::None => Next::Continue,
                        Kill::Drop => return,
                        Kill::Close(code) => Next::Close(code, "closed by the test"),
                        Kill::InvalidSession => {
                            let _ = self.flush().await;
                            self.session = None;
                            let f = json!({"op": 9, "d": false, "s": null, "t": null});
                            if !self.send(f.to_string()).await { return; }
                            Next::Continue
                        }
                    }
                }
                m = self.sock.recv() => match m {
                    Some(Ok(Message::Text(t))) => self.handle(t.as_str()).await,
                    Some(Ok(Message::Binary(_))) => Next::Close(4002, "Decode error"),
                    Some(Ok(Message::Close(frame))) => {
                        // A client closing with 1000/1001 ends its session (it cannot resume).
                        if frame.as_ref().is_some_and(|f| f.code == 1000 || f.code == 1001) {
                            self.end_session();
                        }
                        Next::Stop
                    }
                    None | Some(Err(_)) => Next::Stop,
                    Some(Ok(_)) => Next::Continue,
                },
                _ = events.changed() => Next::Continue,
                _ = tokio::time::sleep_until(deadline) => Next::Close(4009, "Session timed out"),
            };
            match next {
                Next::Continue => {}
                Next::Stop => return,
                Next::Close(code, reason) => {
                    self.close(code, reason).await;
                    return;
                }
            }
        }
    }

    fn end_session(&mut self) {
        if let Some(sid) = self.session.take() {
            if let Some(s) = self.shared.lock().sessions.get_mut(&sid) {
                s.invalid = true;
            }
        }
    }

    /// Sends every frame of the session log the client has not been sent yet.
    async fn flush(&mut self) -> bool {
        let Some(sid) = self.session.clone() else {
            return true;
        };
        let frames: Vec<String> = {
            let st = self.shared.lock();
            match st.sessions.get(&sid) {
                Some(s) if !s.invalid => s.log.get(self.cursor..).unwrap_or_default().to_vec(),
                _ => Vec::new(),
            }
        };
        for f in frames {
            // A pending drop or close cuts the stream here, as a broken connection would.
            if self.kill.has_changed().unwrap_or(true) {
                return true;
            }
            if !self.send_frame(f).await {
                return false;
            }
            self.cursor += 1;
        }
        true
    }

    fn token_ok(&self, d: &Value) -> bool {
        let token = d.get("token").and_then(Value::as_str).unwrap_or_default();
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        token == self.shared.lock().token
    }

    async fn handle(&mut self, text: &str) -> Next {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return Next::Close(4002, "Decode error");
        };
        let op = v.get("op").and_then(Value::as_u64).unwrap_or(u64::MAX);
        let d = v.get("d").cloned().unwrap_or(Value::Null);
        match op {
            1 => {
                self.last_beat = Instant::now();
                self.shared.lock().heartbeats += 1;
                let ack = json!({"op": 11, "d": null, "s": null, "t": null});
                if self.send(ack.to_string()).await {
                    Next::Continue
                } else {
                    Next::Stop
                }
            }
            2 => {
                if self.session.is_some() {
                    return Next::Close(4005, "Already authenticated");
                }
                if !self.token_ok(&d) {
                    return Next::Close(4004, "Authentication failed");
                }
                let intents = d.get("intents").and_then(Value::as_u64).unwrap_or(0);
                if intents & !KNOWN_INTENTS != 0 {
                    return Next::Close(4013, "Invalid intent(s).");
                }
                let granted = self.shared.lock().privileged_intents;
                if intents & PRIVILEGED_INTENTS & !granted != 0 {
                    return Next::Close(4014, "Disallowed intent(s).");
                }
                let compress = d.get("compress").and_then(Value::as_bool) == Some(true);
                let sid = self.shared.lock().open_session(intents, compress);
                self.compress = compress;
                self.session = Some(sid);
                self.cursor = 0;
                Next::Continue
            }
            6 => {
                if !self.token_ok(&d) {
                    return Next::Close(4004, "Authentication failed");
                }
                let sid = d
                    .get("session_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let seq = d.get("seq").and_then(Value::as_u64).unwrap_or(0) as usize;
                let resumable = {
                    let mut st = self.shared.lock();
                    let ok = st
                        .sessions
                        .get(sid)
                        .is_some_and(|s| !s.invalid && seq <= s.log.len());
                    if ok {
                        self.compress = st.sessions.get(sid).is_some_and(|s| s.compress);
                        st.resumes += 1;
                        let missed = st.sessions.get(sid).map_or(0, |s| s.log.len() - seq);
                        st.replayed += missed as u32;
                        st.push_frame(sid, "RESUMED", json!({"_trace": ["civicbridge-fake"]}));
                    }
                    ok
                };
                if resumable {
                    self.session = Some(sid.to_owned());
                    self.cursor = seq;
                    Next::Continue
                } else {
                    let f = json!({"op": 9, "d": false, "s": null, "t": null});
                    if self.send(f.to_string()).await {
                        Next::Continue
                    } else {
                        Next::Stop
                    }
                }
            }
            _ if self.session.is_none() => Next::Close(4003, "Not authenticated"),
            3 | 4 | 8 => Next::Continue,
            _ => Next::Close(4001, "Unknown opcode"),
        }
    }
}

/// Frames of at least this many bytes are compressed when a session asked for it.
const COMPRESS_FROM: usize = 1024;

/// `data` as one zlib stream (what serenity inflates from a binary message).
fn zlib(data: &[u8]) -> Option<Vec<u8>> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(data).ok()?;
    z.finish().ok()
}

/// Counts a connection as live until it ends.
struct LiveGuard(Arc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.lock().live_connections -= 1;
    }
}
