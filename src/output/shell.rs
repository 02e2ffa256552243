//! POSIX shell: `export NAME='value'` lines to `eval` or source.

use super::{Output, var_name};

/// Renders quoted export lines (pure). Output names become `GO_CI_CACHE_*`; exported env keeps
/// its own names.
pub fn render(outputs: &[Output], env: &[Output]) -> String {
    let mut s = String::new();
    let lines = outputs
        .iter()
        .map(|o| (var_name(&o.name), &o.value))
        .chain(env.iter().map(|o| (o.name.clone(), &o.value)));
    for (name, value) in lines {
        s.push_str("export ");
        s.push_str(&name);
        s.push('=');
        s.push_str(&quote(value));
        s.push('\n');
    }
    s
}

/// Single-quotes a value for any POSIX shell (`'` becomes `'\''`).
pub fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}
