//! What keeps the API bounded and its errors uniform, against clients that hold resources
//! without credentials as much as against heavy ones:
//!
//! - **connections**: an accept loop that never waits, counting connections per client
//!   address, per network (IPv4 /24, IPv6 /64) and in all ([`FairShare`]); over an address's
//!   or network's share a connection is answered 429 `too_many_connections` and closed; when
//!   the node is full, a client from a network holding little of it takes a connection from
//!   the network holding most, so an honest client from elsewhere is always served;
//! - **deadlines** on every connection ([`GuardedIo`], [`DeadlineBody`]): an idle connection
//!   is closed, a request head must arrive whole soon after its first byte, a body within a
//!   bounded time, both at a minimum rate after a short grace (408 `request_timeout`), and an
//!   answer the client does not read is abandoned;
//! - **request cost**: token buckets per address and per network ([`RateLimiter`], 429
//!   `rate_limited`), a batch costing its number of transactions, in a table of bounded size;
//! - **event streams** share their budget like connections (429 or 503 `too_many_streams`);
//! - a layer that turns every non-JSON error (axum's own rejections, unknown routes,
//!   oversized bodies) into the API's JSON error body.

use super::{Api, Refused, error};
use crate::config::ApiConfig;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::{BTreeMap, HashMap};
use std::future::Future as _;
use std::hash::Hash;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tokio::time::Sleep;
use tower::ServiceExt as _;

/// Connections the kernel queues for the accept loop (capped by `net.core.somaxconn`): the
/// loop never waits before accepting, but a burst of thousands of connections at once must
/// not overflow the queue, or an honest client's handshake is dropped and retried a second
/// later.
const LISTEN_BACKLOG: u32 = 4_096;

/// Refused connections being answered at once at most; past it a refused connection is sent
/// its answer only if the socket takes it at once, and closed.
const REFUSALS_MAX: usize = 256;

/// How long a refused connection is given to read its answer.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Binds the API's listening socket, with a backlog of [`LISTEN_BACKLOG`].
pub(crate) fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restarted node rebinds at once.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The network a client address belongs to for the per-network limits: the /24 of an IPv4
/// address (loopback included: tests use 127.0.x.y as distinct hosts on distinct networks),
/// the /64 of an IPv6 one. IPv4-mapped IPv6 addresses count as IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Prefix {
    V4([u8; 3]),
    V6([u8; 8]),
}

impl Prefix {
    pub(crate) fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Self::V4([a, b, c])
            }
            IpAddr::V6(v6) => {
                let mut network = [0u8; 8];
                network.copy_from_slice(&v6.octets()[..8]);
                Self::V6(network)
            }
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V4([a, b, c]) => write!(f, "{a}.{b}.{c}.0/24"),
            Self::V6(network) => {
                let mut octets = [0u8; 16];
                octets[..8].copy_from_slice(network);
                write!(f, "{}/64", Ipv6Addr::from(octets))
            }
        }
    }
}

/// The deadlines of every connection, from `[api]`.
#[derive(Clone, Debug)]
pub(crate) struct Deadlines {
    idle: Duration,
    head: Duration,
    body: Duration,
    min_bytes_per_s: u64,
    grace: Duration,
    send_stall: Duration,
}

impl Deadlines {
    pub(crate) fn new(config: &ApiConfig) -> Self {
        Self {
            idle: Duration::from_millis(config.idle_timeout_ms),
            head: Duration::from_millis(config.head_timeout_ms),
            body: Duration::from_millis(config.body_timeout_ms),
            min_bytes_per_s: config.transfer_min_bytes_per_s,
            grace: Duration::from_millis(config.transfer_grace_ms),
            send_stall: Duration::from_millis(config.send_stall_timeout_ms),
        }
    }

    /// When a transfer that began at `since` and has brought `bytes` so far must be done or
    /// have brought more: within `whole` in all, and after the grace at the minimum rate.
    fn transfer(&self, since: Instant, bytes: u64, whole: Duration) -> Instant {
        let by_rate = match self.min_bytes_per_s {
            0 => whole,
            rate => self.grace + Duration::from_millis(bytes.saturating_mul(1_000) / rate),
        };
        since + whole.min(by_rate)
    }
}

