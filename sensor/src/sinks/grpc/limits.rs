//! Every bound the gRPC API puts on what a caller may ask of the sensor, with its default.
//! Each is a key under `grpc.limits` in the configuration file (deploy/sensor.yaml), and each
//! refusal names the request field and that key, so a caller knows what to change and an
//! operator what to raise. A refused call changes nothing: the sensor keeps serving the others.

use std::time::Duration;

use sensor_api::v1 as api;
use tonic::Status;

/// The largest request message decoded (`grpc.limits.max_request_bytes`): every request of
/// the API is small; a larger one is refused before it is decoded.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 << 10;
/// Subscribers connected at once, in all (`grpc.limits.max_subscribers`): the pipeline thread
/// runs every subscriber's filter on every alert.
pub const DEFAULT_MAX_SUBSCRIBERS: usize = 128;
/// Subscribers of one identity (a uid, a certificate) at once
/// (`grpc.limits.max_subscribers_per_identity`): one caller cannot take every slot.
pub const DEFAULT_MAX_SUBSCRIBERS_PER_IDENTITY: usize = 32;
/// The queue of a subscriber that asks for none (`grpc.subscriber_queue`).
pub const DEFAULT_SUBSCRIBER_QUEUE: usize = 10_000;
/// The longest queue a subscriber may ask for (`grpc.limits.max_subscriber_queue`); a larger
/// `queue_size` is capped to it, as the API has always documented.
pub const DEFAULT_MAX_SUBSCRIBER_QUEUE: usize = 100_000;
/// Bytes one subscriber's queue may hold (`grpc.limits.subscriber_queue_bytes`): a
/// subscriber that reads slowly costs at most this, whatever its `queue_size`.
pub const DEFAULT_SUBSCRIBER_QUEUE_BYTES: usize = 4 << 20;
/// Bytes every subscriber's queue may hold together (`grpc.limits.total_queue_bytes`),
/// within the DaemonSet's memory limit however many subscribers there are.
pub const DEFAULT_TOTAL_QUEUE_BYTES: usize = 64 << 20;
/// Values in one repeated filter field: rules, tags, namespaces, container_ids
/// (`grpc.limits.max_filter_values`).
pub const DEFAULT_MAX_FILTER_VALUES: usize = 256;
/// Bytes in one string of a request: a rule name, tag, namespace, container id, client name,
/// recording name or pod uid (`grpc.limits.max_string_bytes`).
pub const DEFAULT_MAX_STRING_BYTES: usize = 512;
/// Bytes in a pod label selector (`grpc.limits.max_selector_bytes`).
pub const DEFAULT_MAX_SELECTOR_BYTES: usize = 4096;
/// Profile recordings running at once (`grpc.limits.max_recordings`): each keeps the recorder
/// attached to the node's syscalls.
pub const DEFAULT_MAX_RECORDINGS: usize = 8;
/// How long a recording runs when its request sets no `max_duration`
/// (`grpc.limits.recording_default_duration`).
pub const DEFAULT_RECORDING_DURATION: Duration = Duration::from_secs(60 * 60);
/// The longest `max_duration` a recording may ask for (`grpc.limits.recording_max_duration`).
pub const DEFAULT_RECORDING_MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// The limits in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_request_bytes: usize,
    pub max_subscribers: usize,
    pub max_subscribers_per_identity: usize,
    pub subscriber_queue: usize,
    pub max_subscriber_queue: usize,
    pub subscriber_queue_bytes: usize,
    pub total_queue_bytes: usize,
    pub max_filter_values: usize,
    pub max_string_bytes: usize,
    pub max_selector_bytes: usize,
    pub max_recordings: usize,
    pub recording_default_duration: Duration,
    pub recording_max_duration: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
            max_subscribers_per_identity: DEFAULT_MAX_SUBSCRIBERS_PER_IDENTITY,
            subscriber_queue: DEFAULT_SUBSCRIBER_QUEUE,
            max_subscriber_queue: DEFAULT_MAX_SUBSCRIBER_QUEUE,
            subscriber_queue_bytes: DEFAULT_SUBSCRIBER_QUEUE_BYTES,
            total_queue_bytes: DEFAULT_TOTAL_QUEUE_BYTES,
            max_filter_values: DEFAULT_MAX_FILTER_VALUES,
            max_string_bytes: DEFAULT_MAX_STRING_BYTES,
            max_selector_bytes: DEFAULT_MAX_SELECTOR_BYTES,
            max_recordings: DEFAULT_MAX_RECORDINGS,
            recording_default_duration: DEFAULT_RECORDING_DURATION,
            recording_max_duration: DEFAULT_RECORDING_MAX_DURATION,
        }
    }
}

impl Limits {
    /// A subscription's size: how many values each filter has and how long each string is.
    /// Checked before the filter is compiled, so no work is done on an oversized one, and the
    /// refusal never echoes the oversized value.
    pub fn check_subscribe(&self, request: &api::SubscribeRequest) -> Result<(), Status> {
        for (field, values) in [
            ("rules", &request.rules),
            ("tags", &request.tags),
            ("namespaces", &request.namespaces),
            ("container_ids", &request.container_ids),
        ] {
            self.check_values(field, values)?;
        }
        self.check_string("client_name", &request.client_name)?;
        check_bytes(
            "pod_selector",
            &request.pod_selector,
            self.max_selector_bytes,
            "grpc.limits.max_selector_bytes",
        )
    }

