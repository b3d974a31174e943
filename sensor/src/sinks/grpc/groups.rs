//! Unix groups named in the configuration (`grpc.socket.group`, `grpc.socket.control_group`):
//! a gid, or a group name looked up in the system's group database once, at start.

use std::ffi::{CStr, CString};
use std::fmt;

use serde::Deserialize;

/// A group as the configuration names it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum GroupRef {
    Id(u32),
    Name(String),
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupRef::Id(gid) => write!(f, "gid {gid}"),
            GroupRef::Name(name) => write!(f, "`{name}`"),
        }
    }
}

/// A resolved group: its gid, and its name when it has one (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub gid: u32,
    pub name: Option<String>,
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} (gid {})", self.gid),
            None => write!(f, "gid {}", self.gid),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("no group named `{0}` on this machine (see /etc/group or `getent group`)")]
    NoSuchGroup(String),
    #[error("looking up group `{name}`: {source}")]
    Lookup {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

impl GroupRef {
    /// The group's gid (a gid need not have a name: it is taken as it is).
    pub fn resolve(&self) -> Result<Group, GroupError> {
        match self {
            GroupRef::Id(gid) => Ok(Group {
                gid: *gid,
                name: group_name(*gid),
            }),
            GroupRef::Name(name) => match gid_of(name)? {
                Some(gid) => Ok(Group {
                    gid,
                    name: Some(name.clone()),
                }),
                None => Err(GroupError::NoSuchGroup(name.clone())),
            },
        }
    }
}

/// Calls a reentrant group lookup with a buffer that grows until the entry fits.
fn lookup(
    what: &str,
    call: impl Fn(&mut libc::group, &mut [libc::c_char], &mut *mut libc::group) -> libc::c_int,
) -> Result<Option<(u32, String)>, GroupError> {
    let mut buffer = vec![0 as libc::c_char; 1024];
    loop {
        // SAFETY: an all-zero `group` is a valid value for the call to overwrite.
        let mut entry: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        match call(&mut entry, buffer.as_mut_slice(), &mut found) {
            0 if found.is_null() => return Ok(None),
            0 => {
                // SAFETY: on success `gr_name` points into `buffer`, NUL-terminated.
                let name = unsafe { CStr::from_ptr(entry.gr_name) };
                return Ok(Some((entry.gr_gid, name.to_string_lossy().into_owned())));
            }
            libc::ERANGE if buffer.len() < 1 << 20 => buffer.resize(buffer.len() * 4, 0),
            errno => {
                return Err(GroupError::Lookup {
                    name: what.to_string(),
                    source: std::io::Error::from_raw_os_error(errno),
                })
            }
        }
    }
}

fn gid_of(name: &str) -> Result<Option<u32>, GroupError> {
    let Ok(c_name) = CString::new(name) else {
        return Err(GroupError::NoSuchGroup(name.to_string()));
    };
    let found = lookup(name, |entry, buffer, found| {
        // SAFETY: every pointer is valid for the call; `buffer.len()` is its size.
        unsafe {
            libc::getgrnam_r(
                c_name.as_ptr(),
                entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                found,
            )
        }
    })?;
    Ok(found.map(|(gid, _)| gid))
}

fn group_name(gid: u32) -> Option<String> {
    lookup(&gid.to_string(), |entry, buffer, found| {
        // SAFETY: every pointer is valid for the call; `buffer.len()` is its size.
        unsafe { libc::getgrgid_r(gid, entry, buffer.as_mut_ptr(), buffer.len(), found) }
    })
    .ok()
    .flatten()
    .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_resolves_by_name_and_by_id() {
        let by_name = GroupRef::Name("root".into()).resolve().expect("root");
        assert_eq!(by_name.gid, 0);
        let by_id = GroupRef::Id(0).resolve().expect("gid 0");
        assert_eq!(by_id.name.as_deref(), Some("root"));
        assert_eq!(by_id.to_string(), "root (gid 0)");
        // A gid without a name is still a gid.
        let nameless = GroupRef::Id(4_000_000_000).resolve().expect("any gid");
        assert_eq!(nameless.to_string(), "gid 4000000000");
    }

    #[test]
    fn an_unknown_name_says_so() {
        let e = GroupRef::Name("no-such-group-here".into())
            .resolve()
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("no group named `no-such-group-here`"),
            "{e}"
        );
    }

    #[test]
    fn the_configuration_names_a_group_by_number_or_name() {
        let id: GroupRef = serde_yaml_ng::from_str("1234").expect("number");
        assert_eq!(id, GroupRef::Id(1234));
        let name: GroupRef = serde_yaml_ng::from_str("sensor-admin").expect("name");
        assert_eq!(name, GroupRef::Name("sensor-admin".into()));
    }
}
