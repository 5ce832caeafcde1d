//! compare: decides whether a test case's stdout matches its expected
//! output. Whitespace at the end of each line (spaces, tabs, a `\r` of CRLF
//! line ends) and empty lines at the very end are ignored; everything else,
//! leading whitespace and blank lines in the middle included, must match.

/// True when `actual` and `expected` are equal up to trailing whitespace per
/// line and trailing newlines at the end.
pub fn outputs_match(actual: &str, expected: &str) -> bool {
    normalized(actual).eq(normalized(expected))
}

/// The lines that count: each right-trimmed, trailing empty lines dropped.
fn normalized(text: &str) -> impl Iterator<Item = &str> {
    let lines: Vec<&str> = text.split('\n').map(str::trim_end).collect();
    let keep = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    lines.into_iter().take(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trailing spaces, tabs, CRs and final newlines do not matter.
    #[test]
    fn trailing_whitespace_and_final_newlines_are_ignored() {
        assert!(outputs_match("1 2 3\n", "1 2 3"));
        assert!(outputs_match("1 2 3   \n4\t\n\n\n", "1 2 3\n4"));
        assert!(outputs_match("a\r\nb\r\n", "a\nb\n"));
        assert!(outputs_match("", "\n\n"));
        assert!(outputs_match("  \n", ""));
    }

    /// Content, leading whitespace, inner blank lines and order all matter.
    #[test]
    fn real_differences_fail() {
        assert!(!outputs_match("1 2 3\n", "1 2 4\n"));
        assert!(!outputs_match(" 1\n", "1\n"));
        assert!(!outputs_match("a\n\nb\n", "a\nb\n"));
        assert!(!outputs_match("a b\n", "a  b\n"));
        assert!(!outputs_match("b\na\n", "a\nb\n"));
        assert!(!outputs_match("", "0"));
        assert!(!outputs_match("a\nb", "a"));
    }
}
