//! Who may call what: two roles, decided once per call from the connection's peer.
//!
//! - `read`: Subscribe, Status (the caller's own subscriptions), ListRules; the health and
//!   reflection services. Everyone who can connect has it: on the Unix socket, whoever the
//!   socket's mode and group let in; on TCP, every certificate the sensor's CA signed (and,
//!   with `--insecure`, anyone who reaches the port).
//! - `control`: the profile recording calls (which attach programs to every syscall on the
//!   node) and Status showing every subscriber. On the Unix socket, uid 0 and members of
//!   `grpc.socket.control_group`, from the peer's credentials as the kernel recorded them at
//!   connect (`super::unix_peer`); on TCP, certificates with a name (subject CN, SAN DNS or URI
//!   name) listed in `grpc.tcp.control_identities`. Plaintext TCP never has it.
//!
//! [`Access::authorize`] is the one check: the `sensor.v1.Sensor` router calls it before
//! dispatching any method (`super::subscribe::SensorRouter`), and hands the resulting
//! [`Caller`] to the method in the request's extensions.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use tonic::codegen::http;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::Status;

use super::certificate::CertIdentity;
use super::groups::Group;
use super::unix_peer::{UnixConnectInfo, UnixPeer};

/// What a call needs. `Control` includes everything `Read` allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Read,
    Control,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Read => "read",
            Role::Control => "control",
        })
    }
}

const SERVICE_PREFIX: &str = "/sensor.v1.Sensor/";

/// The role each method of `sensor.v1.Sensor` needs. A method missing here needs `control`
/// (a new method is closed until someone decides), and a unit test fails until it is listed.
fn listed_role(method: &str) -> Option<Role> {
    match method {
        "Subscribe" | "Status" | "ListRules" => Some(Role::Read),
        "StartProfileRecording"
        | "GetProfileRecording"
        | "StopProfileRecording"
        | "ListProfileRecordings" => Some(Role::Control),
        _ => None,
    }
}

/// The role a call to `path` (`/package.Service/Method`) needs. Other services than
/// `sensor.v1.Sensor` (health, reflection) need `read`, which every connected caller has.
pub fn required_role(path: &str) -> Role {
    match path.strip_prefix(SERVICE_PREFIX) {
        Some(method) => listed_role(method).unwrap_or(Role::Control),
        None => Role::Read,
    }
}

/// Who a caller is, for its role, for "its own" subscriptions in Status, and for the
/// per-identity subscriber limit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// A Unix socket peer, by uid.
    Unix { uid: u32 },
    /// A verified client certificate, by its names.
    Certificate(CertIdentity),
    /// Plaintext TCP: only the address is known.
    Address(IpAddr),
    /// No credentials could be read (not expected): one shared identity, `read` only.
    Anonymous,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Unix { uid } => write!(f, "uid {uid}"),
            Identity::Certificate(cert) => write!(f, "{cert}"),
            Identity::Address(ip) => write!(f, "plaintext {ip}"),
            Identity::Anonymous => write!(f, "anonymous"),
        }
    }
}

/// An authorized caller of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub identity: Identity,
    pub role: Role,
    /// Why it has its role, for logs and PERMISSION_DENIED.
    pub because: String,
    /// The connection, for Status and logs: `unix(pid=..,uid=..)` or the TCP peer address.
    pub peer: String,
}

/// The configured grants of `control`.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// Members (primary or supplementary group) have `control` on the Unix socket.
    pub control_groups: Vec<Group>,
    /// Certificate names with `control` on TCP.
    pub control_identities: HashSet<String>,
}

/// What the connection tells about the peer.
enum Peer<'a> {
    Unix(&'a UnixPeer),
    Certificate { cert: CertIdentity, peer: String },
    Plaintext(std::net::SocketAddr),
    Unknown,
}

impl Access {
    /// The caller of a request, from the connect info tonic put in its extensions.
    pub fn caller(&self, extensions: &http::Extensions) -> Caller {
        self.decide(peer_of(extensions))
    }

