//! One client connection: socket bytes in, parsed batches to the workers, replies out.
//!
//! Every complete request already in the read buffer is parsed and handed over as one batch;
//! the batch's replies come back as one buffer and go out in one write, in order. A protocol
//! error answers `-ERR Protocol error: ...` after the replies of the requests before it and
//! closes this connection only.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use crossbeam_channel::Sender;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::workers::Job;
use crate::resp::{ParseLimits, Reply, RequestParser};
use crate::state::client::Client;
use crate::state::ServerState;

/// Most commands handed to a worker in one job, bounding the memory of one batch's replies.
const MAX_BATCH: usize = 1024;
const READ_CHUNK: usize = 16 * 1024;

/// Why reading stopped.
enum ReadOutcome {
    Data,
    Closed,
}

/// Serves one connection until it closes.
pub async fn serve(
    stream: TcpStream,
    server: Arc<ServerState>,
    jobs: Sender<Job>,
    client: Arc<Client>,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new();

    'conn: loop {
        match read_more(&mut reader, &mut buf, &server, &client).await {
            ReadOutcome::Closed => break,
            ReadOutcome::Data => {}
        }
        let cfg = server.config();
        let limits = ParseLimits {
            max_bulk_len: cfg.proto_max_bulk_len as usize,
            ..ParseLimits::default()
        };
        let query_limit = cfg.client_query_buffer_limit as usize;
        drop(cfg);

        // While the batch runs, CLIENT LIST's qbuf= counts the requests being executed, as
        // Redis' query buffer still holds the current command.
        client.query_buffer_len.store(buf.len(), Ordering::Relaxed);
        let mut batch = Vec::new();
        let mut protocol_error = None;
        loop {
            match parser.next_request(&mut buf, &limits) {
                Ok(Some(argv)) => {
                    batch.push(argv);
                    if batch.len() >= MAX_BATCH
                        && !run(
                            &jobs,
                            &client,
                            std::mem::take(&mut batch),
                            &mut writer,
                            &server,
                        )
                        .await
                    {
                        break 'conn;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    protocol_error = Some(e);
                    break;
                }
            }
        }
        if !batch.is_empty() && !run(&jobs, &client, batch, &mut writer, &server).await {
            break;
        }
        if let Some(e) = protocol_error {
            let mut out = BytesMut::new();
            Reply::err(format!("ERR {}", e.0)).encode(&mut out, client.protocol());
            server.stats.record_error("ERR");
            let _ = writer.write_all(&out).await;
            tracing::debug!(client = client.id, "protocol error: {}", e.0);
            break;
        }
        client.query_buffer_len.store(buf.len(), Ordering::Relaxed);
        if buf.len() > query_limit {
            tracing::warn!(
                client = client.id,
                "closing client that reached max query buffer length ({} bytes)",
                buf.len()
            );
            break;
        }
        if client.is_closing() {
            break;
        }
    }
    let _ = writer.shutdown().await;
    server.unregister_client(client.id);
}

/// Reads at least one more chunk, honouring the idle timeout and CLIENT KILL.
async fn read_more(
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut BytesMut,
    server: &ServerState,
    client: &Client,
) -> ReadOutcome {
    if buf.capacity() - buf.len() < READ_CHUNK / 2 {
        buf.reserve(READ_CHUNK);
    }
    let timeout = server.config().timeout;
    let read = async {
        tokio::select! {
            r = reader.read_buf(buf) => Some(r),
            _ = client.kill_signal.notified() => None,
        }
    };
    let result = if timeout > 0 {
        match tokio::time::timeout(Duration::from_secs(timeout), read).await {
            Ok(r) => r,
            Err(_) => return ReadOutcome::Closed,
        }
    } else {
        read.await
    };
    match result {
        Some(Ok(n)) if n > 0 => {
            server
                .stats
                .total_net_input_bytes
                .fetch_add(n as u64, Ordering::Relaxed);
            ReadOutcome::Data
        }
        _ => ReadOutcome::Closed,
    }
}

/// Hands a batch to the workers and writes its replies; false when the connection must close.
async fn run(
    jobs: &Sender<Job>,
    client: &Arc<Client>,
    commands: Vec<Vec<Bytes>>,
    writer: &mut tokio::net::tcp::OwnedWriteHalf,
    server: &ServerState,
) -> bool {
    let (done, replies) = oneshot::channel();
    let job = Job {
        client: Arc::clone(client),
        commands,
        done,
    };
    if jobs.send(job).is_err() {
        return false;
    }
    let Ok(out) = replies.await else {
        return false;
    };
    if !out.is_empty() {
        server
            .stats
            .total_net_output_bytes
            .fetch_add(out.len() as u64, Ordering::Relaxed);
        if writer.write_all(&out).await.is_err() {
            return false;
        }
    }
    !client.is_closing()
}
