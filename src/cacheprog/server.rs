//! The request loop: announces the commands, answers every request in its own task (so answers
//! go out in whatever order they finish), stores puts locally and uploads them in the background
//! with bounded concurrency while the prefetch runs, and on `close` flushes the uploads
//! (bounded), writes the manifest when it changed or is an hour old, trims the local tier when
//! a day has passed since its last trim, writes the counters, answers and returns.
//!
//! Remote trouble is never an error here: a request the remote cannot answer falls back to the
//! local tier, then to a miss (the go command compiles), with one warning per kind of trouble.

use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::Config;
use super::local::{Local, Record};
use super::manifests::write_manifest;
use super::prefetch::{claim_handover, prefetch};
use super::protocol::{self, Command, Id, Response};
use super::remote::{Remote, RemoteError};
use super::shared::{Shared, lock, now_rfc3339, now_unix, shared, write_stats};
use super::stats::add;

/// Stores a put locally and answers; queues its upload. A native output (cgo objects, an
/// executable) is recorded with the job's native scope.
fn put(
    sh: &Arc<Shared>,
    uploads: &mut JoinSet<()>,
    id: i64,
    a: Id,
    o: Id,
    body: Vec<u8>,
) -> Response {
    add(&sh.counters.puts, 1);
    add(&sh.counters.put_bytes, body.len() as u64);
    let rec = Record {
        output: protocol::hex(&o),
        size: body.len() as u64,
        time: now_rfc3339(),
        scope: super::local::is_native(&body).then(|| sh.cfg.native_scope.clone()),
    };
    let path = match sh.local.put_output(&o, &body).and_then(|p| {
        sh.local
            .put_record(&sh.cfg.local_namespace, &a, &rec)
            .map(|()| p)
    }) {
        Ok(p) => p,
        Err(e) => match sh.scratch_put(&o, &body) {
            Some(p) => {
                sh.warn(
                    "local",
                    &format!("local cache: {e:#}; what it cannot store stays in a temporary directory until the go command ends"),
                );
                p
            }
            None => return Response::error(id, format!("go-ci-cache cacheprog: {e:#}")),
        },
    };
    sh.note_used(&a, &rec);
    drop(body);
    if sh.may_write() && !sh.writes_remote() {
        // Given up on, or refused: this output does not reach the store, and the report says so.
        let why = if sh.writes_denied.load(Relaxed) {
            "access denied"
        } else {
            "the store was given up on"
        };
        sh.upload_failed(why);
    } else if let (true, Some(ns)) = (sh.writes_remote(), sh.cfg.write()) {
        let (sh, ns, path) = (sh.clone(), ns.to_string(), path.clone());
        uploads.spawn(async move {
            let Ok(_permit) = sh.transfers.clone().acquire_owned().await else {
                return;
            };
            let remote = sh.remote.as_ref().expect("writes_remote");
            // The body comes back from disk only now, so queued uploads do not hold a build's
            // outputs in memory.
            let body = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    sh.upload_failed("the local copy could not be read");
                    sh.warn(
                        "local",
                        &format!("local cache: reading an output to upload: {e}"),
                    );
                    return;
                }
            };
            let r = async {
                let replace = lock(&sh.corrupt).contains(&o);
                match remote.put_output(&o, body, replace).await? {
                    Some(n) => {
                        add(&sh.counters.uploads, 1);
                        add(&sh.counters.upload_bytes, n);
                    }
                    None => add(&sh.counters.uploads_skipped, 1),
                }
                // The record after its output: a reader never finds a record without a body.
                let n = remote.put_record(&ns, &a, &rec).await?;
                add(&sh.counters.uploads, 1);
                add(&sh.counters.upload_bytes, n);
                Ok::<(), RemoteError>(())
            }
            .await;
            if let Err(e) = r {
                sh.write_failed(&e);
            }
        });
    }
    Response::stored(id, path.to_string_lossy().into_owned())
}

