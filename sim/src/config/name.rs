//! Names people give things in a file (a scenario, a variant): printed on terminals, written in
//! CSV cells and used in file names, so they are checked once, at validation.

use crate::config::issues::Issues;

/// The longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A name shortened for messages (a 5,000-character name is not repeated in full).
pub fn shown(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS {
        format!("{name:?}")
    } else {
        let head: String = name.chars().take(MAX_NAME_CHARS).collect();
        format!("{head:?}… ({} characters)", name.chars().count())
    }
}

/// Records an issue at `key` unless `name` is 1 to [`MAX_NAME_CHARS`] printable characters (no
/// control characters: no NUL, newline, tab or terminal escape). Returns whether it is.
pub fn check_name(issues: &mut Issues, key: &str, name: &str) -> bool {
    let count = name.chars().count();
    let problem = if count == 0 {
        Some("must not be empty".to_string())
    } else if count > MAX_NAME_CHARS {
        Some(format!("must be at most {MAX_NAME_CHARS} characters"))
    } else if name.chars().any(char::is_control) {
        Some("must be printable (no control characters such as NUL, tab, newline, escape)".into())
    } else if name.trim() != name {
        Some("must not start or end with spaces".into())
    } else {
        None
    };
    if let Some(rule) = &problem {
        issues.push(key, format!("{rule} (got {})", shown(name)));
    }
    problem.is_none()
}

/// A file-name-safe form of a name: ASCII letters, digits, `-` and `_` kept, anything else `_`.
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_printable_and_bounded() {
        let mut issues = Issues::new();
        assert!(check_name(&mut issues, "name", "three-tier (sync), v2"));
        for bad in ["", "a\0b", "red\u{1b}[31m", "two\nlines", " padded", &"x".repeat(5000)] {
            assert!(!check_name(&mut issues, "name", bad), "{bad:?}");
        }
        assert_eq!(issues.len(), 6);
        assert_eq!(file_safe("x.y"), file_safe("x,y"));
    }
}
