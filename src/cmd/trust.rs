//! `trust`: the decision of who writes what, for this environment ([`crate::trust`]).

use std::process::ExitCode;

use anyhow::Result;

/// `trust`: the decision of who writes what, for this environment. What does not parse is a
/// usage error here (the cache program itself falls back to writing nothing).
pub fn run(a: &crate::cli::TrustArgs) -> Result<ExitCode> {
    let (d, problems) = a.trust.decide(a.lookup_only);
    if let Some(e) = problems.into_iter().next() {
        return Err(e);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print!("{}", crate::output::plan::render_trust(&d));
    }
    Ok(ExitCode::SUCCESS)
}
