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

/// Invisible formatting characters (Unicode category Cf) that change how a terminal or a page
/// shows the text around them: soft hyphen, zero-width spaces and joiners, the bidirectional
/// marks, embeddings, overrides and isolates (U+202E turns `txt.exe` round), word joiners,
/// the byte-order mark.
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// Records an issue at `key` unless `name` is 1 to [`MAX_NAME_CHARS`] printable characters (no
/// control characters: no NUL, newline, tab or terminal escape; no invisible formatting
/// characters such as a right-to-left override). Returns whether it is.
pub fn check_name(issues: &mut Issues, key: &str, name: &str) -> bool {
    let count = name.chars().count();
    let problem = if count == 0 {
        Some("must not be empty".to_string())
    } else if count > MAX_NAME_CHARS {
        Some(format!("must be at most {MAX_NAME_CHARS} characters"))
    } else if name.chars().any(char::is_control) {
        Some("must be printable (no control characters such as NUL, tab, newline, escape)".into())
    } else if name.chars().any(is_format_char) {
        Some("must be visible (no formatting characters such as a right-to-left override)".into())
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
        assert!(check_name(&mut issues, "name", "秒杀-naïve"), "letters of any script pass");
        let bad = ["", "a\0b", "red\u{1b}[31m", "two\nlines", " padded", &"x".repeat(5000)];
        let invisible = ["exe.\u{202e}txt", "a\u{200b}b", "\u{feff}bom"];
        for bad in bad.iter().chain(&invisible) {
            assert!(!check_name(&mut issues, "name", bad), "{bad:?}");
        }
        assert_eq!(issues.len(), 9);
        assert_eq!(file_safe("x.y"), file_safe("x,y"));
    }
}
