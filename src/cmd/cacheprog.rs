//! `cacheprog`: the GOCACHEPROG program (and `--prefetch-only`, `--check`); the engine is
//! [`crate::cacheprog`].

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::cacheprog::prefetch;
use crate::cacheprog::{
    CacheprogArgs, Check, Resolved, one_line, open_local, resolve, runtime, server,
};

/// `cacheprog`: serves the go command on stdin/stdout until it closes (or, with
/// `--prefetch-only`, fills the local tier from the manifest and exits; with `--check`, says
/// how it would start and exits). A configuration that does not parse, a store that cannot be
/// set up and a local directory that cannot be used are warnings, once per job: the program
/// serves the go command from what it has. Only a request it cannot read ends it with an
/// error.
pub fn run(a: &CacheprogArgs) -> Result<ExitCode> {
    let Resolved {
        cfg,
        remote,
        problems,
    } = resolve(a);
    let mut notes: Vec<String> = problems.iter().map(one_line).collect();
    let (local, fallback) = open_local(&cfg.local_dir);
    if let Some((_, why)) = &fallback {
        notes.push(format!(
            "local cache `{}` cannot be used ({why}); this go command keeps what it builds in a temporary directory",
            cfg.local_dir.display()
        ));
    }
    if a.check {
        // On stderr too, for a shell that only tests the JSON (the GitLab template).
        for n in &notes {
            eprintln!("go-ci-cache: warning: {n}");
        }
        let c = Check {
            ok: true,
            local_dir: local.root().display().to_string(),
            remote: cfg.remote.as_ref().map(ToString::to_string),
            decision: cfg.decision.clone(),
            problems: notes,
        };
        println!("{}", serde_json::to_string(&c)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rt = runtime()?;
    let result = if a.prefetch_only {
        rt.block_on(prefetch::prefetch_only(cfg, local, remote, notes))
    } else {
        rt.block_on(server::serve(cfg, local, remote, notes))
    };
    rt.shutdown_timeout(Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
}
