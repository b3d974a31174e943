//! A subscriber's server-side filter, compiled from its `SubscribeRequest`.

use std::collections::HashSet;

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
    container_ids: Vec<String>,
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
        let container_ids = request
            .container_ids
            .iter()
            .map(|id| {
                let id = id.trim().to_ascii_lowercase();
                if (12..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(id)
                } else {
                    Err(FilterError::ContainerId(id))
                }
            })
            .collect::<Result<_, _>>()?;
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
            if !self
                .container_ids
                .iter()
                .any(|id| full.starts_with(id.as_str()))
            {
                return false;
            }
        }
        true
    }
}
