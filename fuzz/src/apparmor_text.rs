//! What an AppArmor profile written by `sensor::profile::apparmor::profile` must be, checked
//! on its text without trusting the writer's escaping: the text is split into tokens the way
//! `apparmor_parser`'s lexer does (comments, quoted strings, backslash escapes, a `,` ending a
//! rule), and then it must be one profile with the asked name whose rules are exactly the
//! fixed ones plus one per observation, each naming the observed path literally. A recording
//! name, a path or a mount's type that carried a newline, a quote, a brace or a comma would
//! show up as a rule too many, a rule that is not the observed path, or text outside the
//! profile.
//!
//! This is a model of the lexer, checked against the real parser (`apparmor_parser -N`, which
//! lists the profiles a text defines) for a sample of inputs: see [`parser_check`].

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::{Command, Stdio};

use sensor::profile::recording::{MountRule, Recording};

#[derive(Debug, PartialEq, Eq)]
enum Token {
    /// `#include <...>` (and `include <...>`): the argument.
    Include(String),
    /// A word of a rule, with its value: quotes removed, octal escapes decoded, and glob
    /// characters that were escaped kept as `\c` (AppArmor's own form of a literal).
    Word {
        raw: String,
        aare: String,
    },
    Comma,
    Open,
    Close,
}

/// AppArmor's glob characters: escaped, they stand for themselves.
const GLOB: &[char] = &['*', '?', '[', ']', '{', '}', '^', '\\'];

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// An escape after its backslash: `\ooo` is a byte (a glob character stays escaped); an
/// escaped glob character stays escaped; anything else stands for itself.
fn escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, raw: &mut String) -> String {
    let Some(c) = chars.next() else {
        return "\\".into();
    };
    raw.push(c);
    if c.is_digit(8) {
        let mut digits = String::from(c);
        while digits.len() < 3 && chars.peek().is_some_and(|d| d.is_digit(8)) {
            let d = chars.next().unwrap_or('0');
            raw.push(d);
            digits.push(d);
        }
        let byte = u32::from_str_radix(&digits, 8).unwrap_or(0) & 0xff;
        // A byte, not a character: bytes 0x80.. do not come back as the character they were
        // cut from. Marked so the comparison shows it. A glob character (or the backslash)
        // given in octal stays escaped: the parser hands it to the glob conversion as `\c`
        // (`processunquoted`), so `\134` is a literal backslash.
        return if byte < 0x80 {
            match char::from_u32(byte) {
                Some(c) if GLOB.contains(&c) => format!("\\{c}"),
                Some(c) => c.to_string(),
                None => String::new(),
            }
        } else {
            format!("\\x{byte:02x}")
        };
    }
    if GLOB.contains(&c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if is_blank(c) {
            chars.next();
            continue;
        }
        match c {
            '#' => {
                let line: String = chars.by_ref().take_while(|&c| c != '\n').collect();
                if let Some(arg) = line.strip_prefix("#include") {
                    out.push(Token::Include(arg.trim().to_string()));
                }
            }
            ',' => {
                chars.next();
                out.push(Token::Comma);
            }
            '{' => {
                chars.next();
                out.push(Token::Open);
            }
            '}' => {
                chars.next();
                out.push(Token::Close);
            }
            _ => {
                let mut raw = String::new();
                let mut aare = String::new();
                while let Some(&c) = chars.peek() {
                    if is_blank(c) {
                        break;
                    }
                    chars.next();
                    match c {
                        '"' => {
                            raw.push(c);
                            loop {
                                match chars.next() {
                                    None => return Err(format!("unterminated quote in `{raw}`")),
                                    Some('"') => {
                                        raw.push('"');
                                        break;
                                    }
                                    Some('\\') => {
                                        let start = raw.len();
                                        raw.push('\\');
                                        aare.push_str(&escape(&mut chars, &mut raw));
                                        // The lexer finds a quoted string's end before any
                                        // escape is read, by its longest match, where `\"` is
                                        // an escaped quote even after another backslash: an
                                        // escaped backslash cannot end the string.
                                        if &raw[start..] == "\\\\" && chars.peek() == Some(&'"') {
                                            return Err(format!(
                                                "`\\\\` before the closing quote of `{raw}\"`: apparmor_parser's lexer reads `\\\"` as an escaped quote there"
                                            ));
                                        }
                                    }
                                    Some(c) => {
                                        raw.push(c);
                                        aare.push(c);
                                    }
                                }
                            }
                        }
                        '\\' => {
                            raw.push(c);
                            aare.push_str(&escape(&mut chars, &mut raw));
                        }
                        // A comma ends the word where a blank or the end follows it (AppArmor
                        // reads `/{,**}` and `(send,receive)` as one word).
                        ',' if chars.peek().is_none_or(|&n| is_blank(n) || n == ',') => {
                            out.push(Token::Word { raw, aare });
                            out.push(Token::Comma);
                            raw = String::new();
                            aare = String::new();
                            break;
                        }
                        '!' => {
                            return Err(format!(
                                "`!` outside quotes in `{raw}!`: apparmor_parser's lexer rejects it"
                            ))
                        }
                        c => {
                            raw.push(c);
                            aare.push(c);
                        }
                    }
                }
                if !raw.is_empty() {
                    if raw.starts_with('#') {
                        return Err(format!("a word starts with `#` (a comment): `{raw}`"));
                    }
                    out.push(Token::Word { raw, aare });
                }
            }
        }
    }
    Ok(out)
}

