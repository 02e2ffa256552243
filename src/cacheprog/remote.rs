//! The remote tier: an S3-compatible bucket through `object_store`, every request bounded by a
//! time limit and retried with backoff for a few seconds when the store cannot be reached or
//! answers with a server error (a brief outage costs a retry, not the job's cache), and a
//! breaker that stops asking a store that timed out or kept failing for seconds (the server
//! notes it for the machine's next go commands), so a dead store costs a job seconds, not
//! minutes. A store that refuses access is not retried.
//!
//! Layout under the URL's prefix (`s3://bucket/prefix`):
//! - `v1/o/<OutputID hex>`: output bodies, content-addressed, shared by every namespace;
//! - `v1/a/<namespace>/<ActionID hex>`: action → output records ([`super::local::Record`]);
//! - `v1/m/<namespace>/<manifest>.json`: what a job used ([`super::manifest::Manifest`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig};
use sha2::{Digest, Sha256};

use super::local::Record;
use super::namespace::segment;
use super::protocol::{Id, hex};
use crate::error::usage;

/// Layout version, the first segment under the prefix.
pub const LAYOUT: &str = "v1";

/// A parsed `s3://bucket/prefix` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl RemoteUrl {
    /// Parses the URL; bad input is a usage error.
    pub fn parse(s: &str) -> Result<Self> {
        let hint =
            "write the store as `s3://BUCKET/PREFIX` (the endpoint comes from AWS_ENDPOINT_URL)";
        let Some(rest) = s.strip_prefix("s3://") else {
            return Err(usage(
                format!("remote cache `{s}` is not an s3:// URL"),
                hint,
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(usage(
                format!("remote cache `{s}` does not name a valid bucket"),
                hint,
            ));
        }
        let prefix = prefix.trim_matches('/').to_string();
        if prefix.split('/').any(|p| p == "." || p == "..")
            || prefix.contains("//")
            || prefix.chars().any(char::is_control)
        {
            return Err(usage(
                format!("remote cache `{s}` has a prefix that is not a plain path"),
                hint,
            ));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
        })
    }
}

impl std::fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// Why a remote request gave nothing.
#[derive(Debug)]
pub enum RemoteError {
    /// The store was given up on earlier in this process.
    Down,
    /// The request timed out (the store is given up on).
    Timeout,
    /// The body's SHA-256 is not its OutputID.
    Corrupt,
    /// The store refused: the credentials may not do this (not retried).
    Denied(String),
    /// Any other failure, after the retries.
    Other(String),
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Down => f.write_str("the remote cache is off for this run"),
            Self::Timeout => f.write_str("timed out"),
            Self::Corrupt => f.write_str("content does not match its OutputID"),
            Self::Denied(e) | Self::Other(e) => f.write_str(e),
        }
    }
}

impl RemoteError {
    /// A few words for the report's count of failed uploads.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Down => "the store was given up on",
            Self::Timeout => "timed out",
            Self::Corrupt => "corrupt",
            Self::Denied(_) => "access denied",
            Self::Other(_) => "failed after retries",
        }
    }
}

/// Waits between the attempts of one request whose store could not be reached or answered
/// with a server error: about six seconds in all, so an outage of a second or two (a restarted
/// gateway, a load balancer moving) costs a retry, not the request; within the request's time
/// limit.
const RETRY_DELAYS: [Duration; 6] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_millis(1000),
    Duration::from_millis(1000),
    Duration::from_millis(1500),
    Duration::from_millis(2000),
];

/// The store is given up on once requests have kept failing, with every retry, for this long.
/// One burst of failures within a moment never gives it up.
const DOWN_AFTER: Duration = Duration::from_secs(5);