    /// A recording request's size: its name, container ids and pod uid.
    pub fn check_recording(
        &self,
        request: &api::StartProfileRecordingRequest,
    ) -> Result<(), Status> {
        self.check_string("name", &request.name)?;
        self.check_values("container_ids", &request.container_ids)?;
        self.check_string("pod_uid", &request.pod_uid)
    }

    /// The time limit of a recording that asks for `asked` (None or zero: the default).
    pub fn recording_duration(
        &self,
        asked: Option<&prost_types::Duration>,
    ) -> Result<Duration, Status> {
        let asked = match asked {
            None => return Ok(self.recording_default_duration),
            Some(d) if d.seconds == 0 && d.nanos == 0 => return Ok(self.recording_default_duration),
            Some(d) => d,
        };
        let duration = Duration::try_from(*asked).map_err(|_| {
            Status::invalid_argument(format!(
                "max_duration: {}s {}ns is not a duration (it must be positive)",
                asked.seconds, asked.nanos
            ))
        })?;
        if duration > self.recording_max_duration {
            return Err(Status::invalid_argument(format!(
                "max_duration: {} is longer than the limit of {} (grpc.limits.recording_max_duration)",
                humantime::format_duration(duration),
                humantime::format_duration(self.recording_max_duration)
            )));
        }
        Ok(duration)
    }

    fn check_values(&self, field: &str, values: &[String]) -> Result<(), Status> {
        if values.len() > self.max_filter_values {
            return Err(Status::invalid_argument(format!(
                "{field}: {} values, more than the limit of {} (grpc.limits.max_filter_values)",
                values.len(),
                self.max_filter_values
            )));
        }
        for (i, value) in values.iter().enumerate() {
            self.check_string(&format!("{field}[{i}]"), value)?;
        }
        Ok(())
    }

    fn check_string(&self, field: &str, value: &str) -> Result<(), Status> {
        check_bytes(
            field,
            value,
            self.max_string_bytes,
            "grpc.limits.max_string_bytes",
        )
    }
}

fn check_bytes(field: &str, value: &str, limit: usize, key: &str) -> Result<(), Status> {
    if value.len() > limit {
        return Err(Status::invalid_argument(format!(
            "{field}: {} bytes, longer than the limit of {limit} bytes ({key})",
            value.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_subscriptions_name_the_field_and_the_limit() {
        let limits = Limits::default();
        assert!(limits
            .check_subscribe(&api::SubscribeRequest::default())
            .is_ok());
        let many = api::SubscribeRequest {
            rules: vec!["r".into(); 10_000],
            ..Default::default()
        };
        let e = limits.check_subscribe(&many).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            e.message(),
            "rules: 10000 values, more than the limit of 256 (grpc.limits.max_filter_values)"
        );
        let long = api::SubscribeRequest {
            tags: vec!["ok".into(), "t".repeat(513)],
            ..Default::default()
        };
        assert_eq!(
            limits.check_subscribe(&long).unwrap_err().message(),
            "tags[1]: 513 bytes, longer than the limit of 512 bytes (grpc.limits.max_string_bytes)"
        );
        let selector = api::SubscribeRequest {
            pod_selector: "a".repeat(1 << 20),
            ..Default::default()
        };
        assert_eq!(
            limits.check_subscribe(&selector).unwrap_err().message(),
            "pod_selector: 1048576 bytes, longer than the limit of 4096 bytes (grpc.limits.max_selector_bytes)"
        );
    }

    #[test]
    fn recordings_get_the_default_duration_and_at_most_the_cap() {
        let limits = Limits::default();
        assert_eq!(
            limits.recording_duration(None).unwrap(),
            DEFAULT_RECORDING_DURATION
        );
        let zero = prost_types::Duration::default();
        assert_eq!(
            limits.recording_duration(Some(&zero)).unwrap(),
            DEFAULT_RECORDING_DURATION
        );
        let ten = prost_types::Duration {
            seconds: 10,
            nanos: 0,
        };
        assert_eq!(
            limits.recording_duration(Some(&ten)).unwrap(),
            Duration::from_secs(10)
        );
        let week = prost_types::Duration {
            seconds: 7 * 24 * 3600,
            nanos: 0,
        };
        let e = limits.recording_duration(Some(&week)).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            e.message(),
            "max_duration: 7days is longer than the limit of 1day (grpc.limits.recording_max_duration)"
        );
        let negative = prost_types::Duration {
            seconds: -1,
            nanos: 0,
        };
        assert!(limits.recording_duration(Some(&negative)).is_err());
        let request = api::StartProfileRecordingRequest {
            name: "n".repeat(600),
            ..Default::default()
        };
        assert!(limits
            .check_recording(&request)
            .unwrap_err()
            .message()
            .starts_with("name: 600 bytes"));
    }
}
