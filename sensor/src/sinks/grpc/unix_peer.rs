//! Who is on the other end of an accepted Unix socket connection: the credentials the kernel
//! recorded when the peer called connect() (SO_PEERCRED: pid, uid, gid) and the peer's
//! supplementary groups (SO_PEERGROUPS), read once at accept and handed to every request on
//! the connection as its connect info.
//!
//! tonic's own `UdsConnectInfo` has the first but not the groups, and a group granted the
//! `control` role (`grpc.socket.control_group`) is usually a supplementary group. Reading
//! `/proc/<pid>/status` later instead would race with the peer exiting and its pid being reused.

use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;

/// SO_PEERGROUPS (Linux 4.13): the value on every architecture this sensor builds for
/// (x86_64, aarch64); the libc crate does not export it there.
const SO_PEERGROUPS: libc::c_int = 59;

/// The most supplementary groups Linux allows a process (NGROUPS_MAX).
const NGROUPS_MAX: usize = 65_536;

/// The peer's credentials as of its connect().
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixPeer {
    pub pid: Option<i32>,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups; empty when the kernel could not say.
    pub groups: Arc<[u32]>,
}

impl UnixPeer {
    /// Whether the peer's primary or a supplementary group is `gid`.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

/// The connect info of a Unix socket connection: its peer, unless the kernel could not say.
#[derive(Clone, Debug)]
pub struct UnixConnectInfo {
    pub peer: Option<UnixPeer>,
}

/// An accepted connection with its peer's credentials.
pub struct PeerStream {
    stream: UnixStream,
    peer: Option<UnixPeer>,
}

impl PeerStream {
    /// Reads the peer's credentials now, while they are the connecting process's. Without
    /// them (not expected on Linux) the caller is anonymous: it gets no more than `read`.
    pub fn accept(stream: UnixStream) -> Self {
        let peer = match stream.peer_cred() {
            Ok(cred) => Some(UnixPeer {
                pid: cred.pid(),
                uid: cred.uid(),
                gid: cred.gid(),
                groups: peer_groups(&stream).unwrap_or_else(|e| {
                    tracing::debug!("SO_PEERGROUPS on a gRPC connection: {e}");
                    Arc::from([])
                }),
            }),
            Err(e) => {
                tracing::warn!("SO_PEERCRED on a gRPC connection failed: {e}; treating the caller as anonymous");
                None
            }
        };
        Self { stream, peer }
    }
}

/// The peer's supplementary groups, as the kernel recorded them at connect().
fn peer_groups(stream: &UnixStream) -> std::io::Result<Arc<[u32]>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: the buffer is `len` bytes of gid_t, which the kernel fills up to `len`.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return Ok(groups.into());
        }
        let error = std::io::Error::last_os_error();
        // ERANGE: the buffer was too small and `len` now says how large it must be.
        if error.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= NGROUPS_MAX {
            groups.resize(n, 0);
            continue;
        }
        return Err(error);
    }
}

impl tonic::transport::server::Connected for PeerStream {
    type ConnectInfo = UnixConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        UnixConnectInfo {
            peer: self.peer.clone(),
        }
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_peer_is_this_process_with_its_groups() {
        let (a, _b) = UnixStream::pair().expect("socketpair");
        let peer = PeerStream::accept(a).peer.expect("credentials");
        // SAFETY: getuid/getgid have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        assert_eq!((peer.uid, peer.gid), (uid, gid));
        assert_eq!(peer.pid, Some(std::process::id() as i32));
        assert!(peer.in_group(gid));
        // SAFETY: getgroups(0, NULL) returns the count.
        let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        assert_eq!(peer.groups.len(), count as usize);
    }
}
