//! Listening sockets: every executor gets its own SO_REUSEPORT listener per
//! bind address, so the kernel spreads new connections over the cores and no
//! core hands sockets to another.
//!
//! SO_REUSEPORT would also let a second ringbus (or a leftover one) silently
//! share the port, so each address is first bound once *without* it: if that
//! fails, the port is taken and start-up fails with a clear error.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Config;

/// `threads` lists of listeners, one list per executor.
pub fn bind_all(config: &Config, threads: usize) -> io::Result<Vec<Vec<TcpListener>>> {
    let mut addrs = Vec::new();
    for host in &config.bind {
        // redis.conf allows "-::1": the leading '-' means "skip if unavailable".
        let (optional, host) = match host.strip_prefix('-') {
            Some(h) => (true, h),
            None => (false, host.as_str()),
        };
        match (host, config.port).to_socket_addrs() {
            Ok(found) => addrs.extend(found.map(|a| (a, optional))),
            Err(e) if optional => eprintln!("ringbus: skipping bind {host}: {e}"),
            Err(e) => return Err(io::Error::new(e.kind(), format!("bind {host}: {e}"))),
        }
    }
    let mut per_core: Vec<Vec<TcpListener>> = (0..threads).map(|_| Vec::new()).collect();
    for (addr, optional) in addrs {
        if let Err(e) = probe(addr) {
            if optional && e.kind() == io::ErrorKind::AddrNotAvailable {
                continue;
            }
            return Err(io::Error::new(
                e.kind(),
                format!("cannot listen on {addr}: {e}"),
            ));
        }
        for listeners in &mut per_core {
            listeners.push(reuseport_listener(addr)?);
        }
    }
    if per_core[0].is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "no address to listen on",
        ));
    }
    Ok(per_core)
}

fn socket_for(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    Ok(socket)
}

/// Binds `addr` exclusively and lets go: fails when anyone holds the port.
fn probe(addr: SocketAddr) -> io::Result<()> {
    let socket = socket_for(addr)?;
    socket.bind(&addr.into())?;
    socket.listen(1)?;
    Ok(())
}

fn reuseport_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket_for(addr)?;
    socket.set_reuse_port(true)?;
    socket.set_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// SO_KEEPALIVE with the first probe after `interval` seconds, then every
/// third of it, 3 probes: what Redis's `anetKeepAlive` sets for
/// `tcp-keepalive`.
pub fn keep_alive(fd: std::os::fd::RawFd, interval: u64) -> io::Result<()> {
    let set = |level: libc::c_int, name: libc::c_int, value: libc::c_int| {
        // SAFETY: setsockopt on a socket fd this connection owns, with an int.
        let r = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    let idle = interval.min(i32::MAX as u64) as libc::c_int;
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle)?;
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, (idle / 3).max(1))?;
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3)
}
