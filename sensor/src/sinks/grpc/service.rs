//! The `sensor.v1.Sensor` service: Subscribe, Status and ListRules, and the profile recording
//! calls (`super::recording_book`). Who may call each is decided before a call gets here
//! (`super::gate`); the methods read the authorized caller for what depends on who it is.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use sensor_api::v1 as api;
use tonic::{Request, Response, Status};

use super::access::Role;
use super::gate::caller;
use super::limits::Limits;
use super::recording_book::RecordingBook;
use crate::rules::LiveRules;
use crate::sinks::filter::AlertFilter;
use crate::sinks::hub::{
    AlertHub, Delivery, Queued, SubscribeRefused, Subscriber, SubscriberCaps, SubscriberInfo,
};
use crate::sinks::record::priority_to_proto;
use crate::telemetry::Telemetry;

/// What the service reads: shared with the pipeline thread.
#[derive(Clone)]
pub struct SensorService {
    pub hub: Arc<AlertHub>,
    pub rules: Arc<LiveRules>,
    pub telemetry: Arc<Telemetry>,
    /// Every bound on what callers may ask (queue sizes among them).
    pub limits: Arc<Limits>,
    /// Daemon-mode profile recording, once the probe is loaded.
    pub recordings: Arc<std::sync::OnceLock<crate::profile::Recordings>>,
    /// The time limits of recordings started through the API.
    pub book: RecordingBook,
}

impl SensorService {
    pub fn new(
        hub: Arc<AlertHub>,
        rules: Arc<LiveRules>,
        telemetry: Arc<Telemetry>,
        limits: Limits,
    ) -> Self {
        Self {
            hub,
            rules,
            telemetry,
            limits: Arc::new(limits),
            recordings: Default::default(),
            book: RecordingBook::default(),
        }
    }
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
        request: Request<api::StatusRequest>,
    ) -> Result<Response<api::StatusResponse>, Status> {
        let caller = caller(&request)?;
        // Others' filters and peers are theirs: only control sees every subscriber.
        let mut status =
            self.status_now(|s| caller.role >= Role::Control || s.info.identity == caller.identity);
        status.caller = caller.identity.to_string();
        status.caller_role = match caller.role {
            Role::Read => api::Role::Read,
            Role::Control => api::Role::Control,
        } as i32;
        Ok(Response::new(status))
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
        let (recordings, book, limits) = self.recording_parts()?;
        let request = request.into_inner();
        let runtime = tokio::runtime::Handle::current();
        // Walking the cgroup tree and attaching the recorder block: off the async workers.
        blocking(move || book.start(&recordings, &request, &limits, &runtime)).await
    }

    async fn get_profile_recording(
        &self,
        request: Request<api::GetProfileRecordingRequest>,
    ) -> Result<Response<api::ProfileRecording>, Status> {
        let (recordings, book, _) = self.recording_parts()?;
        let name = request.into_inner().name;
        // The book's lock may be held by a start that is attaching programs.
        blocking(move || book.get(&recordings, &name)).await
    }

    async fn stop_profile_recording(
        &self,
        request: Request<api::StopProfileRecordingRequest>,
    ) -> Result<Response<api::ProfileRecordingResult>, Status> {
        let (recordings, book, _) = self.recording_parts()?;
        let request = request.into_inner();
        blocking(move || book.stop(&recordings, &request)).await
    }

    async fn list_profile_recordings(
        &self,
        _request: Request<api::ListProfileRecordingsRequest>,
    ) -> Result<Response<api::ListProfileRecordingsResponse>, Status> {
        let (recordings, book, _) = self.recording_parts()?;
        blocking(move || Ok(book.list(&recordings))).await
    }
}

/// Runs a recording call on the blocking pool.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<Response<T>, Status> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map(Response::new)
}

impl SensorService {
    /// Registers a subscriber and returns what its stream delivers; unsubscribes when the
    /// stream is dropped.
    pub(super) fn open_subscription(
        &self,
        request: Request<api::SubscribeRequest>,
    ) -> Result<impl Stream<Item = Streamed> + Send + 'static, Status> {
        let caller = caller(&request)?.clone();
        let body = request.into_inner();
        let limits = &self.limits;
        limits.check_subscribe(&body)?;
        let filter =
            AlertFilter::new(&body).map_err(|e| Status::invalid_argument(e.to_string()))?;
        // A larger queue than the maximum is capped, as the API documents, not refused.
        let capacity = match body.queue_size {
            0 => limits.subscriber_queue,
            n => (n as usize).min(limits.max_subscriber_queue),
        };
        let info = SubscriberInfo {
            client_name: body.client_name.clone(),
            peer: caller.peer.clone(),
            identity: caller.identity.clone(),
            request: body,
        };
        let caps = SubscriberCaps {
            total: limits.max_subscribers,
            per_identity: limits.max_subscribers_per_identity,
            queue_bytes: limits.subscriber_queue_bytes,
            total_queue_bytes: limits.total_queue_bytes,
        };
        let subscriber = self
            .hub
            .subscribe(info, filter, capacity, caps)
            .map_err(|refused| match refused {
                SubscribeRefused::Closed => Status::unavailable(refused.to_string()),
                SubscribeRefused::Full { .. } | SubscribeRefused::FullForIdentity { .. } => {
                    tracing::warn!(caller = %caller.identity, peer = caller.peer, "subscriber refused: {refused}");
                    Status::resource_exhausted(refused.to_string())
                }
            })?;
        tracing::info!(
            id = subscriber.id,
            client = subscriber.info.client_name,
            peer = subscriber.info.peer,
            caller = %subscriber.info.identity,
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

    /// What a recording call works with: the recorder (once the probe is loaded), the book
    /// of time limits, and the limits.
    fn recording_parts(
        &self,
    ) -> Result<(crate::profile::Recordings, RecordingBook, Arc<Limits>), Status> {
        let recordings = self
            .recordings
            .get()
            .ok_or_else(|| Status::unavailable("the eBPF programs are still loading; retry"))?;
        Ok((recordings.clone(), self.book.clone(), self.limits.clone()))
    }

    /// The sensor's status now, listing the subscribers `visible` keeps.
    pub fn status_now(&self, visible: impl Fn(&Subscriber) -> bool) -> api::StatusResponse {
        let stats = self.telemetry.pipeline();
        let uptime = self.telemetry.uptime();
        let subscribers = self
            .hub
            .subscribers()
            .iter()
            .filter(|s| visible(s))
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
                identity: s.info.identity.to_string(),
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
            caller: String::new(),
            caller_role: api::Role::Unspecified as i32,
            compat_abi: stats.compat.map(|c| api::CompatAbiStatus {
                traced: c.enabled,
                attached: c.attached,
                processes_held_at_exec: c.continued,
                ia32_emulation: c.ia32_emulation.as_str().to_string(),
                uncovered: c.uncovered().to_string(),
            }),
            events_filtered_in_kernel: stats
                .filtered
                .iter()
                .map(|(t, n)| (t.to_string(), *n))
                .collect(),
        }
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_default()
}
