//! AppArmor profiles from a recording's observations.
//!
//! What the sensor sees (exec, mount, set*id, capset, chmod) becomes precise rules: each
//! executed binary with the `ix` exec mode (it runs under this same profile), each mount and
//! unmount, each capability used. File opens and network use are not traced by this sensor,
//! so the profile allows file reading, writing, locking, linking and mapping everywhere and
//! all networking; what it restricts is which binaries may run, what may be mounted, and which
//! capabilities are available.

use std::fmt::Write;

use super::recording::{AppArmorObservations, MountRule, Recording};

/// The profile text, for `apparmor_parser` and `/etc/apparmor.d/`.
pub fn profile(recording: &Recording, profile_name: &str) -> String {
    let o = &recording.apparmor;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# AppArmor profile recorded by sensor from `{}`.",
        // Names are validated when a recording starts (`super::name`); a comment line must
        // stay one line whatever reaches it.
        crate::event::control_chars::escape_control(&recording.name)
    );
    let _ = writeln!(
        out,
        "# Restricts executables, mounts and capabilities to those observed; file access and"
    );
    let _ = writeln!(out, "# networking are not recorded and stay allowed.");
    out.push_str("abi <abi/3.0>,\n\n#include <tunables/global>\n\n");
    let _ = writeln!(
        out,
        "profile {} flags=(attach_disconnected,mediate_deleted) {{",
        quote_name(profile_name)
    );
    out.push_str("  #include <abstractions/base>\n\n");
    out.push_str("  # Not recorded: allowed.\n");
    out.push_str("  network,\n");
    out.push_str("  signal (send,receive) peer=@{profile_name},\n");
    out.push_str("  /{,**} rwlkm,\n");
    section(
        &mut out,
        "Executed binaries, each inheriting this profile.",
        &o.executables,
        "ix",
    );
    section(
        &mut out,
        "Files whose mode the workload changed.",
        &o.chmod_targets,
        "w",
    );
    if !o.mounts.is_empty() || !o.umounts.is_empty() {
        out.push_str("\n  # Mounts.\n");
        let mut skipped = 0;
        for m in &o.mounts {
            match mount_rule(m) {
                Some(rule) => {
                    let _ = writeln!(out, "  {rule}");
                }
                None => skipped += 1,
            }
        }
        for target in &o.umounts {
            if target.starts_with('/') {
                let _ = writeln!(out, "  umount {},", path(&dir(target)));
            } else {
                skipped += 1;
            }
        }
        if skipped > 0 {
            let _ = writeln!(
                out,
                "  # {skipped} recorded mount(s) AppArmor cannot express (a mount point that is not \
                 an absolute path, a filesystem type or source that is not a plain word), left out."
            );
        }
    }
    if !o.capabilities.is_empty() {
        out.push_str("\n  # Capabilities used.\n");
        for cap in &o.capabilities {
            let _ = writeln!(out, "  capability {cap},");
        }
    }
    out.push_str("}\n");
    out
}