    /// The caller, if it may call `path`; otherwise PERMISSION_DENIED naming the role needed
    /// and how to grant it.
    pub fn authorize(&self, path: &str, extensions: &http::Extensions) -> Result<Caller, Status> {
        let caller = self.caller(extensions);
        let needed = required_role(path);
        if caller.role >= needed {
            return Ok(caller);
        }
        let method = path.strip_prefix(SERVICE_PREFIX).unwrap_or(path);
        tracing::warn!(
            method,
            caller = %caller.identity,
            peer = caller.peer,
            role = %caller.role,
            "refused a call that needs the {needed} role"
        );
        Err(Status::permission_denied(format!(
            "{method} needs the `{needed}` role; this caller ({}) has `{}` ({}). {}",
            caller.identity,
            caller.role,
            caller.because,
            self.how_to_grant(&caller.identity)
        )))
    }

    fn decide(&self, peer: Peer<'_>) -> Caller {
        match peer {
            Peer::Unix(unix) => {
                let peer = format!(
                    "unix(pid={},uid={})",
                    unix.pid.map_or_else(|| "?".to_string(), |p| p.to_string()),
                    unix.uid
                );
                let identity = Identity::Unix { uid: unix.uid };
                if unix.uid == 0 {
                    return Caller {
                        identity,
                        role: Role::Control,
                        because: "root".into(),
                        peer,
                    };
                }
                if let Some(group) = self.control_groups.iter().find(|g| unix.in_group(g.gid)) {
                    return Caller {
                        identity,
                        role: Role::Control,
                        because: format!("member of grpc.socket.control_group {group}"),
                        peer,
                    };
                }
                Caller {
                    identity,
                    role: Role::Read,
                    because: "may open the socket".into(),
                    peer,
                }
            }
            Peer::Certificate { cert, peer } => {
                let listed = cert
                    .names()
                    .find(|n| self.control_identities.contains(*n))
                    .map(str::to_string);
                let (role, because) = match listed {
                    Some(name) => (
                        Role::Control,
                        format!("`{name}` is in grpc.tcp.control_identities"),
                    ),
                    None => (
                        Role::Read,
                        "a certificate from the sensor's CA, none of whose names is in grpc.tcp.control_identities".into(),
                    ),
                };
                Caller {
                    identity: Identity::Certificate(cert),
                    role,
                    because,
                    peer,
                }
            }
            Peer::Plaintext(address) => Caller {
                identity: Identity::Address(address.ip()),
                role: Role::Read,
                because: "plaintext TCP".into(),
                peer: address.to_string(),
            },
            Peer::Unknown => Caller {
                identity: Identity::Anonymous,
                role: Role::Read,
                because: "no peer credentials".into(),
                peer: "unknown".into(),
            },
        }
    }

    fn how_to_grant(&self, identity: &Identity) -> String {
        match identity {
            Identity::Unix { .. } | Identity::Anonymous => {
                let groups: Vec<String> = self.control_groups.iter().map(|g| g.to_string()).collect();
                format!(
                    "On the Unix socket, root and members of grpc.socket.control_group ({}) have `control`.",
                    if groups.is_empty() {
                        "not set".to_string()
                    } else {
                        groups.join(", ")
                    }
                )
            }
            Identity::Certificate(_) => "Over TCP, a certificate has `control` when its subject CN or a SAN DNS or URI name is listed in grpc.tcp.control_identities.".into(),
            Identity::Address(_) => "Plaintext TCP (--insecure) never has `control`: use the Unix socket or mutual TLS.".into(),
        }
    }
}

