//! A socket call's socket: what the kernel side read from the kernel's `struct sock` after
//! the call, and the address the caller passed, turned into the ends Falco's `fd.*` fields
//! name (local and remote, client and server).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use sensor_rules::{FieldValue, ValueList};

use sensor_common::record::socket::SocketInfo;

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    /// As Falco writes an end: `127.0.0.1:4444`, `::1:4444` (no brackets).
    pub fn text(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    fn is_unset(&self) -> bool {
        self.ip.is_unspecified() && self.port == 0
    }
}

/// Which end of the connection the calling process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// connect, sendto, sendmsg: the local end is the client.
    Client,
    /// accept, bind, listen: the local end is the server.
    Server,
}

/// The host names an address is known by (`enrich::host_names`), as one list value of the
/// rule language (`fd.sip.name = X` holds when any is X).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names(pub Arc<[Arc<str>]>);

impl ValueList for Names {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&self, index: usize) -> Option<FieldValue<'_>> {
        self.0.get(index).map(|n| FieldValue::Str(n.as_bytes()))
    }
}

/// The socket of a socket call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub family: u16,
    pub sock_type: u16,
    pub protocol: u16,
    pub local: Option<Endpoint>,
    pub remote: Option<Endpoint>,
    /// Whether the kernel's socket has a peer (a connected TCP or UDP socket).
    pub connected: bool,
    /// Whether the remote end is the address the caller passed in this call rather than the
    /// socket's peer (an unconnected socket's sendto): Falco's `fd.name_changed`.
    pub per_call_remote: bool,
    pub role: Role,
    /// The names the rules' host names resolved to that the local and the remote address
    /// belong to (set by the enrich stage).
    pub local_names: Option<Names>,
    pub remote_names: Option<Names>,
}

impl Socket {
    /// From the kernel's socket (if the fd was one) and the caller's address bytes.
    pub fn new(kernel: Option<SocketInfo>, caller: &[u8], role: Role) -> Option<Self> {
        let caller = parse_sockaddr(caller);
        let Some(k) = kernel else {
            // Not a socket the kernel side could read (or the call failed before one
            // existed): the caller's address is all there is.
            let addr = caller?;
            let (local, remote) = match role {
                Role::Client => (None, addr.endpoint),
                Role::Server => (addr.endpoint, None),
            };
            return Some(Self {
                family: addr.family,
                sock_type: 0,
                protocol: 0,
                local,
                remote,
                connected: false,
                per_call_remote: role == Role::Client && remote.is_some(),
                role,
                local_names: None,
                remote_names: None,
            });
        };
        let ends = match k.family {
            AF_INET => {
                let ip = |b: &[u8; 16]| IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]));
                Some((
                    Endpoint {
                        ip: ip(&k.local),
                        port: k.local_port,
                    },
                    Endpoint {
                        ip: ip(&k.remote),
                        port: k.remote_port,
                    },
                ))
            }
            AF_INET6 => Some((
                Endpoint {
                    ip: IpAddr::V6(Ipv6Addr::from(k.local)),
                    port: k.local_port,
                },
                Endpoint {
                    ip: IpAddr::V6(Ipv6Addr::from(k.remote)),
                    port: k.remote_port,
                },
            )),
            _ => None,
        };
        let (local, peer) = match ends {
            Some((local, peer)) => (
                (!local.is_unset()).then_some(local),
                (!peer.is_unset()).then_some(peer),
            ),
            None => (None, None),
        };
        let named = caller.and_then(|c| c.endpoint);
        // What the kernel holds, where it holds it; else the address this call named: for a
        // client the destination (a sendto on an unconnected socket, a connect that failed),
        // for a server the address it asked to bind (a bind that failed).
        let (local, remote, per_call) = match role {
            Role::Client => {
                let per_call = named.filter(|_| peer.is_none());
                (local, peer.or(per_call), per_call.is_some())
            }
            Role::Server => (local.or(named), peer, false),
        };
        Some(Self {
            family: k.family,
            sock_type: k.sock_type,
            protocol: k.protocol,
            local,
            remote,
            connected: peer.is_some(),
            per_call_remote: per_call,
            role,
            local_names: None,
            remote_names: None,
        })
    }

    /// Falco's `fd.l4proto`.
    pub fn l4proto(&self) -> &'static str {
        const IPPROTO_ICMP: u16 = 1;
        const IPPROTO_ICMPV6: u16 = 58;
        match (self.sock_type, self.protocol) {
            (_, IPPROTO_ICMP | IPPROTO_ICMPV6) => "icmp",
            (1, _) => "tcp",
            (2, _) => "udp",
            (3, _) => "raw",
            _ => "unknown",
        }
    }

    /// Falco's `fd.sockfamily`: `ip` or `unix`.
    pub fn family_name(&self) -> Option<&'static str> {
        match self.family {
            AF_INET | AF_INET6 => Some("ip"),
            AF_UNIX => Some("unix"),
            _ => None,
        }
    }

    pub fn is_ip(&self) -> bool {
        matches!(self.family, AF_INET | AF_INET6)
    }

    /// The client end: the local one for a client call, the remote one for a server's.
    pub fn client(&self) -> Option<Endpoint> {
        match self.role {
            Role::Client => self.local,
            Role::Server => self.remote,
        }
    }

    pub fn server(&self) -> Option<Endpoint> {
        match self.role {
            Role::Client => self.remote,
            Role::Server => self.local,
        }
    }

    /// The names of the client's and the server's address.
    pub fn client_names(&self) -> Option<&Names> {
        match self.role {
            Role::Client => self.local_names.as_ref(),
            Role::Server => self.remote_names.as_ref(),
        }
    }

    pub fn server_names(&self) -> Option<&Names> {
        match self.role {
            Role::Client => self.remote_names.as_ref(),
            Role::Server => self.local_names.as_ref(),
        }
    }

    /// Falco's `fd.name` of an IP socket: `client->server`, or the one end known.
    pub fn name(&self) -> Option<String> {
        if !self.is_ip() {
            return None;
        }
        Some(match (self.client(), self.server()) {
            (Some(c), Some(s)) => format!("{}->{}", c.text(), s.text()),
            (None, Some(s)) => s.text(),
            (Some(c), None) => c.text(),
            (None, None) => return None,
        })
    }
}