/// Serves `router` on `listener` under the connection limits and deadlines of `config`
/// (see the module's documentation). Each request carries the client's address for the rate
/// limit and, if its body is still to come, the flag its body deadline raises.
pub(crate) async fn serve(listener: TcpListener, router: Router, config: ApiConfig) {
    let deadlines = Arc::new(Deadlines::new(&config));
    let connections = Arc::new(FairShare::new(
        "connections",
        "too_many_connections",
        config.connections_max,
        config.connections_per_address_max,
        config.connections_per_prefix_max,
    ));
    let refusals = Arc::new(Semaphore::new(REFUSALS_MAX));
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("API accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let activity = Arc::new(Activity::new(Instant::now()));
        let (share, evicted) = match connections.take(addr.ip(), Some(activity.clone())) {
            Ok(taken) => taken,
            Err(refusal) => {
                tracing::debug!(%addr, "API connection refused: {}", refusal.message);
                let answer = refusal.http();
                match refusals.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tokio::spawn(async move {
                            refuse(stream, &answer).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        let _ = stream.try_write(&answer);
                    }
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let deadlines = deadlines.clone();
        tokio::spawn(async move {
            let io = GuardedIo::new(stream, activity.clone(), deadlines.clone());
            // A backstop only: `GuardedIo` closes idle connections and slow heads first.
            let head_backstop = deadlines.idle + deadlines.head;
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let in_flight = activity.begin();
                let (mut parts, body) = request.into_parts();
                parts.extensions.insert(ConnectInfo(ClientAddr(addr)));
                let body = if hyper::body::Body::is_end_stream(&body) {
                    Body::new(body)
                } else {
                    let late = BodyLate::default();
                    parts.extensions.insert(late.clone());
                    Body::new(DeadlineBody::new(body, deadlines.clone(), late))
                };
                let answer = router.clone().oneshot(Request::from_parts(parts, body));
                async move {
                    let response = answer.await?;
                    Ok::<_, std::convert::Infallible>(
                        response
                            .map(|body| Body::new(Answering { body, in_flight: Some(in_flight) })),
                    )
                }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(head_backstop);
            let connection = http.serve_connection(TokioIo::new(io), service);
            tokio::select! {
                ended = connection => {
                    if let Err(e) = ended {
                        tracing::debug!(%addr, "API connection ended: {e}");
                    }
                }
                Ok(()) = evicted => {
                    tracing::debug!(%addr, "API connection closed for a client from a network holding fewer");
                }
            }
            drop(share);
        });
    }
}

/// Answers a refused connection and closes it, reading what the client sent meanwhile so that
/// it sees the answer rather than a reset.
async fn refuse(mut stream: TcpStream, answer: &[u8]) {
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), io::Error>(())
    })
    .await;
}

/// What a connection is doing, for its deadlines and for choosing which connection to close
/// when the node is full.
#[derive(Debug)]
pub(crate) struct Activity {
    phase: Mutex<Phase>,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    /// No request in progress and no byte of the next one yet.
    Idle { since: Instant },
    /// A request head is arriving.
    Head { since: Instant, bytes: u64 },
    /// Requests being answered; a body still arriving keeps its own deadline.
    Serving { requests: usize },
}

impl Activity {
    fn new(now: Instant) -> Self {
        Self { phase: Mutex::new(Phase::Idle { since: now }) }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().expect("connection activity lock poisoned")
    }

    /// `bytes` arrived: the start of a request head if none was in progress.
    fn received(&self, bytes: usize, now: Instant) {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        let mut phase = self.phase();
        match &mut *phase {
            Phase::Idle { .. } => *phase = Phase::Head { since: now, bytes },
            Phase::Head { bytes: so_far, .. } => *so_far = so_far.saturating_add(bytes),
            Phase::Serving { .. } => {}
        }
    }

    /// A request's head has arrived: the connection serves it until its answer is sent.
    fn begin(self: &Arc<Self>) -> InFlight {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Serving { requests } => Phase::Serving { requests: requests + 1 },
            Phase::Idle { .. } | Phase::Head { .. } => Phase::Serving { requests: 1 },
        };
        InFlight(self.clone())
    }

    fn serving(&self) -> bool {
        matches!(*self.phase(), Phase::Serving { .. })
    }

    /// The deadline of what the connection waits for, if any, and whether it is a request
    /// head's (answered 408) rather than an idle connection's (closed quietly: a client may
    /// be sending its next request just then).
    fn read_deadline(&self, deadlines: &Deadlines) -> Option<(Instant, bool)> {
        match *self.phase() {
            Phase::Idle { since } => Some((since + deadlines.idle, false)),
            Phase::Head { since, bytes } => {
                Some((deadlines.transfer(since, bytes, deadlines.head), true))
            }
            Phase::Serving { .. } => None,
        }
    }
}

