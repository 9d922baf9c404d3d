//! An in-process TCP relay between the workers and the broker, as lapin's own recovery tests
//! use: it forwards every connection and, on demand, drops all of them at once, or stops
//! forwarding (a half-open path: sockets stay open, nothing passes) until told to go on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running relay.
pub struct Relay {
    /// Where workers connect.
    pub addr: SocketAddr,
    cut: watch::Sender<u64>,
    stalled: watch::Sender<bool>,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Listens on a free local port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay listens");
        let addr = listener.local_addr().expect("relay address");
        let (cut, _) = watch::channel(0u64);
        let (stalled, _) = watch::channel(false);
        let accepted = Arc::new(AtomicU64::new(0));
        let cut_tx = cut.clone();
        let stall_tx = stalled.clone();
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                let mut cut_rx = cut_tx.subscribe();
                let (up_stall, down_stall) = (stall_tx.subscribe(), stall_tx.subscribe());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_rx, client_tx) = client.into_split();
                    let (server_rx, server_tx) = server.into_split();
                    tokio::select! {
                        _ = pump(client_rx, server_tx, up_stall) => {}
                        _ = pump(server_rx, client_tx, down_stall) => {}
                        _ = cut_rx.changed() => {}
                    }
                    // Dropping both sockets cuts the connection on both sides.
                });
            }
        });
        Relay {
            addr,
            cut,
            stalled,
            accepted,
            task,
        }
    }

    /// Drops every open connection (new ones are still accepted).
    pub fn cut_all(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    /// Stops forwarding on every connection, open or new (`true`), or forwards again (`false`,
    /// with the bytes held meanwhile). Sockets stay open either way.
    pub fn stall(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }
}

/// Copies `from` to `to` until either side closes; while `stalled` holds, reads nothing and
/// writes nothing (bytes already read wait for the path to come back).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if stalled.wait_for(|s| !*s).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stalled.wait_for(|s| !*s).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stall(false);
        self.cut_all();
        self.task.abort();
    }
}