/// A parsed `struct sockaddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockAddr {
    pub family: u16,
    pub endpoint: Option<Endpoint>,
}

/// Parses the caller's `struct sockaddr` bytes (`sockaddr_in`, `sockaddr_in6`); `None` for
/// too few bytes.
pub fn parse_sockaddr(bytes: &[u8]) -> Option<SockAddr> {
    let family = u16::from_ne_bytes([*bytes.first()?, *bytes.get(1)?]);
    let port = |b: &[u8]| b.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]]));
    let endpoint = match family {
        AF_INET => {
            let a = bytes.get(4..8)?;
            Some(Endpoint {
                ip: IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
                port: port(bytes)?,
            })
        }
        AF_INET6 => {
            let a: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
            Some(Endpoint {
                ip: IpAddr::V6(Ipv6Addr::from(a)),
                port: port(bytes)?,
            })
        }
        _ => None,
    };
    Some(SockAddr { family, endpoint })
}

/// A `struct sockaddr` as Falco renders a `SOCKADDR` argument: `127.0.0.1:4444`, a Unix
/// socket's path.
pub fn sockaddr_text(bytes: &[u8]) -> String {
    match parse_sockaddr(bytes) {
        Some(SockAddr {
            endpoint: Some(e), ..
        }) => e.text(),
        Some(SockAddr {
            family: AF_UNIX, ..
        }) => {
            let path = bytes.get(2..).unwrap_or_default();
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            String::from_utf8_lossy(&path[..end]).into_owned()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sockaddr_in(ip: [u8; 4], port: u16) -> Vec<u8> {
        let mut b = AF_INET.to_ne_bytes().to_vec();
        b.extend_from_slice(&port.to_be_bytes());
        b.extend_from_slice(&ip);
        b.extend_from_slice(&[0; 8]);
        b
    }

    fn info(local: [u8; 4], lport: u16, remote: [u8; 4], rport: u16) -> SocketInfo {
        let mut i = SocketInfo {
            family: AF_INET,
            sock_type: 1,
            protocol: 6,
            local_port: lport,
            remote_port: rport,
            ..SocketInfo::default()
        };
        i.local[..4].copy_from_slice(&local);
        i.remote[..4].copy_from_slice(&remote);
        i
    }

    #[test]
    fn a_connect_is_named_client_to_server_from_the_kernel_socket() {
        // The caller's buffer says one thing, the kernel's socket another: the kernel wins.
        let s = Socket::new(
            Some(info([10, 0, 0, 1], 40000, [198, 51, 100, 2], 443)),
            &sockaddr_in([1, 2, 3, 4], 80),
            Role::Client,
        )
        .unwrap();
        assert_eq!(s.name().unwrap(), "10.0.0.1:40000->198.51.100.2:443");
        assert_eq!(s.server().unwrap().port, 443);
        assert!(s.connected && !s.per_call_remote);
        assert_eq!(s.l4proto(), "tcp");
    }

    #[test]
    fn an_unconnected_sendto_names_the_callers_destination() {
        let mut k = info([0, 0, 0, 0], 5353, [0, 0, 0, 0], 0);
        k.sock_type = 2;
        let s = Socket::new(Some(k), &sockaddr_in([198, 51, 100, 7], 53), Role::Client).unwrap();
        assert_eq!(s.remote.unwrap().text(), "198.51.100.7:53");
        assert!(!s.connected && s.per_call_remote);
        assert_eq!(s.l4proto(), "udp");
    }

    #[test]
    fn an_accept_is_the_server_end() {
        let s = Socket::new(
            Some(info([127, 0, 0, 1], 4444, [127, 0, 0, 1], 50000)),
            &[],
            Role::Server,
        )
        .unwrap();
        assert_eq!(s.name().unwrap(), "127.0.0.1:50000->127.0.0.1:4444");
        assert_eq!(s.client().unwrap().port, 50000);
    }

    #[test]
    fn a_bind_names_the_kernels_local_end_not_the_request() {
        // bind(127.0.0.1:0): the kernel picked the port.
        let s = Socket::new(
            Some(info([127, 0, 0, 1], 46877, [0; 4], 0)),
            &sockaddr_in([127, 0, 0, 1], 0),
            Role::Server,
        )
        .unwrap();
        assert_eq!(s.name().unwrap(), "127.0.0.1:46877");
        assert!(s.remote.is_none() && !s.per_call_remote);
    }

    #[test]
    fn sockaddrs_render_and_short_ones_do_not_parse() {
        assert_eq!(
            sockaddr_text(&sockaddr_in([127, 0, 0, 1], 22)),
            "127.0.0.1:22"
        );
        let mut unix = AF_UNIX.to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/run/x.sock\0");
        assert_eq!(sockaddr_text(&unix), "/run/x.sock");
        assert!(parse_sockaddr(&[2]).is_none());
        assert!(parse_sockaddr(&sockaddr_in([1, 1, 1, 1], 1)[..6]).is_none());
    }
}
