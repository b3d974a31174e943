//! A subscriber's server-side filter, compiled from its `SubscribeRequest`.
//!
//! Filters run on the pipeline thread for every alert (see `super::hub`), so matching costs a
//! fixed number of lookups however many values a filter has: rules, tags and namespaces are
//! hash sets, and container ids are grouped by length so that an alert's container is looked
//! up once per distinct prefix length given, never compared with each id in turn. The
//! request's size was bounded before it got here (`super::grpc::limits`).

use std::collections::{BTreeMap, HashSet};

use sensor_api::v1 as api;

use super::label_selector::{LabelSelector, SelectorError};
use super::record::{priority_to_proto, AlertRecord};

#[derive(Debug, Default)]
pub struct AlertFilter {
    /// The API's priority number; alerts below it are left out. 0 lets everything through.
    min_priority: i32,
    rules: HashSet<String>,
    tags: HashSet<String>,
    namespaces: HashSet<String>,
    pod_selector: LabelSelector,
    /// Container ids (12 to 64 lowercase hex characters: full ids or prefixes) by length.
    container_ids: BTreeMap<usize, HashSet<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("pod_selector: {0}")]
    Selector(#[from] SelectorError),
    #[error("min_priority: {0} is not a priority (use 0 for all, 1 DEBUG ... 8 EMERGENCY)")]
    Priority(i32),
    #[error("container_ids: `{0}` is not a container id (12 to 64 hexadecimal characters)")]
    ContainerId(String),
}

impl AlertFilter {
    pub fn new(request: &api::SubscribeRequest) -> Result<Self, FilterError> {
        if api::Priority::try_from(request.min_priority).is_err() {
            return Err(FilterError::Priority(request.min_priority));
        }
        let mut container_ids: BTreeMap<usize, HashSet<String>> = BTreeMap::new();
        for id in &request.container_ids {
            let id = id.trim().to_ascii_lowercase();
            if !((12..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())) {
                return Err(FilterError::ContainerId(id));
            }
            container_ids.entry(id.len()).or_default().insert(id);
        }
        Ok(Self {
            min_priority: request.min_priority,
            rules: request.rules.iter().cloned().collect(),
            tags: request.tags.iter().cloned().collect(),
            namespaces: request.namespaces.iter().cloned().collect(),
            pod_selector: LabelSelector::parse(&request.pod_selector)?,
            container_ids,
        })
    }

    pub fn matches(&self, record: &AlertRecord) -> bool {
        let alert = &record.alert;
        if (priority_to_proto(alert.priority) as i32) < self.min_priority {
            return false;
        }
        if !self.rules.is_empty() && !self.rules.contains(&alert.rule) {
            return false;
        }
        if !self.tags.is_empty() && !alert.tags.iter().any(|t| self.tags.contains(t)) {
            return false;
        }
        let pod = record.keys.pod.as_deref();
        if !self.namespaces.is_empty()
            && !pod.is_some_and(|p| self.namespaces.contains(&*p.namespace))
        {
            return false;
        }
        if !self.pod_selector.is_empty() {
            // Outside a pod there are no labels to select on.
            let Some(pod) = pod else { return false };
            if !self.pod_selector.matches(|k| pod.label(k)) {
                return false;
            }
        }
        if !self.container_ids.is_empty() {
            let Some(full) = record.keys.container_full_id.as_deref() else {
                return false;
            };
            let listed = self
                .container_ids
                .iter()
                .any(|(&len, ids)| full.get(..len).is_some_and(|prefix| ids.contains(prefix)));
            if !listed {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::sinks::record::FilterKeys;

    fn in_container(full_id: &str) -> AlertRecord {
        let alert = sensor_rules::Alert {
            time: String::new(),
            rule: "r".into(),
            priority: sensor_rules::Priority::Warning,
            source: "syscall".into(),
            hostname: "h".into(),
            output: String::new(),
            output_fields: Default::default(),
            tags: vec![],
        };
        AlertRecord {
            json: String::new(),
            alert,
            proto: api::Alert::default(),
            keys: FilterKeys {
                container_full_id: Some(Arc::from(full_id)),
                ..Default::default()
            },
        }
    }

    #[test]
    fn container_ids_match_as_full_ids_or_prefixes_of_any_length() {
        let full = "0123456789abcdef".repeat(4);
        let filter = |ids: &[&str]| {
            AlertFilter::new(&api::SubscribeRequest {
                container_ids: ids.iter().map(|i| i.to_string()).collect(),
                ..Default::default()
            })
            .expect("valid ids")
        };
        let alert = in_container(&full);
        assert!(filter(&[&full]).matches(&alert));
        assert!(
            filter(&["0123456789AB"]).matches(&alert),
            "short, upper case"
        );
        assert!(filter(&["ffffffffffff", &full[..20]]).matches(&alert));
        assert!(!filter(&["ffffffffffff", "0123456789ac"]).matches(&alert));
        assert!(!filter(&["0123456789ab"]).matches(&in_container("0123")));
        assert!(matches!(
            AlertFilter::new(&api::SubscribeRequest {
                container_ids: vec!["xyz".into()],
                ..Default::default()
            }),
            Err(FilterError::ContainerId(_))
        ));
    }
}
