//! Progress and log grouping on stderr: a live bar on a terminal; on CI logs plain lines inside
//! GitHub `::group::` or GitLab collapsible sections, printed at most every few seconds.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How output is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A terminal: live progress bars.
    Tty,
    /// GitHub Actions log: `::group::`, `::warning::`.
    Github,
    /// GitLab job log: `section_start`/`section_end`.
    Gitlab,
    /// Any other log.
    Plain,
}

impl Style {
    /// Picks the style from stderr and the CI's variables.
    pub fn detect() -> Self {
        if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
            Self::Github
        } else if std::env::var("GITLAB_CI").as_deref() == Ok("true") {
            Self::Gitlab
        } else if std::io::stderr().is_terminal() {
            Self::Tty
        } else {
            Self::Plain
        }
    }
}

/// The log of one command.
#[derive(Debug)]
pub struct Log {
    style: Style,
    open: Option<String>,
}

fn now_unix() -> u64 {
    u64::try_from(crate::cache::now_unix()).unwrap_or(0)
}

impl Log {
    /// A log in the given style.
    pub fn new(style: Style) -> Self {
        Self { style, open: None }
    }

    /// The style.
    pub fn style(&self) -> Style {
        self.style
    }

    /// Opens a group (closing any open one).
    pub fn group(&mut self, title: &str) {
        self.end_group();
        let mut e = std::io::stderr().lock();
        let _ = match self.style {
            Style::Github => writeln!(e, "::group::{title}"),
            Style::Gitlab => {
                let slug: String = title
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let name = format!("go_ci_cache_{slug}");
                let s = crate::output::gitlab::section_start(&name, title, now_unix(), true);
                self.open = Some(name);
                write!(e, "{s}")
            }
            Style::Tty | Style::Plain => writeln!(e, "== {title}"),
        };
        if self.style != Style::Gitlab {
            self.open = Some(title.to_string());
        }
    }

    /// Closes the open group.
    pub fn end_group(&mut self) {
        let Some(name) = self.open.take() else { return };
        let mut e = std::io::stderr().lock();
        let _ = match self.style {
            Style::Github => writeln!(e, "::endgroup::"),
            Style::Gitlab => write!(
                e,
                "{}",
                crate::output::gitlab::section_end(&name, now_unix())
            ),
            Style::Tty | Style::Plain => Ok(()),
        };
    }

    /// A line of information.
    pub fn info(&self, msg: &str) {
        eprintln!("{msg}");
    }

    /// A warning: cache trouble that does not stop the job.
    pub fn warn(&self, msg: &str) {
        self.annotate("warning", msg);
    }

    /// A notice: something the user may want to change, that costs only speed.
    pub fn notice(&self, msg: &str) {
        self.annotate("notice", msg);
    }

    fn annotate(&self, level: &str, msg: &str) {
        match self.style {
            Style::Github => {
                let m = msg
                    .replace('%', "%25")
                    .replace('\r', "%0D")
                    .replace('\n', "%0A");
                eprintln!("::{level} title=go-ci-cache::{m}");
            }
            _ => eprintln!("go-ci-cache: {level}: {msg}"),
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.end_group();
    }
}

/// A counter of finished work items with an estimated total.
#[derive(Debug)]
pub struct Counter {
    bar: Option<ProgressBar>,
    what: String,
    done: u64,
    total: u64,
    last_print: Instant,
    started: Instant,
}

/// How often plain logs get a progress line.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Counter {
    /// Starts counting `what` (e.g. "compiled") towards an estimated `total`.
    pub fn new(style: Style, what: &str, total: u64) -> Self {
        let bar = (style == Style::Tty).then(|| {
            let b = ProgressBar::new(total.max(1));
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix} [{bar:30}] {pos}/{len} {elapsed} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(what.to_string());
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Self {
            bar,
            what: what.to_string(),
            done: 0,
            total,
            last_print: Instant::now(),
            started: Instant::now(),
        }
    }

    /// One more item done (`item` names it).
    pub fn tick(&mut self, item: &str) {
        self.done += 1;
        if self.done > self.total {
            self.total = self.done;
            if let Some(b) = &self.bar {
                b.set_length(self.total);
            }
        }
        if let Some(b) = &self.bar {
            b.set_position(self.done);
            b.set_message(item.to_string());
        } else if self.last_print.elapsed() >= PLAIN_EVERY {
            self.last_print = Instant::now();
            eprintln!(
                "  {} {}/~{} packages ({:.0}s) … {item}",
                self.what,
                self.done,
                self.total,
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    /// A status message that is not an item (e.g. a module download).
    pub fn note(&mut self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        } else {
            eprintln!("  {msg}");
        }
    }

    /// Items done.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Ends the counter and prints the final line.
    pub fn finish(self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        eprintln!(
            "  {} {} packages in {:.1}s",
            self.what,
            self.done,
            self.started.elapsed().as_secs_f64()
        );
    }
}