/// A request being served, until its answer has been sent (or dropped).
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        if let Phase::Serving { requests } = *phase {
            *phase = if requests > 1 {
                Phase::Serving { requests: requests - 1 }
            } else {
                Phase::Idle { since: Instant::now() }
            };
        }
    }
}

/// What a client whose request head comes too slowly is told before the connection closes.
fn head_timeout_answer() -> Vec<u8> {
    let body = r#"{"code":"request_timeout","message":"the request head did not arrive in time"}"#;
    format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A connection's socket with its deadlines: reading an idle connection or a request head
/// fails past [`Activity::read_deadline`], and sending fails when the client has read nothing
/// for `send_stall`. Hyper then closes the connection.
struct GuardedIo {
    stream: TcpStream,
    activity: Arc<Activity>,
    deadlines: Arc<Deadlines>,
    read_timer: Pin<Box<Sleep>>,
    read_armed: Option<Instant>,
    send_timer: Pin<Box<Sleep>>,
    send_stalled: bool,
}

impl GuardedIo {
    fn new(stream: TcpStream, activity: Arc<Activity>, deadlines: Arc<Deadlines>) -> Self {
        Self {
            stream,
            activity,
            deadlines,
            read_timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            read_armed: None,
            send_timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            send_stalled: false,
        }
    }

    /// `polled`, unless nothing could be sent for `send_stall`.
    fn send<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.send_stalled = false;
            return polled;
        }
        if !self.send_stalled {
            self.send_stalled = true;
            let deadline = tokio::time::Instant::now() + self.deadlines.send_stall;
            self.send_timer.as_mut().reset(deadline);
        }
        if self.send_timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of its answer in time",
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        let now = Instant::now();
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.received(buf.filled().len() - before, now);
        }
        let Some((deadline, head)) = this.activity.read_deadline(&this.deadlines) else {
            return polled;
        };
        if now < deadline {
            if polled.is_ready() {
                return polled;
            }
            if this.read_armed != Some(deadline) {
                this.read_armed = Some(deadline);
                this.read_timer.as_mut().reset(deadline.into());
            }
            if this.read_timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        if head && !this.send_stalled {
            // Best effort: the socket is writable unless the client stopped reading, and
            // nothing else is being sent between requests.
            let _ = Pin::new(&mut this.stream).poll_write(cx, &head_timeout_answer());
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            if head { "the request head did not arrive in time" } else { "idle connection" },
        )))
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, data);
        this.send(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, data);
        this.send(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_flush(cx);
        this.send(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Raised when a request's body missed its deadline: the answer becomes 408.
#[derive(Clone, Debug, Default)]
pub(crate) struct BodyLate(Arc<AtomicBool>);

/// A request body that must arrive in time: whole within `body` of its head, and after the
/// grace at the minimum rate. Past either it fails, which fails the handler reading it, and
/// raises [`BodyLate`]. A handler that never reads the body leaves it to hyper, which closes
/// the connection rather than wait for it.
struct DeadlineBody {
    inner: Incoming,
    since: Instant,
    bytes: u64,
    deadlines: Arc<Deadlines>,
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    late: BodyLate,
}

impl DeadlineBody {
    fn new(inner: Incoming, deadlines: Arc<Deadlines>, late: BodyLate) -> Self {
        Self {
            inner,
            since: Instant::now(),
            bytes: 0,
            deadlines,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: None,
            late,
        }
    }
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
                    this.bytes = this.bytes.saturating_add(len);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let deadline = this.deadlines.transfer(this.since, this.bytes, this.deadlines.body);
                if this.armed != Some(deadline) {
                    this.armed = Some(deadline);
                    this.timer.as_mut().reset(deadline.into());
                }
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.late.0.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err("the request body did not arrive in time".into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer's body, holding its request [`InFlight`] until it has been sent whole.
struct Answering {
    body: Body,
    in_flight: Option<InFlight>,
}

impl hyper::body::Body for Answering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            this.in_flight = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Shares of a budget (connections, event streams) held by clients: at most `address_max`
/// per address, `prefix_max` per network and `total_max` in all. When all are held, a
/// newcomer from a network holding at least two fewer than the network holding most takes
/// one of that network's: its busiest address's oldest share that serves no request, or its
/// oldest. So whoever fills the budget, a client from a network that holds little of it is
/// served; refusals say which limit they met.
#[derive(Debug)]
pub(crate) struct FairShare {
    what: &'static str,
    code: &'static str,
    total_max: usize,
    address_max: usize,
    prefix_max: usize,
    holders: Mutex<Holders>,
}

#[derive(Debug, Default)]
struct Holders {
    next_id: u64,
    /// By id, so oldest first.
    shares: BTreeMap<u64, Holder>,
    per_address: HashMap<IpAddr, usize>,
    per_prefix: HashMap<Prefix, usize>,
}

#[derive(Debug)]
struct Holder {
    address: IpAddr,
    prefix: Prefix,
    activity: Option<Arc<Activity>>,
    evict: oneshot::Sender<()>,
}

impl Holders {
    fn remove(&mut self, id: u64) -> Option<Holder> {
        let holder = self.shares.remove(&id)?;
        release(&mut self.per_address, &holder.address);
        release(&mut self.per_prefix, &holder.prefix);
        Some(holder)
    }

    /// Closes one share of `prefix`'s: its busiest address's oldest idle one, or oldest.
    fn evict_from(&mut self, prefix: Prefix) {
        let victim = self
            .shares
            .iter()
            .filter(|(_, holder)| holder.prefix == prefix)
            .min_by_key(|(id, holder)| {
                let held = self.per_address.get(&holder.address).copied().unwrap_or(0);
                let serving = holder.activity.as_ref().is_some_and(|a| a.serving());
                (std::cmp::Reverse(held), serving, **id)
            })
            .map(|(id, _)| *id);
        if let Some(holder) = victim.and_then(|id| self.remove(id)) {
            // The holder may be ending by itself just now; either way its share is free.
            let _ = holder.evict.send(());
        }
    }
}

fn release<K: Eq + Hash>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}

/// A share of a [`FairShare`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Share {
    budget: Arc<FairShare>,
    id: u64,
}

impl Drop for Share {
    fn drop(&mut self) {
        self.budget.holders().remove(self.id);
    }
}

/// A refused share: the answer for the client.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    /// The answer as the API gives it: JSON `{code, message}`, `Retry-After: 1`.
    pub(crate) fn into_response(self) -> Response {
        let mut response = error(self.status, self.code, self.message);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
        response
    }

    /// The same answer as bytes, for a connection refused before any request was read.
    fn http(&self) -> Vec<u8> {
        let body = serde_json::to_string(&medledger_types::api::ApiError {
            code: self.code.to_string(),
            message: self.message.clone(),
        })
        .expect("errors serialize");
        format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes()
    }
}

impl FairShare {
    /// A budget of `total_max` `what` (named in refusals with `code`); the per-address and
    /// per-network caps are at least 1 and at most the total.
    pub(crate) fn new(
        what: &'static str,
        code: &'static str,
        total_max: usize,
        address_max: usize,
        prefix_max: usize,
    ) -> Self {
        let total_max = total_max.max(1);
        Self {
            what,
            code,
            total_max,
            address_max: address_max.clamp(1, total_max),
            prefix_max: prefix_max.clamp(1, total_max),
            holders: Mutex::default(),
        }
    }

    fn holders(&self) -> std::sync::MutexGuard<'_, Holders> {
        self.holders.lock().expect("fair share lock poisoned")
    }

    fn refuse(&self, status: StatusCode, message: String) -> Refusal {
        Refusal { status, code: self.code, message }
    }

    /// A share for a client at `ip` (with what it is doing, if the share is a connection), and
    /// what tells its holder it was taken back for a client holding fewer; or why not.
    pub(crate) fn take(
        self: &Arc<Self>,
        ip: IpAddr,
        activity: Option<Arc<Activity>>,
    ) -> Result<(Share, oneshot::Receiver<()>), Refusal> {
        let address = ip.to_canonical();
        let prefix = Prefix::of(address);
        let what = self.what;
        let mut holders = self.holders();
        let by_address = holders.per_address.get(&address).copied().unwrap_or(0);
        let by_prefix = holders.per_prefix.get(&prefix).copied().unwrap_or(0);
        if by_address >= self.address_max {
            return Err(self.refuse(
                StatusCode::TOO_MANY_REQUESTS,
                format!("{address} holds {by_address} {what}, the most one client address may"),
            ));
        }
        if by_prefix >= self.prefix_max {
            return Err(self.refuse(
                StatusCode::TOO_MANY_REQUESTS,
                format!("network {prefix} holds {by_prefix} {what}, the most one network may"),
            ));
        }
        if holders.shares.len() >= self.total_max {
            let heaviest = holders.per_prefix.iter().max_by_key(|(_, held)| **held);
            match heaviest.map(|(prefix, held)| (*prefix, *held)) {
                Some((heaviest, held)) if held >= by_prefix + 2 => holders.evict_from(heaviest),
                _ if by_prefix > 0 => {
                    return Err(self.refuse(
                        StatusCode::TOO_MANY_REQUESTS,
                        format!(
                            "all {} {what} of this node are held, and network {prefix} holds its share",
                            self.total_max
                        ),
                    ));
                }
                _ => {
                    return Err(self.refuse(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "all {} {what} of this node are held, one per network",
                            self.total_max
                        ),
                    ));
                }
            }
        }
        let id = holders.next_id;
        holders.next_id += 1;
        let (evict, evicted) = oneshot::channel();
        holders.shares.insert(id, Holder { address, prefix, activity, evict });
        *holders.per_address.entry(address).or_default() += 1;
        *holders.per_prefix.entry(prefix).or_default() += 1;
        Ok((Share { budget: self.clone(), id }, evicted))
    }
}

