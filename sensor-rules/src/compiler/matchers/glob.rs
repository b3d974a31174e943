//! `glob`/`iglob`: fnmatch(3) semantics as Falco calls it (no flags, or FNM_CASEFOLD):
//! `*` and `?` also match `/`, `[...]` bracket expressions with ranges, negation and
//! character classes, backslash escapes. Compiled once, matched on bytes.

#[derive(Clone, Debug)]
enum ClassItem {
    Byte(u8),
    Range(u8, u8),
    Named(fn(u8) -> bool),
}

#[derive(Clone, Debug)]
enum Token {
    Literal(u8),
    AnyByte,
    Star,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
}

#[derive(Clone, Debug)]
pub struct GlobPattern {
    tokens: Vec<Token>,
    case_insensitive: bool,
}

fn named_class(name: &[u8]) -> Option<fn(u8) -> bool> {
    Some(match name {
        b"alnum" => |b: u8| b.is_ascii_alphanumeric(),
        b"alpha" => |b: u8| b.is_ascii_alphabetic(),
        b"blank" => |b: u8| b == b' ' || b == b'\t',
        b"cntrl" => |b: u8| b.is_ascii_control(),
        b"digit" => |b: u8| b.is_ascii_digit(),
        b"graph" => |b: u8| b.is_ascii_graphic(),
        b"lower" => |b: u8| b.is_ascii_lowercase(),
        b"print" => |b: u8| b.is_ascii_graphic() || b == b' ',
        b"punct" => |b: u8| b.is_ascii_punctuation(),
        b"space" => |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
        b"upper" => |b: u8| b.is_ascii_uppercase(),
        b"xdigit" => |b: u8| b.is_ascii_hexdigit(),
        _ => return None,
    })
}

/// Parses a bracket expression starting after `[`; `None` if it is not terminated (then
/// fnmatch takes the `[` literally).
fn parse_class(pattern: &[u8], mut index: usize) -> Option<(Token, usize)> {
    let mut negated = false;
    if matches!(pattern.get(index), Some(b'!' | b'^')) {
        negated = true;
        index += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let byte = *pattern.get(index)?;
        if byte == b']' && !first {
            return Some((Token::Class { negated, items }, index + 1));
        }
        first = false;
        if byte == b'[' && pattern.get(index + 1) == Some(&b':') {
            let rest = &pattern[index + 2..];
            if let Some(end) = rest.windows(2).position(|w| w == b":]") {
                if let Some(class) = named_class(&rest[..end]) {
                    items.push(ClassItem::Named(class));
                    index += 2 + end + 2;
                    continue;
                }
            }
        }
        let (low, next) = if byte == b'\\' {
            (*pattern.get(index + 1)?, index + 2)
        } else {
            (byte, index + 1)
        };
        if pattern.get(next) == Some(&b'-') && pattern.get(next + 1).is_some_and(|b| *b != b']') {
            let high_index = next + 1;
            let (high, after) = if pattern[high_index] == b'\\' {
                (*pattern.get(high_index + 1)?, high_index + 2)
            } else {
                (pattern[high_index], high_index + 1)
            };
            items.push(ClassItem::Range(low, high));
            index = after;
        } else {
            items.push(ClassItem::Byte(low));
            index = next;
        }
    }
}

impl GlobPattern {
    pub fn new(pattern: &[u8], case_insensitive: bool) -> Self {
        let mut tokens = Vec::new();
        let mut index = 0;
        while index < pattern.len() {
            let byte = pattern[index];
            match byte {
                b'*' => {
                    if !matches!(tokens.last(), Some(Token::Star)) {
                        tokens.push(Token::Star);
                    }
                    index += 1;
                }
                b'?' => {
                    tokens.push(Token::AnyByte);
                    index += 1;
                }
                b'[' => match parse_class(pattern, index + 1) {
                    Some((token, next)) => {
                        tokens.push(token);
                        index = next;
                    }
                    None => {
                        tokens.push(Token::Literal(b'['));
                        index += 1;
                    }
                },
                b'\\' if index + 1 < pattern.len() => {
                    tokens.push(Token::Literal(pattern[index + 1]));
                    index += 2;
                }
                _ => {
                    tokens.push(Token::Literal(byte));
                    index += 1;
                }
            }
        }
        GlobPattern {
            tokens,
            case_insensitive,
        }
    }

    fn fold(&self, byte: u8) -> u8 {
        if self.case_insensitive {
            byte.to_ascii_lowercase()
        } else {
            byte
        }
    }

    fn matches_token(&self, token: &Token, byte: u8) -> bool {
        match token {
            Token::Literal(expected) => self.fold(*expected) == self.fold(byte),
            Token::AnyByte => true,
            Token::Star => false,
            Token::Class { negated, items } => {
                let folded = self.fold(byte);
                let hit = items.iter().any(|item| match item {
                    ClassItem::Byte(b) => self.fold(*b) == folded,
                    ClassItem::Range(low, high) => {
                        (*low..=*high).contains(&byte)
                            || (self.case_insensitive
                                && ((*low..=*high).contains(&byte.to_ascii_lowercase())
                                    || (*low..=*high).contains(&byte.to_ascii_uppercase())))
                    }
                    ClassItem::Named(class) => class(byte),
                });
                hit != *negated
            }
        }
    }

    /// Classic wildcard matching with one backtracking point per `*`: linear in practice.
    pub fn matches(&self, text: &[u8]) -> bool {
        let tokens = &self.tokens;
        let (mut t, mut s) = (0usize, 0usize);
        let mut backtrack: Option<(usize, usize)> = None;
        while s < text.len() {
            match tokens.get(t) {
                Some(Token::Star) => {
                    backtrack = Some((t + 1, s));
                    t += 1;
                }
                Some(token) if self.matches_token(token, text[s]) => {
                    t += 1;
                    s += 1;
                }
                _ => match backtrack {
                    Some((star_next, star_s)) => {
                        t = star_next;
                        s = star_s + 1;
                        backtrack = Some((star_next, star_s + 1));
                    }
                    None => return false,
                },
            }
        }
        tokens[t..].iter().all(|token| matches!(token, Token::Star))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, text: &str) -> bool {
        GlobPattern::new(pattern.as_bytes(), false).matches(text.as_bytes())
    }

    #[test]
    fn matches_like_fnmatch() {
        assert!(glob("/tmp/*", "/tmp/a/b"));
        assert!(glob("*.sh", "run.sh"));
        assert!(!glob("*.sh", "run.shx"));
        assert!(glob("a?c", "abc"));
        assert!(glob("[a-c]x", "bx"));
        assert!(!glob("[!a-c]x", "bx"));
        assert!(glob("[[:digit:]]*", "9lives"));
        assert!(glob("\\*", "*"));
        assert!(glob("[", "["));
        assert!(glob("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!glob("*a*b*c*", "xxaxxcxxbxx"));
        assert!(glob("", ""));
        assert!(!glob("", "x"));
    }

    #[test]
    fn case_insensitive() {
        assert!(GlobPattern::new(b"/USR/*", true).matches(b"/usr/bin"));
        assert!(GlobPattern::new(b"[A-C]", true).matches(b"b"));
    }
}
