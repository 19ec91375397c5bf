//! Network partitions between real validator processes: a fault-injecting TCP proxy per
//! ordered pair of validators (std::net and threads only).
//!
//! Validator `i` dials validator `j` through `proxy(i→j)`, which listens on 127.0.0.1 and
//! forwards to `j`'s real P2P address (`[peer_addresses]` in `i`'s config.toml). Cutting the
//! link between `i` and `j` cuts both proxies: their forwarded connections are shut down at
//! once, and new connections are accepted and closed straight away, so the dialer sees a
//! refusal and keeps retrying until the link heals. Connections stay authenticated end to end
//! by the validators' keys: a proxy only moves bytes.

use super::{Net, genesis_dir};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What a proxy's threads share.
#[derive(Default)]
struct Shared {
    /// Whether the link is cut. Written under `conns`' lock, so that a connection is either
    /// registered before a cut (and shut down by it) or refused after it.
    cut: AtomicBool,
    /// Set when the proxy is dropped: the accept loop ends.
    stopped: AtomicBool,
    /// Both sockets of every forwarded connection, by connection number.
    conns: Mutex<Vec<(u64, TcpStream, TcpStream)>>,
    next: AtomicU64,
    /// Connections forwarded and refused so far.
    forwarded: AtomicU64,
    refused: AtomicU64,
}

impl Shared {
    fn conns(&self) -> std::sync::MutexGuard<'_, Vec<(u64, TcpStream, TcpStream)>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A TCP forwarder from a loopback port to `target` whose link can be cut and healed.
pub struct Proxy {
    /// Where it listens (127.0.0.1, a port the system picked).
    pub addr: SocketAddr,
    /// Where it forwards to.
    pub target: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on 127.0.0.1 and forwards every connection to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a loopback port for a proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        std::thread::Builder::new()
            .name(format!("proxy-{}", addr.port()))
            .spawn(move || accept_loop(&listener, target, &accepting))
            .expect("a proxy thread");
        Self { addr, target, shared }
    }

    /// Cuts the link: shuts down every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        let mut conns = self.shared.conns();
        self.shared.cut.store(true, Ordering::SeqCst);
        for (_, a, b) in conns.drain(..) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
    }

    /// Heals the link: new connections are forwarded again.
    pub fn heal(&self) {
        let _conns = self.shared.conns();
        self.shared.cut.store(false, Ordering::SeqCst);
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::SeqCst)
    }

    /// Connections forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// Connections refused (while cut) so far.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Forwarded connections open now.
    pub fn open(&self) -> usize {
        self.shared.conns().len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees `stopped`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn accept_loop(listener: &TcpListener, target: SocketAddr, shared: &Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = incoming else { continue };
        if shared.cut.load(Ordering::SeqCst) {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        // The target may be down (killed by the nemesis): then the dialer sees a refusal too.
        let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(1)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(client_copy), Ok(server_copy)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        let id = shared.next.fetch_add(1, Ordering::SeqCst);
        {
            let mut conns = shared.conns();
            if shared.cut.load(Ordering::SeqCst) {
                // Cut while this one was being connected.
                shared.refused.fetch_add(1, Ordering::SeqCst);
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
                continue;
            }
            conns.push((id, client_copy, server_copy));
        }
        shared.forwarded.fetch_add(1, Ordering::SeqCst);
        let (Ok(client_in), Ok(server_in)) = (client.try_clone(), server.try_clone()) else {
            forget(shared, id);
            continue;
        };
        let up = shared.clone();
        let _ = std::thread::Builder::new()
            .name(format!("pump-{id}-up"))
            .spawn(move || pump(client_in, server, &up, id));
        let down = shared.clone();
        let _ = std::thread::Builder::new()
            .name(format!("pump-{id}-down"))
            .spawn(move || pump(server_in, client, &down, id));
    }
}

/// Copies `from` to `to` until either side closes or fails, then closes both.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared, id: u64) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
    forget(shared, id);
}

fn forget(shared: &Shared, id: u64) {
    shared.conns().retain(|(c, _, _)| *c != id);
}

/// Every validator of a network dialling every other through its own proxy.
pub struct Mesh {
    /// `proxies[i][j]`: how validator `i` reaches validator `j` (`None` on the diagonal).
    proxies: Vec<Vec<Option<Proxy>>>,
}

impl Mesh {
    /// Starts a proxy for every ordered pair of `net`'s validators and writes each validator's
    /// `[peer_addresses]` so that it dials the others through them. Call before starting them.
    pub fn route(net: &Net) -> Self {
        let genesis = genesis_dir(&net.dir);
        let p2p: Vec<SocketAddr> = genesis
            .validators
            .iter()
            .map(|v| v.p2p_address.parse().expect("a genesis p2p address"))
            .collect();
        let n = p2p.len();
        let proxies: Vec<Vec<Option<Proxy>>> = (0..n)
            .map(|i| (0..n).map(|j| (i != j).then(|| Proxy::start(p2p[j]))).collect())
            .collect();
        for (i, row) in proxies.iter().enumerate() {
            let path = net.home(i).join("config.toml");
            let mut config = std::fs::read_to_string(&path).expect("the validator's config.toml");
            assert!(!config.contains("[peer_addresses]"), "{} routes already", path.display());
            config.push_str("\n# Every other validator through a fault-injecting proxy.\n");
            config.push_str("[peer_addresses]\n");
            for (j, proxy) in row.iter().enumerate() {
                if let Some(proxy) = proxy {
                    config.push_str(&format!("\"{j}\" = \"{}\"\n", proxy.addr));
                }
            }
            std::fs::write(&path, config).expect("config.toml written");
        }
        Self { proxies }
    }

    /// Validators.
    pub fn len(&self) -> usize {
        self.proxies.len()
    }

    fn link(&self, a: usize, b: usize) -> [&Proxy; 2] {
        let proxy = |i: usize, j: usize| self.proxies[i][j].as_ref().expect("two validators");
        [proxy(a, b), proxy(b, a)]
    }

    /// Cuts the link between validators `a` and `b`, both ways.
    pub fn cut(&self, a: usize, b: usize) {
        self.link(a, b).iter().for_each(|p| p.cut());
    }

    /// Heals the link between validators `a` and `b`, both ways.
    pub fn heal(&self, a: usize, b: usize) {
        self.link(a, b).iter().for_each(|p| p.heal());
    }

    /// Cuts every link between `side` and the other validators.
    pub fn split(&self, side: &[usize]) {
        for a in side.iter().copied() {
            for b in (0..self.len()).filter(|b| !side.contains(b)) {
                self.cut(a, b);
            }
        }
    }

    /// Cuts validator `v` off from every other.
    pub fn isolate(&self, v: usize) {
        self.split(&[v]);
    }

    /// Heals every link.
    pub fn heal_all(&self) {
        self.proxies.iter().flatten().flatten().for_each(Proxy::heal);
    }

    /// Whether validators `a` and `b` can reach each other.
    pub fn connected(&self, a: usize, b: usize) -> bool {
        self.link(a, b).iter().all(|p| !p.is_cut())
    }

    /// Connections forwarded and refused by every proxy so far.
    pub fn traffic(&self) -> (u64, u64) {
        let proxies = || self.proxies.iter().flatten().flatten();
        (proxies().map(Proxy::forwarded).sum(), proxies().map(Proxy::refused).sum())
    }

    /// Forwarded connections open now.
    pub fn open(&self) -> usize {
        self.proxies.iter().flatten().flatten().map(Proxy::open).sum()
    }
}