/// The client's address, as the limits see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub SocketAddr);

/// A token bucket's rate: `per_second` tokens a second (0: no limit), `burst` at most.
#[derive(Clone, Copy, Debug)]
struct Rate {
    per_second: f64,
    burst: f64,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Below zero after a request that cost more than the bucket held: a debt.
    tokens: f64,
    last: Instant,
}

impl Rate {
    fn new(per_second: u32, burst: u32) -> Self {
        Self { per_second: f64::from(per_second), burst: f64::from(burst.max(1)) }
    }

    fn on(self) -> bool {
        self.per_second > 0.0
    }

    /// `bucket` refilled to `now`; whether it can pay `cost` (or, if `cost` is more than a
    /// full bucket, whether it is full), else how long until it can.
    fn check(self, bucket: &mut Bucket, cost: f64, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.last = now;
        let needed = cost.min(self.burst);
        if bucket.tokens >= needed {
            Ok(())
        } else {
            Err(Duration::from_secs_f64((needed - bucket.tokens) / self.per_second))
        }
    }

    /// Whether `bucket` would be full again at `now`.
    fn refilled(self, bucket: &Bucket, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens + elapsed * self.per_second >= self.burst
    }
}

/// Token buckets per client address and per network (/24, /64). A request costs one token,
/// a batch one per transaction; both buckets must afford it. A request that costs more than
/// a full bucket holds passes when the bucket is full and leaves it in debt. Each table
/// tracks at most `tracked_max` keys: a new key first drops the buckets that would be full
/// again anyway, then the longest idle eighth. (A forgotten client comes back with a full
/// bucket, as any new address does; that takes more addresses than the table holds.)
#[derive(Debug)]
pub(crate) struct RateLimiter {
    address: Rate,
    prefix: Rate,
    tracked_max: usize,
    buckets: Mutex<(HashMap<IpAddr, Bucket>, HashMap<Prefix, Bucket>)>,
}

