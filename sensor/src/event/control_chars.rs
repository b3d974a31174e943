//! Text meant for a terminal or a line-oriented log, made safe to print.
//!
//! Argv, paths and names come from the observed processes. Printed raw, a `\n` in an argument
//! forges a second alert line for whoever reads the log, and an escape sequence (`ESC[2J`,
//! a window-title OSC, a hyperlink) acts on the operator's terminal. The text outputs (the
//! stdout/file text line, `sensor events` and `sensor alerts` without `--json`) pass every
//! string through [`escape_control`]; the JSON outputs stay lossless (JSON escapes these
//! characters itself).

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal as it is: C0 and C1 controls and DEL, and the
/// Unicode characters that reorder or break what is displayed (bidirectional overrides and
/// isolates, line and paragraph separators), which can make a line read differently from
/// what it holds.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every control character written as an escape (`\n`, `\r`, `\t`, `\x1b`,
/// `\u{9b}`, `\u{202e}`); borrowed unchanged when there is none, which is nearly always.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && is_unsafe(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape_control;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            escape_control("chmod u+s /tmp/x"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(escape_control("naïve €"), "naïve €");
    }

    #[test]
    fn line_breaks_and_terminal_escapes_are_written_out() {
        assert_eq!(
            escape_control("a\nb\r\tc\u{1b}[2Jd\u{7f}"),
            "a\\nb\\r\\tc\\x1b[2Jd\\x7f"
        );
        assert_eq!(escape_control("x\u{9b}31m"), "x\\u{9b}31m");
        assert_eq!(escape_control("evil\u{202e}txt.sh"), "evil\\u{202e}txt.sh");
        assert!(!escape_control("\u{2028}").contains('\u{2028}'));
    }
}
