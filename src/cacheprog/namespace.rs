//! Namespaces of action records as object-name segments. Which namespace a job writes and
//! which ones it reads is [`crate::trust`]'s decision; outputs are content-addressed and shared
//! by all namespaces, only action → output records are namespaced.

/// A namespace as one object-name segment: letters, digits, `.` and `-` stay; every other byte
/// (the `/` of a ref, `_` itself) becomes `_` and two hex digits, so distinct names stay
/// distinct.
pub fn segment(ns: &str) -> String {
    let mut s = String::with_capacity(ns.len());
    for b in ns.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
            s.push(b as char);
        } else {
            s.push_str(&format!("_{b:02x}"));
        }
    }
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

/// Checks a namespace or manifest name given by the user.
pub fn valid_name(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= 200 && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_injective_and_safe() {
        assert_eq!(segment("trusted"), "trusted");
        assert_eq!(
            segment("ref-refs/pull/7/merge"),
            "ref-refs_2fpull_2f7_2fmerge"
        );
        assert_ne!(segment("a/b"), segment("a_2fb"));
        assert_eq!(segment(".."), "_..");
        assert_eq!(segment(""), "_");
    }
}