/// A request over a rate: which limit, and how long until it would pass.
#[derive(Debug)]
pub(crate) struct Limited {
    pub(crate) wait: Duration,
    pub(crate) message: String,
}

impl RateLimiter {
    pub(crate) fn new(config: &ApiConfig) -> Self {
        Self {
            address: Rate::new(config.rate_per_s, config.rate_burst),
            prefix: Rate::new(config.rate_prefix_per_s, config.rate_prefix_burst),
            tracked_max: config.rate_clients_tracked_max.max(1),
            buckets: Mutex::default(),
        }
    }

    /// Charges `cost` requests to `ip` and its network, or says which limit refuses them.
    pub(crate) fn take(&self, ip: IpAddr, cost: u32, now: Instant) -> Result<(), Limited> {
        self.charge(ip, cost, now, true)
    }

    /// Charges `cost` requests to `ip` and its network whatever they hold, for work already
    /// done: a debt their next requests wait for.
    pub(crate) fn debit(&self, ip: IpAddr, cost: u32, now: Instant) {
        let _ = self.charge(ip, cost, now, false);
    }

    fn charge(&self, ip: IpAddr, cost: u32, now: Instant, enforce: bool) -> Result<(), Limited> {
        if !self.address.on() && !self.prefix.on() {
            return Ok(());
        }
        let address = ip.to_canonical();
        let prefix = Prefix::of(address);
        let cost = f64::from(cost);
        let mut buckets = self.buckets.lock().expect("rate limiter lock poisoned");
        let (addresses, prefixes) = &mut *buckets;
        if self.address.on() {
            let bucket = bucket(addresses, address, self.address, self.tracked_max, now);
            let checked = self.address.check(bucket, cost, now);
            checked.or_else(|wait| if enforce { Err(wait) } else { Ok(()) }).map_err(|wait| {
                Limited {
                    wait,
                    message: format!(
                        "more than {} requests a second from {address}",
                        self.address.per_second
                    ),
                }
            })?;
        }
        if self.prefix.on() {
            let bucket = bucket(prefixes, prefix, self.prefix, self.tracked_max, now);
            let checked = self.prefix.check(bucket, cost, now);
            checked.or_else(|wait| if enforce { Err(wait) } else { Ok(()) }).map_err(|wait| {
                Limited {
                    wait,
                    message: format!(
                        "more than {} requests a second from network {prefix}",
                        self.prefix.per_second
                    ),
                }
            })?;
            bucket.tokens -= cost;
        }
        if let Some(bucket) = addresses.get_mut(&address) {
            bucket.tokens -= cost;
        }
        Ok(())
    }

