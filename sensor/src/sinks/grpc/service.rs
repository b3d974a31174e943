//! The `sensor.v1.Sensor` service: Subscribe, Status and ListRules.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use sensor_api::v1 as api;
use tonic::{Request, Response, Status};

use crate::rules::LiveRules;
use crate::sinks::filter::AlertFilter;
use crate::sinks::hub::{AlertHub, Delivery, Queued, Subscriber, SubscriberInfo};
use crate::sinks::record::priority_to_proto;
use crate::telemetry::Telemetry;

/// What the service reads: shared with the pipeline thread.
#[derive(Clone)]
pub struct SensorService {
    pub hub: Arc<AlertHub>,
    pub rules: Arc<LiveRules>,
    pub telemetry: Arc<Telemetry>,
    /// Queue size for a subscriber that asks for none, and the most one may ask for.
    pub default_queue: usize,
    pub max_queue: usize,
    /// Daemon-mode profile recording, once the probe is loaded.
    pub recordings: Arc<std::sync::OnceLock<crate::profile::Recordings>>,
}

type AlertStream = Pin<Box<dyn Stream<Item = Result<api::SubscribeResponse, Status>> + Send>>;

/// What a subscription streams: an alert, which the Subscribe route writes as its shared
/// pre-encoded bytes (`super::subscribe`), or a message of its own (DropNotice, Goodbye).
pub enum Streamed {
    Alert(Arc<Queued>),
    Message(Box<api::SubscribeResponse>),
}

/// Unsubscribes when the stream is dropped: the client went away or the sensor stopped.
struct Subscription {
    hub: Arc<AlertHub>,
    subscriber: Arc<Subscriber>,
    pending: VecDeque<Arc<Queued>>,
    done: bool,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.subscriber.id);
        tracing::info!(
            id = self.subscriber.id,
            client = self.subscriber.info.client_name,
            peer = self.subscriber.info.peer,
            sent = self.subscriber.sent.load(Ordering::Relaxed),
            dropped = self.subscriber.dropped.load(Ordering::Relaxed),
            "subscriber gone"
        );
    }
}

fn message(message: api::subscribe_response::Message) -> api::SubscribeResponse {
    api::SubscribeResponse {
        message: Some(message),
    }
}

/// Who is calling: the TCP peer, or the Unix socket peer's pid and uid.
fn peer<T>(request: &Request<T>) -> String {
    if let Some(addr) = request.remote_addr() {
        return addr.to_string();
    }
    match request
        .extensions()
        .get::<tonic::transport::server::UdsConnectInfo>()
        .and_then(|info| info.peer_cred)
    {
        Some(cred) => format!(
            "unix(pid={},uid={})",
            cred.pid()
                .map_or_else(|| "?".to_string(), |p| p.to_string()),
            cred.uid()
        ),
        None => "unix".to_string(),
    }
}

#[tonic::async_trait]
impl api::sensor_server::Sensor for SensorService {
    type SubscribeStream = AlertStream;

