//! Plain text for people: `name: value`, restore keys indented one per line.

use super::Output;

/// Renders outputs as text (pure).
pub fn render(outputs: &[Output]) -> String {
    let width = outputs.iter().map(|o| o.name.len()).max().unwrap_or(0);
    let mut s = String::new();
    for o in outputs {
        let mut lines = o.value.lines();
        let first = lines.next().unwrap_or("");
        s.push_str(&format!("{:width$}  {first}\n", o.name));
        for l in lines {
            s.push_str(&format!("{:width$}  {l}\n", ""));
        }
    }
    s
}
