//! A TCP relay between a worker and the broker that reads the broker's AMQP frames as they pass
//! (issue 14): it breaks the content header of every message carrying [`UNREADABLE_MARK`] in
//! its headers (the frame-end octet is replaced, so the client library cannot parse the frame
//! and drops the connection, as it would on a header it cannot read), and it records, per
//! `message_id`, the highest `x-delivery-count` the broker sent. It can also stop forwarding
//! (a half-open connection), or forward heartbeat frames only (a wedged path whose peer still
//! beats: the client library's heartbeat check sees frames and never gives up). The parsing is the test's own (AMQP 0-9-1 framing and the basic
//! properties' layout), not the worker's.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A header key (with any value) that makes the relay break the message's content header.
pub const UNREADABLE_MARK: &str = "x-test-unreadable";

/// What the relay saw of one message (by `message_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Content headers forwarded for it (one per delivery).
    pub deliveries: u64,
    /// The highest `x-delivery-count` header the broker sent with it (0 when absent).
    pub max_delivery_count: i64,
    /// Each delivery's relay connection number and `x-delivery-count`, in order.
    pub history: Vec<(u64, i64)>,
}

#[derive(Default)]
struct State {
    seen: Mutex<BTreeMap<String, Seen>>,
    broken: AtomicU64,
    accepted: AtomicU64,
    stalled: AtomicBool,
    wedged: AtomicBool,
    wedged_beats: AtomicU64,
}

