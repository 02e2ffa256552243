//! The `prune` command: resolves the scopes (the job's own key prefixes, or `--prefix`), the
//! repository, ref and token, runs [`crate::github::prune`] and reports. API trouble is a
//! warning (a missing `actions: write` a one-line notice); bad input is exit 2. Each prefix keeps
//! at most a share of the repository's cache budget (`max_cache_size_gb`, read over the API).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Caches, PruneArgs};
use crate::error::usage;
use crate::github::{self, Client, Scope};
use crate::go::Go;
use crate::job;
use crate::output::progress::{Log, Style};

/// Splits repeatable, one-per-line values.
fn lines(v: &[String]) -> Vec<String> {
    v.iter()
        .flat_map(|s| s.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// A bare branch name means `refs/heads/<name>`, as GitHub stores refs.
fn full_ref(r: &str) -> String {
    if r.starts_with("refs/") {
        r.to_string()
    } else {
        format!("refs/heads/{r}")
    }
}

/// GitHub's cache size limit per repository when nothing else is configured.
pub const DEFAULT_BUDGET_GB: f64 = 10.0;

/// One prefix (one entry kind of one configuration) keeps at most this share of the budget, so
/// a few large configurations cannot push every other entry out of the repository's store.
pub const BUDGET_SHARE: f64 = 0.2;

/// The budget in GB and where it came from (`--budget-gb`, the repository, or the default).
fn budget(a: &PruneArgs, client: &Client) -> Result<(f64, String)> {
    if let Some(raw) = a
        .budget_gb
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        return match raw.parse::<f64>() {
            Ok(gb) if gb.is_finite() && gb > 0.0 => Ok((gb, "--budget-gb".into())),
            _ => Err(usage(
                format!("`--budget-gb` must be a positive number of GB, got `{raw}`"),
                "pass the repository's cache limit, e.g. --budget-gb 10, or leave it out to read it",
            )),
        };
    }
    Ok(match client.storage_limit_gb() {
        Ok(gb) if gb > 0 => (gb as f64, "the repository's max_cache_size_gb".into()),
        Ok(_) => (
            DEFAULT_BUDGET_GB,
            "GitHub's default; the repository reported no limit".into(),
        ),
        Err(e) => (
            DEFAULT_BUDGET_GB,
            format!("GitHub's default; the repository's limit could not be read: {e}"),
        ),
    })
}

/// Runs `prune`.
pub fn run(a: &PruneArgs, go: &Go) -> Result<ExitCode> {
    let repo = a.repo.as_deref().unwrap_or_default().trim();
    if repo.split('/').filter(|p| !p.is_empty()).count() != 2 || repo.matches('/').count() != 1 {
        return Err(usage(
            format!("`prune` needs the repository as `OWNER/NAME`, got `{repo}`"),
            "pass --repo OWNER/NAME (GitHub Actions sets $GITHUB_REPOSITORY)",
        ));
    }
    let git_ref = match a.git_ref.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => full_ref(r),
        _ => {
            return Err(usage(
                "`prune` needs the ref whose entries it prunes",
                "pass --ref refs/heads/BRANCH (GitHub Actions sets $GITHUB_REF)",
            ));
        }
    };
    let token = a.token.as_deref().unwrap_or_default().trim();
    if token.is_empty() {
        return Err(usage(
            "`prune` needs a token that may delete Actions caches, and `$GITHUB_TOKEN` is not set",
            "pass --token or set GITHUB_TOKEN (in a workflow: `GITHUB_TOKEN: ${{ github.token }}` with `permissions: actions: write`)",
        ));
    }
    let mut prefixes = lines(&a.prefixes);
    if prefixes.is_empty() {
        let job = job::load(&a.job.job_args(), go)?;
        let entries = match a.caches {
            Caches::Both => vec![&job.keys.modules, &job.keys.build],
            Caches::Modules => vec![&job.keys.modules],
            Caches::Build => vec![&job.keys.build],
        };
        // One entry kind of this configuration and project (never a sibling module's).
        prefixes = entries
            .into_iter()
            .map(|e| e.prune_prefix.clone())
            .collect();
    }
    let protect = lines(&a.protect);
    let client = Client::new(&a.api_url, repo, token);
    let (budget_gb, source) = budget(a, &client)?;
    let max_bytes = (budget_gb * 1e9 * BUDGET_SHARE) as u64;
    let scopes: Vec<Scope> = prefixes
        .into_iter()
        .map(|prefix| Scope {
            prefix,
            git_ref: git_ref.clone(),
            keep: a.keep,
            protect: protect.clone(),
            max_bytes: Some(max_bytes),
        })
        .collect();

    let outcomes = github::prune(&client, &scopes, a.dry_run);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        println!(
            "cache budget: {budget_gb} GB ({source}); each prefix keeps at most {:.1} GB",
            max_bytes as f64 / 1e9
        );
        print!("{}", github::render(&outcomes, a.dry_run));
    }
    let log = Log::new(Style::detect());
    let mut failed = false;
    if outcomes.iter().any(|o| o.permission_denied) {
        log.notice("pruning skipped: the token may not delete Actions caches; give the job `permissions: actions: write` (until then GitHub's own eviction bounds the store)");
        failed = true;
    }
    for o in outcomes.iter().filter(|o| !o.permission_denied) {
        if let Some(e) = &o.error {
            log.warn(&format!("pruning stopped: {e}"));
            failed = true;
        }
    }
    Ok(if failed && a.strict {
        ExitCode::from(crate::error::EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}
