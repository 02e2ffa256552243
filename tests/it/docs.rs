//! The docs cannot drift from what they describe: every action input, template input, command-line
//! flag, environment variable and key input is documented in exactly one generated table, checked
//! here against its source (run with `GO_CI_CACHE_UPDATE_DOCS=1` to rewrite the tables); every
//! relative link in README.md, CONTRIBUTING.md and docs/ resolves, anchors included; and no
//! file cites a document the repository does not have.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use indexmap::IndexMap;
use serde::Deserialize;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Debug, Deserialize)]
struct ActionYml {
    inputs: IndexMap<String, ActionInput>,
    outputs: IndexMap<String, ActionOutput>,
}

#[derive(Debug, Deserialize)]
struct ActionInput {
    description: String,
    #[serde(default)]
    required: bool,
    default: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ActionOutput {
    description: String,
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The first sentence of a description: up to the first `. ` (or the end) that is outside
/// backticks and parentheses and does not end an abbreviation (`e.g.`, `i.e.`, `etc.`).
pub fn first_sentence(s: &str) -> &str {
    let b = s.as_bytes();
    let (mut tick, mut depth) = (false, 0i32);
    for i in 0..b.len() {
        match b[i] {
            b'`' => tick = !tick,
            b'(' if !tick => depth += 1,
            b')' if !tick => depth -= 1,
            b'.' if !tick && depth <= 0 && (i + 1 == b.len() || b[i + 1] == b' ') => {
                let before = &s[..i];
                let abbrev = ["e.g", "i.e", "etc", "vs"]
                    .iter()
                    .any(|a| before.ends_with(a));
                if !abbrev {
                    return &s[..=i];
                }
            }
            _ => {}
        }
    }
    s
}

/// The rest of a description after its first sentence.
fn rest(s: &str) -> &str {
    s[first_sentence(s).len()..].trim()
}

/// The action's tables (one sentence a cell) and, below them, each input's whole description.
pub fn action_tables(yml: &str) -> String {
    let a: ActionYml = serde_saphyr::from_str(yml).expect("action.yml parses");
    let mut s = String::from("| input | default | what it does |\n|---|---|---|\n");
    for (name, i) in &a.inputs {
        let d = i.default.as_deref().unwrap_or("");
        let d = if i.required {
            "(required)".to_string()
        } else if d.is_empty() {
            String::new()
        } else {
            format!("`{d}`")
        };
        s.push_str(&format!(
            "| [`{name}`](#{name}) | {d} | {} |\n",
            cell(first_sentence(&i.description))
        ));
    }
    s.push_str("\n| output | what it says |\n|---|---|\n");
    for (name, o) in &a.outputs {
        s.push_str(&format!("| `{name}` | {} |\n", cell(&o.description)));
    }
    s.push_str("\n### Details\n");
    for (name, i) in &a.inputs {
        s.push_str(&format!("\n#### `{name}`\n\n{}\n", i.description.trim()));
    }
    s
}

/// Replaces the text between `<!-- {tag}:start -->` and `<!-- {tag}:end -->`.
pub fn splice(doc: &str, tag: &str, body: &str) -> Option<String> {
    let start = format!("<!-- {tag}:start -->\n");
    let end = format!("<!-- {tag}:end -->");
    let a = doc.find(&start)? + start.len();
    let b = doc[a..].find(&end)? + a;
    Some(format!("{}{body}{}", &doc[..a], &doc[b..]))
}

/// Checks (or, with `GO_CI_CACHE_UPDATE_DOCS=1`, rewrites) the generated block `tag` of `file`
/// (relative to the repository). The tag must appear in this file only: each table has one home.
pub fn check_doc(file: &str, tag: &str, body: &str) {
    let path = root().join(file);
    let doc = std::fs::read_to_string(&path).unwrap();
    let want = splice(&doc, tag, body)
        .unwrap_or_else(|| panic!("{file} has no `<!-- {tag}:start/end -->` markers"));
    for other in doc_files().iter().filter(|p| **p != path) {
        let text = std::fs::read_to_string(other).unwrap();
        assert!(
            !text.contains(&format!("<!-- {tag}:start -->")),
            "`{tag}` is generated into {} too: a table has one home ({file})",
            other.display()
        );
    }
    if want != doc {
        if std::env::var_os("GO_CI_CACHE_UPDATE_DOCS").is_some() {
            std::fs::write(&path, want).unwrap();
        } else {
            panic!(
                "{file}'s `{tag}` table is stale; run `GO_CI_CACHE_UPDATE_DOCS=1 cargo test --test it docs`"
            );
        }
    }
}

#[derive(Debug, Deserialize)]
struct SpecDoc {
    spec: Spec,
}

#[derive(Debug, Deserialize)]
struct Spec {
    inputs: IndexMap<String, SpecInput>,
}

#[derive(Debug, Deserialize)]
struct SpecInput {
    description: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    default: Option<serde_json::Value>,
    options: Option<Vec<String>>,
    regex: Option<String>,
}

/// The GitLab template's `spec:inputs` (one sentence a cell) and each input's whole description.
pub fn gitlab_table(template: &str) -> String {
    let spec = template.split_once("\n---\n").expect("spec header").0;
    let d: SpecDoc = serde_saphyr::from_str(spec).expect("the spec parses");
    let mut s = String::from(
        "| input | type | default | allowed | what it does |\n|---|---|---|---|---|\n",
    );
    for (name, i) in &d.spec.inputs {
        let default = match &i.default {
            Some(serde_json::Value::String(v)) if v.is_empty() => "`''`".to_string(),
            Some(serde_json::Value::String(v)) => format!("`{v}`"),
            Some(v) => format!("`{v}`"),
            None => "(required)".to_string(),
        };
        let allowed = match (&i.options, &i.regex) {
            (Some(o), _) => o
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", "),
            (None, Some(r)) => format!("`{}`", r.replace('|', "\\|")),
            _ => String::new(),
        };
        s.push_str(&format!(
            "| [`{name}`](#{name}) | {} | {} | {allowed} | {} |\n",
            i.kind.as_deref().unwrap_or("string"),
            default.replace('|', "\\|"),
            cell(first_sentence(&i.description))
        ));
    }
    s.push_str("\n### Details\n");
    for (name, i) in &d.spec.inputs {
        s.push_str(&format!("\n#### `{name}`\n\n{}\n", i.description.trim()));
    }
    s
}

/// Every command's flags, from the binary's own definitions: one table a command.
pub fn cli_tables() -> String {
    let cmd = go_ci_cache::cli::Cli::command();
    let mut s = String::new();
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        s.push_str(&format!(
            "\n### `{}`\n\n{}\n\n| flag | variable | default | what it sets |\n|---|---|---|---|\n",
            sub.get_name(),
            first_sentence(about.trim())
        ));
        for a in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let name = match (a.get_long(), a.get_value_names()) {
                (Some(l), Some(v)) if a.get_num_args().is_some_and(|n| n.takes_values()) => {
                    format!("`--{l} <{}>`", v.join(" "))
                }
                (Some(l), _) => format!("`--{l}`"),
                (None, Some(v)) => format!("`<{}>`", v.join(" ")),
                (None, None) => format!("`<{}>`", a.get_id()),
            };
            if name == "`--help`" {
                continue;
            }
            let env = a
                .get_env()
                .map(|e| format!("`{}`", e.to_string_lossy()))
                .unwrap_or_default();
            let default = a
                .get_default_values()
                .iter()
                .map(|v| format!("`{}`", v.to_string_lossy()))
                .collect::<Vec<_>>()
                .join(", ");
            let mut help = a
                .get_help()
                .map(|h| first_sentence(h.to_string().trim()).to_string())
                .unwrap_or_default();
            let values: Vec<String> = a
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| format!("`{}`", v.get_name()))
                .collect();
            if !values.is_empty() && !a.is_hide_possible_values_set() {
                help.push_str(&format!(" One of {}.", values.join(", ")));
            }
            s.push_str(&format!(
                "| {name} | {env} | {default} | {} |\n",
                cell(&help)
            ));
        }
    }
    s
}