/// A literal path in AppArmor's form: glob characters and the backslash escaped, control
/// characters as the bytes they are.
pub fn aare_literal(path: &str) -> String {
    let mut out = String::new();
    for c in path.chars() {
        // Written as octal escapes of its UTF-8 bytes, which `escape` reads back byte by byte.
        if c.is_control() && c as u32 >= 0x80 {
            let mut utf8 = [0u8; 4];
            for b in c.encode_utf8(&mut utf8).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
            continue;
        }
        if GLOB.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Mount points are matched as directories (`sensor::profile::apparmor` appends the slash).
fn dir(path: &str) -> String {
    if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    }
}

fn word(token: &Token) -> Option<&str> {
    match token {
        Token::Word { aare, .. } => Some(aare),
        _ => None,
    }
}

/// Checks `text`, written for `recording` under `profile_name`; the error says what is wrong.
pub fn check(text: &str, recording: &Recording, profile_name: &str) -> Result<(), String> {
    let tokens = tokens(text)?;
    let mut it = tokens.iter().peekable();
    // Preamble: the ABI, then the tunables.
    let preamble: Vec<&Token> = it
        .by_ref()
        .take_while(|t| !matches!(t, Token::Word { raw, .. } if raw == "profile"))
        .collect();
    let want = [
        Token::Word {
            raw: "abi".into(),
            aare: "abi".into(),
        },
        Token::Word {
            raw: "<abi/3.0>".into(),
            aare: "<abi/3.0>".into(),
        },
        Token::Comma,
        Token::Include("<tunables/global>".into()),
    ];
    if preamble.iter().copied().ne(want.iter()) {
        return Err(format!(
            "before `profile` there is more than the ABI and the tunables: {preamble:?}"
        ));
    }
    let name = it.next().and_then(word).ok_or("no profile name")?;
    if name != profile_name {
        return Err(format!(
            "the profile is named `{name}`, not `{profile_name}`"
        ));
    }
    match (it.next().and_then(word), it.next()) {
        (Some("flags=(attach_disconnected,mediate_deleted)"), Some(Token::Open)) => {}
        other => return Err(format!("the profile name is followed by {other:?}")),
    }
    if it.next() != Some(&Token::Include("<abstractions/base>".into())) {
        return Err("the profile does not start with abstractions/base".into());
    }
    let mut rules: Vec<Vec<String>> = Vec::new();
    let mut rule: Vec<String> = Vec::new();
    loop {
        match it.next() {
            None => return Err("the profile's `{` is never closed".into()),
            Some(Token::Close) if rule.is_empty() => break,
            Some(Token::Comma) if !rule.is_empty() => rules.push(std::mem::take(&mut rule)),
            Some(Token::Word { aare, .. }) => rule.push(aare.clone()),
            Some(other) => {
                return Err(format!(
                    "unexpected {other:?} in the profile after {rule:?} (rules so far: {rules:?})"
                ))
            }
        }
    }
    if let Some(rest) = it.next() {
        return Err(format!("text after the profile: {rest:?}"));
    }
    // The fixed rules: globs on purpose, so compared as written.
    let mut expected: Vec<Vec<String>> = vec![
        vec!["network".into()],
        vec![
            "signal".into(),
            "(send,receive)".into(),
            "peer=@{profile_name}".into(),
        ],
        vec!["/{,**}".into(), "rwlkm".into()],
    ];
    let o = &recording.apparmor;
    expected.extend(
        o.executables
            .iter()
            .filter(|p| p.starts_with('/'))
            .map(|p| vec![aare_literal(p), "ix".into()]),
    );
    expected.extend(
        o.chmod_targets
            .iter()
            .filter(|p| p.starts_with('/'))
            .map(|p| vec![aare_literal(p), "w".into()]),
    );
    // What `sensor::profile::apparmor::mount_rule` can express; the rest is left out.
    let plain = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    let expressible = |m: &&MountRule| {
        m.target.starts_with('/')
            && (m.fstype.is_empty() || plain(&m.fstype))
            && (m.source.is_empty() || m.source.starts_with('/') || plain(&m.source))
    };
    for m in o.mounts.iter().filter(expressible) {
        let mut r = vec!["mount".to_string()];
        if !m.fstype.is_empty() {
            r.push(format!("fstype={}", aare_literal(&m.fstype)));
        }
        if !m.source.is_empty() {
            r.push(aare_literal(&m.source));
        }
        r.push("->".into());
        r.push(aare_literal(&dir(&m.target)));
        expected.push(r);
    }
    expected.extend(
        o.umounts
            .iter()
            .filter(|p| p.starts_with('/'))
            .map(|p| vec!["umount".into(), aare_literal(&dir(p))]),
    );
    expected.extend(
        o.capabilities
            .iter()
            .map(|c| vec!["capability".into(), c.clone()]),
    );
    let sorted = |v: &Vec<Vec<String>>| v.iter().cloned().collect::<BTreeSet<_>>();
    let (got, want) = (sorted(&rules), sorted(&expected));
    if rules.len() != expected.len() || got != want {
        let extra: Vec<_> = got.difference(&want).collect();
        let missing: Vec<_> = want.difference(&got).collect();
        return Err(format!(
            "the rules are not the observations: not asked for {extra:?}, missing {missing:?}"
        ));
    }
    Ok(())
}

/// Whether `apparmor_parser` is installed (`cargo xtask setup` installs it).
pub fn parser_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let ok = Command::new("apparmor_parser")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("apparmor_writer: no apparmor_parser; checking the text in-process only");
        }
        ok
    })
}