/// A running frame relay.
pub struct FrameRelay {
    /// Where workers connect.
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl FrameRelay {
    /// Listens on a free local port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> FrameRelay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay listens");
        let addr = listener.local_addr().expect("relay address");
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let number = shared.accepted.fetch_add(1, Ordering::SeqCst) + 1;
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut client_rx, mut client_tx) = client.into_split();
                    let (mut server_rx, mut server_tx) = server.into_split();
                    let up_state = Arc::clone(&state);
                    let up = async move {
                        // The client opens with the 8-octet protocol header, then frames.
                        let (mut pending, mut header_left) = (Vec::new(), 8usize);
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match client_rx.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            if up_state.stalled.load(Ordering::SeqCst) {
                                continue;
                            }
                            pending.extend_from_slice(&buf[..n]);
                            let mut ready: Vec<u8> =
                                pending.drain(..header_left.min(pending.len())).collect();
                            header_left -= ready.len();
                            if header_left == 0 {
                                let wedged = up_state.wedged.load(Ordering::SeqCst);
                                for frame in split_frames(&mut pending) {
                                    if wedged && frame[0] == HEARTBEAT_FRAME {
                                        up_state.wedged_beats.fetch_add(1, Ordering::SeqCst);
                                    }
                                    if !wedged || frame[0] == HEARTBEAT_FRAME {
                                        ready.extend_from_slice(&frame);
                                    }
                                }
                            }
                            if server_tx.write_all(&ready).await.is_err() {
                                return;
                            }
                        }
                    };
                    let down = async move {
                        let mut pending: Vec<u8> = Vec::new();
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match server_rx.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            pending.extend_from_slice(&buf[..n]);
                            let ready = take_frames(&mut pending, &state, number);
                            if state.stalled.load(Ordering::SeqCst) {
                                continue;
                            }
                            if client_tx.write_all(&ready).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                });
            }
        });
        FrameRelay { addr, state, task }
    }

    /// What the relay saw, per `message_id`.
    pub fn seen(&self) -> BTreeMap<String, Seen> {
        self.state.seen.lock().expect("relay state").clone()
    }

    /// Content headers broken so far.
    pub fn broken(&self) -> u64 {
        self.state.broken.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Stops (true) or resumes (false) forwarding in both directions, connections kept open.
    pub fn stall(&self, stalled: bool) {
        self.state.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Forwards heartbeat frames only (true), in both directions, or everything again (false).
    /// Frames dropped meanwhile are gone, so a connection wedged mid-conversation is not usable
    /// afterwards; new connections are.
    pub fn wedge(&self, wedged: bool) {
        self.state.wedged.store(wedged, Ordering::SeqCst);
    }

    /// Heartbeat frames forwarded while wedged, both directions together.
    pub fn wedged_beats(&self) -> u64 {
        self.state.wedged_beats.load(Ordering::SeqCst)
    }
}

impl Drop for FrameRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The AMQP 0-9-1 frame type of a heartbeat.
const HEARTBEAT_FRAME: u8 = 8;

/// Takes every complete frame (type, channel, size, payload, frame-end octet) off the front of
/// `pending`; an incomplete one stays.
fn split_frames(pending: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut at = 0;
    while pending.len() - at >= 8 {
        let size = u32::from_be_bytes([
            pending[at + 3],
            pending[at + 4],
            pending[at + 5],
            pending[at + 6],
        ]) as usize;
        let end = at + 7 + size + 1;
        if pending.len() < end {
            break;
        }
        frames.push(pending[at..end].to_vec());
        at = end;
    }
    pending.drain(..at);
    frames
}

/// Takes every complete frame off the front of `pending` (broker to client), breaking and
/// recording content headers, and returns the bytes to forward (heartbeats only while wedged).
/// Before the first frame the broker may send nothing else (a protocol header only on a version
/// mismatch, which the tests never cause), so the stream is frames from its first byte.
fn take_frames(pending: &mut Vec<u8>, state: &State, connection: u64) -> Vec<u8> {
    let wedged = state.wedged.load(Ordering::SeqCst);
    let mut out = Vec::new();
    for mut frame in split_frames(pending) {
        let size = frame.len() - 8;
        if frame[0] == 2 {
            let payload = &frame[7..7 + size];
            let (message_id, count, marked) = read_content_header(payload);
            if let Some(id) = message_id {
                let mut seen = state.seen.lock().expect("relay state");
                let entry = seen.entry(id).or_default();
                entry.deliveries += 1;
                entry.max_delivery_count = entry.max_delivery_count.max(count);
                entry.history.push((connection, count));
            }
            if marked {
                let last = frame.len() - 1;
                frame[last] = 0;
                state.broken.fetch_add(1, Ordering::SeqCst);
            }
        }
        if wedged && frame[0] == HEARTBEAT_FRAME {
            state.wedged_beats.fetch_add(1, Ordering::SeqCst);
        }
        if !wedged || frame[0] == HEARTBEAT_FRAME {
            out.extend_from_slice(&frame);
        }
    }
    out
}

/// A content header's `message_id`, its `x-delivery-count` (0 when absent) and whether its
/// headers hold [`UNREADABLE_MARK`]. Layout (AMQP 0-9-1 basic class): class, weight, body
/// size, property flags, then content-type, content-encoding, headers, delivery-mode, priority,
/// correlation-id, reply-to, expiration, message-id in flag order.
fn read_content_header(payload: &[u8]) -> (Option<String>, i64, bool) {
    let mut r = Reader {
        data: payload,
        at: 12,
    };
    let Some(flags) = r.u16() else {
        return (None, 0, false);
    };
    let has = |bit: u16| flags & (1 << bit) != 0;
    let (mut count, mut marked, mut message_id) = (0, false, None);
    let ok = (|| {
        if has(15) {
            r.short_string()?;
        }
        if has(14) {
            r.short_string()?;
        }
        if has(13) {
            let table = r.long_bytes()?;
            marked = contains(table, UNREADABLE_MARK.as_bytes());
            count = delivery_count(table);
        }
        if has(12) {
            r.take(1)?;
        }
        if has(11) {
            r.take(1)?;
        }
        for bit in [10, 9, 8] {
            if has(bit) {
                r.short_string()?;
            }
        }
        if has(7) {
            message_id = Some(String::from_utf8_lossy(r.short_string()?).into_owned());
        }
        Some(())
    })();
    let _ = ok;
    (message_id, count, marked)
}

/// The value of a top-level `x-delivery-count` entry of an encoded table (its content).
fn delivery_count(table: &[u8]) -> i64 {
    let key = b"x-delivery-count";
    let mut r = Reader { data: table, at: 0 };
    while r.at < table.len() {
        let Some(name) = r.short_string() else {
            return 0;
        };
        let Some(kind) = r.take(1).map(|b| b[0]) else {
            return 0;
        };
        let value = match kind {
            b'l' | b'L' => r
                .take(8)
                .map(|b| i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
            b'I' | b'i' => r
                .take(4)
                .map(|b| i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
            b's' | b'u' => r
                .take(2)
                .map(|b| i64::from(i16::from_be_bytes([b[0], b[1]]))),
            b'b' | b'B' => r.take(1).map(|b| i64::from(b[0])),
            // Values that are not a count are skipped by their size.
            b'S' | b'F' | b'A' | b'x' => r.long_bytes().map(|_| -1),
            b't' => r.take(1).map(|_| -1),
            b'T' | b'd' => r.take(8).map(|_| -1),
            b'f' => r.take(4).map(|_| -1),
            b'D' => r.take(5).map(|_| -1),
            b'V' => Some(-1),
            _ => return 0,
        };
        if name == key {
            return value.unwrap_or(0);
        }
        if value.is_none() {
            return 0;
        }
    }
    0
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn short_string(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.take(1)?[0]);
        self.take(n)
    }
    fn long_bytes(&mut self) -> Option<&'a [u8]> {
        let n = self
            .take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))?;
        self.take(usize::try_from(n).ok()?)
    }
}
