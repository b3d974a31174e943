//! The alert record, with Falco's JSON keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::priority::Priority;

/// One alert, serializing to the JSON Falco emits with `json_output: true`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Event time, RFC 3339 with nanoseconds (`2024-05-01T12:34:56.123456789Z`).
    pub time: String,
    pub rule: String,
    pub priority: Priority,
    /// Always `syscall`.
    pub source: String,
    pub hostname: String,
    /// `HH:MM:SS.nnnnnnnnn: Priority <rendered rule output>`, as Falco prints it.
    pub output: String,
    /// Every field of the rule's output template, plus `evt.time`; missing values are null.
    pub output_fields: BTreeMap<String, serde_json::Value>,
    pub tags: Vec<String>,
}

impl Alert {
    pub fn to_json(&self) -> String {
        // Serializing plain strings, numbers and maps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
