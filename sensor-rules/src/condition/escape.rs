//! Escape sequences of quoted strings, as libsinsp's `unescape_str`.
//!
//! Recognised: `\b \f \n \r \t \\ \/ \xHH`, the delimiter quote, and (for compatibility with
//! old rules) `\ ` meaning a backslash. Anything else is an error.

/// Unescapes a quoted token *including* its delimiters (`"a\tb"` or `'a'`).
/// Returns the bytes of the value, or a message describing the bad escape.
pub fn unescape_quoted(token: &[u8]) -> Result<Vec<u8>, String> {
    let Some((&delimiter, rest)) = token.split_first() else {
        return Ok(Vec::new());
    };
    let body = match rest.split_last() {
        Some((_, body)) => body,
        None => &[][..],
    };
    let mut out = Vec::with_capacity(body.len());
    let mut index = 0;
    while index < body.len() {
        let byte = body[index];
        index += 1;
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        let Some(&escaped) = body.get(index) else {
            // A trailing lone backslash cannot come out of the lexer; keep it literally.
            out.push(b'\\');
            break;
        };
        index += 1;
        match escaped {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            // `\ ` is accepted by Falco as a (wrong) spelling of a backslash.
            b' ' | b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'"' | b'\'' => {
                if escaped != delimiter {
                    return Err(if escaped == b'"' {
                        "invalid \\\" escape in '-quoted string: write \" without a backslash"
                            .to_string()
                    } else {
                        "invalid \\' escape in \"-quoted string: write ' without a backslash"
                            .to_string()
                    });
                }
                out.push(escaped);
            }
            b'x' => {
                let digits = body.get(index..index + 2).ok_or_else(|| {
                    "truncated hex char escape sequence: \\x needs two hex digits".to_string()
                })?;
                let text = std::str::from_utf8(digits).unwrap_or("");
                let value = u8::from_str_radix(text, 16).map_err(|_| {
                    format!(
                        "invalid hex char escape sequence: {}; \\x needs two hex digits",
                        String::from_utf8_lossy(digits)
                    )
                })?;
                out.push(value);
                index += 2;
            }
            other => {
                return Err(format!(
                    "unsupported string escape sequence: \\{}; supported escapes are \\b \\f \\n \\r \\t \\\\ \\/ \\xHH and the quote",
                    char::from(other)
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_sequences() {
        assert_eq!(
            unescape_quoted(br#""a\tb\\c\x41\"""#).expect("valid"),
            b"a\tb\\cA\""
        );
        assert_eq!(unescape_quoted(br"'it\'s'").expect("valid"), b"it's");
        assert_eq!(unescape_quoted(br#""a\ b""#).expect("valid"), b"a\\b");
    }

    #[test]
    fn rejects_bad_escapes() {
        assert!(unescape_quoted(br#""\q""#)
            .unwrap_err()
            .contains("unsupported"));
        assert!(unescape_quoted(br#""\'""#).unwrap_err().contains("invalid"));
        assert!(unescape_quoted(br#""\x4""#).unwrap_err().contains("hex"));
    }
}
