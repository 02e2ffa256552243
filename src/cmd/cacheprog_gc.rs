//! `cacheprog-gc`: removes old objects from the remote build cache (keeping what live manifests
//! list) and, with `--local`, old files from the local tier; the sweep is
//! [`crate::cacheprog::gc`].

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::Serialize;

use crate::cacheprog::gc::{parse_age, trim_remote};
use crate::cacheprog::local::{Local, Removed};
use crate::cacheprog::remote::Remote;
use crate::cacheprog::{CacheprogGcArgs, local_dir, remote_url, runtime, timeout};
use crate::error::usage;

/// `cacheprog-gc`: removes old objects.
pub fn run(a: &CacheprogGcArgs) -> Result<ExitCode> {
    let rt = runtime()?;
    let r = sweep(a, &rt);
    rt.shutdown_timeout(Duration::from_secs(1));
    r
}

#[derive(Debug, Serialize)]
struct Outcome {
    older_than_seconds: u64,
    dry_run: bool,
    remote: Option<Removed>,
    local: Option<Removed>,
}

/// The sweep and its outcome, printed.
fn sweep(a: &CacheprogGcArgs, rt: &tokio::runtime::Runtime) -> Result<ExitCode> {
    let age = parse_age(&a.older_than)?;
    let url = remote_url(&a.store)?;
    if url.is_none() && !a.local {
        return Err(usage(
            "`cacheprog-gc` has nothing to trim",
            "give --remote s3://BUCKET/PREFIX (or GO_CI_CACHE_REMOTE), or --local",
        ));
    }
    let cutoff = SystemTime::now() - age;
    let cutoff_unix = crate::cacheprog::local::unix(cutoff);
    let mut out = Outcome {
        older_than_seconds: age.as_secs(),
        dry_run: a.dry_run,
        remote: None,
        local: None,
    };
    if let Some(url) = url {
        let remote = Remote::new(url, timeout(&a.store)?)?;
        out.remote = Some(rt.block_on(trim_remote(&remote, cutoff_unix, a.dry_run, !a.by_age))?);
        if !a.json {
            let r = out.remote.as_ref().expect("just set");
            println!(
                "{} {} of {} objects ({}) last written before {} from {}{}{}",
                if a.dry_run { "would remove" } else { "removed" },
                r.removed,
                r.listed,
                crate::fsutil::human_bytes(r.bytes),
                jiff::Timestamp::from_second(cutoff_unix)
                    .map_or_else(|_| "?".into(), |t| t.to_string()),
                remote.url(),
                if r.kept_in_use > 0 {
                    format!(
                        "; kept {} older ones that live manifests list{}",
                        r.kept_in_use,
                        if r.unreadable_manifests > 0 {
                            format!(
                                " or that {} unreadable manifests may list",
                                r.unreadable_manifests
                            )
                        } else {
                            String::new()
                        }
                    )
                } else {
                    String::new()
                },
                if r.errors > 0 {
                    format!(" ({} could not be removed)", r.errors)
                } else {
                    String::new()
                }
            );
        }
    }
    if a.local {
        let dir = local_dir(&a.store);
        let r = if dir.is_dir() {
            Local::open(&dir)?.trim(cutoff, a.dry_run)
        } else {
            Removed::default()
        };
        if !a.json {
            println!(
                "{} {} of {} files ({}) older than {} from {}",
                if a.dry_run { "would remove" } else { "removed" },
                r.removed,
                r.listed,
                crate::fsutil::human_bytes(r.bytes),
                a.older_than.trim(),
                dir.display()
            );
        }
        out.local = Some(r);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}
