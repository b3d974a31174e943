//! Comparisons of IP addresses with constants: Falco's `ipaddr` fields (`fd.sip = 10.0.0.1`)
//! and `ipnet` fields (`fd.snet in (10.0.0.0/8, fd00::/8)`), parsed when a rule is compiled.
//!
//! Addresses are compared in canonical form: an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`)
//! is the IPv4 address `10.1.2.3`, since libsinsp records a socket whose two ends are
//! v4-mapped as an IPv4 socket, and a rule about `10.0.0.0/8` must not miss a dual-stack
//! server's connections. Otherwise the families do not mix, as in libsinsp (an IPv4 value
//! never equals an IPv6 constant): `::/0` does not contain `10.0.0.1`.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a constant is not an address or a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpParseError {
    /// Neither an IPv4 nor an IPv6 address.
    NotAnAddress,
    /// `address/prefix` where only an address is accepted (an `ipaddr` field).
    NetworkNotAddress,
    /// The text after `/` is not a number of bits.
    BadPrefix,
    /// The prefix is longer than the address (`10.0.0.0/33`, `fd00::/129`).
    PrefixTooLong { prefix: u32, bits: u8 },
}

impl fmt::Display for IpParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpParseError::NotAnAddress => f.write_str("not an IPv4 or IPv6 address"),
            IpParseError::NetworkNotAddress => f.write_str("a network, not a single address"),
            IpParseError::BadPrefix => {
                f.write_str("the prefix length after `/` is not a number of bits")
            }
            IpParseError::PrefixTooLong { prefix, bits } => {
                let family = if *bits == 32 { "IPv4" } else { "IPv6" };
                write!(
                    f,
                    "the prefix /{prefix} is longer than the {bits} bits of an {family} address"
                )
            }
        }
    }
}

impl std::error::Error for IpParseError {}

/// The address as rules compare it: IPv4-mapped IPv6 addresses become IPv4.
#[inline]
pub fn canonical_ip(address: IpAddr) -> IpAddr {
    address.to_canonical()
}

/// Whether two addresses are the same once canonical (`::ffff:1.2.3.4` is `1.2.3.4`).
#[inline]
pub fn same_ip(left: IpAddr, right: IpAddr) -> bool {
    canonical_ip(left) == canonical_ip(right)
}

/// Parses an address constant (`10.0.0.1`, `fd00::1`, `::ffff:10.0.0.1`), in canonical form.
/// The text must be exactly an address, as inet_pton(3) wants it: no blanks, no zone, no
/// leading zeros in IPv4 octets.
pub fn parse_ip_address(text: &str) -> Result<IpAddr, IpParseError> {
    match text.parse::<IpAddr>() {
        Ok(address) => Ok(canonical_ip(address)),
        // Said apart from a typo because the fix differs: the network field, not the value.
        Err(_) if IpNetwork::parse(text).is_ok() => Err(IpParseError::NetworkNotAddress),
        Err(_) => Err(IpParseError::NotAnAddress),
    }
}

/// An IP network: an address with its host bits cleared and a prefix length. A single
/// address is a network of one (`/32`, `/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

