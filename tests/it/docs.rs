//! README tables generated from action.yml (and the GitLab template's spec), checked so they
//! cannot drift. Run with `GO_CI_CACHE_UPDATE_README=1` to rewrite them.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;

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

/// The markdown tables for action.yml.
pub fn action_tables(yml: &str) -> String {
    let a: ActionYml = serde_saphyr::from_str(yml).expect("action.yml parses");
    let mut s = String::from("| input | required | default | description |\n|---|---|---|---|\n");
    for (name, i) in &a.inputs {
        let d = i.default.as_deref().unwrap_or("");
        let d = if d.is_empty() {
            "".to_string()
        } else {
            format!("`{d}`")
        };
        s.push_str(&format!(
            "| `{name}` | {} | {d} | {} |\n",
            if i.required { "yes" } else { "no" },
            cell(&i.description)
        ));
    }
    s.push_str("\n| output | description |\n|---|---|\n");
    for (name, o) in &a.outputs {
        s.push_str(&format!("| `{name}` | {} |\n", cell(&o.description)));
    }
    s
}

/// Replaces the text between `<!-- {tag}:start -->` and `<!-- {tag}:end -->`.
pub fn splice(readme: &str, tag: &str, body: &str) -> Option<String> {
    let start = format!("<!-- {tag}:start -->\n");
    let end = format!("<!-- {tag}:end -->");
    let a = readme.find(&start)? + start.len();
    let b = readme[a..].find(&end)? + a;
    Some(format!("{}{body}{}", &readme[..a], &readme[b..]))
}

pub fn check_readme(tag: &str, body: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let want = splice(&readme, tag, body)
        .unwrap_or_else(|| panic!("README.md has no `<!-- {tag}:start/end -->` markers"));
    if want != readme {
        if std::env::var_os("GO_CI_CACHE_UPDATE_README").is_some() {
            std::fs::write(&path, want).unwrap();
        } else {
            panic!(
                "README.md's `{tag}` table is stale; run `GO_CI_CACHE_UPDATE_README=1 cargo test docs`"
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

/// The markdown table for the GitLab template's `spec:inputs`.
pub fn gitlab_table(template: &str) -> String {
    let spec = template.split_once("\n---\n").expect("spec header").0;
    let d: SpecDoc = serde_saphyr::from_str(spec).expect("the spec parses");
    let mut s =
        String::from("| input | type | default | allowed | description |\n|---|---|---|---|---|\n");
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
            "| `{name}` | {} | {} | {allowed} | {} |\n",
            i.kind.as_deref().unwrap_or("string"),
            default.replace('|', "\\|"),
            cell(&i.description)
        ));
    }
    s
}

#[test]
fn readme_gitlab_table_matches_the_spec() {
    let t =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("gitlab-template.yml"))
            .unwrap();
    check_readme("gitlab-inputs", &gitlab_table(&t));
}

#[test]
fn readme_action_tables_match_action_yml() {
    let yml =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    check_readme("action-inputs", &action_tables(&yml));
}

#[test]
fn every_action_input_describes_its_default() {
    let yml =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    let a: ActionYml = serde_saphyr::from_str(&yml).unwrap();
    for (name, i) in &a.inputs {
        assert!(
            i.description.contains("Defaults to"),
            "input `{name}`: say the default in the description"
        );
        assert!(i.default.is_some(), "input `{name}` has no default");
    }
}
