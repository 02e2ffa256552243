//! `report`: what the cache did for this job, in the CI's own format.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use super::context::{now_unix, stdout};
use crate::cache::state::{self, State};
use crate::cli::{ReportArgs, ReportFormat};
use crate::error::usage;
use crate::go::Go;
use crate::output::progress::Style;
use crate::output::{report, sink};

/// `report`.
pub fn run(a: &ReportArgs, go: &Go) -> Result<ExitCode> {
    let state_path = match &a.state {
        Some(p) => p.clone(),
        None => {
            // Only GOCACHE is needed; asking for nothing else keeps this working when the
            // cache directory itself is unusable.
            let env = go.env_vars(&a.dir, &["GOCACHE"])?;
            state::default_path(Path::new(env.get("GOCACHE")), |k| std::env::var(k).ok())
        }
    };
    let bytes = std::fs::read(&state_path).map_err(|e| {
        usage(
            format!("cannot read the run state `{}`: {e}", state_path.display()),
            "run `go-ci-cache prepare`, `warm` or `trim` in this job first (or pass --state)",
        )
    })?;
    let mut st: State = serde_json::from_slice(&bytes).map_err(|e| {
        usage(
            format!("the run state `{}` is not valid: {e}", state_path.display()),
            "delete it and run the job again",
        )
    })?;
    if !a.timings.is_empty() {
        for t in &a.timings {
            let (name, secs) = report::parse_timing(t)?;
            st.timings.insert(name, secs);
        }
        st.save(&state_path)?;
    }
    st.cacheprog = crate::cacheprog::job_stats(st.prepare.as_ref().map_or(0, |p| p.started_at));
    let now = u64::try_from(now_unix()).unwrap_or(0);
    let format = match a.format {
        ReportFormat::Auto => match Style::detect() {
            Style::Github => ReportFormat::Github,
            Style::Gitlab => ReportFormat::Gitlab,
            _ => ReportFormat::Text,
        },
        f => f,
    };
    match format {
        ReportFormat::Github => {
            let md = report::markdown(&st);
            match a
                .output
                .clone()
                .or_else(|| std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from))
            {
                Some(p) => sink::append(&p, &md, "the step summary")?,
                None => stdout(&md)?,
            }
        }
        ReportFormat::Gitlab => stdout(&report::gitlab_section(&st, now, now))?,
        ReportFormat::Json => stdout(&(serde_json::to_string_pretty(&st)? + "\n"))?,
        ReportFormat::Text | ReportFormat::Auto => stdout(&report::text(&st))?,
    }
    Ok(ExitCode::SUCCESS)
}
