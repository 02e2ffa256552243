//! Writing rendered output: appending to CI file-command files, or replacing a file atomically.
//! Nothing is written half-way: the whole text is rendered before the file is opened, and a
//! replaced file is written to an exclusive temporary sibling and renamed.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::error::usage;

/// Appends `text` to `path` in one write (GitHub's `$GITHUB_OUTPUT`, `$GITHUB_ENV`,
/// `$GITHUB_STEP_SUMMARY`).
pub fn append(path: &Path, text: &str, what: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| unwritable(path, what, &e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| unwritable(path, what, &e))
}

/// Replaces `path` with `text` atomically ([`crate::fsutil::write_atomic`]).
pub fn replace(path: &Path, text: &str, what: &str) -> Result<()> {
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(|e| unwritable(path, what, &e))
}

fn unwritable(path: &Path, what: &str, e: &std::io::Error) -> anyhow::Error {
    usage(
        format!("cannot write {what} `{}`: {e}", path.display()),
        "check that the directory exists and is writable, or choose another file with --output",
    )
}
