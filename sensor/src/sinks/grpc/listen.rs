//! Where the gRPC server listens: a Unix socket created with a chosen mode, and TCP with
//! mutual TLS (or, only when asked, plaintext).

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

#[derive(Clone, Debug)]
pub struct SocketConfig {
    pub path: PathBuf,
    /// Permission bits of the socket file (0660: owner and group may connect).
    pub mode: u32,
    /// The socket file's group (default: the sensor's): with mode 0660 its members may
    /// connect, and so have the `read` role.
    pub group: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// Client certificates must chain to this CA.
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug)]
pub struct TcpConfig {
    pub address: std::net::SocketAddr,
    /// `None` serves plaintext: only with `--insecure`.
    pub tls: Option<TlsFiles>,
}

/// Binds the Unix socket at `config.path` with `config.mode` and `config.group`. A stale
/// socket from an earlier run is replaced; any other file at the path (a symlink included) is
/// an error.
pub fn bind_unix(config: &SocketConfig) -> anyhow::Result<tokio::net::UnixListener> {
    let path = &config.path;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "grpc.socket.path: creating the directory {} for the socket",
            dir.display()
        )
    })?;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                anyhow::bail!(
                    "grpc.socket.path: another process is serving on {} (a sensor already \
                     running?); stop it or choose another path",
                    path.display()
                );
            }
            std::fs::remove_file(path)
                .with_context(|| format!("removing the stale socket {}", path.display()))?;
        }
        Ok(_) => anyhow::bail!(
            "grpc.socket.path: {} exists and is not a socket; remove it or choose another path",
            path.display()
        ),
        Err(_) => {}
    }
    // Bound inside a fresh directory only root can enter, given its group and mode there, then renamed
    // into place: no client can connect while it still has the umask's permissions, and no
    // one can swap the temporary socket for a symlink between bind and chmod (chmod follows
    // symlinks; rename does not).
    let staging = dir.join(format!(".sensor-socket.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .with_context(|| {
            format!(
                "grpc.socket.path: creating the staging directory {}",
                staging.display()
            )
        })?;
    let temporary = staging.join("socket");
    let bound = tokio::net::UnixListener::bind(&temporary)
        .with_context(|| format!("grpc.socket.path: binding {}", temporary.display()))
        .and_then(|listener| {
            std::os::unix::fs::chown(&temporary, None, config.group)
                .and_then(|()| {
                    std::fs::set_permissions(
                        &temporary,
                        std::fs::Permissions::from_mode(config.mode),
                    )
                })
                .and_then(|()| std::fs::rename(&temporary, path))
                .with_context(|| format!("grpc.socket.path: creating {}", path.display()))?;
            Ok(listener)
        });
    let _ = std::fs::remove_file(&temporary);
    let _ = std::fs::remove_dir(&staging);
    bound
}

fn read(path: &Path, field: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| {
        format!(
            "{field}: cannot read {} (a PEM file is needed for mutual TLS; use --insecure only \
             for plaintext TCP on a trusted network)",
            path.display()
        )
    })
}

/// The server's TLS settings: its own certificate and key, and the CA that client
/// certificates must chain to. A client without a certificate is refused in the handshake.
pub fn server_tls(files: &TlsFiles) -> anyhow::Result<tonic::transport::ServerTlsConfig> {
    let cert = read(&files.cert, "grpc.tcp.tls.cert")?;
    let key = read(&files.key, "grpc.tcp.tls.key")?;
    let ca = read(&files.ca, "grpc.tcp.tls.ca")?;
    Ok(tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(cert, key))
        .client_ca_root(tonic::transport::Certificate::from_pem(ca)))
}

/// A client's TLS settings: the CA that signed the server's certificate, and the client's
/// own certificate and key.
pub fn client_tls(
    ca: &Path,
    cert: Option<&Path>,
    key: Option<&Path>,
    domain: &str,
) -> anyhow::Result<tonic::transport::ClientTlsConfig> {
    let mut config = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(read(ca, "--ca")?))
        .domain_name(domain);
    match (cert, key) {
        (Some(cert), Some(key)) => {
            config = config.identity(tonic::transport::Identity::from_pem(
                read(cert, "--cert")?,
                read(key, "--key")?,
            ));
        }
        (None, None) => {}
        _ => anyhow::bail!("--cert and --key go together"),
    }
    Ok(config)
}