/// Serves the go command until `close` or the end of input.
pub async fn serve(
    cfg: Config,
    local: Local,
    remote: Option<Remote>,
    notes: Vec<String>,
) -> Result<()> {
    let started_at = now_unix();
    let sh = shared(cfg, local, remote, &notes);
    let early = claim_handover(&sh.local, started_at);
    if let Some(h) = &early {
        let ids = h.actions.iter().filter_map(|a| protocol::parse_hex(a));
        lock(&sh.from_remote).extend(ids);
    }
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let send = |out: &Mutex<std::io::Stdout>, r: &Response| -> Result<()> {
        let mut o = lock(out);
        o.write_all(r.to_line().as_bytes())
            .and_then(|()| o.flush())
            .context("writing to the go command")
    };
    send(&out, &Response::hello())?;

    // Requests come from a plain thread (stdin is blocking); bodies can be large, so the
    // channel is bounded.
    let (tx, mut rx) = mpsc::channel::<Result<protocol::Request>>(64);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut r = std::io::BufReader::with_capacity(1 << 20, stdin.lock());
        loop {
            let next = protocol::read_request(&mut r);
            let stop = !matches!(next, Ok(Some(_)));
            let msg = match next {
                Ok(Some(req)) => Ok(req),
                Ok(None) => break,
                Err(e) => Err(e),
            };
            if tx.blocking_send(msg).is_err() || stop {
                break;
            }
        }
    });

    let prefetcher = tokio::spawn(prefetch(sh.clone()));
    let mut handlers: JoinSet<()> = JoinSet::new();
    let mut uploads: JoinSet<()> = JoinSet::new();
    let mut close_id = None;
    let mut failure = None;
    while let Some(msg) = rx.recv().await {
        let req = match msg {
            Ok(r) => r,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        match req.command {
            Command::Get { action } => {
                let (sh, out) = (sh.clone(), out.clone());
                handlers.spawn(async move {
                    let resp = sh.get(req.id, action).await;
                    if let Err(e) = send(&out, &resp) {
                        sh.warn("stdout", &format!("{e:#}"));
                    }
                });
            }
            Command::Put {
                action,
                output,
                body,
            } => {
                let resp = put(&sh, &mut uploads, req.id, action, output, body);
                send(&out, &resp)?;
            }
            Command::Close => {
                close_id = Some(req.id);
                break;
            }
            Command::Unknown(c) => {
                send(
                    &out,
                    &Response::error(
                        req.id,
                        format!("go-ci-cache cacheprog: unknown command `{c}`"),
                    ),
                )?;
            }
        }
        // Reap finished tasks so the sets stay small in long builds.
        while handlers.try_join_next().is_some() {}
        while uploads.try_join_next().is_some() {}
    }
    while handlers.join_next().await.is_some() {}
    prefetcher.abort();

    // Flush: wait for the uploads, bounded.
    let left = flush(&mut uploads, sh.cfg.flush_timeout).await;
    if left > 0 {
        sh.counters
            .upload_failed("not finished within the flush timeout", left as u64);
        sh.warn(
            "flush",
            &format!(
                "{left} uploads to the remote cache did not finish within {}s and were dropped",
                sh.cfg.flush_timeout.as_secs()
            ),
        );
    }
    if sh.writes_remote() {
        write_manifest(&sh).await;
    }
    if let Some(age) = sh.cfg.local_max_age
        && let Some(r) = sh.local.trim_if_due(age, std::time::SystemTime::now())
    {
        add(&sh.counters.local_trimmed, r.removed);
        add(&sh.counters.local_trimmed_bytes, r.bytes);
    }
    write_stats(&sh, started_at, early.map(|h| h.stats));
    if let Some(id) = close_id {
        send(&out, &Response::stored(id, String::new()))?;
    }
    match failure {
        Some(e) => Err(e.context("the go command sent something this program cannot read")),
        None => Ok(()),
    }
}

/// Waits for the uploads up to `limit`; returns how many were left (and aborts them).
async fn flush(uploads: &mut JoinSet<()>, limit: std::time::Duration) -> usize {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, uploads.join_next()).await {
            Ok(Some(_)) => {}
            Ok(None) => return 0,
            Err(_) => {
                let n = uploads.len();
                uploads.abort_all();
                return n;
            }
        }
    }
}