/// One rule per path with `mode`. AppArmor matches absolute paths only: anything else (an
/// exec whose path could not be resolved) would be a syntax error or match nothing, so it is
/// left out and counted in a comment.
fn section(out: &mut String, title: &str, paths: &std::collections::BTreeSet<String>, mode: &str) {
    if paths.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n  # {title}");
    let mut skipped = 0;
    for p in paths {
        if p.starts_with('/') {
            let _ = writeln!(out, "  {} {mode},", path(p));
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        let _ = writeln!(
            out,
            "  # {skipped} recorded path(s) not absolute, left out."
        );
    }
}

/// The rule for a recorded mount; `None` if AppArmor cannot express it: the mount point must
/// be an absolute path, the filesystem type a plain word and the source a path or a plain word
/// (every real filesystem type and pseudo source is; the mount parser's lexer rejects much
/// else even quoted, which the apparmor_writer fuzz target found).
pub fn mount_rule(m: &MountRule) -> Option<String> {
    if !m.target.starts_with('/') || !(m.fstype.is_empty() || is_plain_word(&m.fstype)) {
        return None;
    }
    let mut rule = String::from("mount");
    if !m.fstype.is_empty() {
        let _ = write!(rule, " fstype={}", m.fstype);
    }
    if !m.source.is_empty() {
        let source = if m.source.starts_with('/') {
            path(&m.source)
        } else if is_plain_word(&m.source) {
            m.source.clone()
        } else {
            return None;
        };
        let _ = write!(rule, " {source}");
    }
    let _ = write!(rule, " -> {},", path(&dir(&m.target)));
    Some(rule)
}

/// Letters, digits, `.`, `_` and `-`: written as is anywhere in a profile.
fn is_plain_word(w: &str) -> bool {
    !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Mount points are matched as directories, with a trailing slash.
fn dir(p: &str) -> String {
    if p.ends_with('/') {
        p.to_string()
    } else {
        format!("{p}/")
    }
}

/// A control character as octal escapes of its UTF-8 bytes (U+0087 is `\302\207`): the
/// parser's escapes are bytes.
fn octal_bytes(out: &mut String, c: char) {
    let mut utf8 = [0u8; 4];
    for b in c.encode_utf8(&mut utf8).bytes() {
        let _ = write!(out, "\\{b:03o}");
    }
}

/// A recorded path as a literal AppArmor path: glob characters and control characters
/// escaped, quoted unless it is plainly safe.
fn path(p: &str) -> String {
    let mut escaped = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            // A backslash as its octal escape, which the parser reads as an escaped backslash
            // (a literal one), not as `\\`: the lexer takes a quoted string's longest match,
            // where `\"` is an escaped quote, so a path ending in a backslash written `\\`
            // ran on into the next rule (found by the apparmor_writer fuzz target).
            '\\' => escaped.push_str("\\134"),
            '*' | '?' | '[' | ']' | '{' | '}' | '^' | '"' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c if c.is_control() => octal_bytes(&mut escaped, c),
            c => escaped.push(c),
        }
    }
    // Quoted unless plainly safe: the lexer ends a word at a blank or a comma and rejects
    // characters such as `!` outside quotes (found by the apparmor_writer fuzz target).
    let plain = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
    if plain {
        escaped
    } else {
        format!("\"{escaped}\"")
    }
}

fn quote_name(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        name.to_string()
    } else {
        // Not reached with a validated name; kept one token whatever it is given.
        format!(
            "\"{}\"",
            name.chars()
                .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
                .collect::<String>()
        )
    }
}