fn v4_mask(prefix: u8) -> u32 {
    // A shift by the full width is 0 bits of network: `/0` matches every address.
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn v6_mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl IpNetwork {
    /// The network of `prefix` bits holding `address`; host bits are cleared, as libsinsp
    /// masks both sides (`10.1.2.3/8` is `10.0.0.0/8`). An IPv4-mapped network of at least
    /// 96 bits is the IPv4 network (`::ffff:10.0.0.0/104` is `10.0.0.0/8`).
    pub fn new(address: IpAddr, prefix: u8) -> Result<IpNetwork, IpParseError> {
        let bits = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > bits {
            return Err(IpParseError::PrefixTooLong {
                prefix: u32::from(prefix),
                bits,
            });
        }
        Ok(match address {
            IpAddr::V4(v4) => IpNetwork::v4(v4, prefix),
            IpAddr::V6(v6) => match (v6.to_ipv4_mapped(), prefix.checked_sub(96)) {
                (Some(v4), Some(v4_prefix)) => IpNetwork::v4(v4, v4_prefix),
                _ => IpNetwork {
                    address: IpAddr::V6(Ipv6Addr::from(u128::from(v6) & v6_mask(prefix))),
                    prefix,
                },
            },
        })
    }

    fn v4(address: Ipv4Addr, prefix: u8) -> IpNetwork {
        IpNetwork {
            address: IpAddr::V4(Ipv4Addr::from(u32::from(address) & v4_mask(prefix))),
            prefix,
        }
    }

    /// The network holding only `address`.
    pub fn host(address: IpAddr) -> IpNetwork {
        match canonical_ip(address) {
            IpAddr::V4(v4) => IpNetwork::v4(v4, 32),
            v6 => IpNetwork {
                address: v6,
                prefix: 128,
            },
        }
    }

    /// Parses `address/prefix` (`10.0.0.0/8`, `fd00::/8`) or a bare address (a network of
    /// one address).
    pub fn parse(text: &str) -> Result<IpNetwork, IpParseError> {
        let Some((address, prefix)) = text.split_once('/') else {
            return text
                .parse::<IpAddr>()
                .map(IpNetwork::host)
                .map_err(|_| IpParseError::NotAnAddress);
        };
        let address = address
            .parse::<IpAddr>()
            .map_err(|_| IpParseError::NotAnAddress)?;
        // Digits only: `u32::from_str` would also take `+8`.
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IpParseError::BadPrefix);
        }
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let too_long = |prefix| IpParseError::PrefixTooLong { prefix, bits };
        // A prefix of many digits is too long, not unparsable.
        let prefix = prefix.parse::<u32>().map_err(|_| too_long(u32::MAX))?;
        let prefix = u8::try_from(prefix).map_err(|_| too_long(prefix))?;
        IpNetwork::new(address, prefix)
    }

    /// The network's first address (host bits cleared).
    pub fn address(&self) -> IpAddr {
        self.address
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True for a network of one address.
    pub fn is_host(&self) -> bool {
        match self.address {
            IpAddr::V4(_) => self.prefix == 32,
            IpAddr::V6(_) => self.prefix == 128,
        }
    }

    /// Whether `address` (canonical or not) lies in the network.
    #[inline]
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.address, canonical_ip(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                u32::from(address) & v4_mask(self.prefix) == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                u128::from(address) & v6_mask(self.prefix) == u128::from(network)
            }
            _ => false,
        }
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// Addresses compared exactly: a scan for a few (most rules name one or two), a hash set
/// for long lists (lists of known-bad addresses).
const LINEAR_LIMIT: usize = 6;

#[derive(Clone, Debug)]
enum Hosts {
    Few(Box<[IpAddr]>),
    Many(HashSet<IpAddr, foldhash::fast::FixedState>),
}

/// The constants of one check: single addresses and wider networks, apart so that a long
/// list of addresses is a hash lookup and only real networks are scanned.
#[derive(Clone, Debug)]
pub struct IpSet {
    hosts: Hosts,
    networks: Box<[IpNetwork]>,
}

impl IpSet {
    pub fn new<I: IntoIterator<Item = IpNetwork>>(constants: I) -> IpSet {
        let mut hosts: Vec<IpAddr> = Vec::new();
        let mut networks: Vec<IpNetwork> = Vec::new();
        for network in constants {
            if network.is_host() {
                if !hosts.contains(&network.address) {
                    hosts.push(network.address);
                }
            } else if !networks.contains(&network) {
                networks.push(network);
            }
        }
        let hosts = if hosts.len() <= LINEAR_LIMIT {
            Hosts::Few(hosts.into_boxed_slice())
        } else {
            Hosts::Many(hosts.into_iter().collect())
        };
        IpSet {
            hosts,
            networks: networks.into_boxed_slice(),
        }
    }

