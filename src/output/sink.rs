//! Writing rendered output: appending to CI file-command files, or replacing a file atomically.
//! Nothing is written half-way: the whole text is rendered before the file is opened, and a
//! replaced file is written to a temporary sibling and renamed.

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

/// Replaces `path` with `text` atomically.
pub fn replace(path: &Path, text: &str, what: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir).map_err(|e| unwritable(path, what, &e))?;
    tmp.1
        .write_all(text.as_bytes())
        .and_then(|()| tmp.1.sync_all())
        .map_err(|e| unwritable(path, what, &e))?;
    std::fs::rename(&tmp.0, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp.0);
        unwritable(path, what, &e)
    })
}

fn tempfile_in(dir: &Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let p = dir.join(format!(".go-ci-cache-{}.tmp", hex::encode(bytes)));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)?;
    Ok((p, f))
}

fn unwritable(path: &Path, what: &str, e: &std::io::Error) -> anyhow::Error {
    usage(
        format!("cannot write {what} `{}`: {e}", path.display()),
        "check that the directory exists and is writable, or choose another file with --output",
    )
}
