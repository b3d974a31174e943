//! One raised alert, built once on the pipeline thread and shared (`Arc`) by every output:
//! the Falco JSON line, the gRPC message, and the keys subscribers filter on.

use std::sync::Arc;

use sensor_api::v1 as api;
use sensor_rules::{Alert, Priority};

use crate::model::Event;

/// How many ancestors an alert's process carries (`proc.aname[1..=8]`).
const ANCESTORS: usize = 8;

/// `SubscribeResponse.alert`'s field number (sensor.proto).
const SUBSCRIBE_RESPONSE_ALERT: u32 = 1;

#[derive(Debug)]
pub struct AlertRecord {
    pub alert: Alert,
    /// Falco's JSON alert, without the newline.
    pub json: String,
    pub proto: api::Alert,
    /// What subscriber filters look at, kept apart from the message so a filter reads no
    /// protobuf maps.
    pub keys: FilterKeys,
}

#[derive(Debug, Default)]
pub struct FilterKeys {
    pub container_id: Option<Arc<str>>,
    pub container_full_id: Option<Arc<str>>,
    pub pod: Option<Arc<crate::enrich::pods::PodMeta>>,
}

impl AlertRecord {
    pub fn new(alert: Alert, event: &Event, sequence: u64) -> Self {
        let json = alert.to_json();
        let mut proto = to_proto(&alert, event, sequence);
        proto.falco_json = json.clone();
        let keys = FilterKeys {
            container_id: event.container.as_ref().map(|c| Arc::from(c.id())),
            container_full_id: event.container.as_ref().map(|c| Arc::from(&*c.full_id)),
            pod: event.pod.as_ref().map(|p| p.pod.clone()),
        };
        Self {
            alert,
            json,
            proto,
            keys,
        }
    }

    /// The same alert standing for `folded` identical ones (de-duplication): Falco's keys
    /// stay as they are and the count is an extra output field, `sensor.folded`.
    pub fn folded(&self, folded: u64) -> Self {
        let mut alert = self.alert.clone();
        alert
            .output_fields
            .insert("sensor.folded".to_string(), serde_json::Value::from(folded));
        let mut proto = self.proto.clone();
        proto
            .output_fields
            .insert("sensor.folded".to_string(), folded.to_string());
        let json = alert.to_json();
        proto.falco_json = json.clone();
        Self {
            json,
            alert,
            proto,
            keys: FilterKeys {
                container_id: self.keys.container_id.clone(),
                container_full_id: self.keys.container_full_id.clone(),
                pod: self.keys.pod.clone(),
            },
        }
    }

    pub fn priority(&self) -> Priority {
        self.alert.priority
    }

    /// The wire bytes of `SubscribeResponse { alert: self.proto }`, encoded straight from
    /// `proto` (no clone): the oneof's `alert` field (tag 1) holding the message.
    pub fn encode_subscribe_response(&self) -> tonic::codegen::Bytes {
        let mut buf = Vec::with_capacity(prost::encoding::message::encoded_len(
            SUBSCRIBE_RESPONSE_ALERT,
            &self.proto,
        ));
        prost::encoding::message::encode(SUBSCRIBE_RESPONSE_ALERT, &self.proto, &mut buf);
        buf.into()
    }
}

