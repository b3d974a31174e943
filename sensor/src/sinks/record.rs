//! One raised alert, built once on the pipeline thread and shared (`Arc`) by every output:
//! the Falco JSON line, the gRPC message, and the keys subscribers filter on.

use std::sync::Arc;

use sensor_api::v1 as api;
use sensor_rules::{Alert, Priority};

use sensor_rules::{FieldArg, FieldValue};

use crate::model::fields::{self as f, value_text, Field, View};
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

    /// An alert of the sensor's own, about no event (the drop alert): no process, no
    /// container.
    pub fn internal(alert: Alert, wall_ns: u64, sequence: u64) -> Self {
        let json = alert.to_json();
        let proto = api::Alert {
            falco_json: json.clone(),
            ..alert_header(&alert, wall_ns, sequence)
        };
        Self {
            alert,
            json,
            proto,
            keys: FilterKeys::default(),
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

/// The message's process, container and pod, read from the model's table of fields: what
/// the JSON output shows and the rules matched, by construction.
fn to_proto(alert: &Alert, event: &Event, sequence: u64) -> api::Alert {
    let v = View::new(event);
    let uint = |field: &Field| {
        v.uint(field)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_default()
    };
    let text = |field: &Field| v.text(field).unwrap_or_default();
    let mut process = api::Process {
        pid: uint(&f::PROC_PID),
        tid: uint(&f::THREAD_TID),
        ppid: uint(&f::PROC_PPID),
        name: text(&f::PROC_NAME),
        uid: uint(&f::USER_UID),
        gid: uint(&f::GROUP_GID),
        login_uid: v.int(&f::USER_LOGINUID).unwrap_or(-1),
        user_name: text(&f::USER_NAME),
        vpid: uint(&f::PROC_VPID),
        exe: text(&f::PROC_EXE),
        exe_path: text(&f::PROC_EXEPATH),
        cmdline: text(&f::PROC_CMDLINE),
        cwd: text(&f::PROC_CWD),
        parent_name: text(&f::PROC_PNAME),
        ..Default::default()
    };
    if let Some(p) = &event.process {
        process.args = (0..p.args.len() as u32)
            .filter_map(|i| f::PROC_ARGS.read_arg(&v, &FieldArg::Index(i)))
            .filter_map(|value| value_text(&value))
            .collect();
    }
    process.ancestors = (1..=ANCESTORS as u32)
        .map_while(|n| {
            let at = FieldArg::Index(n);
            let pid = f::PROC_APID.read_arg(&v, &at)?;
            let name = f::PROC_ANAME.read_arg(&v, &at)?;
            let exe_path = f::PROC_AEXEPATH.read_arg(&v, &at)?;
            Some(api::Ancestor {
                pid: match pid {
                    FieldValue::I64(pid) => u32::try_from(pid).unwrap_or_default(),
                    _ => 0,
                },
                name: value_text(&name)?,
                exe_path: value_text(&exe_path)?,
            })
        })
        .collect();
    let container = event.container.as_ref().map(|_| api::Container {
        id: text(&f::CONTAINER_ID),
        full_id: text(&f::CONTAINER_FULL_ID),
        runtime: text(&f::CONTAINER_RUNTIME),
        name: text(&f::CONTAINER_NAME),
        image: text(&f::CONTAINER_IMAGE),
    });
    let pod = event.pod.as_ref().map(|p| api::Pod {
        name: text(&f::K8S_POD_NAME),
        namespace: text(&f::K8S_NS_NAME),
        uid: text(&f::K8S_POD_UID),
        labels: p
            .pod
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    });
    api::Alert {
        process: Some(process),
        container,
        pod,
        event_type: text(&f::EVT_TYPE),
        ..alert_header(alert, event.wall_ns, sequence)
    }
}

/// The message's fields every alert has, from the rule's side: time, rule, priority, source,
/// host, output, Falco's output fields (as text) and tags; about no process.
fn alert_header(alert: &Alert, wall_ns: u64, sequence: u64) -> api::Alert {
    api::Alert {
        time: Some(prost_types::Timestamp {
            seconds: (wall_ns / 1_000_000_000) as i64,
            nanos: (wall_ns % 1_000_000_000) as i32,
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
        sequence,
        ..Default::default()
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
