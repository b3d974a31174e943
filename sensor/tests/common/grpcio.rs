//! The Python grpcio client's interpreter: the virtualenv `cargo xtask setup` installs.

use std::path::PathBuf;

/// The grpcio version `cargo xtask setup` installs (xtask/src/setup.rs, GRPCIO_VERSION).
pub const GRPCIO_VERSION: &str = "1.85.1";

/// Its python, at the path `cargo xtask setup` uses (`SENSOR_GRPCIO_DIR` overrides both).
pub fn grpcio_python() -> PathBuf {
    let dir = std::env::var_os("SENSOR_GRPCIO_DIR").map_or_else(
        || {
            std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("/root"), PathBuf::from)
                .join(format!(".local/share/sensor/grpcio-{GRPCIO_VERSION}"))
        },
        PathBuf::from,
    );
    let python = dir.join("bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `cargo xtask setup` (it installs grpcio and grpcio-tools there)",
        python.display()
    );
    python
}