fn peer_of(extensions: &http::Extensions) -> Peer<'_> {
    if let Some(info) = extensions.get::<UnixConnectInfo>() {
        return match &info.peer {
            Some(unix) => Peer::Unix(unix),
            None => Peer::Unknown,
        };
    }
    if let Some(tls) = extensions.get::<TlsConnectInfo<TcpConnectInfo>>() {
        let peer = tls
            .get_ref()
            .remote_addr()
            .map_or_else(|| "tcp".to_string(), |a| a.to_string());
        // The handshake required a client certificate chaining to the CA; the first is the
        // client's own.
        return match tls.peer_certs().as_deref().and_then(|c| c.first()) {
            Some(der) => Peer::Certificate {
                cert: CertIdentity::from_der(der),
                peer,
            },
            None => Peer::Unknown,
        };
    }
    match extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
    {
        Some(address) => Peer::Plaintext(address),
        None => Peer::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use prost::Message;

    use super::*;

    fn unix(uid: u32, gid: u32, groups: &[u32]) -> UnixPeer {
        UnixPeer {
            pid: Some(42),
            uid,
            gid,
            groups: Arc::from(groups),
        }
    }

    fn access() -> Access {
        Access {
            control_groups: vec![Group {
                gid: 1500,
                name: Some("sensor-admin".into()),
            }],
            control_identities: ["ops-admin".to_string(), "spiffe://c/ns/ops/sa/admin".into()]
                .into(),
        }
    }

    #[test]
    fn root_and_the_control_group_have_control_on_the_socket() {
        let a = access();
        assert_eq!(a.decide(Peer::Unix(&unix(0, 0, &[]))).role, Role::Control);
        let member = a.decide(Peer::Unix(&unix(1000, 1000, &[27, 1500])));
        assert_eq!(member.role, Role::Control);
        assert!(
            member.because.contains("sensor-admin (gid 1500)"),
            "{}",
            member.because
        );
        assert_eq!(
            a.decide(Peer::Unix(&unix(1000, 1500, &[]))).role,
            Role::Control,
            "a primary group counts"
        );
        let other = a.decide(Peer::Unix(&unix(65534, 0, &[100])));
        assert_eq!(other.role, Role::Read);
        assert_eq!(other.identity, Identity::Unix { uid: 65534 });
        assert_eq!(other.peer, "unix(pid=42,uid=65534)");
        assert_eq!(
            Access::default()
                .decide(Peer::Unix(&unix(1000, 1500, &[])))
                .role,
            Role::Read
        );
    }

    #[test]
    fn a_listed_certificate_name_has_control() {
        let a = access();
        let cert = |cn: &str, uris: &[&str]| Peer::Certificate {
            cert: CertIdentity {
                common_names: vec![cn.into()],
                dns_names: vec![],
                uris: uris.iter().map(|u| u.to_string()).collect(),
            },
            peer: "127.0.0.1:4000".into(),
        };
        assert_eq!(a.decide(cert("ops-admin", &[])).role, Role::Control);
        assert_eq!(
            a.decide(cert("x", &["spiffe://c/ns/ops/sa/admin"])).role,
            Role::Control
        );
        let reader = a.decide(cert("dashboard", &["spiffe://c/ns/ops/sa/dashboard"]));
        assert_eq!(reader.role, Role::Read);
        let plaintext = a.decide(Peer::Plaintext("10.0.0.1:5000".parse().unwrap()));
        assert_eq!(plaintext.role, Role::Read);
        assert_eq!(a.decide(Peer::Unknown).role, Role::Read);
    }

    #[test]
    fn refusals_name_the_role_and_how_to_grant_it() {
        let a = access();
        let mut extensions = http::Extensions::new();
        extensions.insert(UnixConnectInfo {
            peer: Some(unix(65534, 0, &[])),
        });
        let e = a
            .authorize("/sensor.v1.Sensor/StartProfileRecording", &extensions)
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        let message = e.message();
        assert!(message.starts_with("StartProfileRecording needs the `control` role; this caller (uid 65534) has `read`"), "{message}");
        assert!(
            message.contains("grpc.socket.control_group (sensor-admin (gid 1500))"),
            "{message}"
        );
        let caller = a
            .authorize("/sensor.v1.Sensor/Subscribe", &extensions)
            .expect("read suffices");
        assert_eq!(caller.role, Role::Read);
        // No connect info at all: anonymous, read only.
        let none = http::Extensions::new();
        assert!(a.authorize("/sensor.v1.Sensor/Status", &none).is_ok());
        assert!(a
            .authorize("/sensor.v1.Sensor/ListProfileRecordings", &none)
            .is_err());
    }

    #[test]
    fn every_method_of_the_service_has_a_role() {
        let set = prost_types::FileDescriptorSet::decode(sensor_api::v1::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let methods: Vec<String> = set
            .file
            .iter()
            .filter(|f| f.package() == "sensor.v1")
            .flat_map(|f| &f.service)
            .filter(|s| s.name() == "Sensor")
            .flat_map(|s| &s.method)
            .map(|m| m.name().to_string())
            .collect();
        assert!(methods.len() >= 7, "{methods:?}");
        for method in methods {
            assert!(
                listed_role(&method).is_some(),
                "sensor.v1.Sensor/{method} has no role in access.rs: decide who may call it"
            );
        }
        assert_eq!(required_role("/sensor.v1.Sensor/NewThing"), Role::Control);
        assert_eq!(required_role("/grpc.health.v1.Health/Check"), Role::Read);
    }
}