/// The remote tier.
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    url: RemoteUrl,
    endpoint: Option<String>,
    timeout: Duration,
    /// When the requests' failures in a row began (cleared by any answer).
    failing_since: std::sync::Mutex<Option<Instant>>,
    down: AtomicBool,
    down_reason: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// Connects (lazily: no request is made) to the store named by `url`, with credentials,
    /// region and endpoint from the standard AWS variables.
    pub fn new(url: RemoteUrl, timeout: Duration) -> Result<Self> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .or_else(|_| std::env::var("AWS_ENDPOINT"))
            .ok()
            .filter(|e| !e.is_empty());
        if let Some(e) = &endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            bail!(usage(
                format!("AWS_ENDPOINT_URL `{e}` is not an http:// or https:// URL"),
                "set it to the store's base URL, e.g. `http://127.0.0.1:8333` or `https://s3.example.com`"
            ));
        }
        let allow_http = endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        // Each request's limit is [`Remote::call`]'s, whose timeout gives up on the store at
        // once. A client timeout as short would fire first as an ordinary failure, so a store
        // that never answers cost three full timeouts per go command instead of one, and it
        // would cut a large transfer off at the plain request limit.
        let client = ClientOptions::new()
            .with_timeout_disabled()
            .with_connect_timeout(timeout.min(Duration::from_secs(5)))
            .with_allow_http(allow_http);
        // Retries are [`Remote::call`]'s, which knows the request's time limit and the
        // breaker; the client's own would multiply with them.
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 0,
            retry_timeout: timeout,
        };
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&url.bucket)
            .with_client_options(client)
            .with_retry(retry);
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            b = b.with_region("us-east-1");
        }
        if let Some(e) = &endpoint {
            // Self-hosted stores (MinIO, SeaweedFS, Ceph) answer path-style requests.
            b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
        }
        let store = b.build().map_err(|e| {
            usage(
                format!("remote cache `{url}`: {e}"),
                "check the AWS_* variables",
            )
        })?;
        Ok(Self {
            store: Arc::new(store),
            url,
            endpoint,
            timeout,
            failing_since: std::sync::Mutex::new(None),
            down: AtomicBool::new(false),
            down_reason: std::sync::Mutex::new(None),
        })
    }

    /// The store's URL.
    pub fn url(&self) -> &RemoteUrl {
        &self.url
    }

    fn path(&self, rel: &str) -> Path {
        if self.url.prefix.is_empty() {
            Path::from(format!("{LAYOUT}/{rel}"))
        } else {
            Path::from(format!("{}/{LAYOUT}/{rel}", self.url.prefix))
        }
    }

    fn output_path(&self, o: &Id) -> Path {
        self.path(&format!("o/{}", hex(o)))
    }

    fn record_path(&self, ns: &str, a: &Id) -> Path {
        self.path(&format!("a/{}/{}", segment(ns), hex(a)))
    }

    fn manifest_path(&self, ns: &str, name: &str) -> Path {
        self.manifest_path_escaped(ns, &segment(name))
    }

    fn manifest_path_escaped(&self, ns: &str, escaped: &str) -> Path {
        self.path(&format!("m/{}/{escaped}.json", segment(ns)))
    }

    /// The prefix every object of this cache lives under (for `cacheprog-gc`).
    pub fn root(&self) -> Path {
        if self.url.prefix.is_empty() {
            Path::from(LAYOUT)
        } else {
            Path::from(format!("{}/{LAYOUT}", self.url.prefix))
        }
    }

    /// The store as one string, URL and endpoint: what a note that it is down names.
    pub fn store_id(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("{} at {e}", self.url),
            None => self.url.to_string(),
        }
    }

    /// Whether the store was given up on, and why.
    pub fn down_reason(&self) -> Option<String> {
        if self.down.load(Ordering::Relaxed) {
            lock(&self.down_reason).clone()
        } else {
            None
        }
    }

    /// Gives up on the store (the first reason stays): every request then answers
    /// [`RemoteError::Down`] at once. The breaker calls it; so does a go command that finds
    /// another one on this machine gave up on the store moments ago.
    pub fn give_up(&self, why: String) {
        let mut r = lock(&self.down_reason);
        if r.is_none() {
            *r = Some(why);
        }
        self.down.store(true, Ordering::Relaxed);
    }

    /// Runs one request (`attempt` makes it anew for each try) under its time limit, the retries
    /// and the breaker. `Ok(None)` is "not found". A store that cannot be reached or answers
    /// with a server error is asked again after [`RETRY_DELAYS`] while the limit allows; one
    /// that refuses access is not. The store is given up on (every later request answers
    /// [`RemoteError::Down`] at once) when a request times out, or when requests have failed
    /// with every retry for [`DOWN_AFTER`].
    async fn call<T, F, Fut>(
        &self,
        what: &str,
        limit: Duration,
        mut attempt: F,
    ) -> Result<Option<T>, RemoteError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = object_store::Result<T>>,
    {
        let start = Instant::now();
        let mut delays = RETRY_DELAYS.iter();
        loop {
            if self.down.load(Ordering::Relaxed) {
                return Err(RemoteError::Down);
            }
            let left = limit.saturating_sub(start.elapsed());
            let e = match tokio::time::timeout(left, attempt()).await {
                Ok(Ok(v)) => {
                    self.answered();
                    return Ok(Some(v));
                }
                Ok(Err(object_store::Error::NotFound { .. })) => {
                    self.answered();
                    return Ok(None);
                }
                Ok(Err(
                    e @ (object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }),
                )) => {
                    // An answer: the store is there and says no.
                    self.answered();
                    return Err(RemoteError::Denied(format!(
                        "{what}: access denied: {}",
                        one_line(&e.to_string())
                    )));
                }
                Ok(Err(e)) => e,
                Err(_) => {
                    self.give_up(format!("{what}: no answer within {}s", limit.as_secs_f64()));
                    return Err(RemoteError::Timeout);
                }
            };
            let transient = matches!(e, object_store::Error::Generic { .. });
            let msg = format!("{what}: {}", one_line(&e.to_string()));
            let next = delays
                .next()
                .filter(|d| transient && start.elapsed() + **d < limit);
            match next {
                Some(d) => tokio::time::sleep(jitter(*d)).await,
                None => {
                    let since = *lock(&self.failing_since).get_or_insert(start);
                    if transient && since.elapsed() >= DOWN_AFTER {
                        self.give_up(format!(
                            "{msg} (failing for {:.0}s)",
                            since.elapsed().as_secs_f64()
                        ));
                    }
                    return Err(RemoteError::Other(msg));
                }
            }
        }
    }

    /// The store answered: failures in a row start again from none.
    fn answered(&self) {
        *lock(&self.failing_since) = None;
    }

    /// An action's record in a namespace.
    pub async fn record(&self, ns: &str, a: &Id) -> Result<Option<Record>, RemoteError> {
        let (path, store) = (&self.record_path(ns, a), &self.store);
        let got = self
            .call("reading an action record", self.timeout, || async move {
                store.get(path).await?.bytes().await
            })
            .await?;
        Ok(got.and_then(|b| serde_json::from_slice::<Record>(&b).ok()))
    }

    /// An output body, inflated and verified, with the bytes that travelled: a body that does
    /// not inflate to `size` bytes whose SHA-256 is `o` is [`RemoteError::Corrupt`].
    pub async fn output(&self, o: &Id, size: u64) -> Result<Option<(Vec<u8>, u64)>, RemoteError> {
        let (path, store) = (&self.output_path(o), &self.store);
        let got = self
            .call(
                "downloading an output",
                self.transfer_limit(size),
                || async move { store.get(path).await?.bytes().await },
            )
            .await?;
        let Some(packed) = got else { return Ok(None) };
        let body = unpack(&packed, size).ok_or(RemoteError::Corrupt)?;
        let sum: Id = Sha256::digest(&body).into();
        if &sum != o {
            return Err(RemoteError::Corrupt);
        }
        Ok(Some((body, packed.len() as u64)))
    }

    /// Uploads an output unless the store has it (`replace`: whatever it has); returns the
    /// bytes sent, `None` when skipped.
    pub async fn put_output(
        &self,
        o: &Id,
        body: Vec<u8>,
        replace: bool,
    ) -> Result<Option<u64>, RemoteError> {
        let body = pack(&body);
        let (path, store) = (&self.output_path(o), &self.store);
        let exists = !replace
            && self
                .call("checking an output", self.timeout, || async move {
                    store.head(path).await
                })
                .await?
                .is_some_and(|m| m.size == body.len() as u64);
        if exists {
            return Ok(None);
        }
        let n = body.len() as u64;
        self.put_payload("uploading an output", path, PutPayload::from(body))
            .await?;
        Ok(Some(n))
    }

    /// Writes an action record into a namespace; returns the bytes sent.
    pub async fn put_record(&self, ns: &str, a: &Id, rec: &Record) -> Result<u64, RemoteError> {
        let body = serde_json::to_vec(rec).expect("a record serializes");
        let n = body.len() as u64;
        self.put_bytes("writing an action record", self.record_path(ns, a), body)
            .await?;
        Ok(n)
    }

    /// A namespace's manifest, raw.
    pub async fn manifest(&self, ns: &str, name: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        self.manifest_at(&self.manifest_path(ns, name)).await
    }

    /// Writes a namespace's manifest.
    pub async fn put_manifest(
        &self,
        ns: &str,
        name: &str,
        body: Vec<u8>,
    ) -> Result<u64, RemoteError> {
        let n = body.len() as u64;
        self.put_bytes("writing the manifest", self.manifest_path(ns, name), body)
            .await?;
        Ok(n)
    }

    async fn put_bytes(&self, what: &str, path: Path, body: Vec<u8>) -> Result<(), RemoteError> {
        self.put_payload(what, &path, PutPayload::from(body)).await
    }

    /// One PUT, under the time limit of its size and the retries (the payload is shared, not
    /// copied, between attempts).
    async fn put_payload(
        &self,
        what: &str,
        path: &Path,
        payload: PutPayload,
    ) -> Result<(), RemoteError> {
        let limit = self.transfer_limit(payload.content_length() as u64);
        let store = &self.store;
        self.call(what, limit, || {
            let p = payload.clone();
            async move { store.put(path, p).await }
        })
        .await?;
        Ok(())
    }

    /// Lists every object under the cache's root: (path, size, last modified in Unix seconds).
    pub async fn list_all(&self) -> Result<Vec<(Path, u64, i64)>> {
        let root = self.root();
        let mut s = self.store.list(Some(&root));
        let mut v = Vec::new();
        while let Some(m) = tokio::time::timeout(self.timeout * 3, s.next())
            .await
            .map_err(|_| anyhow::anyhow!("listing `{}` timed out", self.url))?
        {
            let m = m.map_err(|e| {
                anyhow::anyhow!("listing `{}`: {}", self.url, one_line(&e.to_string()))
            })?;
            v.push((m.location, m.size, m.last_modified.timestamp()));
        }
        Ok(v)
    }

    /// The manifests of a namespace: (escaped name without `.json`, last written in Unix
    /// seconds). One listing request (a page holds a thousand).
    pub async fn list_manifests(&self, ns: &str) -> Result<Vec<(String, i64)>, RemoteError> {
        let (dir, store) = (&self.path(&format!("m/{}", segment(ns))), &self.store);
        let got = self
            .call("listing manifests", self.timeout, || async move {
                let mut s = store.list(Some(dir));
                let mut v = Vec::new();
                while let Some(m) = s.next().await {
                    let m = m?;
                    if let Some(name) = m.location.filename().and_then(|f| f.strip_suffix(".json"))
                    {
                        v.push((name.to_string(), m.last_modified.timestamp()));
                    }
                }
                Ok(v)
            })
            .await?;
        Ok(got.unwrap_or_default())
    }

    /// A manifest by its escaped name, as [`Remote::list_manifests`] gives it.
    pub async fn manifest_escaped(
        &self,
        ns: &str,
        escaped: &str,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        self.manifest_at(&self.manifest_path_escaped(ns, escaped))
            .await
    }

    /// A manifest by its object path, raw (`cacheprog-gc` reads the manifests it lists).
    pub async fn manifest_at(&self, path: &Path) -> Result<Option<Vec<u8>>, RemoteError> {
        let store = &self.store;
        let got = self
            .call(
                "reading the manifest",
                self.transfer_limit(8 << 20),
                || async move { store.get(path).await?.bytes().await },
            )
            .await?;
        Ok(got.map(|b| b.to_vec()))
    }

    /// The output a record object names (for `cacheprog-gc`): `Ok(None)` when it is gone or
    /// names none.
    pub async fn record_at(&self, path: &Path) -> Result<Option<String>, RemoteError> {
        let store = &self.store;
        let got = self
            .call("reading an action record", self.timeout, || async move {
                store.get(path).await?.bytes().await
            })
            .await?;
        Ok(got
            .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
            .filter(|r| r.output_id().is_some())
            .map(|r| r.output))
    }

    /// Deletes one object (for `cacheprog-gc`).
    pub async fn delete(&self, path: &Path) -> Result<()> {
        tokio::time::timeout(self.timeout, self.store.delete(path))
            .await
            .map_err(|_| anyhow::anyhow!("deleting `{path}` timed out"))?
            .map_err(|e| anyhow::anyhow!("deleting `{path}`: {}", one_line(&e.to_string())))
    }

    /// Whether the store answers: reads one object that need not exist. `Ok` for an answer
    /// (found or not), `Err` with the reason otherwise.
    pub async fn probe(&self) -> Result<(), String> {
        let path = self.path("probe");
        match tokio::time::timeout(self.timeout, self.store.head(&path)).await {
            Ok(Ok(_)) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
            Ok(Err(e)) => Err(one_line(&e.to_string())),
            Err(_) => Err(format!("no answer within {}s", self.timeout.as_secs_f64())),
        }
    }

    /// A transfer's time limit: the request timeout plus a second per 4 MiB.
    fn transfer_limit(&self, bytes: u64) -> Duration {
        self.timeout + Duration::from_secs(bytes >> 22)
    }
}

