//! OCI (runc, Docker, containerd, CRI-O) seccomp profiles: generated from a recording, read,
//! merged and compared.
//!
//! Output is stable: syscall names sorted, one rule per action, the same bytes for the same
//! recording, so profiles can be committed and reviewed as diffs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub const ACT_ALLOW: &str = "SCMP_ACT_ALLOW";
pub const ACT_ERRNO: &str = "SCMP_ACT_ERRNO";
pub const ACT_LOG: &str = "SCMP_ACT_LOG";

/// An OCI seccomp profile (`linux.seccomp` of the runtime spec, Docker's profile file format).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfile {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
    /// Docker's per-architecture form; this sensor writes `architectures` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch_map: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Argument conditions; recorded profiles have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<serde_json::Value>,
    /// Docker's conditional inclusion by capability or kernel version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excludes: Option<serde_json::Value>,
}

/// A rule's action with its errno, the unit that merge and diff compare. Kept typed rather
/// than formatted into one string: an action name is the profile author's text and may hold
/// any character, so a formatted key would not always split back into what it was.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Action {
    name: String,
    errno_ret: Option<u32>,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.errno_ret {
            Some(errno) => write!(f, "{}({errno})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// What happens to a syscall the workload never made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Fails with EPERM: the profile enforces.
    #[default]
    Enforce,
    /// Allowed and logged by the kernel (audit log): a trial run before enforcing.
    Log,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "errno" | "enforce" => Ok(Mode::Enforce),
            "log" => Ok(Mode::Log),
            other => Err(format!(
                "`{other}` is not a profile action: use `errno` (enforce) or `log` (trial run)"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read the seccomp profile {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an OCI seccomp profile: {message}")]
    Parse { path: String, message: String },
    #[error("{what}: syscall `{name}` has action {first} in one profile and {second} in another; edit one of them so they agree")]
    Conflict {
        what: String,
        name: String,
        first: String,
        second: String,
    },
    #[error("{what}: {message}")]
    Unsupported { what: String, message: String },
}

impl SeccompProfile {
    /// The profile for a set of syscalls: allowed, everything else EPERM (or logged).
    pub fn generate(syscalls: &BTreeSet<String>, mode: Mode) -> Self {
        let (default_action, default_errno_ret) = match mode {
            Mode::Enforce => (ACT_ERRNO, Some(libc::EPERM as u32)),
            Mode::Log => (ACT_LOG, None),
        };
        Self {
            default_action: default_action.to_string(),
            default_errno_ret,
            architectures: super::arch::oci_architectures(),
            syscalls: vec![SyscallRule {
                names: syscalls.iter().cloned().collect(),
                action: ACT_ALLOW.to_string(),
                errno_ret: None,
                args: Vec::new(),
                includes: None,
                excludes: None,
            }],
            arch_map: None,
        }
    }

    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, what: &str) -> Result<Self, ProfileError> {
        serde_json::from_str(text).map_err(|e| ProfileError::Parse {
            path: what.to_string(),
            message: e.to_string(),
        })
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Names with an unconditional SCMP_ACT_ALLOW (or SCMP_ACT_LOG, which also lets the call
    /// through).
    pub fn allowed(&self) -> BTreeSet<String> {
        self.syscalls
            .iter()
            .filter(|r| r.action == ACT_ALLOW || r.action == ACT_LOG)
            .filter(|r| r.args.is_empty() && r.includes.is_none() && r.excludes.is_none())
            .flat_map(|r| r.names.iter().cloned())
            .collect()
    }

    /// Each syscall's action (with its errno), for comparing and merging.
    fn actions(&self, what: &str) -> Result<BTreeMap<String, Action>, ProfileError> {
        let mut out = BTreeMap::new();
        for rule in &self.syscalls {
            if !rule.args.is_empty() || rule.includes.is_some() || rule.excludes.is_some() {
                return Err(ProfileError::Unsupported {
                    what: what.to_string(),
                    message: format!(
                        "the rule for {} has argument conditions or includes/excludes, which this sensor does not merge or compare; remove them or merge by hand",
                        rule.names.join(", ")
                    ),
                });
            }
            let action = Action {
                name: rule.action.clone(),
                errno_ret: rule.errno_ret,
            };
            for name in &rule.names {
                if let Some(previous) = out.insert(name.clone(), action.clone()) {
                    if previous != action {
                        return Err(ProfileError::Conflict {
                            what: what.to_string(),
                            name: name.clone(),
                            first: previous.to_string(),
                            second: action.to_string(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// One profile allowing what any of `profiles` allows: the union of their syscalls and
    /// architectures, with the first profile's default action.
    pub fn merge(profiles: &[(String, SeccompProfile)]) -> Result<Self, ProfileError> {
        let Some((_, first)) = profiles.first() else {
            return Err(ProfileError::Unsupported {
                what: "merge".into(),
                message: "no profiles given".into(),
            });
        };
        let mut actions: BTreeMap<String, (Action, String)> = BTreeMap::new();
        let mut architectures: Vec<String> = Vec::new();
        for (what, profile) in profiles {
            if profile.default_action != first.default_action {
                tracing::warn!(
                    profile = %what,
                    default_action = %profile.default_action,
                    kept = %first.default_action,
                    "profiles disagree on the default action; the first one's is kept"
                );
            }
            for arch in &profile.architectures {
                if !architectures.contains(arch) {
                    architectures.push(arch.clone());
                }
            }
            for (name, action) in profile.actions(what)? {
                match actions.get(&name) {
                    Some((previous, from)) if *previous != action => {
                        return Err(ProfileError::Conflict {
                            what: format!("{from} and {what}"),
                            name,
                            first: previous.to_string(),
                            second: action.to_string(),
                        })
                    }
                    Some(_) => {}
                    None => {
                        actions.insert(name, (action, what.clone()));
                    }
                }
            }
        }
        let mut by_action: BTreeMap<Action, Vec<String>> = BTreeMap::new();
        for (name, (action, _)) in actions {
            by_action.entry(action).or_default().push(name);
        }
        let syscalls = by_action
            .into_iter()
            .map(|(action, names)| SyscallRule {
                names,
                action: action.name,
                errno_ret: action.errno_ret,
                args: Vec::new(),
                includes: None,
                excludes: None,
            })
            .collect();
        Ok(Self {
            default_action: first.default_action.clone(),
            default_errno_ret: first.default_errno_ret,
            architectures,
            syscalls,
            arch_map: None,
        })
    }

    /// What changes from `self` to `other`, one line per difference (`+` only in `other`, `-`
    /// only in `self`); empty when they are equivalent.
    pub fn diff(&self, other: &Self) -> Result<Vec<String>, ProfileError> {
        let mut lines = Vec::new();
        let describe = |p: &Self| match p.default_errno_ret {
            Some(e) => format!("{}({e})", p.default_action),
            None => p.default_action.clone(),
        };
        if describe(self) != describe(other) {
            lines.push(format!(
                "~ defaultAction {} -> {}",
                describe(self),
                describe(other)
            ));
        }
        for arch in &self.architectures {
            if !other.architectures.contains(arch) {
                lines.push(format!("- architecture {arch}"));
            }
        }
        for arch in &other.architectures {
            if !self.architectures.contains(arch) {
                lines.push(format!("+ architecture {arch}"));
            }
        }
        let a = self.actions("first profile")?;
        let b = other.actions("second profile")?;
        for (name, action) in &a {
            match b.get(name) {
                None => lines.push(format!("- {name} {action}")),
                Some(other_action) if other_action != action => {
                    lines.push(format!("~ {name} {action} -> {other_action}"))
                }
                Some(_) => {}
            }
        }
        for (name, action) in &b {
            if !a.contains_key(name) {
                lines.push(format!("+ {name} {action}"));
            }
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn generated_profile_is_sorted_and_stable() {
        let p = SeccompProfile::generate(&names(&["write", "read", "exit_group"]), Mode::Enforce);
        assert_eq!(p.syscalls[0].names, ["exit_group", "read", "write"]);
        let json = p.to_json();
        assert!(json.contains("\"defaultAction\": \"SCMP_ACT_ERRNO\""));
        assert!(json.contains("\"defaultErrnoRet\": 1"));
        assert_eq!(SeccompProfile::parse(&json, "x").unwrap(), p);
        assert_eq!(json, p.to_json());
    }

    #[test]
    fn log_mode_logs_by_default() {
        let p = SeccompProfile::generate(&names(&["read"]), Mode::Log);
        assert_eq!(p.default_action, ACT_LOG);
        assert_eq!(p.default_errno_ret, None);
    }

    #[test]
    fn merge_is_the_union_and_diff_shows_it() {
        let a = SeccompProfile::generate(&names(&["read", "write"]), Mode::Enforce);
        let b = SeccompProfile::generate(&names(&["read", "chmod"]), Mode::Enforce);
        let m = SeccompProfile::merge(&[("a".into(), a.clone()), ("b".into(), b.clone())]).unwrap();
        assert_eq!(m.allowed(), names(&["chmod", "read", "write"]));
        assert_eq!(
            a.diff(&b).unwrap(),
            ["- write SCMP_ACT_ALLOW", "+ chmod SCMP_ACT_ALLOW"]
        );
        assert!(a.diff(&a).unwrap().is_empty());
    }

    #[test]
    fn merge_reports_conflicting_actions() {
        let a = SeccompProfile::generate(&names(&["read"]), Mode::Enforce);
        let mut b = a.clone();
        b.syscalls[0].action = ACT_ERRNO.into();
        let e = SeccompProfile::merge(&[("a.json".into(), a), ("b.json".into(), b)]).unwrap_err();
        assert!(e.to_string().contains("`read`"), "{e}");
        assert!(e.to_string().contains("a.json and b.json"), "{e}");
    }

    /// Found by the `seccomp_writer` fuzz target: an action whose name holds `(` used to be
    /// split there when the merge turned its formatted key back into a rule.
    #[test]
    fn merge_keeps_actions_whose_names_hold_parentheses() {
        let mut p = SeccompProfile::generate(&names(&["read", "write"]), Mode::Enforce);
        p.syscalls[0].action = "(SCMP_ACT_ALLOW".into();
        p.syscalls.push(SyscallRule {
            names: vec!["close".into()],
            action: "X(1)".into(),
            errno_ret: Some(2),
            args: Vec::new(),
            includes: None,
            excludes: None,
        });
        let m = SeccompProfile::merge(&[("a".into(), p.clone()), ("b".into(), p.clone())]).unwrap();
        assert!(p.diff(&m).unwrap().is_empty(), "{:?}", p.diff(&m));
    }

    /// A profile's numbers (conditions, Docker's includes) are written back as they were read:
    /// serde_json's default float parsing is off by one bit for some long decimals, so such a
    /// profile read back from what was written was another profile.
    #[test]
    fn numbers_read_back_as_written() {
        let text = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],
            "action":"SCMP_ACT_ALLOW","args":[5.10885233071271705465e-89,9.15860402102123842989e-99],
            "includes":{"minKernel":1.0000000000000002}}]}"#;
        let p = SeccompProfile::parse(text, "floats.json").unwrap();
        let json = p.to_json();
        assert_eq!(
            SeccompProfile::parse(&json, "written").unwrap(),
            p,
            "{json}"
        );
        assert_eq!(
            SeccompProfile::parse(&json, "written").unwrap().to_json(),
            json
        );
    }

    #[test]
    fn reads_dockers_profile_shape() {
        let text = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
            "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],
            "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                        {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#;
        let p = SeccompProfile::parse(text, "docker.json").unwrap();
        assert_eq!(p.allowed(), names(&["read"]));
        assert!(p.diff(&p).is_err());
    }
}
