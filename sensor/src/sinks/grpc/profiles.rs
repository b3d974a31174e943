//! The profile recording calls of `sensor.v1.Sensor`: daemon-mode recordings of running
//! containers and pods, ended with their seccomp and AppArmor profiles. Their time limits
//! and how many may run are kept by `super::recording_book`, which calls these.

use sensor_api::v1 as api;
use tonic::Status;

use crate::profile::{
    apparmor, base, cgroup, seccomp, spo, RecordOptions, RecorderError, Recording, Recordings,
};

fn status_of(e: RecorderError) -> Status {
    match e {
        RecorderError::NoSuchRecording(..) => Status::not_found(e.to_string()),
        RecorderError::AlreadyRecording(_) | RecorderError::CgroupTaken { .. } => {
            Status::already_exists(e.to_string())
        }
        RecorderError::NoCgroups
        | RecorderError::TooManyCgroups
        | RecorderError::InvalidName(_) => Status::invalid_argument(e.to_string()),
        other => Status::internal(other.to_string()),
    }
}

pub fn message(name: &str, recording: &Recording) -> api::ProfileRecording {
    api::ProfileRecording {
        name: name.to_string(),
        cgroup_ids: recording.cgroups.clone(),
        syscalls: recording.syscalls.iter().cloned().collect(),
        processes: recording.processes,
        executables: recording.apparmor.executables.iter().cloned().collect(),
        duration: Some(prost_types::Duration {
            seconds: recording.duration.as_secs() as i64,
            nanos: recording.duration.subsec_nanos() as i32,
        }),
        unrecorded_compat_processes: recording.unrecorded_compat_processes,
        warnings: recording.warnings(),
        max_duration: None,
        expired: false,
    }
}

/// Starts recording the request's containers (its size and time limit already checked).
pub fn start(
    recordings: &Recordings,
    request: &api::StartProfileRecordingRequest,
) -> Result<api::ProfileRecording, Status> {
    if request.name.is_empty() {
        return Err(Status::invalid_argument("name: a recording needs a name"));
    }
    let mut cgroups = Vec::new();
    for id in &request.container_ids {
        let found = cgroup::container_cgroups(id)
            .map_err(|e| Status::not_found(format!("container_ids: {id}: {e}")))?;
        cgroups.extend(found);
    }
    if !request.pod_uid.is_empty() {
        let found = cgroup::pod_cgroups(&request.pod_uid)
            .map_err(|e| Status::not_found(format!("pod_uid: {}: {e}", request.pod_uid)))?;
        cgroups.extend(found);
    }
    if cgroups.is_empty() {
        return Err(Status::invalid_argument(
            "give container_ids or pod_uid: the containers to record",
        ));
    }
    cgroups.sort_unstable();
    cgroups.dedup();
    recordings
        .start(
            &request.name,
            &cgroups,
            RecordOptions {
                compat: request.compat,
            },
        )
        .map_err(status_of)?;
    tracing::info!(name = request.name, ?cgroups, "profile recording started");
    get(recordings, &request.name)
}

pub fn get(recordings: &Recordings, name: &str) -> Result<api::ProfileRecording, Status> {
    let status = recordings.get(name).map_err(status_of)?;
    Ok(message(name, &status.recording))
}

/// Stops a running recording.
pub fn stop(recordings: &Recordings, name: &str) -> Result<Recording, Status> {
    let recording = recordings.stop(name).map_err(status_of)?;
    tracing::info!(
        name,
        syscalls = recording.syscalls.len(),
        "profile recording stopped"
    );
    Ok(recording)
}

/// A stopped recording's profiles, as the request asks for them.
pub fn result(
    request: &api::StopProfileRecordingRequest,
    recording: &Recording,
) -> api::ProfileRecordingResult {
    let mut syscalls = recording.syscalls.clone();
    if !request.no_base {
        syscalls.extend(base::runtime());
    }
    let mode = if request.log_mode {
        seccomp::Mode::Log
    } else {
        seccomp::Mode::Enforce
    };
    let profile = seccomp::SeccompProfile::generate(&syscalls, mode);
    let namespace = (!request.namespace.is_empty()).then_some(request.namespace.as_str());
    api::ProfileRecordingResult {
        recording: Some(message(&request.name, recording)),
        seccomp_json: profile.to_json(),
        seccomp_profile_manifest: spo::to_yaml(&spo::seccomp_profile(
            &request.name,
            namespace,
            &profile,
        )),
        apparmor_profile_manifest: spo::to_yaml(&spo::apparmor_profile(&request.name, recording)),
        apparmor_profile: apparmor::profile(recording, &spo::object_name(&request.name)),
    }
}
