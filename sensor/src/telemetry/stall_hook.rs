//! A test hook that stalls the pipeline thread on purpose, so tests can prove that `/healthz`
//! notices a stall and that a ring-buffer overflow raises the drop alert.
//!
//! Only debug builds honour it (the integration tests run the debug binary); a release
//! build compiles it to nothing, so nobody can stall a production sensor with it. Even in a
//! debug build it is the sensor's own environment (`SENSOR_TEST_STALL_WHILE=PATH`, set by
//! whoever starts the sensor, never by an observed process) that names the file: while that
//! file exists, the pipeline thread waits before its next read.

#[cfg(debug_assertions)]
pub fn hold() {
    use std::sync::OnceLock;
    static PATH: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    let Some(path) =
        PATH.get_or_init(|| std::env::var_os("SENSOR_TEST_STALL_WHILE").map(Into::into))
    else {
        return;
    };
    if !path.exists() {
        return;
    }
    tracing::warn!(path = %path.display(), "test hook: the pipeline is stalled while this file exists");
    while path.exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    tracing::warn!("test hook: the pipeline goes on");
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn hold() {}
