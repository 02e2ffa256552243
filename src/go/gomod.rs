//! A small go.mod / go.work reader (pure): checks the syntax the way `go` does for the main
//! module (`golang.org/x/mod/modfile` strict parse: known directives, balanced blocks, closed
//! quotes) and finds the local `replace` targets, whose go.mod files key the caches.

/// What the reader found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ModFile {
    /// The module path (`module …`), absent in a go.work or a go.mod without one.
    pub module: Option<String>,
    /// Directories named on the right of a `replace … => ./dir` (relative or absolute paths).
    pub local_replacements: Vec<String>,
}

/// A syntax error.
#[derive(Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

const VERBS: &[&str] = &[
    "module",
    "go",
    "toolchain",
    "godebug",
    "require",
    "exclude",
    "replace",
    "retract",
    "tool",
    "ignore",
    "use",
];

/// The Go versions a go.mod or go.work names in its `go` and `toolchain` lines, `go`-prefixed as
/// the toolchain names them (`go 1.22` → `go1.22`, `toolchain go1.27.3` → `go1.27.3`;
/// `toolchain default` names none). The one reader of those lines.
pub fn named_go_versions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("go"), Some(v), None) => out.push(format!("go{v}")),
            (Some("toolchain"), Some(v), None) if v.starts_with("go1") => out.push(v.to_string()),
            _ => {}
        }
    }
    out
}

/// Parses a go.mod or go.work file.
pub fn parse(text: &str) -> Result<ModFile, SyntaxError> {
    let mut out = ModFile::default();
    let mut block: Option<(&str, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let toks = tokens(raw).map_err(|msg| SyntaxError { line: n, msg })?;
        if toks.is_empty() {
            continue;
        }
        if let Some((verb, _)) = block {
            if toks == [")"] {
                block = None;
                continue;
            }
            if toks.iter().any(|t| t == "(") {
                return Err(SyntaxError {
                    line: n,
                    msg: "nested block".into(),
                });
            }
            args(verb, &toks, &mut out);
            continue;
        }
        let verb = toks[0].as_str();
        let Some(&verb) = VERBS.iter().find(|v| **v == verb) else {
            return Err(SyntaxError {
                line: n,
                msg: format!("unknown directive: {}", toks[0]),
            });
        };
        match &toks[1..] {
            [] => {
                return Err(SyntaxError {
                    line: n,
                    msg: format!("{verb} needs an argument"),
                });
            }
            [p] if p == "(" => block = Some((verb, n)),
            rest => args(verb, rest, &mut out),
        }
    }
    if let Some((verb, n)) = block {
        return Err(SyntaxError {
            line: n,
            msg: format!("`{verb} (` block is never closed"),
        });
    }
    Ok(out)
}

fn args(verb: &str, toks: &[String], out: &mut ModFile) {
    if verb == "module" {
        out.module = toks.first().cloned();
        return;
    }
    if verb != "replace" {
        return;
    }
    if let Some(i) = toks.iter().position(|t| t == "=>")
        && let Some(target) = toks.get(i + 1)
        && is_local(target)
    {
        out.local_replacements.push(target.clone());
    }
}

/// Whether a replacement is a directory (`golang.org/x/mod/modfile.IsDirectoryPath`).
fn is_local(p: &str) -> bool {
    p.starts_with("./")
        || p.starts_with("../")
        || p.starts_with('/')
        || p == "."
        || p == ".."
        || p.starts_with(".\\")
        || p.starts_with("..\\")
        || (p.len() > 2 && p.as_bytes()[1] == b':' && p.as_bytes()[0].is_ascii_alphabetic())
}

/// Splits a line into tokens: `//` comments dropped, `"…"` and `` `…` `` strings unquoted,
/// `(`, `)` and `=>` as their own tokens.
fn tokens(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '/' {
            chars.next();
            if chars.peek() == Some(&'/') {
                break;
            }
            let mut t = String::from("/");
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                t.push(c);
                chars.next();
            }
            out.push(t);
        } else if c == '"' || c == '`' {
            chars.next();
            let mut t = String::new();
            let mut closed = false;
            while let Some(d) = chars.next() {
                if d == c {
                    closed = true;
                    break;
                }
                if d == '\\' && c == '"' {
                    if let Some(e) = chars.next() {
                        t.push(e);
                    }
                    continue;
                }
                t.push(d);
            }
            if !closed {
                return Err("unterminated quoted string".into());
            }
            out.push(t);
        } else if c == '(' || c == ')' {
            chars.next();
            out.push(c.to_string());
        } else {
            let mut t = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' || c == '"' || c == '`' {
                    break;
                }
                if c == '/' && t.ends_with('/') {
                    // `x//comment`: the comment starts at the first of the two slashes.
                    t.pop();
                    if !t.is_empty() {
                        out.push(std::mem::take(&mut t));
                    }
                    return Ok(out);
                }
                t.push(c);
                chars.next();
            }
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_real_go_mod() {
        let text = "// header\nmodule example.com/app\n\ngo 1.22\ntoolchain go1.26.8\n\nrequire (\n\texample.com/greet v1.0.0 // indirect\n\tgolang.org/x/text v0.3.0\n)\n\nreplace example.com/greet => ../greet\nreplace (\n\texample.com/x v1.0.0 => \"./third party/x\"\n\texample.com/y => example.com/y2 v1.2.0\n)\nexclude example.com/z v0.1.0\nretract [v1.0.0, v1.0.5]\ngodebug default=go1.21\ntool example.com/gen\n";
        assert_eq!(
            parse(text).unwrap().local_replacements,
            ["../greet", "./third party/x"]
        );
    }

    #[test]
    fn go_work_uses_and_replaces() {
        let text = "go 1.22\n\nuse (\n\t./a\n\t../outside\n)\nreplace example.com/q => /abs/q\n";
        assert_eq!(parse(text).unwrap().local_replacements, ["/abs/q"]);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = parse("module m\n\ngo 1.22\nthis is not go.mod syntax\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.msg.contains("unknown directive: this"), "{e:?}");
        assert_eq!(parse("module m\nrequire (\n\tx v1\n").unwrap_err().line, 2);
        assert_eq!(parse("module \"m\n").unwrap_err().line, 1);
        assert_eq!(parse("module m\ngo\n").unwrap_err().line, 2);
    }
}
