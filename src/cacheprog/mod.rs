//! `go-ci-cache cacheprog`: a GOCACHEPROG program (Go ≥ 1.24) with a local disk tier and an
//! optional remote tier on S3-compatible storage; `cacheprog-gc` trims the store. The async
//! runtime (tokio, for the storage client) lives in this module and nowhere else. The command
//! bodies are `crate::cmd::cacheprog` and `crate::cmd::cacheprog_gc`.
//!
//! - [`args`], [`config`]: the flags and the configuration they give, never failing;
//! - [`protocol`]: the JSON wire protocol, as the go command speaks it;
//! - [`local`]: the disk tier, the one the go command reads files from;
//! - [`remote`]: the bucket, with time limits, retries and a breaker;
//! - [`namespace`]: namespaces as object names (who writes which is [`crate::trust`]'s);
//! - [`manifest`]: what a job used, and [`manifests`]: reading and writing them in the store;
//! - [`prefetch`]: the bulk download at start, and `--prefetch-only`'s hand-over;
//! - [`shared`]: what every request of one process shares, and the lookups through both tiers;
//! - [`server`]: requests answered concurrently, uploads in the background, flushed on close;
//! - [`stats`]: counters per tier for `report`;
//! - [`gc`]: removal of old objects.

pub mod args;
pub mod config;
pub mod gc;
pub mod local;
pub mod manifest;
pub mod manifests;
pub mod namespace;
pub mod prefetch;
pub mod protocol;
pub mod remote;
pub mod server;
pub mod shared;
pub mod stats;

use std::time::Duration;

use anyhow::Result;

pub use args::{CacheprogArgs, CacheprogGcArgs, StoreOpts, TrustOpts};
pub use config::{
    Config, Resolved, default_local_dir, default_manifest, ignore_arguments, job_stats, local_dir,
    local_max_age, native_scope, remote_url, resolve, timeout,
};

use crate::trust::Decision;

/// What `go-ci-cache cacheprog` would do in this environment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoteCachePlan {
    /// The local tier's directory.
    pub local_dir: String,
    /// The local tier's trim: files unused this many seconds go (`None`: never trimmed).
    pub local_max_age_seconds: Option<u64>,
    /// The remote store, if any.
    pub remote: Option<String>,
    /// `AWS_ENDPOINT_URL`, if set.
    pub endpoint: Option<String>,
    /// The namespace written (`None`: read-only).
    pub write_namespace: Option<String>,
    /// Why that namespace.
    pub why: String,
    /// The namespaces read, in order.
    pub read_namespaces: Vec<String>,
    /// The manifest's name.
    pub manifest: String,
    /// Whether the store answered: `Ok` or the reason it did not (`None`: no remote).
    pub store: Option<Result<(), String>>,
    /// When a go command on this machine gave up on the store minutes ago, so the ones that
    /// start now leave it alone: for how many more seconds, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<(i64, String)>,
}

/// Builds the runtime this module's async code runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// One line of a problem for a warning: the message, then its hint in parentheses.
pub fn one_line(e: &anyhow::Error) -> String {
    let r = crate::error::render(e);
    match r.split_once("\nhint: ") {
        Some((m, h)) => format!("{m} (hint: {h})"),
        None => r,
    }
    .replace('\n', " ")
}

/// The local tier: the configured directory, else (it cannot be created or written) a
/// temporary directory of this process's own, so the go command is still served.
pub fn open_local(dir: &std::path::Path) -> (local::Local, Option<(tempfile::TempDir, String)>) {
    let err = match local::Local::open(dir).and_then(|l| l.probe_writable().map(|()| l)) {
        Ok(l) => return (l, None),
        Err(e) => format!("{e:#}"),
    };
    let tmp = tempfile::Builder::new()
        .prefix("go-ci-cache-local-")
        .tempdir()
        .expect("a temporary directory");
    let l = local::Local::open(tmp.path()).expect("a fresh temporary directory opens");
    (l, Some((tmp, err)))
}

/// What `cacheprog --check` prints: the configuration a go command's cache program starts
/// with.
#[derive(Debug, serde::Serialize)]
pub struct Check {
    /// Always true: the program starts and can serve (else the check exits non-zero).
    pub ok: bool,
    /// The local tier in use.
    pub local_dir: String,
    /// The remote store in use, if any (none when it is not set or its configuration does not
    /// parse).
    pub remote: Option<String>,
    /// Who writes what.
    pub decision: Decision,
    /// What did not parse, one line each: the program serves anyway, with these fallen back
    /// (no remote, the default, writing nothing).
    pub problems: Vec<String>,
}

/// `plan`'s section: the configuration this environment gives the cache program and whether the
/// store answers; `None` when neither GOCACHEPROG nor a remote is set. What does not parse is a
/// usage error here.
pub fn plan(a: &CacheprogArgs) -> Result<Option<RemoteCachePlan>> {
    let in_use = std::env::var("GOCACHEPROG").is_ok_and(|v| !v.trim().is_empty());
    if !in_use && remote_url(&a.store)?.is_none() {
        return Ok(None);
    }
    let (cfg, remote) = resolve(a).strict()?;
    let mut skipped = None;
    let store = match &remote {
        Some(remote) => {
            let now = local::unix(std::time::SystemTime::now());
            let note = local::down_note_in(&cfg.local_dir);
            if let Some(n) = note.filter(|n| n.applies(&remote.store_id(), now)) {
                skipped = Some((n.at + local::DOWN_FOR_SECS - now, n.reason));
            }
            let rt = runtime()?;
            let r = rt.block_on(remote.probe());
            rt.shutdown_timeout(Duration::from_secs(1));
            Some(r)
        }
        None => None,
    };
    Ok(Some(RemoteCachePlan {
        local_dir: cfg.local_dir.display().to_string(),
        local_max_age_seconds: cfg.local_max_age.map(|d| d.as_secs()),
        remote: cfg.remote.as_ref().map(ToString::to_string),
        endpoint: std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|e| !e.is_empty()),
        write_namespace: cfg.decision.write.clone(),
        why: cfg.decision.write_why.clone(),
        read_namespaces: cfg.decision.read.clone(),
        manifest: cfg.manifest.clone(),
        store,
        skipped,
    }))
}
