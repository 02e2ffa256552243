//! User-facing error classes and the exit codes they map to.
//!
//! Bad input (a wrong flag value, a missing file, a directory that is not a Go module, no `go` on
//! PATH) is a [`UsageError`] and exits with status 2. Everything else that stops a command exits
//! with status 1. Cache trouble is never an error: it is a warning and the job goes on.

use std::fmt;

/// Exit status for bad input.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for a failure the user must see (e.g. `--strict` cache trouble).
pub const EXIT_FAILURE: u8 = 1;

/// An error caused by the user's input or environment, with a hint that says how to fix it.
#[derive(Debug)]
pub struct UsageError {
    message: String,
    hint: Option<String>,
}

impl UsageError {
    /// A usage error with no hint.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }

    /// Adds the hint printed on the line after the message.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UsageError {}

/// Shorthand for returning a [`UsageError`] wrapped in `anyhow`.
pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    UsageError::new(message).hint(hint).into()
}

/// The exit status an error maps to: 2 when any cause is a [`UsageError`], else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err
        .chain()
        .any(|c| c.downcast_ref::<UsageError>().is_some())
    {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// Renders an error for the terminal: the usage message alone when the cause is a
/// [`UsageError`] (its context is already in the message), else the whole context chain.
pub fn render(err: &anyhow::Error) -> String {
    if let Some(u) = err.chain().find_map(|c| c.downcast_ref::<UsageError>()) {
        // Context added above a usage error names the step; keep it as a prefix.
        let outer: Vec<String> = err
            .chain()
            .take_while(|c| c.downcast_ref::<UsageError>().is_none())
            .map(ToString::to_string)
            .collect();
        if outer.is_empty() {
            u.to_string()
        } else {
            format!("{}: {u}", outer.join(": "))
        }
    } else {
        format!("{err:#}")
    }
}
