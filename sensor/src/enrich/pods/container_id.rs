//! Container ids as the Kubernetes API reports them (`<runtime>://<64 hex>`) and as the sensor
//! sees them (the bare id, or its 12-character short form).

/// Length of the short id (`container.id` in Falco's fields): the key of the cache's map.
pub const SHORT_ID_LEN: usize = 12;

/// The bare id of a `status.containerStatuses[].containerID`: strips `containerd://`,
/// `cri-o://`, `docker://` (any `<scheme>://`). `None` for an empty id (a container that has
/// not started yet).
pub fn strip_runtime_prefix(id: &str) -> Option<&str> {
    let bare = match id.find("://") {
        Some(i) => &id[i + 3..],
        None => id,
    };
    let bare = bare.trim();
    (!bare.is_empty()).then_some(bare)
}

/// The map key for an id: its first 12 characters (or all of a shorter id).
pub fn short_key(id: &str) -> &str {
    match id.get(..SHORT_ID_LEN) {
        Some(short) => short,
        None => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4b2c1d0e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c";

    #[test]
    fn strips_runtime_prefixes() {
        for prefix in ["containerd://", "cri-o://", "docker://", "podman://", ""] {
            assert_eq!(strip_runtime_prefix(&format!("{prefix}{ID}")), Some(ID));
        }
        assert_eq!(strip_runtime_prefix(""), None);
        assert_eq!(strip_runtime_prefix("containerd://"), None);
    }

    #[test]
    fn short_key_is_the_first_12_characters() {
        assert_eq!(short_key(ID), "3f4b2c1d0e9a");
        assert_eq!(short_key("3f4b2c1d0e9a"), "3f4b2c1d0e9a");
        assert_eq!(short_key("abc"), "abc");
    }
}
