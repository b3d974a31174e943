//! Connecting to a sensor: over its Unix socket, or over TCP with mutual TLS (or plaintext
//! when the server was started with `--insecure`).

use std::path::PathBuf;

use anyhow::Context;
use sensor_api::v1::sensor_client::SensorClient;
use tonic::transport::{Channel, Endpoint};

#[derive(Clone, Debug)]
pub enum Target {
    Socket(PathBuf),
    Tcp {
        /// `host:port`.
        address: String,
        /// `None`: plaintext.
        tls: Option<ClientTls>,
    },
}

#[derive(Clone, Debug)]
pub struct ClientTls {
    pub ca: PathBuf,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the address's host).
    pub domain: Option<String>,
}

pub async fn connect(target: &Target) -> anyhow::Result<SensorClient<Channel>> {
    let channel = match target {
        Target::Socket(path) => {
            let path = path.clone();
            // The URI is required by the API but unused: the connector dials the socket.
            Endpoint::from_static("http://sensor.invalid")
                .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                    let path = path.clone();
                    async move {
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                            tokio::net::UnixStream::connect(path).await?,
                        ))
                    }
                }))
                .await
                .with_context(|| {
                    format!(
                        "connecting to the sensor's socket {} (is `sensor run` running, and may \
                         this user open the socket?)",
                        match target {
                            Target::Socket(p) => p.display().to_string(),
                            Target::Tcp { address, .. } => address.clone(),
                        }
                    )
                })?
        }
        Target::Tcp { address, tls } => {
            let host = address
                .rsplit_once(':')
                .map_or(address.as_str(), |(h, _)| h)
                .trim_matches(|c| c == '[' || c == ']')
                .to_string();
            let scheme = if tls.is_some() { "https" } else { "http" };
            let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
                .with_context(|| format!("--addr {address}: not HOST:PORT"))?;
            if let Some(tls) = tls {
                let domain = tls.domain.clone().unwrap_or(host);
                endpoint = endpoint.tls_config(super::listen::client_tls(
                    &tls.ca,
                    tls.cert.as_deref(),
                    tls.key.as_deref(),
                    &domain,
                )?)?;
            }
            endpoint
                .connect()
                .await
                .with_context(|| format!("connecting to the sensor at {address}"))?
        }
    };
    Ok(SensorClient::new(channel).max_decoding_message_size(16 << 20))
}
