//! A hostile producer: a minimal AMQP 0-9-1 client over a plain socket that publishes content
//! headers byte for byte as the test writes them (lapin cannot send a `message_id` that is not
//! UTF-8, or a header table nested 3,000 levels deep). Publisher confirms are on; `publish`
//! waits for the broker's ack. Only what the tests need: PLAIN login, one channel.
#![allow(dead_code)]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FRAME_METHOD: u8 = 1;
const FRAME_HEADER: u8 = 2;
const FRAME_BODY: u8 = 3;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;

/// A connection with one confirm-mode channel.
pub struct RawPublisher {
    stream: TcpStream,
    frame_max: u32,
}

/// One frame as read.
struct Frame {
    kind: u8,
    payload: Vec<u8>,
}

fn short(out: &mut Vec<u8>, s: &[u8]) {
    out.push(u8::try_from(s.len()).expect("short string"));
    out.extend_from_slice(s);
}

fn long(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u32::try_from(s.len()).expect("long string").to_be_bytes());
    out.extend_from_slice(s);
}

fn method(class: u16, id: u16, args: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(4 + args.len());
    p.extend_from_slice(&class.to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(args);
    p
}

impl RawPublisher {
    /// Connects to the broker of `url` (`amqp://user:pass@host:port/vhost`) and opens channel 1
    /// in confirm mode.
    pub async fn connect(url: &str) -> RawPublisher {
        let url = url::Url::parse(url).expect("broker URL");
        let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = url.port().unwrap_or(5672);
        let user = if url.username().is_empty() {
            "guest".to_owned()
        } else {
            url.username().to_owned()
        };
        let pass = url.password().unwrap_or("guest").to_owned();
        let vhost = match url.path().trim_start_matches('/') {
            "" | "%2f" | "%2F" => "/".to_owned(),
            v => v.to_owned(),
        };
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .expect("connect to the broker");
        let mut c = RawPublisher {
            stream,
            frame_max: 4096,
        };
        c.stream
            .write_all(b"AMQP\x00\x00\x09\x01")
            .await
            .expect("protocol header");
        c.expect_method(10, 10).await; // connection.start
        let mut args = Vec::new();
        args.extend_from_slice(&0u32.to_be_bytes()); // client properties: empty table
        short(&mut args, b"PLAIN");
        long(&mut args, format!("\0{user}\0{pass}").as_bytes());
        short(&mut args, b"en_US");
        c.send(FRAME_METHOD, 0, &method(10, 11, &args)).await;
        let tune = c.expect_method(10, 30).await;
        let channel_max = u16::from_be_bytes([tune[4], tune[5]]);
        let frame_max = u32::from_be_bytes([tune[6], tune[7], tune[8], tune[9]]);
        c.frame_max = if frame_max == 0 { 131_072 } else { frame_max };
        let mut args = Vec::new();
        args.extend_from_slice(&channel_max.to_be_bytes());
        args.extend_from_slice(&c.frame_max.to_be_bytes());
        args.extend_from_slice(&0u16.to_be_bytes()); // no heartbeats
        c.send(FRAME_METHOD, 0, &method(10, 31, &args)).await;
        let mut args = Vec::new();
        short(&mut args, vhost.as_bytes());
        short(&mut args, b"");
        args.push(0);
        c.send(FRAME_METHOD, 0, &method(10, 40, &args)).await;
        c.expect_method(10, 41).await;
        c.send(FRAME_METHOD, 1, &method(20, 10, &[0])).await;
        c.expect_method(20, 11).await;
        c.send(FRAME_METHOD, 1, &method(85, 10, &[0])).await;
        c.expect_method(85, 11).await;
        c
    }

    /// The negotiated `frame_max`.
    pub fn frame_max(&self) -> u32 {
        self.frame_max
    }

    async fn send(&mut self, kind: u8, channel: u16, payload: &[u8]) {
        let mut frame = Vec::with_capacity(payload.len() + 8);
        frame.push(kind);
        frame.extend_from_slice(&channel.to_be_bytes());
        frame.extend_from_slice(&u32::try_from(payload.len()).expect("frame").to_be_bytes());
        frame.extend_from_slice(payload);
        frame.push(FRAME_END);
        self.stream.write_all(&frame).await.expect("write frame");
    }

    async fn read_frame(&mut self) -> Frame {
        let mut head = [0u8; 7];
        tokio::time::timeout(Duration::from_secs(30), self.stream.read_exact(&mut head))
            .await
            .expect("a frame within 30 s")
            .expect("read frame header");
        let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]);
        let mut payload = vec![0u8; usize::try_from(size).expect("size") + 1];
        self.stream
            .read_exact(&mut payload)
            .await
            .expect("read frame");
        assert_eq!(payload.pop(), Some(FRAME_END), "frame end");
        Frame {
            kind: head[0],
            payload,
        }
    }

    /// Reads frames until a method; panics with the broker's reply text on a close.
    async fn next_method(&mut self) -> (u16, u16, Vec<u8>) {
        loop {
            let f = self.read_frame().await;
            if f.kind == FRAME_HEARTBEAT {
                continue;
            }
            assert_eq!(f.kind, FRAME_METHOD, "expected a method frame");
            let class = u16::from_be_bytes([f.payload[0], f.payload[1]]);
            let id = u16::from_be_bytes([f.payload[2], f.payload[3]]);
            return (class, id, f.payload);
        }
    }

    async fn expect_method(&mut self, class: u16, id: u16) -> Vec<u8> {
        let (c, i, payload) = self.next_method().await;
        if (c, i) == (10, 50) || (c, i) == (20, 40) {
            let text_len = usize::from(payload[6]);
            let text = String::from_utf8_lossy(&payload[7..7 + text_len]);
            panic!("the broker closed the connection or channel: {text}");
        }
        assert_eq!((c, i), (class, id), "unexpected method");
        payload
    }

    /// Publishes `body` to `routing_key` through `exchange` with the content header's
    /// `properties` exactly as given (property flags followed by the property list), mandatory,
    /// and waits for the broker's ack. Panics on a return, nack or close.
    pub async fn publish(
        &mut self,
        exchange: &str,
        routing_key: &str,
        properties: &[u8],
        body: &[u8],
    ) {
        let mut args = Vec::new();
        args.extend_from_slice(&0u16.to_be_bytes());
        short(&mut args, exchange.as_bytes());
        short(&mut args, routing_key.as_bytes());
        args.push(1); // mandatory
        self.send(FRAME_METHOD, 1, &method(60, 40, &args)).await;
        let mut header = Vec::with_capacity(12 + properties.len());
        header.extend_from_slice(&60u16.to_be_bytes());
        header.extend_from_slice(&0u16.to_be_bytes());
        header.extend_from_slice(&u64::try_from(body.len()).expect("size").to_be_bytes());
        header.extend_from_slice(properties);
        assert!(
            header.len() + 8 <= usize::try_from(self.frame_max).expect("frame_max"),
            "the test's content header ({} bytes) does not fit frame_max {}",
            header.len(),
            self.frame_max
        );
        self.send(FRAME_HEADER, 1, &header).await;
        let chunk = usize::try_from(self.frame_max).expect("frame_max") - 8;
        for part in body.chunks(chunk) {
            self.send(FRAME_BODY, 1, part).await;
        }
        loop {
            let (class, id, _) = self.next_method().await;
            match (class, id) {
                (60, 80) => return,
                (60, 50) => panic!("the test publish was returned unroutable"),
                (60, 120) => panic!("the test publish was nacked"),
                (20, 40) | (10, 50) => panic!("the broker closed the channel on a test publish"),
                _ => {}
            }
        }
    }
}

