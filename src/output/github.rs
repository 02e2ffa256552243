//! GitHub Actions: `$GITHUB_OUTPUT` / `$GITHUB_ENV` file commands, written the way
//! `@actions/core` writes them: `name<<DELIM`, the value, `DELIM`, with a random delimiter that
//! is checked not to occur in the name or value (actions/toolkit `file-command.ts`).

use anyhow::{Result, bail};

use super::Output;

/// The delimiter prefix `@actions/core` uses.
pub const DELIMITER_PREFIX: &str = "ghadelimiter_";

/// Renders outputs as file-command records with the given delimiter (pure). Fails if the
/// delimiter occurs in any name or value; the caller then draws another.
pub fn render(outputs: &[Output], delimiter: &str) -> Result<String> {
    let mut s = String::new();
    for o in outputs {
        if o.name.contains(delimiter) || o.value.contains(delimiter) {
            bail!(
                "unexpected input: the value of `{}` contains the delimiter `{delimiter}`",
                o.name
            );
        }
        s.push_str(&o.name);
        s.push_str("<<");
        s.push_str(delimiter);
        s.push('\n');
        s.push_str(&o.value);
        s.push('\n');
        s.push_str(delimiter);
        s.push('\n');
    }
    Ok(s)
}

/// A fresh random delimiter.
pub fn random_delimiter() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for the output delimiter: {e}"))?;
    Ok(format!("{DELIMITER_PREFIX}{}", hex::encode(bytes)))
}

/// Renders with a random delimiter, drawing again on the (astronomically unlikely) collision.
pub fn render_random(outputs: &[Output]) -> Result<String> {
    let mut last = None;
    for _ in 0..3 {
        match render(outputs, &random_delimiter()?) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no delimiter found")))
}
