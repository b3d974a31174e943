//! Security Profiles Operator manifests: `SeccompProfile` (security-profiles-operator.x-k8s.io
//! v1beta1) and `AppArmorProfile` (v1alpha1), so a recorded profile can be applied to a
//! cluster that runs the operator.

use serde_json::{json, Value};

use super::seccomp::SeccompProfile;
use super::Recording;

pub const API_GROUP: &str = "security-profiles-operator.x-k8s.io";

/// A Kubernetes object name (RFC 1123 subdomain) from a recording name: lower case, other
/// characters replaced by `-`, and each dot-separated part starting and ending with a letter
/// or digit (`kubectl apply` refuses `web-.x` and `a..b`).
pub fn object_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let labels: Vec<String> = lower
        .split('.')
        .map(|label| {
            let label: String = label
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            label.trim_matches('-').to_string()
        })
        .filter(|label| !label.is_empty())
        .collect();
    let mut out = labels.join(".");
    out.truncate(253);
    let trimmed = out.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
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

    /// Found by the `seccomp_writer` fuzz target: `My_W` and non-ASCII characters before a dot
    /// gave `my-w---.` and a part ending with `-`, which Kubernetes refuses.
    #[test]
    fn every_part_of_a_name_is_a_dns_label() {
        assert_eq!(object_name("web_.x"), "web.x");
        assert_eq!(object_name("a..b"), "a.b");
        assert_eq!(object_name("-a-.-b-."), "a.b");
        assert_eq!(
            object_name("My_W\u{fffd}\u{fffd}.\u{fffd}d$v0l"),
            "my-w.d-v0l"
        );
        assert_eq!(object_name("..."), "recorded");
        let long = format!("{}.{}", "a".repeat(252), "b".repeat(10));
        assert_eq!(object_name(&long), "a".repeat(252));
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
