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
    if !o.executables.is_empty() {
        out.push_str("\n  # Executed binaries, each inheriting this profile.\n");
        for exe in &o.executables {
            let _ = writeln!(out, "  {} ix,", path(exe));
        }
    }
    if !o.chmod_targets.is_empty() {
        out.push_str("\n  # Files whose mode the workload changed.\n");
        for target in &o.chmod_targets {
            let _ = writeln!(out, "  {} w,", path(target));
        }
    }
    if !o.mounts.is_empty() || !o.umounts.is_empty() {
        out.push_str("\n  # Mounts.\n");
        for m in &o.mounts {
            let _ = writeln!(out, "  {}", mount_rule(m));
        }
        for target in &o.umounts {
            let _ = writeln!(out, "  umount {},", path(&dir(target)));
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

fn mount_rule(m: &MountRule) -> String {
    let mut rule = String::from("mount");
    if !m.fstype.is_empty() {
        let _ = write!(rule, " fstype={}", word(&m.fstype));
    }
    if !m.source.is_empty() {
        // A device or a path; a pseudo source like `tmpfs` is a plain word.
        let source = if m.source.starts_with('/') {
            path(&m.source)
        } else {
            word(&m.source)
        };
        let _ = write!(rule, " {source}");
    }
    let _ = write!(rule, " -> {},", path(&dir(&m.target)));
    rule
}

/// Mount points are matched as directories, with a trailing slash.
fn dir(p: &str) -> String {
    if p.ends_with('/') {
        p.to_string()
    } else {
        format!("{p}/")
    }
}

/// A recorded path as a literal AppArmor path: glob characters escaped, quoted when it has
/// spaces.
fn path(p: &str) -> String {
    let mut escaped = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            '*' | '?' | '[' | ']' | '{' | '}' | '^' | '\\' | '"' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c if c.is_control() => {
                let _ = write!(escaped, "\\{:03o}", c as u32 & 0xff);
            }
            c => escaped.push(c),
        }
    }
    if escaped.contains(char::is_whitespace) || escaped.contains(',') {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// A non-path word (fstype, pseudo device): only characters AppArmor takes unquoted, else
/// quoted with quotes, backslashes and control characters escaped (the observed process
/// chose these strings: a newline must not start a rule of its own).
fn word(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+:@".contains(c))
    {
        w.to_string()
    } else {
        let mut quoted = String::with_capacity(w.len() + 2);
        quoted.push('"');
        for c in w.chars() {
            match c {
                '\\' | '"' => {
                    quoted.push('\\');
                    quoted.push(c);
                }
                c if c.is_control() => {
                    let _ = write!(quoted, "\\{:03o}", c as u32 & 0xff);
                }
                c => quoted.push(c),
            }
        }
        quoted.push('"');
        quoted
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
        assert_eq!(
            text.lines().filter(|l| l.starts_with("  mount ")).count(),
            1,
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("  umount ")).count(),
            1,
            "{text}"
        );
    }
}
