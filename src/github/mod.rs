//! GitHub's Actions cache over its REST API: the client ([`client`]), the pure prune policy
//! ([`policy`]), and [`prune`], which lists each scope, applies the policy and deletes (or, dry,
//! only says what would go). API trouble is reported, never raised: GitHub's own eviction still
//! bounds the store when pruning cannot run.

pub mod client;
pub mod policy;

use serde::Serialize;

pub use client::{ApiError, Client};
pub use policy::{CacheEntry, PrunePlan, Scope};

/// What happened to one scope.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeOutcome {
    /// The key prefix pruned.
    pub prefix: String,
    /// The ref pruned.
    pub git_ref: String,
    /// The plan (what stays, what goes).
    pub plan: PrunePlan,
    /// Ids actually deleted (empty on a dry run).
    pub deleted: Vec<u64>,
    /// What went wrong, if anything: the listing failed, or some deletes did.
    pub error: Option<String>,
    /// The error was a missing permission (`actions: write`).
    pub permission_denied: bool,
    /// The byte cap the scope was pruned to (a share of the budget), if any.
    pub max_bytes: Option<u64>,
}

/// Lists, plans and deletes for every scope. Stops deleting in a scope at the first failed
/// delete (a missing permission or a rate limit applies to the rest too).
pub fn prune(client: &Client, scopes: &[Scope], dry_run: bool) -> Vec<ScopeOutcome> {
    let mut out = Vec::new();
    for scope in scopes {
        let mut o = ScopeOutcome {
            prefix: scope.prefix.clone(),
            git_ref: scope.git_ref.clone(),
            plan: PrunePlan::default(),
            deleted: Vec::new(),
            error: None,
            permission_denied: false,
            max_bytes: scope.max_bytes,
        };
        match client.list(&scope.prefix, &scope.git_ref) {
            Err(e) => {
                o.permission_denied = matches!(e, ApiError::Permission { .. });
                o.error = Some(format!("listing `{}`: {e}", scope.prefix));
            }
            Ok(listing) => {
                o.plan = policy::plan(&listing, scope);
                if !dry_run {
                    for e in &o.plan.delete {
                        match client.delete(e.id) {
                            Ok(()) => o.deleted.push(e.id),
                            Err(err) => {
                                o.permission_denied = matches!(err, ApiError::Permission { .. });
                                o.error = Some(format!("deleting `{}`: {err}", e.key));
                                break;
                            }
                        }
                    }
                }
            }
        }
        out.push(o);
    }
    out
}

/// The human lines for the outcomes. Pure.
pub fn render(outcomes: &[ScopeOutcome], dry_run: bool) -> String {
    let mut s = String::new();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    for o in outcomes {
        s.push_str(&format!("{} on {}:\n", o.prefix, o.git_ref));
        for e in &o.plan.keep {
            s.push_str(&format!(
                "  keep    {} ({:.1} MiB, {})\n",
                e.key,
                mib(e.size_in_bytes),
                e.created_at
            ));
        }
        for e in &o.plan.delete {
            let verb = if dry_run {
                "would delete"
            } else if o.deleted.contains(&e.id) {
                "deleted"
            } else {
                "not deleted"
            };
            s.push_str(&format!(
                "  {verb} {} ({:.1} MiB, {})\n",
                e.key,
                mib(e.size_in_bytes),
                e.created_at
            ));
        }
        if o.plan.keep.is_empty() && o.plan.delete.is_empty() && o.error.is_none() {
            s.push_str("  no entries\n");
        }
    }
    let planned: u64 = outcomes.iter().map(|o| o.plan.bytes_deleted()).sum();
    let n: usize = outcomes.iter().map(|o| o.plan.delete.len()).sum();
    if dry_run {
        s.push_str(&format!(
            "would delete {n} entries ({:.1} MiB)\n",
            mib(planned)
        ));
    } else {
        let done: u64 = outcomes
            .iter()
            .flat_map(|o| o.plan.delete.iter().filter(|e| o.deleted.contains(&e.id)))
            .map(|e| e.size_in_bytes)
            .sum();
        let k: usize = outcomes.iter().map(|o| o.deleted.len()).sum();
        s.push_str(&format!(
            "deleted {k} of {n} entries ({:.1} MiB)\n",
            mib(done)
        ));
    }
    s
}
