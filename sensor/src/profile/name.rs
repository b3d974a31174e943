//! Recording and profile names.
//!
//! A name becomes a file name (`<name>.seccomp.json` in `sensor record --out`), a Kubernetes
//! object name (through [`super::spo::object_name`]), an AppArmor profile name and a comment
//! line in the AppArmor profile. It comes from a gRPC caller or the command line, so it is
//! checked once, here: a `/` or `..` would write outside the output directory, and a newline,
//! a quote or a brace would put rules of the caller's choosing into the AppArmor profile.

/// Long enough for any workload name, short enough for a file name with its suffix.
pub const MAX_NAME_LEN: usize = 128;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "recording name `{shown}`: {problem}; use 1 to {MAX_NAME_LEN} letters, digits, `.`, `_` \
     and `-`, not starting with `.` or `-`"
)]
pub struct NameError {
    /// The name as given, with control characters escaped for the message.
    shown: String,
    problem: &'static str,
}

/// Checks that `name` can be a file name, an AppArmor profile name and (after lower-casing)
/// a Kubernetes object name without escaping.
pub fn validate(name: &str) -> Result<(), NameError> {
    let problem = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is too long")
    } else if name.starts_with(['.', '-']) {
        Some("it starts with `.` or `-`")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Some("it has a character other than a letter, a digit, `.`, `_` or `-`")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(NameError {
            shown: crate::event::control_chars::escape_control(
                &name.chars().take(MAX_NAME_LEN + 8).collect::<String>(),
            )
            .into_owned(),
            problem,
        }),
    }
}

/// A valid name derived from a command's file name (the default name of `sensor record`):
/// every other character becomes `-`, cut to [`MAX_NAME_LEN`].
pub fn from_command(file_name: &str) -> String {
    let name: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME_LEN)
        .collect();
    let name = name.trim_start_matches(['.', '-']);
    if name.is_empty() {
        "recorded".to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in ["web", "nginx-1.25", "my_tool", "A.b-c_9"] {
            assert_eq!(validate(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn names_that_would_escape_a_file_or_a_profile_fail() {
        for name in [
            "",
            "../etc/x",
            "a/b",
            ".hidden",
            "-rf",
            "x\n  /** rwx,",
            "x\" flags=(complain) {",
            "a}b",
            "a b",
            "a,b",
            "a#b",
            "é",
        ] {
            assert!(validate(name).is_err(), "{name:?} passed");
        }
        assert!(validate(&"a".repeat(MAX_NAME_LEN + 1)).is_err());
        let message = validate("x\ny").unwrap_err().to_string();
        assert!(message.contains("x\\ny"), "{message}");
    }

    #[test]
    fn command_file_names_become_valid_names() {
        assert_eq!(from_command("python3.11"), "python3.11");
        assert_eq!(from_command("my tool\n"), "my-tool-");
        assert_eq!(from_command("..x"), "x");
        assert_eq!(from_command("\n\n"), "recorded");
        for f in ["python3.11", "my tool\n", "..x", "\n", "€€€"] {
            assert_eq!(validate(&from_command(f)), Ok(()), "{f:?}");
        }
    }
}