    /// Whether `address` is one of the addresses or lies in one of the networks.
    #[inline]
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical_ip(address);
        let host = match &self.hosts {
            Hosts::Few(hosts) => hosts.contains(&address),
            Hosts::Many(hosts) => hosts.contains(&address),
        };
        host || self
            .networks
            .iter()
            .any(|network| network.contains(address))
    }

    pub fn len(&self) -> usize {
        let hosts = match &self.hosts {
            Hosts::Few(hosts) => hosts.len(),
            Hosts::Many(hosts) => hosts.len(),
        };
        hosts + self.networks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `=`, `!=`, `in`, `intersects` on an address: membership in the constants (for an
/// `ipaddr` field they are single addresses, so membership is equality), negated for `!=`.
#[derive(Clone, Debug)]
pub struct IpTest {
    set: IpSet,
    negated: bool,
}

impl IpTest {
    /// `negated` is `!=`: true when the address is in none of the constants.
    pub fn new<I: IntoIterator<Item = IpNetwork>>(constants: I, negated: bool) -> IpTest {
        IpTest {
            set: IpSet::new(constants),
            negated,
        }
    }

    /// Membership alone, before `!=` negates it: for fields yielding several addresses,
    /// whose `!=` means that none is in the set.
    #[inline]
    pub fn contains(&self, address: IpAddr) -> bool {
        self.set.contains(address)
    }

    /// The check's result given whether an address was in the set.
    #[inline]
    pub fn decide(&self, hit: bool) -> bool {
        hit != self.negated
    }

    #[inline]
    pub fn matches(&self, address: IpAddr) -> bool {
        self.decide(self.contains(address))
    }

    /// True for `!=`.
    pub fn is_negated(&self) -> bool {
        self.negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn net(text: &str) -> IpNetwork {
        IpNetwork::parse(text).expect("test network")
    }

    #[test]
    fn parses_addresses() {
        assert_eq!(parse_ip_address("10.0.0.1"), Ok(ip("10.0.0.1")));
        assert_eq!(parse_ip_address("fd00::1"), Ok(ip("fd00::1")));
        assert_eq!(parse_ip_address("::ffff:10.1.2.3"), Ok(ip("10.1.2.3")));
        assert_eq!(parse_ip_address("0.0.0.0"), Ok(ip("0.0.0.0")));
        for bad in [
            "",
            "10.0.0",
            "10.0.0.256",
            "010.0.0.1",
            " 10.0.0.1",
            "fe80::1%eth0",
            "localhost",
            "1.2.3.4.5",
        ] {
            assert_eq!(
                parse_ip_address(bad),
                Err(IpParseError::NotAnAddress),
                "{bad}"
            );
        }
        assert_eq!(
            parse_ip_address("10.0.0.0/8"),
            Err(IpParseError::NetworkNotAddress)
        );
        assert_eq!(
            parse_ip_address("fd00::/8"),
            Err(IpParseError::NetworkNotAddress)
        );
        // A bad network is reported as a bad address: the value is wrong either way.
        assert_eq!(
            parse_ip_address("10.0.0.0/33"),
            Err(IpParseError::NotAnAddress)
        );
    }

    #[test]
    fn parses_networks() {
        assert_eq!(net("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(net("fd00::/8").to_string(), "fd00::/8");
        // Host bits are cleared.
        assert_eq!(net("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(net("fd12:3456::1/16").to_string(), "fd12::/16");
        // A bare address is a network of one.
        assert_eq!(net("10.1.2.3").to_string(), "10.1.2.3/32");
        assert_eq!(net("::1").to_string(), "::1/128");
        assert!(net("::1").is_host());
        // Mapped networks of 96 bits or more are IPv4 networks.
        assert_eq!(net("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
        assert_eq!(net("::ffff:10.1.2.3").to_string(), "10.1.2.3/32");
        assert_eq!(net("::ffff:0:0/96").to_string(), "0.0.0.0/0");
        assert_eq!(net("::ffff:0:0/80").to_string(), "::/80");
        assert_eq!(net("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(net("::/0").to_string(), "::/0");
    }

    #[test]
    fn rejects_bad_networks() {
        assert_eq!(
            IpNetwork::parse("10.0.0.0/33"),
            Err(IpParseError::PrefixTooLong {
                prefix: 33,
                bits: 32
            })
        );
        assert_eq!(
            IpNetwork::parse("fd00::/129"),
            Err(IpParseError::PrefixTooLong {
                prefix: 129,
                bits: 128
            })
        );
        assert_eq!(
            IpNetwork::parse("10.0.0.0/4294967296"),
            Err(IpParseError::PrefixTooLong {
                prefix: u32::MAX,
                bits: 32
            })
        );
        for bad in [
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "10.0.0.0/a",
        ] {
            assert_eq!(IpNetwork::parse(bad), Err(IpParseError::BadPrefix), "{bad}");
        }
        for bad in ["10.0.0/8", "/8", "x/8", "", "10.0.0.0 /8"] {
            assert_eq!(
                IpNetwork::parse(bad),
                Err(IpParseError::NotAnAddress),
                "{bad}"
            );
        }
        assert_eq!(
            IpParseError::PrefixTooLong {
                prefix: 33,
                bits: 32
            }
            .to_string(),
            "the prefix /33 is longer than the 32 bits of an IPv4 address"
        );
    }

    #[test]
    fn v4_membership() {
        let private = net("10.0.0.0/8");
        assert!(private.contains(ip("10.0.0.0")));
        assert!(private.contains(ip("10.255.255.255")));
        assert!(!private.contains(ip("11.0.0.0")));
        assert!(!private.contains(ip("9.255.255.255")));
        let twelve = net("172.16.0.0/12");
        assert!(twelve.contains(ip("172.31.255.1")));
        assert!(!twelve.contains(ip("172.32.0.1")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(net("169.254.169.254/32").contains(ip("169.254.169.254")));
        assert!(!net("169.254.169.254/32").contains(ip("169.254.169.253")));
    }

    #[test]
    fn v6_membership() {
        let ula = net("fd00::/8");
        assert!(ula.contains(ip("fd12:3456::1")));
        assert!(!ula.contains(ip("fe80::1")));
        assert!(net("::/0").contains(ip("2001:db8::1")));
        assert!(net("2001:db8::/127").contains(ip("2001:db8::1")));
        assert!(!net("2001:db8::/128").contains(ip("2001:db8::1")));
    }

    #[test]
    fn families_do_not_mix_but_mapped_addresses_are_ipv4() {
        let private = net("10.0.0.0/8");
        assert!(private.contains(ip("::ffff:10.1.2.3")));
        assert!(!private.contains(ip("::ffff:11.1.2.3")));
        assert!(!net("::/0").contains(ip("10.1.2.3")));
        assert!(!net("::/0").contains(ip("::ffff:10.1.2.3")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")));
        assert!(net("::ffff:10.0.0.0/104").contains(ip("10.9.9.9")));
        assert!(same_ip(ip("::ffff:1.2.3.4"), ip("1.2.3.4")));
        assert!(!same_ip(ip("::1"), ip("127.0.0.1")));
    }

    #[test]
    fn sets_and_tests() {
        let rfc1918 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map(net);
        let not_private = IpTest::new(rfc1918, true);
        assert!(not_private.is_negated());
        assert!(!not_private.matches(ip("192.168.1.1")));
        assert!(!not_private.matches(ip("::ffff:172.20.0.1")));
        assert!(not_private.matches(ip("8.8.8.8")));
        assert!(not_private.matches(ip("fd00::1")));

        let equal = IpTest::new([IpNetwork::host(ip("0.0.0.0"))], false);
        assert!(equal.matches(ip("0.0.0.0")));
        assert!(equal.matches(ip("::ffff:0.0.0.0")));
        assert!(!equal.matches(ip("::")));

        // More addresses than the linear limit: a hash set, same answers.
        let many: Vec<IpNetwork> = (1..=20u8)
            .map(|n| IpNetwork::host(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))))
            .chain([net("2001:db8::/32")])
            .collect();
        let set = IpSet::new(many.iter().copied().chain(many.iter().copied()));
        assert_eq!(set.len(), 21);
        assert!(set.contains(ip("192.0.2.20")));
        assert!(set.contains(ip("::ffff:192.0.2.7")));
        assert!(!set.contains(ip("192.0.2.21")));
        assert!(set.contains(ip("2001:db8:1::5")));
        assert!(IpSet::new([]).is_empty());
    }
}