/// The environment variables the binary reads besides its flags' own.
pub fn env_table() -> String {
    let mut s = String::from("| variable | read for |\n|---|---|\n");
    for (names, why) in go_ci_cache::cli::ENVIRONMENT {
        let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        s.push_str(&format!("| {} | {} |\n", names.join(", "), cell(why)));
    }
    s
}

#[test]
fn the_gitlab_table_matches_the_spec() {
    let t = std::fs::read_to_string(root().join("gitlab-template.yml")).unwrap();
    check_doc("docs/gitlab.md", "gitlab-inputs", &gitlab_table(&t));
}

#[test]
fn the_action_tables_match_action_yml() {
    let yml = std::fs::read_to_string(root().join("action.yml")).unwrap();
    check_doc(
        "docs/github-action.md",
        "action-inputs",
        &action_tables(&yml),
    );
}

#[test]
fn the_cli_tables_match_the_binary() {
    check_doc("docs/cli.md", "cli-flags", &cli_tables());
    check_doc("docs/cli.md", "cli-env", &env_table());
}

/// The `GO_CI_CACHE_*` variables the source reads are flags' variables or listed in
/// `cli::ENVIRONMENT`, and every variable listed there is read somewhere in the source.
#[test]
fn every_variable_the_source_reads_is_documented() {
    let cmd = go_ci_cache::cli::Cli::command();
    let mut flag_envs = BTreeSet::new();
    for sub in cmd.get_subcommands() {
        for a in sub.get_arguments() {
            if let Some(e) = a.get_env() {
                flag_envs.insert(e.to_string_lossy().into_owned());
            }
        }
    }
    let listed: BTreeSet<String> = go_ci_cache::cli::ENVIRONMENT
        .iter()
        .flat_map(|(n, _)| n.iter().map(|s| s.to_string()))
        .collect();
    let mut source = String::new();
    for e in walkdir::WalkDir::new(root().join("src"))
        .into_iter()
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "rs") {
            source.push_str(&std::fs::read_to_string(e.path()).unwrap());
        }
    }
    let mut read = BTreeSet::new();
    for (i, _) in source.match_indices("\"GO_CI_CACHE_") {
        let name: String = source[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        read.insert(name);
    }
    // A bare prefix (`"GO_CI_CACHE_"`) names the outputs the binary writes, not a variable it reads.
    read.retain(|n| !n.ends_with('_'));
    for name in &read {
        assert!(
            flag_envs.contains(name) || listed.contains(name),
            "the source reads `{name}`, which is neither a flag's variable nor in cli::ENVIRONMENT"
        );
    }
    for name in listed.iter().filter(|n| n.starts_with("GO_CI_CACHE_")) {
        assert!(
            source.contains(&format!("\"{name}\"")),
            "cli::ENVIRONMENT lists `{name}`, which the source never reads"
        );
    }
}