/// The observations in the Security Profiles Operator's `AppArmorProfile` abstract form.
pub fn spo_abstract(o: &AppArmorObservations) -> serde_json::Value {
    serde_json::json!({
        "executable": {
            "allowedExecutables": o.executables.iter().collect::<Vec<_>>(),
        },
        "filesystem": {
            // Not recorded: see the module documentation.
            "readWritePaths": ["/**"],
        },
        "network": {
            "allowedProtocols": { "allowTcp": true, "allowUdp": true },
        },
        "capability": {
            "allowedCapabilities": o.capabilities.iter().collect::<Vec<_>>(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_apparmor_cannot_match_are_left_out() {
        // Found by the apparmor_writer fuzz target: an empty path made the rule ` ix,`.
        let mut r = Recording {
            name: "demo".into(),
            ..Default::default()
        };
        r.apparmor.executables.insert(String::new());
        r.apparmor.executables.insert("relative/x".into());
        r.apparmor.executables.insert("/usr/bin/true".into());
        let text = profile(&r, "demo");
        assert!(text.contains("  /usr/bin/true ix,\n"), "{text}");
        assert!(!text.contains(" ix,\n  relative"), "{text}");
        assert_eq!(
            text.lines().filter(|l| l.ends_with(" ix,")).count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("# 2 recorded path(s) not absolute, left out."),
            "{text}"
        );
    }

    #[test]
    fn rules_for_every_observation() {
        let mut r = Recording {
            name: "demo".into(),
            ..Recording::default()
        };
        r.apparmor.executables.insert("/usr/bin/true".into());
        r.apparmor.executables.insert("/tmp/a b*".into());
        r.apparmor.mounts.insert(MountRule {
            source: "tmpfs".into(),
            target: "/mnt/x".into(),
            fstype: "tmpfs".into(),
        });
        r.apparmor.umounts.insert("/mnt/x".into());
        r.apparmor.capabilities.insert("sys_admin".into());
        let text = profile(&r, "demo");
        assert!(text.contains("profile demo flags="), "{text}");
        assert!(text.contains("  /usr/bin/true ix,\n"), "{text}");
        assert!(text.contains("  \"/tmp/a b\\*\" ix,\n"), "{text}");
        assert!(
            text.contains("  mount fstype=tmpfs tmpfs -> /mnt/x/,\n"),
            "{text}"
        );
        assert!(text.contains("  umount /mnt/x/,\n"), "{text}");
        assert!(text.contains("  capability sys_admin,\n"), "{text}");
    }

    /// Found by the apparmor_writer fuzz target: `"/u\\"` (a path ending in a backslash)
    /// is not one string to apparmor_parser, whose lexer reads the `\\"` as an escaped quote
    /// and runs on to the next rule's opening quote.
    #[test]
    fn a_backslash_is_written_so_it_cannot_escape_the_closing_quote() {
        let mut r = Recording {
            name: "demo".into(),
            ..Recording::default()
        };
        r.apparmor.executables.insert("/u\\".into());
        r.apparmor.executables.insert("/v\\w\\\"".into());
        r.apparmor.umounts.insert("/mnt/a\\".into());
        let text = profile(&r, "demo");
        assert!(text.contains("  \"/u\\134\" ix,\n"), "{text}");
        assert!(text.contains("  \"/v\\134w\\134\\\"\" ix,\n"), "{text}");
        assert!(text.contains("  umount \"/mnt/a\\134/\",\n"), "{text}");
        // No backslash is followed by a quote unless it escapes that quote.
        assert!(!text.contains("\\\\\""), "{text}");
    }

    /// Regression: a recording name, an executable path or a mount's strings with a newline
    /// (all chosen by the recorded workload or the caller) must not add rules of their own.
    #[test]
    fn observed_strings_cannot_inject_rules() {
        let injected = "x\n  /** rwlkmix,\n  capability sys_admin,\n#";
        let mut r = Recording {
            name: injected.into(),
            ..Recording::default()
        };
        r.apparmor.executables.insert(format!("/tmp/{injected}"));
        r.apparmor.chmod_targets.insert(format!("/tmp/{injected}"));
        r.apparmor.mounts.insert(MountRule {
            source: injected.into(),
            target: format!("/mnt/{injected}"),
            fstype: injected.into(),
        });
        r.apparmor.umounts.insert(format!("/mnt/{injected}"));
        let text = profile(&r, injected);
        for line in text.lines() {
            assert!(
                !line.trim_start().starts_with("/** rwlkmix")
                    && !line.trim_start().starts_with("capability sys_admin"),
                "injected line `{line}` in:\n{text}"
            );
        }
        // The profile is still exactly one profile block with one rule per observation.
        assert_eq!(text.matches("\nprofile ").count(), 1, "{text}");
        assert_eq!(
            text.lines().filter(|l| l.ends_with(" ix,")).count(),
            1,
            "{text}"
        );
        // A mount whose type is no filesystem's name cannot be expressed: left out, counted.
        assert_eq!(
            text.lines().filter(|l| l.starts_with("  mount ")).count(),
            0,
            "{text}"
        );
        assert!(
            text.contains("# 1 recorded mount(s) AppArmor cannot express"),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("  umount ")).count(),
            1,
            "{text}"
        );
    }
}