    /// Keys tracked (addresses, networks).
    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        let buckets = self.buckets.lock().unwrap();
        (buckets.0.len(), buckets.1.len())
    }
}

/// `key`'s bucket in `table`, a new full one if `key` has none, making room in a full table.
fn bucket<K: Eq + Hash + Copy>(
    table: &mut HashMap<K, Bucket>,
    key: K,
    rate: Rate,
    tracked_max: usize,
    now: Instant,
) -> &mut Bucket {
    if table.len() >= tracked_max && !table.contains_key(&key) {
        table.retain(|_, bucket| !rate.refilled(bucket, now));
        if table.len() >= tracked_max {
            let mut lasts: Vec<Instant> = table.values().map(|b| b.last).collect();
            let cut = lasts.len() / 8;
            let (_, oldest_kept, _) = lasts.select_nth_unstable(cut);
            let oldest_kept = *oldest_kept;
            table.retain(|_, bucket| bucket.last > oldest_kept);
        }
    }
    table.entry(key).or_insert(Bucket { tokens: rate.burst, last: now })
}

/// Middleware: counts every answered request by route (the route's pattern, so the labels
/// stay bounded), method and status, and times it. Outermost, so refusals are counted too.
pub(crate) async fn observe(State(api): State<Api>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    // Any token is a valid method: name only the standard ones, or a client could grow the
    // label set without bound.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS") => m,
        _ => "other",
    }
    .to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    api.chain.metrics.request(&route, &method, response.status().as_u16(), started.elapsed());
    response
}

/// Charges `cost` requests to `client`, or answers 429 `rate_limited` with `Retry-After`,
/// naming the limit met.
pub(crate) fn charge(api: &Api, client: ClientAddr, cost: u32) -> Result<(), Refused> {
    api.limiter.take(client.0.ip(), cost, Instant::now()).map_err(|limited| {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "{} (a batch counts one request per transaction, more per wrongly signed one); retry in {} ms",
                limited.message,
                limited.wait.as_millis().max(1)
            ),
        );
        let seconds = limited.wait.as_secs_f64().ceil().max(1.0);
        // At most a batch's cost over the slowest rate: far from overflowing.
        #[allow(clippy::cast_possible_truncation)]
        let seconds = seconds as u64;
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        Refused(Box::new(response))
    })
}

/// Charges `client` for the `wrong` wrongly signed transactions of a batch of `batch`, on
/// top of the one request each already cost. Finding them cost the node a search by halves
/// (the batch is verified whole, then each half that fails, down to single transactions): for
/// each, about one verification per halving, so it costs one request per halving (10 in a
/// batch of 1,000). The charge is taken even past the client's rate, as a debt.
pub(crate) fn charge_wrong_signatures(api: &Api, client: ClientAddr, batch: usize, wrong: usize) {
    if wrong == 0 {
        return;
    }
    let halvings = usize::BITS - batch.leading_zeros();
    let cost = u32::try_from(wrong).unwrap_or(u32::MAX).saturating_mul(halvings);
    api.limiter.debit(client.0.ip(), cost, Instant::now());
}

