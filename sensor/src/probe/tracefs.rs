//! tracefs: where tracepoints are found. Mounted by the sensor when the node has not.

use std::path::Path;

pub const TRACEFS: &str = "/sys/kernel/tracing";

#[derive(Debug, thiserror::Error)]
pub enum TracefsError {
    #[error("tracefs is not mounted at {TRACEFS} and mounting it failed ({0}); mount it with `mount -t tracefs nodev {TRACEFS}` or give the sensor CAP_SYS_ADMIN")]
    Mount(std::io::Error),
}

/// Makes sure tracefs is mounted (at /sys/kernel/tracing or under debugfs).
pub fn ensure_mounted() -> Result<(), TracefsError> {
    if Path::new(TRACEFS).join("events").is_dir()
        || Path::new("/sys/kernel/debug/tracing/events").is_dir()
    {
        return Ok(());
    }
    let target = std::ffi::CString::new(TRACEFS).expect("static path");
    let fstype = std::ffi::CString::new("tracefs").expect("static");
    let source = std::ffi::CString::new("nodev").expect("static");
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(TracefsError::Mount(std::io::Error::last_os_error()));
    }
    tracing::info!(path = TRACEFS, "mounted tracefs");
    Ok(())
}

/// Whether `category/name` is a tracepoint on this kernel.
pub fn exists(category: &str, name: &str) -> bool {
    [TRACEFS, "/sys/kernel/debug/tracing"].iter().any(|root| {
        Path::new(root)
            .join("events")
            .join(category)
            .join(name)
            .is_dir()
    })
}

/// Offset of `field` in a tracepoint's record, from its tracefs `format` file.
pub fn field_offset(category: &str, name: &str, field: &str) -> Option<u32> {
    let format = [TRACEFS, "/sys/kernel/debug/tracing"]
        .iter()
        .find_map(|root| {
            std::fs::read_to_string(
                Path::new(root)
                    .join("events")
                    .join(category)
                    .join(name)
                    .join("format"),
            )
            .ok()
        })?;
    parse_field_offset(&format, field)
}

fn parse_field_offset(format: &str, field: &str) -> Option<u32> {
    for line in format.lines() {
        let line = line.trim();
        let Some(decl) = line.strip_prefix("field:") else {
            continue;
        };
        let mut parts = decl.split(';');
        let declaration = parts.next()?.trim();
        let declared = declaration
            .rsplit(|c: char| c.is_whitespace() || c == '*')
            .next()
            .map(|n| n.split('[').next().unwrap_or(n));
        if declared != Some(field) {
            continue;
        }
        for part in parts {
            if let Some(offset) = part.trim().strip_prefix("offset:") {
                return offset.parse().ok();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fields_in_a_format_file() {
        let format = "name: sched_process_exit\nformat:\n\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:bool group_dead;\toffset:32;\tsize:1;\tsigned:0;\n";
        assert_eq!(parse_field_offset(format, "group_dead"), Some(32));
        assert_eq!(parse_field_offset(format, "comm"), Some(8));
        assert_eq!(parse_field_offset(format, "prio"), None);
    }
}