#[test]
fn every_action_input_describes_its_default() {
    let yml = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let a: ActionYml = serde_saphyr::from_str(&yml).unwrap();
    for (name, i) in &a.inputs {
        assert!(
            i.description.contains("Defaults to"),
            "input `{name}`: say the default in the description"
        );
        assert!(i.default.is_some(), "input `{name}` has no default");
    }
}

#[test]
fn first_sentences() {
    assert_eq!(first_sentence("One. Two."), "One.");
    assert_eq!(first_sentence("A (e.g. `x.y`). B."), "A (e.g. `x.y`).");
    assert_eq!(first_sentence("Use `a. b` here. Then."), "Use `a. b` here.");
    assert_eq!(first_sentence("No end"), "No end");
    assert_eq!(rest("One. Two. Three."), "Two. Three.");
}

/// README.md, CONTRIBUTING.md, bench/README.md and every page of docs/.
fn doc_files() -> Vec<PathBuf> {
    let mut v = vec![
        root().join("README.md"),
        root().join("CONTRIBUTING.md"),
        root().join("bench/README.md"),
    ];
    if let Ok(rd) = std::fs::read_dir(root().join("docs")) {
        let mut pages: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        pages.sort();
        v.extend(pages);
    }
    v.retain(|p| p.exists());
    v
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a markdown file: its headings' slugs (repeats numbered as GitHub does).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: IndexMap<String, usize> = IndexMap::new();
    let mut out = BTreeSet::new();
    let mut fence = false;
    for line in text.lines() {
        if line.starts_with("```") {
            fence = !fence;
        }
        if fence || !line.starts_with('#') {
            continue;
        }
        let s = slug(line.trim_start_matches('#'));
        let n = seen.entry(s.clone()).or_insert(0);
        out.insert(if *n == 0 {
            s.clone()
        } else {
            format!("{s}-{n}")
        });
        *n += 1;
    }
    out
}

