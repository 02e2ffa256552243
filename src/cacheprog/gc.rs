//! `cacheprog-gc`: removes objects older than an age from the store (for stores without
//! lifecycle rules) and, with `--local`, old files from the local tier. It lists and deletes
//! only under the cache's own layout (`<prefix>/v1/` in the bucket; `o/`, `a/` and `meta/` in
//! the local directory), never anything else.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::Serialize;

use super::CacheprogGcArgs;
use super::local::{Local, Removed};
use super::remote::Remote;
use crate::error::usage;

/// Parses an age: a whole number and a unit, `d`, `h`, `m` or `s`.
pub fn parse_age(s: &str) -> Result<Duration> {
    let t = s.trim();
    let hint = "give an age such as `30d`, `12h`, `90m` or `3600s`";
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| usage(format!("age `{s}` is not a number and a unit"), hint))?;
    let secs = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => return Err(usage(format!("age `{s}` has no unit"), hint)),
    };
    match secs {
        Some(s) if s > 0 => Ok(Duration::from_secs(s)),
        _ => Err(usage(format!("age `{s}` is out of range"), hint)),
    }
}

#[derive(Debug, Serialize)]
struct Outcome {
    older_than_seconds: u64,
    dry_run: bool,
    remote: Option<Removed>,
    local: Option<Removed>,
}

/// Runs the command.
pub fn run(a: &CacheprogGcArgs, rt: &tokio::runtime::Runtime) -> Result<ExitCode> {
    let age = parse_age(&a.older_than)?;
    let url = super::remote_url(&a.store)?;
    if url.is_none() && !a.local {
        return Err(usage(
            "`cacheprog-gc` has nothing to trim",
            "give --remote s3://BUCKET/PREFIX (or GO_CI_CACHE_REMOTE), or --local",
        ));
    }
    let cutoff = SystemTime::now() - age;
    let cutoff_unix = cutoff
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut out = Outcome {
        older_than_seconds: age.as_secs(),
        dry_run: a.dry_run,
        remote: None,
        local: None,
    };
    if let Some(url) = url {
        let remote = Remote::new(url, super::timeout(&a.store)?)?;
        out.remote = Some(rt.block_on(trim_remote(&remote, cutoff_unix, a.dry_run))?);
        if !a.json {
            let r = out.remote.as_ref().expect("just set");
            println!(
                "{} {} of {} objects ({}) last written before {} from {}{}",
                if a.dry_run { "would remove" } else { "removed" },
                r.removed,
                r.listed,
                crate::fsutil::human_bytes(r.bytes),
                jiff::Timestamp::from_second(cutoff_unix)
                    .map_or_else(|_| "?".into(), |t| t.to_string()),
                remote.url(),
                if r.errors > 0 {
                    format!(" ({} could not be removed)", r.errors)
                } else {
                    String::new()
                }
            );
        }
    }
    if a.local {
        let dir = super::local_dir(&a.store);
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

async fn trim_remote(remote: &Remote, cutoff: i64, dry_run: bool) -> Result<Removed> {
    let all = remote.list_all().await?;
    let mut r = Removed {
        listed: all.len() as u64,
        ..Removed::default()
    };
    let old: Vec<_> = all.into_iter().filter(|(_, _, t)| *t < cutoff).collect();
    if dry_run {
        for (p, size, _) in &old {
            println!("{p}");
            r.removed += 1;
            r.bytes += size;
        }
        return Ok(r);
    }
    let results = futures::future::join_all(
        old.iter()
            .map(|(p, size, _)| async move { (remote.delete(p).await, *size) }),
    )
    .await;
    for (res, size) in results {
        match res {
            Ok(()) => {
                r.removed += 1;
                r.bytes += size;
            }
            Err(e) => {
                if r.errors == 0 {
                    eprintln!("go-ci-cache: warning: {e:#}");
                }
                r.errors += 1;
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_age("90m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_age("5s").unwrap(), Duration::from_secs(5));
        for bad in ["", "d", "30", "30w", "0d", "-1d", "99999999999999999999d"] {
            let e = parse_age(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&e), 2, "{bad}");
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
    }
}
