//! The identity a verified client certificate carries: its subject common name and its
//! subject alternative DNS and URI names (a SPIFFE id is a URI name). The TLS handshake has
//! already checked that the certificate chains to the sensor's CA; this only reads names, which
//! `grpc.tcp.control_identities` maps to the `control` role.

use std::fmt;

use x509_parser::extensions::GeneralName;

/// At most this many names are kept from a certificate, each at most [`MAX_NAME_BYTES`]: a
/// certificate is signed by the sensor's CA, but the names end up in Status and logs.
const MAX_NAMES: usize = 32;
const MAX_NAME_BYTES: usize = 512;

/// A certificate's names. Two connections with certificates carrying the same names are the
/// same identity (a renewed certificate keeps its subscriptions visible to its holder).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CertIdentity {
    pub common_names: Vec<String>,
    pub dns_names: Vec<String>,
    pub uris: Vec<String>,
}

impl CertIdentity {
    /// Reads the names of a DER certificate. A certificate whose names cannot be read has
    /// none: it still has `read` (the handshake verified it) but matches no control identity.
    pub fn from_der(der: &[u8]) -> Self {
        let certificate = match x509_parser::parse_x509_certificate(der) {
            Ok((_, certificate)) => certificate,
            Err(e) => {
                tracing::warn!("cannot read the names of a client certificate: {e}");
                return Self::default();
            }
        };
        let mut identity = Self::default();
        let keep = |names: &mut Vec<String>, name: &str| {
            if names.len() < MAX_NAMES && name.len() <= MAX_NAME_BYTES {
                names.push(name.to_string());
            }
        };
        for cn in certificate.subject().iter_common_name() {
            if let Ok(cn) = cn.as_str() {
                keep(&mut identity.common_names, cn);
            }
        }
        match certificate.subject_alternative_name() {
            Ok(Some(san)) => {
                for name in &san.value.general_names {
                    match name {
                        GeneralName::DNSName(dns) => keep(&mut identity.dns_names, dns),
                        GeneralName::URI(uri) => keep(&mut identity.uris, uri),
                        _ => {}
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("a client certificate's subjectAltName is unreadable: {e}"),
        }
        identity
    }

    /// Every name, as `grpc.tcp.control_identities` lists them (no `CN=` or `DNS:` prefix).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.common_names
            .iter()
            .chain(&self.dns_names)
            .chain(&self.uris)
            .map(String::as_str)
    }
}

impl fmt::Display for CertIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = (self.common_names.iter().map(|n| format!("CN={n}")))
            .chain(self.dns_names.iter().map(|n| format!("DNS:{n}")))
            .chain(self.uris.iter().map(|n| format!("URI:{n}")))
            .collect();
        if parts.is_empty() {
            write!(f, "certificate without names")
        } else {
            write!(f, "certificate {}", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Self-signed; CN=sensor-admin, SAN DNS:admin.example.com,
    /// URI:spiffe://cluster.local/ns/ops/sa/admin, IP:127.0.0.1.
    const ADMIN: &str = include_str!("../../../tests/data/admin-identity.pem");

    #[test]
    fn reads_the_common_name_and_the_dns_and_uri_names() {
        let (_, pem) = x509_parser::pem::parse_x509_pem(ADMIN.as_bytes()).expect("PEM");
        let identity = CertIdentity::from_der(&pem.contents);
        assert_eq!(identity.common_names, ["sensor-admin"]);
        assert_eq!(identity.dns_names, ["admin.example.com"]);
        assert_eq!(identity.uris, ["spiffe://cluster.local/ns/ops/sa/admin"]);
        assert_eq!(
            identity.to_string(),
            "certificate CN=sensor-admin DNS:admin.example.com URI:spiffe://cluster.local/ns/ops/sa/admin"
        );
        assert_eq!(identity.names().count(), 3);
    }

    #[test]
    fn garbage_has_no_names() {
        let identity = CertIdentity::from_der(b"\x30\x03\x02\x01\x00 not a certificate");
        assert_eq!(identity, CertIdentity::default());
        assert_eq!(identity.to_string(), "certificate without names");
    }
}
