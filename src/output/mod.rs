//! What the binary prints and writes: the keys in each CI's own format (pure renderers over
//! [`KeysDoc`]: [`github`], [`gitlab`], [`shell`], [`text`], JSON), the `plan` preview
//! ([`plan`]), the `report` ([`report`]), the log's groups and warnings ([`progress`]); [`sink`]
//! is the only place output files are written.

pub mod doc;
pub mod github;
pub mod gitlab;
pub mod plan;
pub mod progress;
pub mod report;
pub mod shell;
pub mod sink;
pub mod text;

use anyhow::Result;
use clap::ValueEnum;

use crate::output::doc::KeysDoc;

/// Where the keys go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// GitHub inside GitHub Actions, GitLab inside GitLab CI, else text.
    Auto,
    /// Append to `$GITHUB_OUTPUT` (and `$GITHUB_ENV` with `--export-env`).
    Github,
    /// A dotenv file for `artifacts:reports:dotenv`.
    Gitlab,
    /// One JSON object on stdout.
    Json,
    /// Quoted `export` lines.
    Shell,
    /// Plain text for people.
    Text,
}

impl Format {
    /// Resolves `auto` from the CI's own variables (`GITHUB_ACTIONS`, `GITLAB_CI`).
    pub fn resolve(self, var: impl Fn(&str) -> Option<String>) -> Self {
        if self != Self::Auto {
            return self;
        }
        if var("GITHUB_ACTIONS").as_deref() == Some("true") {
            Self::Github
        } else if var("GITLAB_CI").as_deref() == Some("true") {
            Self::Gitlab
        } else {
            Self::Text
        }
    }
}

/// One named output value. Names are kebab-case (`build-key`); formats that need variable
/// names derive them (`GO_CI_CACHE_BUILD_KEY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// kebab-case name.
    pub name: String,
    /// Value; may span lines (restore keys).
    pub value: String,
}

/// The named outputs every format writes, in a fixed order (pure).
pub fn outputs(doc: &KeysDoc) -> Vec<Output> {
    let mut out = Vec::new();
    let mut push = |name: &str, value: String| {
        out.push(Output {
            name: name.to_string(),
            value,
        });
    };
    for (entry, e) in [("modules", &doc.modules), ("build", &doc.build)] {
        push(&format!("{entry}-key"), e.key.clone());
        push(&format!("{entry}-restore-keys"), e.restore_keys.join("\n"));
        push(&format!("{entry}-path"), e.path.clone());
    }
    push(
        "go-version",
        doc.inputs.go.get("GOVERSION").cloned().unwrap_or_default(),
    );
    push(
        "remote-configuration",
        doc.remote_manifest.configuration.clone(),
    );
    push("remote-project", doc.remote_manifest.project.clone());
    out
}

/// The environment variables `--export-env` sets for later steps.
pub fn exported_env(doc: &KeysDoc) -> Vec<Output> {
    vec![
        Output {
            name: "GOMODCACHE".into(),
            value: doc.modules.path.clone(),
        },
        Output {
            name: "GOCACHE".into(),
            value: doc.build.path.clone(),
        },
    ]
}

/// `GO_CI_CACHE_` + the upper snake form of a kebab-case output name.
pub fn var_name(name: &str) -> String {
    format!("GO_CI_CACHE_{}", name.to_uppercase().replace('-', "_"))
}

/// Renders JSON (pure).
pub fn render_json(doc: &KeysDoc) -> Result<String> {
    Ok(serde_json::to_string_pretty(doc)? + "\n")
}