/// Middleware: a request costs one against its client's rates (a batch pays the rest of its
/// cost in its handler); over them, 429.
pub(crate) async fn rate_limit(
    State(api): State<Api>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    request: Request,
    next: Next,
) -> Response {
    match charge(&api, client, 1) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

/// Middleware: a request whose body missed its deadline is answered 408 `request_timeout`
/// (whatever its handler made of the failed body), and its connection closed.
pub(crate) async fn request_timeout(
    State(api): State<Api>,
    request: Request,
    next: Next,
) -> Response {
    let late = request.extensions().get::<BodyLate>().cloned();
    let response = next.run(request).await;
    if !late.is_some_and(|late| late.0.load(Ordering::Relaxed)) {
        return response;
    }
    let limits = &api.config.api;
    let mut response = error(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request body did not arrive in time: whole within {} ms of the head, and at least {} bytes a second after the first {} ms",
            limits.body_timeout_ms, limits.transfer_min_bytes_per_s, limits.transfer_grace_ms
        ),
    );
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Error bodies read at most, when rewriting a plain-text error.
const PLAIN_ERROR_BYTES_MAX: usize = 4096;

/// Middleware: every error leaves as JSON `{code, message}`. The API's own errors already are;
/// this rewrites axum's plain-text rejections (bad path or query, oversized body, unknown
/// route, wrong method) with a stable code per status.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let body =
        axum::body::to_bytes(response.into_body(), PLAIN_ERROR_BYTES_MAX).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("body_too_large", format!("request body exceeds {} bytes", super::BODY_BYTES_MAX))
        }
        StatusCode::NOT_FOUND => ("unknown_route", "no such endpoint; see /openapi.json".into()),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this endpoint".into())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", text),
        StatusCode::BAD_REQUEST if text.contains("query string") => ("bad_query", text),
        StatusCode::BAD_REQUEST => ("bad_request", text),
        StatusCode::INTERNAL_SERVER_ERROR => ("internal", text),
        _ => ("http_error", text),
    };
    let mut response = error(status, code, message);
    if let Some(retry_after) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, retry_after);
    }
    response
}

