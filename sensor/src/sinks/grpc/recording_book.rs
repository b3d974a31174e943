//! The bounds on recordings started through the API: how many run at once
//! (`grpc.limits.max_recordings`) and how long each may run (its `max_duration`, by default
//! `grpc.limits.recording_default_duration`, at most `grpc.limits.recording_max_duration`).
//!
//! A recording keeps programs attached to the node's syscalls, which every process pays for,
//! so one that nobody stops must not run forever. At its time limit the sensor stops it
//! itself; what it recorded is kept (at most `max_recordings` such results, the oldest
//! dropped first) until StopProfileRecording collects it, marked `expired` and with a warning,
//! so the profile of a recording that ran out is not lost.
//!
//! Every call here may walk cgroups or attach programs: the caller runs it off the async
//! workers (`spawn_blocking`). One lock orders starts, stops and expiries, so a timer never
//! stops a later recording of the same name and a start cannot slip past the cap.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sensor_api::v1 as api;
use tonic::Status;

use super::limits::Limits;
use super::profiles;
use crate::profile::{Recording, Recordings};

#[derive(Clone, Default)]
pub struct RecordingBook {
    inner: Arc<Mutex<Book>>,
}

#[derive(Default)]
struct Book {
    /// Running recordings: their time limit, and the token of the start that set it.
    running: HashMap<String, Timed>,
    /// Recordings stopped at their time limit, oldest first, until collected.
    expired: VecDeque<Expired>,
    next_token: u64,
}

struct Timed {
    token: u64,
    max_duration: Duration,
}

struct Expired {
    name: String,
    recording: Recording,
    max_duration: Duration,
}

fn proto_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

fn expired_warning(max_duration: Duration) -> String {
    format!(
        "the sensor stopped this recording at its time limit ({}, max_duration): the profile \
         covers only that time; record again with a longer max_duration if the workload does \
         more later",
        humantime::format_duration(max_duration)
    )
}

impl Expired {
    fn message(&self) -> api::ProfileRecording {
        let mut message = profiles::message(&self.name, &self.recording);
        message.max_duration = Some(proto_duration(self.max_duration));
        message.expired = true;
        message.warnings.push(expired_warning(self.max_duration));
        message
    }
}

impl RecordingBook {
    fn lock(&self) -> MutexGuard<'_, Book> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a recording within the limits; `runtime` runs its timer.
    pub fn start(
        &self,
        recordings: &Recordings,
        request: &api::StartProfileRecordingRequest,
        limits: &Limits,
        runtime: &tokio::runtime::Handle,
    ) -> Result<api::ProfileRecording, Status> {
        limits.check_recording(request)?;
        let max_duration = limits.recording_duration(request.max_duration.as_ref())?;
        let mut book = self.lock();
        let running = recordings.list();
        if running.len() >= limits.max_recordings {
            return Err(Status::resource_exhausted(format!(
                "{} recordings are running, the limit (grpc.limits.max_recordings); stop one \
                 first (running: {})",
                running.len(),
                running.join(", ")
            )));
        }
        let mut message = profiles::start(recordings, request)?;
        let name = request.name.clone();
        // A new recording of a name replaces the uncollected result of an old one.
        book.expired.retain(|e| e.name != name);
        book.next_token += 1;
        let token = book.next_token;
        book.running.insert(
            name.clone(),
            Timed {
                token,
                max_duration,
            },
        );
        let (book_handle, recordings) = (self.clone(), recordings.clone());
        let max_expired = limits.max_recordings;
        runtime.spawn(async move {
            tokio::time::sleep(max_duration).await;
            let expire = move || book_handle.expire(&recordings, &name, token, max_expired);
            if let Err(e) = tokio::task::spawn_blocking(expire).await {
                tracing::error!("stopping a recording at its time limit failed: {e}");
            }
        });
        message.max_duration = Some(proto_duration(max_duration));
        Ok(message)
    }

    /// A running recording so far, or one stopped at its time limit.
    pub fn get(
        &self,
        recordings: &Recordings,
        name: &str,
    ) -> Result<api::ProfileRecording, Status> {
        let book = self.lock();
        if let Some(expired) = book.expired.iter().find(|e| e.name == name) {
            return Ok(expired.message());
        }
        let mut message = profiles::get(recordings, name)?;
        message.max_duration = book
            .running
            .get(name)
            .map(|t| proto_duration(t.max_duration));
        Ok(message)
    }

    /// Stops a recording (or collects one stopped at its time limit) and returns its profiles.
    pub fn stop(
        &self,
        recordings: &Recordings,
        request: &api::StopProfileRecordingRequest,
    ) -> Result<api::ProfileRecordingResult, Status> {
        let mut book = self.lock();
        let collected = (book.expired.iter())
            .position(|e| e.name == request.name)
            .and_then(|at| book.expired.remove(at));
        if let Some(expired) = collected {
            let mut result = profiles::result(request, &expired.recording);
            result.recording = Some(expired.message());
            return Ok(result);
        }
        let recording = profiles::stop(recordings, &request.name)?;
        let max_duration = book
            .running
            .remove(&request.name)
            .map(|t| proto_duration(t.max_duration));
        let mut result = profiles::result(request, &recording);
        if let Some(message) = &mut result.recording {
            message.max_duration = max_duration;
        }
        Ok(result)
    }

    /// The running recordings, and those stopped at their time limit not yet collected.
    pub fn list(&self, recordings: &Recordings) -> api::ListProfileRecordingsResponse {
        let book = self.lock();
        api::ListProfileRecordingsResponse {
            names: recordings.list(),
            expired: book.expired.iter().map(|e| e.name.clone()).collect(),
        }
    }

    /// The timer of the start with `token`: stops the recording unless it was stopped (and
    /// perhaps started again) meanwhile.
    fn expire(&self, recordings: &Recordings, name: &str, token: u64, max_expired: usize) {
        let mut book = self.lock();
        let Some(timed) = book.running.get(name).filter(|t| t.token == token) else {
            return;
        };
        let max_duration = timed.max_duration;
        book.running.remove(name);
        let recording = match profiles::stop(recordings, name) {
            Ok(recording) => recording,
            Err(e) => {
                tracing::warn!(
                    name,
                    "a recording at its time limit could not be stopped: {}",
                    e.message()
                );
                return;
            }
        };
        tracing::warn!(
            name,
            max_duration = %humantime::format_duration(max_duration),
            "profile recording stopped at its time limit; StopProfileRecording returns its profiles"
        );
        if book.expired.len() >= max_expired.max(1) {
            if let Some(dropped) = book.expired.pop_front() {
                tracing::warn!(
                    name = dropped.name,
                    "dropping the uncollected result of a recording stopped at its time limit"
                );
            }
        }
        book.expired.push_back(Expired {
            name: name.to_string(),
            recording,
            max_duration,
        });
    }
}
