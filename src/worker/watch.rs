//! Watching a session's connections: [`watch_connection`] ends the session on a connection
//! error (noting a frame the client library could not parse) and logs flow-control blocks;
//! [`watch_broker`] probes the consuming connection every half heartbeat so that a half-open
//! connection ends the session within two heartbeats.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, Event};
use tokio_util::sync::CancellationToken;

use crate::amqp::short;
use crate::health::Readiness;

/// Watches that the broker still answers on the consuming connection: a passive declare of the
/// input queue every half heartbeat, each allowed one and a half heartbeats, so that within two
/// heartbeats of the last frame a half-open connection (a peer or relay that stopped forwarding)
/// turns the worker not-ready and ends the session, long before the TCP stack gives up. No
/// watch when heartbeats are off (`amqp.heartbeat_seconds = 0`).
pub(super) async fn watch_broker(
    connection: &Connection,
    queue: &str,
    heartbeat_seconds: u16,
    readiness: Readiness,
    lost: CancellationToken,
    unreadable: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let heartbeat = Duration::from_secs(u64::from(heartbeat_seconds));
    let channel = match connection.create_channel().await {
        Ok(channel) if !heartbeat.is_zero() => Some(channel),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the broker watch channel");
            note_unreadable(&e, &unreadable);
            lost.cancel();
            None
        }
    };
    let queue = queue.to_owned();
    tokio::spawn(async move {
        let Some(channel) = channel else { return };
        let (period, patience) = (heartbeat / 2, heartbeat * 3 / 2);
        loop {
            tokio::select! {
                _ = lost.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            let probe = channel.queue_declare(
                short(&queue),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            );
            match tokio::time::timeout(patience, probe).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    readiness.set(false);
                    tracing::warn!(error = %e, "the broker watch failed; ending the session");
                    note_unreadable(&e, &unreadable);
                    lost.cancel();
                    return;
                }
                Err(_) => {
                    readiness.set(false);
                    tracing::warn!(
                        heartbeat_seconds,
                        "no answer from the broker for two heartbeats; not ready, ending the \
                         session"
                    );
                    lost.cancel();
                    return;
                }
            }
        }
    })
}

/// Ends the session (cancels `lost`) on an error of `connection`, setting `unreadable` when the
/// client library could not parse a frame; logs when the broker blocks or unblocks it.
pub(super) fn watch_connection(
    connection: &Connection,
    which: &'static str,
    lost: CancellationToken,
    unreadable: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let mut events = connection.events_listener();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Event::Error(e) => {
                    note_unreadable(&e, &unreadable);
                    tracing::warn!(connection = which, error = %e, "connection error");
                    lost.cancel();
                    return;
                }
                Event::ConnectionBlocked(reason) => {
                    tracing::warn!(
                        connection = which,
                        reason,
                        "the broker blocked the connection"
                    );
                }
                Event::ConnectionUnblocked => {
                    tracing::info!(connection = which, "the broker unblocked the connection");
                }
                _ => {}
            }
        }
    })
}

/// Sets `unreadable` when `error` is the client library failing to parse a frame.
pub(super) fn note_unreadable(error: &lapin::Error, unreadable: &AtomicBool) {
    if matches!(error.kind(), lapin::ErrorKind::ParsingError(_)) {
        unreadable.store(true, Ordering::SeqCst);
    }
}