/// The API's priority numbering: larger is more severe.
pub fn priority_to_proto(priority: Priority) -> api::Priority {
    match priority {
        Priority::Emergency => api::Priority::Emergency,
        Priority::Alert => api::Priority::Alert,
        Priority::Critical => api::Priority::Critical,
        Priority::Error => api::Priority::Error,
        Priority::Warning => api::Priority::Warning,
        Priority::Notice => api::Priority::Notice,
        Priority::Informational => api::Priority::Informational,
        Priority::Debug => api::Priority::Debug,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn to_proto(alert: &Alert, event: &Event, sequence: u64) -> api::Alert {
    let task = &event.task;
    let mut process = api::Process {
        pid: task.pid,
        tid: task.tid,
        ppid: task.ppid,
        name: text(event.comm()),
        uid: task.creds.euid,
        gid: task.creds.egid,
        login_uid: if task.loginuid == u32::MAX {
            -1
        } else {
            i64::from(task.loginuid)
        },
        user_name: event.user_name.as_deref().unwrap_or_default().to_string(),
        vpid: task.vpid,
        ..Default::default()
    };
    if let Some(p) = &event.process {
        process.name = text(&p.comm);
        process.exe = text(&p.exe);
        process.exe_path = text(&p.exepath);
        process.cmdline = text(&p.cmdline());
        process.args = p.args.iter().map(|a| text(a)).collect();
        process.cwd = p.cwd.as_deref().map(text).unwrap_or_default();
        process.ancestors = p
            .ancestors()
            .skip(1)
            .take(ANCESTORS)
            .map(|a| api::Ancestor {
                pid: a.pid,
                name: text(&a.comm),
                exe_path: text(&a.exepath),
            })
            .collect();
        process.parent_name = process
            .ancestors
            .first()
            .map(|a| a.name.clone())
            .unwrap_or_default();
    }
    let container = event.container.as_ref().map(|c| api::Container {
        id: c.id().to_string(),
        full_id: c.full_id.clone(),
        runtime: c.runtime.name().to_string(),
        name: event
            .pod
            .as_ref()
            .map(|p| p.container_name.to_string())
            .unwrap_or_default(),
        image: event
            .pod
            .as_ref()
            .map(|p| p.image.to_string())
            .unwrap_or_default(),
    });
    let pod = event.pod.as_ref().map(|p| api::Pod {
        name: p.pod.name.to_string(),
        namespace: p.pod.namespace.to_string(),
        uid: p.pod.uid.to_string(),
        labels: p
            .pod
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    });
    api::Alert {
        time: Some(prost_types::Timestamp {
            seconds: (event.wall_ns / 1_000_000_000) as i64,
            nanos: (event.wall_ns % 1_000_000_000) as i32,
        }),
        rule: alert.rule.clone(),
        priority: priority_to_proto(alert.priority) as i32,
        source: alert.source.clone(),
        hostname: alert.hostname.clone(),
        output: alert.output.clone(),
        output_fields: alert
            .output_fields
            .iter()
            .map(|(k, v)| (k.clone(), field_text(v)))
            .collect(),
        tags: alert.tags.clone(),
        process: Some(process),
        container,
        pod,
        event_type: event.evt_type().to_string(),
        sequence,
        falco_json: String::new(),
    }
}

/// An output field's value as text: what Falco's gRPC output carried.
fn field_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "<NA>".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn the_encoded_subscribe_response_is_prosts() {
        let alert = Alert {
            time: String::new(),
            rule: "r".to_string(),
            priority: Priority::Warning,
            source: "syscall".to_string(),
            hostname: "h".to_string(),
            output: "out".to_string(),
            output_fields: Default::default(),
            tags: vec!["t".to_string()],
        };
        let proto = api::Alert {
            rule: "r".to_string(),
            output_fields: [("proc.pid".to_string(), "7".to_string())].into(),
            process: Some(api::Process {
                pid: 7,
                ..Default::default()
            }),
            sequence: 3,
            ..Default::default()
        };
        let record = AlertRecord {
            json: alert.to_json(),
            alert,
            proto: proto.clone(),
            keys: Default::default(),
        };
        let expected = api::SubscribeResponse {
            message: Some(api::subscribe_response::Message::Alert(proto)),
        };
        let bytes = record.encode_subscribe_response();
        assert_eq!(&bytes[..], &expected.encode_to_vec()[..]);
        assert_eq!(
            api::SubscribeResponse::decode(&bytes[..]).expect("decodes"),
            expected
        );
    }
}