/// The fallback for unknown paths.
pub(crate) async fn unknown_route() -> Response {
    Response::builder().status(StatusCode::NOT_FOUND).body(Body::empty()).expect("static response")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_s: u32, burst: u32, prefix_per_s: u32, prefix_burst: u32) -> ApiConfig {
        ApiConfig {
            rate_per_s: per_s,
            rate_burst: burst,
            rate_prefix_per_s: prefix_per_s,
            rate_prefix_burst: prefix_burst,
            ..ApiConfig::default()
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_over_its_rate_waits_and_others_do_not() {
        let limiter = RateLimiter::new(&limits(10, 5, 0, 0));
        let now = Instant::now();
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        for _ in 0..5 {
            assert!(limiter.take(a, 1, now).is_ok());
        }
        let wait = limiter.take(a, 1, now).unwrap_err().wait;
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO, "{wait:?}");
        assert!(limiter.take(b, 1, now).is_ok(), "another client has its own bucket");
        assert!(limiter.take(a, 1, now + Duration::from_millis(100)).is_ok(), "refilled");
        assert!(RateLimiter::new(&limits(0, 0, 0, 0)).take(a, 1, now).is_ok(), "0: no limit");
    }

    #[test]
    fn a_batch_costs_its_transactions_and_a_network_shares_its_rate() {
        let limiter = RateLimiter::new(&limits(1_000, 1_000, 1_500, 1_500));
        let now = Instant::now();
        let a = ip("10.0.0.1");
        assert!(limiter.take(a, 1_000, now).is_ok());
        let limited = limiter.take(a, 1, now).unwrap_err();
        assert!(limited.message.contains("10.0.0.1"), "{}", limited.message);
        // A neighbour has its own bucket but shares the /24's: 500 left there.
        let neighbour = ip("10.0.0.2");
        assert!(limiter.take(neighbour, 500, now).is_ok());
        let limited = limiter.take(neighbour, 1, now).unwrap_err();
        assert!(limited.message.contains("network 10.0.0.0/24"), "{}", limited.message);
        assert!(limiter.take(ip("10.0.1.1"), 1, now).is_ok(), "another network");
        // Work already done is charged whatever the bucket holds.
        let debtor = ip("10.9.0.1");
        limiter.debit(debtor, 3_000, now);
        let wait = limiter.take(debtor, 1, now + Duration::from_secs(1)).unwrap_err().wait;
        assert!(wait > Duration::from_millis(900), "{wait:?}");
        // More than a full bucket: passes when full, then the debt is paid off first.
        let big = RateLimiter::new(&limits(100, 10, 0, 0));
        assert!(big.take(a, 50, now).is_ok());
        let wait = big.take(a, 1, now).unwrap_err().wait;
        assert!(wait > Duration::from_millis(400), "{wait:?}");
    }

    #[test]
    fn the_rate_table_stays_bounded_under_a_flood_of_addresses() {
        let limiter = RateLimiter::new(&ApiConfig {
            rate_clients_tracked_max: 1_000,
            ..limits(10, 10, 10, 10)
        });
        let now = Instant::now();
        let honest = ip("192.0.2.1");
        for i in 0..20_000u32 {
            let [_, b, c, d] = i.to_be_bytes();
            let at = now + Duration::from_micros(u64::from(i));
            let _ = limiter.take(IpAddr::from([10, b, c, d]), 1, at);
            if i % 100 == 0 {
                let _ = limiter.take(honest, 1, at);
            }
        }
        let (addresses, prefixes) = limiter.tracked();
        assert!(addresses <= 1_000 && prefixes <= 1_000, "{addresses} {prefixes}");
    }

    #[test]
    fn prefixes_are_slash_24_and_slash_64() {
        assert_eq!(Prefix::of(ip("127.0.1.7")).to_string(), "127.0.1.0/24");
        assert_eq!(Prefix::of(ip("::ffff:10.1.2.3")), Prefix::of(ip("10.1.2.200")));
        assert_eq!(Prefix::of(ip("2001:db8:1:2:3:4:5:6")).to_string(), "2001:db8:1:2::/64");
        assert_ne!(Prefix::of(ip("127.0.1.1")), Prefix::of(ip("127.0.2.1")));
    }

    #[test]
    fn a_full_budget_serves_a_network_holding_little_and_refuses_the_rest() {
        let budget = Arc::new(FairShare::new("connections", "too_many_connections", 8, 3, 4));
        let mut held = Vec::new();
        // One address holds three, then is refused for its address.
        for _ in 0..3 {
            held.push(budget.take(ip("10.0.0.1"), None).unwrap());
        }
        let refused = budget.take(ip("10.0.0.1"), None).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.message.contains("client address"), "{}", refused.message);
        // Its network holds four, then is refused for the network.
        held.push(budget.take(ip("10.0.0.2"), None).unwrap());
        let refused = budget.take(ip("10.0.0.3"), None).unwrap_err();
        assert!(refused.message.contains("network 10.0.0.0/24"), "{}", refused.message);
        // Two more networks fill the budget: 4 + 3 + 1.
        for host in 1..=3 {
            held.push(budget.take(ip(&format!("10.0.1.{host}")), None).unwrap());
        }
        held.push(budget.take(ip("10.0.2.1"), None).unwrap());
        // A newcomer from a network holding none takes a share of the network holding four:
        // the oldest of its busiest address.
        let newcomer = budget.take(ip("192.0.2.1"), None).unwrap();
        let mut first = held.remove(0);
        assert_eq!(first.1.try_recv(), Ok(()), "the oldest share of the busiest address");
        assert!(held.iter_mut().all(|(_, evicted)| evicted.try_recv().is_err()));
        // 3 + 3 + 1 + 1: the network holding one takes one from a network of three …
        held.push(budget.take(ip("10.0.2.2"), None).unwrap());
        // … but holding two, it holds its share: 429.
        let refused = budget.take(ip("10.0.2.3"), None).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.message);
        assert!(refused.message.contains("holds its share"), "{}", refused.message);
        drop((newcomer, first, held));
        assert!(budget.holders().shares.is_empty(), "every share given back");
        assert!(budget.holders().per_address.is_empty() && budget.holders().per_prefix.is_empty());

        // One share per network and all held: a newcomer is refused with 503.
        let budget = Arc::new(FairShare::new("event streams", "too_many_streams", 2, 1, 1));
        let _a = budget.take(ip("10.0.0.1"), None).unwrap();
        let _b = budget.take(ip("10.0.1.1"), None).unwrap();
        let refused = budget.take(ip("10.0.2.1"), None).unwrap_err();
        assert_eq!(
            (refused.status, refused.code),
            (StatusCode::SERVICE_UNAVAILABLE, "too_many_streams")
        );
    }
}