/// Property flags (AMQP 0-9-1 `basic` class), in property-list order.
pub mod flag {
    /// content-type
    pub const CONTENT_TYPE: u16 = 1 << 15;
    /// headers
    pub const HEADERS: u16 = 1 << 13;
    /// delivery-mode
    pub const DELIVERY_MODE: u16 = 1 << 12;
    /// message-id
    pub const MESSAGE_ID: u16 = 1 << 7;
}

/// A content header's properties: flags and list, from the parts given (each already encoded
/// as its wire value), in the protocol's order.
#[derive(Debug, Default, Clone)]
pub struct RawProperties {
    /// content-type (raw bytes of the short string).
    pub content_type: Option<Vec<u8>>,
    /// The encoded headers table (4-byte length included).
    pub headers: Option<Vec<u8>>,
    /// Persistent when set.
    pub persistent: bool,
    /// message-id (raw bytes of the short string).
    pub message_id: Option<Vec<u8>>,
}

impl RawProperties {
    /// Flags and property list.
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = 0u16;
        let mut list = Vec::new();
        if let Some(ct) = &self.content_type {
            flags |= flag::CONTENT_TYPE;
            short(&mut list, ct);
        }
        if let Some(h) = &self.headers {
            flags |= flag::HEADERS;
            list.extend_from_slice(h);
        }
        if self.persistent {
            flags |= flag::DELIVERY_MODE;
            list.push(2);
        }
        if let Some(id) = &self.message_id {
            flags |= flag::MESSAGE_ID;
            short(&mut list, id);
        }
        let mut out = flags.to_be_bytes().to_vec();
        out.extend_from_slice(&list);
        out
    }
}

/// An encoded table of `(raw key, encoded value)` entries (the value with its type octet).
pub fn table(entries: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    let mut content = Vec::new();
    for (key, value) in entries {
        short(&mut content, key);
        content.extend_from_slice(value);
    }
    let mut out = Vec::with_capacity(content.len() + 4);
    long(&mut out, &content);
    out
}

/// An encoded long-string value (`S`).
pub fn long_string(s: &[u8]) -> Vec<u8> {
    let mut out = vec![b'S'];
    long(&mut out, s);
    out
}

/// An encoded table value (`F`) nesting `levels` tables, each with one entry keyed `key`, the
/// innermost empty. Built from the lengths (not by wrapping), so 20,000 levels are cheap.
pub fn nested_table_value(levels: usize, key: &[u8]) -> Vec<u8> {
    let per_level = 1 + key.len() + 1 + 4;
    let mut out = Vec::with_capacity(levels * per_level + 5);
    out.push(b'F');
    for level in 0..levels {
        // This table's content: one entry per remaining level below it.
        let below = levels - level - 1;
        let content = u32::try_from(below * per_level).expect("length");
        out.extend_from_slice(&content.to_be_bytes());
        if below > 0 {
            short(&mut out, key);
            out.push(b'F');
        }
    }
    out
}