/// The real parser's view: `apparmor_parser -Q -K -N` (parse, skip the kernel and the cache,
/// print the names of the profiles defined) must accept the text and name exactly one
/// profile, `profile_name`. About 20 ms a call, so the target runs it for a sample of inputs.
pub fn parser_check(text: &str, profile_name: &str) -> Result<(), String> {
    let mut child = Command::new("apparmor_parser")
        .args(["-Q", "-K", "-N"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run apparmor_parser: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let text_owned = text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text_owned.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("apparmor_parser: {e}"))?;
    let _ = writer.join();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("Cache read/write disabled"))
        .collect();
    if !out.status.success() {
        return Err(format!(
            "apparmor_parser rejects the profile ({}): {}",
            out.status,
            errors.join(" / ")
        ));
    }
    let names = String::from_utf8_lossy(&out.stdout);
    if names != format!("{profile_name}\n") {
        return Err(format!(
            "apparmor_parser finds the profiles {names:?}, not just {profile_name:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor::profile::recording::MountRule;

    fn recording() -> Recording {
        let mut r = Recording {
            name: "demo".into(),
            ..Recording::default()
        };
        r.apparmor.executables.insert("/usr/bin/true".into());
        r.apparmor.executables.insert("/tmp/a b*".into());
        r.apparmor.chmod_targets.insert("/tmp/x,y".into());
        r.apparmor.mounts.insert(MountRule {
            source: "tmpfs".into(),
            target: "/mnt/x".into(),
            fstype: "tmpfs".into(),
        });
        r.apparmor.umounts.insert("/mnt/x".into());
        r.apparmor.capabilities.insert("sys_admin".into());
        r
    }

    #[test]
    fn a_plain_profile_passes() {
        let r = recording();
        let text = sensor::profile::apparmor::profile(&r, "demo");
        check(&text, &r, "demo").unwrap_or_else(|e| panic!("{e}\n{text}"));
        if parser_available() {
            parser_check(&text, "demo").unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
    }

    /// What the apparmor_writer target found: a quoted path ending in `\\` is not one
    /// string to apparmor_parser, and the model says so too.
    #[test]
    fn a_backslash_before_the_closing_quote_is_caught() {
        let mut r = recording();
        r.apparmor.executables.insert("/u\\".into());
        let text = sensor::profile::apparmor::profile(&r, "demo");
        check(&text, &r, "demo").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let bad = text.replace("\"/u\\134\"", "\"/u\\\\\"");
        assert_ne!(bad, text);
        assert!(check(&bad, &r, "demo").is_err(), "{bad}");
        if parser_available() {
            parser_check(&text, "demo").unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert!(parser_check(&bad, "demo").is_err(), "{bad}");
        }
    }

    #[test]
    fn an_injected_rule_is_caught() {
        let r = recording();
        let text = sensor::profile::apparmor::profile(&r, "demo")
            .replace("  network,\n", "  network,\n  capability sys_module,\n");
        assert!(check(&text, &r, "demo").is_err());
        let text = sensor::profile::apparmor::profile(&r, "demo")
            .replace("}\n", "}\nprofile other {\n}\n");
        assert!(check(&text, &r, "demo").is_err());
        if parser_available() {
            assert!(parser_check(&text, "demo").is_err());
        }
    }
}
