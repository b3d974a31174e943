//! The workload that owns a pod, from its controller owner reference alone (no API request):
//! a ReplicaSet named `<deployment>-<pod-template-hash>` counts as its Deployment, a Job named
//! `<cronjob>-<scheduled minute>` as its CronJob.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

pub use crate::model::pod::Workload;

/// The characters of a pod-template-hash (Kubernetes' `SafeEncodeString` alphabet).
const HASH_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `owners` are the pod's `metadata.ownerReferences`; `template_hash` its `pod-template-hash`
/// label, if any.
pub fn derive(pod_name: &str, owners: &[OwnerReference], template_hash: Option<&str>) -> Workload {
    let owner = owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.first());
    let Some(owner) = owner else {
        return workload("Pod", pod_name);
    };
    match owner.kind.as_str() {
        "ReplicaSet" => match deployment_of(&owner.name, template_hash) {
            Some(deployment) => workload("Deployment", deployment),
            None => workload("ReplicaSet", &owner.name),
        },
        "Job" => match cronjob_of(&owner.name) {
            Some(cronjob) => workload("CronJob", cronjob),
            None => workload("Job", &owner.name),
        },
        kind => workload(kind, &owner.name),
    }
}

fn workload(kind: &str, name: &str) -> Workload {
    Workload {
        kind: kind.into(),
        name: name.into(),
    }
}

/// `<deployment>-<hash>`: the hash is the pod's `pod-template-hash` label when it has one, else
/// a last segment that looks like one (6 to 10 characters of the hash alphabet).
fn deployment_of<'a>(replicaset: &'a str, template_hash: Option<&str>) -> Option<&'a str> {
    let (deployment, suffix) = replicaset.rsplit_once('-')?;
    if deployment.is_empty() {
        return None;
    }
    let is_hash = match template_hash {
        Some(hash) => suffix == hash,
        None => {
            (6..=10).contains(&suffix.len()) && suffix.bytes().all(|b| HASH_ALPHABET.contains(&b))
        }
    };
    is_hash.then_some(deployment)
}

/// `<cronjob>-<minutes since the epoch>`: the CronJob controller names its Jobs so; at least
/// 8 digits (every minute since 1989), so `migrate-2` stays a Job.
fn cronjob_of(job: &str) -> Option<&str> {
    let (cronjob, suffix) = job.rsplit_once('-')?;
    (!cronjob.is_empty() && suffix.len() >= 8 && suffix.bytes().all(|b| b.is_ascii_digit()))
        .then_some(cronjob)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(kind: &str, name: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: "u".into(),
            controller: Some(controller),
            block_owner_deletion: None,
        }
    }

    fn of(pod: &str, owners: &[OwnerReference], hash: Option<&str>) -> (String, String) {
        let w = derive(pod, owners, hash);
        (w.kind.into(), w.name.into())
    }

    fn pair(kind: &str, name: &str) -> (String, String) {
        (kind.into(), name.into())
    }

    #[test]
    fn replicaset_of_a_deployment_is_the_deployment() {
        let rs = [owner("ReplicaSet", "web-frontend-7d9c5b8f6d", true)];
        assert_eq!(
            of("web-frontend-7d9c5b8f6d-x2x4z", &rs, Some("7d9c5b8f6d")),
            pair("Deployment", "web-frontend")
        );
        // Without the label the suffix must look like a hash.
        assert_eq!(
            of("web-frontend-7d9c5b8f6d-x2x4z", &rs, None),
            pair("Deployment", "web-frontend")
        );
        // A bare ReplicaSet whose name has no hash suffix stays a ReplicaSet.
        let bare = [owner("ReplicaSet", "my-replicaset", true)];
        assert_eq!(
            of("my-replicaset-abcde", &bare, None),
            pair("ReplicaSet", "my-replicaset")
        );
        let mismatch = [owner("ReplicaSet", "cache-5c6d7f8b9", true)];
        assert_eq!(
            of("cache-5c6d7f8b9-aaaaa", &mismatch, Some("other")),
            pair("ReplicaSet", "cache-5c6d7f8b9")
        );
    }

    #[test]
    fn other_controllers() {
        assert_eq!(
            of(
                "fluentd-abcde",
                &[owner("DaemonSet", "fluentd", true)],
                None
            ),
            pair("DaemonSet", "fluentd")
        );
        assert_eq!(
            of("db-0", &[owner("StatefulSet", "db", true)], None),
            pair("StatefulSet", "db")
        );
        assert_eq!(
            of("migrate-2-abcde", &[owner("Job", "migrate-2", true)], None),
            pair("Job", "migrate-2")
        );
        assert_eq!(
            of(
                "backup-28833120-abcde",
                &[owner("Job", "backup-28833120", true)],
                None
            ),
            pair("CronJob", "backup")
        );
        assert_eq!(of("debug", &[], None), pair("Pod", "debug"));
        // The controller reference wins over other owners.
        let owners = [
            owner("ConfigMap", "x", false),
            owner("StatefulSet", "db", true),
        ];
        assert_eq!(of("db-1", &owners, None), pair("StatefulSet", "db"));
        // Custom controllers are kept as they are.
        assert_eq!(
            of("r-1", &[owner("Rollout", "canary", true)], None),
            pair("Rollout", "canary")
        );
    }
}
