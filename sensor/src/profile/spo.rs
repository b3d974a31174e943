//! Security Profiles Operator manifests: `SeccompProfile` (security-profiles-operator.x-k8s.io
//! v1beta1) and `AppArmorProfile` (v1alpha1), so a recorded profile can be applied to a
//! cluster that runs the operator.

use serde_json::{json, Value};

use super::seccomp::SeccompProfile;
use super::Recording;

pub const API_GROUP: &str = "security-profiles-operator.x-k8s.io";

/// A Kubernetes object name (RFC 1123 subdomain) from a recording name: lower case, other
/// characters replaced by `-`.
pub fn object_name(name: &str) -> String {
    let mut out: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(253);
    let trimmed = out.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "recorded".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The `SeccompProfile` object. The operator's spec has no `defaultErrnoRet`: its ERRNO
/// default returns EPERM, which is what this sensor's profiles use.
pub fn seccomp_profile(name: &str, namespace: Option<&str>, profile: &SeccompProfile) -> Value {
    let syscalls: Vec<Value> = profile
        .syscalls
        .iter()
        .map(|r| {
            let mut rule = json!({ "action": r.action, "names": r.names });
            if let Some(errno) = r.errno_ret {
                rule["errnoRet"] = json!(errno);
            }
            rule
        })
        .collect();
    let mut metadata = json!({ "name": object_name(name), "labels": labels() });
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({
        "apiVersion": format!("{API_GROUP}/v1beta1"),
        "kind": "SeccompProfile",
        "metadata": metadata,
        "spec": {
            "defaultAction": profile.default_action,
            "architectures": profile.architectures,
            "syscalls": syscalls,
        },
    })
}

/// The `AppArmorProfile` object (cluster scoped) in the operator's abstract form.
pub fn apparmor_profile(name: &str, recording: &Recording) -> Value {
    json!({
        "apiVersion": format!("{API_GROUP}/v1alpha1"),
        "kind": "AppArmorProfile",
        "metadata": { "name": object_name(name), "labels": labels() },
        "spec": {
            "abstract": super::apparmor::spo_abstract(&recording.apparmor),
        },
    })
}

fn labels() -> Value {
    json!({ "app.kubernetes.io/managed-by": "sensor" })
}

/// YAML for a manifest file.
pub fn to_yaml(object: &Value) -> String {
    let body = serde_yaml_ng::to_string(object).unwrap_or_default();
    format!("---\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kubernetes_names() {
        assert_eq!(object_name("My_Workload v2"), "my-workload-v2");
        assert_eq!(object_name("__"), "recorded");
    }

    #[test]
    fn seccomp_manifest_shape() {
        let p = SeccompProfile::generate(
            &["read".to_string()].into_iter().collect(),
            super::super::seccomp::Mode::Enforce,
        );
        let m = seccomp_profile("web", Some("default"), &p);
        assert_eq!(
            m["apiVersion"],
            "security-profiles-operator.x-k8s.io/v1beta1"
        );
        assert_eq!(m["spec"]["syscalls"][0]["names"][0], "read");
        assert!(m["spec"].get("defaultErrnoRet").is_none());
        let yaml = to_yaml(&m);
        assert!(
            yaml.starts_with("---\napiVersion: security-profiles-operator"),
            "{yaml}"
        );
    }
}