    /// Served by `super::subscribe::SensorRouter` in the server; this (each alert cloned and
    /// encoded per subscriber) only if the generated server is used on its own.
    async fn subscribe(
        &self,
        request: Request<api::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        use api::subscribe_response::Message;
        let stream = self.open_subscription(request)?.map(|item| {
            Ok(match item {
                Streamed::Alert(queued) => message(Message::Alert(queued.record.proto.clone())),
                Streamed::Message(m) => *m,
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn status(
        &self,
        _request: Request<api::StatusRequest>,
    ) -> Result<Response<api::StatusResponse>, Status> {
        Ok(Response::new(self.status_now()))
    }

    async fn list_rules(
        &self,
        _request: Request<api::ListRulesRequest>,
    ) -> Result<Response<api::ListRulesResponse>, Status> {
        let ruleset = self.rules.current();
        let rules = ruleset
            .rules()
            .iter()
            .map(|r| api::Rule {
                name: r.name().to_string(),
                description: r.description().to_string(),
                priority: priority_to_proto(r.priority()) as i32,
                tags: r.tags().to_vec(),
                source: r.source().to_string(),
                event_types: r.event_types().iter().map(|t| t.to_string()).collect(),
                enabled: r.enabled(),
            })
            .collect();
        Ok(Response::new(api::ListRulesResponse { rules }))
    }

    async fn start_profile_recording(
        &self,
        request: Request<api::StartProfileRecordingRequest>,
    ) -> Result<Response<api::ProfileRecording>, Status> {
        let recordings = self.recordings()?.clone();
        let request = request.into_inner();
        // Walking the cgroup tree and attaching the recorder block: off the async workers.
        tokio::task::spawn_blocking(move || super::profiles::start(&recordings, &request))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map(Response::new)
    }

    async fn get_profile_recording(
        &self,
        request: Request<api::GetProfileRecordingRequest>,
    ) -> Result<Response<api::ProfileRecording>, Status> {
        super::profiles::get(self.recordings()?, &request.into_inner().name).map(Response::new)
    }

    async fn stop_profile_recording(
        &self,
        request: Request<api::StopProfileRecordingRequest>,
    ) -> Result<Response<api::ProfileRecordingResult>, Status> {
        let recordings = self.recordings()?.clone();
        let request = request.into_inner();
        tokio::task::spawn_blocking(move || super::profiles::stop(&recordings, &request))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map(Response::new)
    }

    async fn list_profile_recordings(
        &self,
        _request: Request<api::ListProfileRecordingsRequest>,
    ) -> Result<Response<api::ListProfileRecordingsResponse>, Status> {
        Ok(Response::new(api::ListProfileRecordingsResponse {
            names: self.recordings()?.list(),
        }))
    }
}

impl SensorService {
    /// Registers a subscriber and returns what its stream delivers; unsubscribes when the
    /// stream is dropped.
    pub(super) fn open_subscription(
        &self,
        request: Request<api::SubscribeRequest>,
    ) -> Result<impl Stream<Item = Streamed> + Send + 'static, Status> {
        let peer = peer(&request);
        let body = request.into_inner();
        let filter =
            AlertFilter::new(&body).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let capacity = match body.queue_size {
            0 => self.default_queue,
            n => (n as usize).min(self.max_queue),
        };
        let info = SubscriberInfo {
            client_name: body.client_name.clone(),
            peer,
            request: body,
        };
        let subscriber = self
            .hub
            .subscribe(info, filter, capacity)
            .ok_or_else(|| Status::unavailable("the sensor is shutting down"))?;
        tracing::info!(
            id = subscriber.id,
            client = subscriber.info.client_name,
            peer = subscriber.info.peer,
            queue = capacity,
            "subscriber connected"
        );
        let state = Subscription {
            hub: self.hub.clone(),
            subscriber,
            pending: VecDeque::new(),
            done: false,
        };
        let stream = futures::stream::unfold(state, |mut state| async move {
            use api::subscribe_response::Message;
            if state.done {
                return None;
            }
            loop {
                if let Some(queued) = state.pending.pop_front() {
                    state.subscriber.count_sent(1);
                    return Some((Streamed::Alert(queued), state));
                }
                match state.subscriber.next().await {
                    Delivery::Alerts(batch) => state.pending = batch,
                    Delivery::Dropped {
                        dropped,
                        dropped_total,
                    } => {
                        let notice = Message::DropNotice(api::DropNotice {
                            dropped,
                            dropped_total,
                        });
                        return Some((Streamed::Message(Box::new(message(notice))), state));
                    }
                    Delivery::Closed { reason } => {
                        state.done = true;
                        let goodbye = Message::Goodbye(api::Goodbye {
                            reason,
                            alerts_sent: state.subscriber.sent.load(Ordering::Relaxed),
                            alerts_dropped: state.subscriber.dropped.load(Ordering::Relaxed),
                        });
                        return Some((Streamed::Message(Box::new(message(goodbye))), state));
                    }
                }
            }
        });
        Ok(stream)
    }

    fn recordings(&self) -> Result<&crate::profile::Recordings, Status> {
        self.recordings
            .get()
            .ok_or_else(|| Status::unavailable("the eBPF programs are still loading; retry"))
    }

    pub fn status_now(&self) -> api::StatusResponse {
        let stats = self.telemetry.pipeline();
        let uptime = self.telemetry.uptime();
        let subscribers = self
            .hub
            .subscribers()
            .iter()
            .map(|s| api::SubscriberStatus {
                id: s.id,
                client_name: s.info.client_name.clone(),
                peer: s.info.peer.clone(),
                since: Some(s.since.into()),
                alerts_sent: s.sent.load(Ordering::Relaxed),
                alerts_dropped: s.dropped.load(Ordering::Relaxed),
                queued: s.queued() as u32,
                queue_size: s.capacity as u32,
                filter: Some(s.info.request.clone()),
            })
            .collect();
        api::StatusResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime: Some(prost_types::Duration {
                seconds: uptime.as_secs() as i64,
                nanos: uptime.subsec_nanos() as i32,
            }),
            kernel: kernel_release(),
            hostname: crate::rules::alerts::hostname(),
            rules_loaded: self.rules.current().len() as u32,
            rules_reloads: self.rules.metrics.reloads.load(Ordering::Relaxed),
            rules_reload_failures: self.rules.metrics.failures.load(Ordering::Relaxed),
            events_seen: stats.events,
            events_lost: stats.loss.total(),
            alerts_total: self.telemetry.alerts_total.load(Ordering::Relaxed),
            subscribers,
            alerts_deduplicated: self.telemetry.alerts_deduplicated.load(Ordering::Relaxed),
            alerts_rate_limited: self.telemetry.alerts_rate_limited.load(Ordering::Relaxed),
        }
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_default()
}