/// The markdown links of a text outside code: (target, line).
fn links(text: &str) -> Vec<(String, usize)> {
    let mut v = Vec::new();
    let mut fence = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            v.push((after[..end].to_string(), n + 1));
            rest = &after[end..];
        }
    }
    v
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (target, line) in links(&text) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let dest = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let here = format!(
                "{}:{line}: `{target}`",
                file.strip_prefix(root()).unwrap().display()
            );
            if !dest.exists() {
                broken.push(format!("{here}: no such file"));
                continue;
            }
            if !anchor.is_empty() && dest.extension().is_some_and(|x| x == "md") {
                let a = anchors(&std::fs::read_to_string(&dest).unwrap());
                if !a.contains(anchor) {
                    broken.push(format!("{here}: no heading with that anchor"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Files a reader may be sent to: every tracked kind of text file outside dependencies and
/// build output.
fn cited_files() -> Vec<PathBuf> {
    let skip = ["target", "node_modules", ".git", "dist", "results"];
    walkdir::WalkDir::new(root())
        .into_iter()
        .filter_entry(|e| !skip.iter().any(|s| e.file_name() == *s))
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension().is_some_and(|x| {
                ["rs", "md", "mjs", "yml", "py", "sh", "toml"].contains(&x.to_str().unwrap())
            }) || p.ends_with(".ci/run")
        })
        .collect()
}

#[test]
fn no_file_cites_a_document_the_repository_does_not_have() {
    let files = cited_files();
    let have: BTreeSet<String> = walkdir::WalkDir::new(root())
        .into_iter()
        .filter_entry(|e| {
            !["target", "node_modules", ".git"]
                .iter()
                .any(|s| e.file_name() == *s)
        })
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut missing = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (i, _) in text.match_indices(".md") {
            // The file name before `.md`, as a citation writes it (a name, then a section mark).
            let start = text[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
                .map_or(0, |p| p + 1);
            let name = format!("{}.md", &text[start..i]);
            let next = text[i + 3..].chars().next().unwrap_or(' ');
            if name == ".md" || next.is_ascii_alphanumeric() || name.starts_with('.') {
                continue;
            }
            // A URL cites the public source; a quoted string or a `$var` is a file a test or
            // script makes, not a citation.
            let word_start = text[..i].rfind(char::is_whitespace).map_or(0, |p| p + 1);
            let word_end = text[i..]
                .find(char::is_whitespace)
                .map_or(text.len(), |p| i + p);
            let word = &text[word_start..word_end];
            if ["://", "\"", "$", "{"].iter().any(|m| word.contains(m)) {
                continue;
            }
            if !have.contains(&name) {
                missing.push(format!(
                    "{}: `{name}`",
                    f.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "citations of documents that are not in the repository (cite a file here or the public source):\n{}",
        missing.join("\n")
    );
}