/// Outputs travel and rest deflated (raw deflate, level 2): compiled packages, most of a
/// build cache's bytes, shrink about 3.7× (measured on client_golang's GOCACHE: level 1 gives
/// 3.0×, level 6 4.15× at twice the time; zstd -3 per object 4.05×, not worth a C dependency),
/// so a job downloads and the bucket holds a quarter of the bytes. Verification stays on the
/// inflated body's SHA-256. The backend is zlib-rs (flate2's `zlib-rs` feature): it inflates a
/// quarter faster than miniz_oxide, and a warm job inflates every output it uses.
fn pack(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(body.len() / 3 + 64),
        flate2::Compression::new(2),
    );
    e.write_all(body).expect("writing to memory");
    e.finish().expect("writing to memory")
}

/// Inflates exactly `size` bytes, or `None` (not deflate, truncated, or longer than `size`:
/// never more than `size + 1` bytes are inflated).
fn unpack(packed: &[u8], size: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(usize::try_from(size).ok()?.min(1 << 30));
    flate2::read::DeflateDecoder::new(packed)
        .take(size + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() as u64 == size).then_some(out)
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A delay with up to a fifth added at random, so the requests of many go commands that
/// failed together do not come back together.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 1];
    let _ = getrandom::fill(&mut b);
    d + d.mul_f64(f64::from(b[0]) / 255.0 / 5.0)
}

fn one_line(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
