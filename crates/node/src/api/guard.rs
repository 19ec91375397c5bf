//! What keeps the API bounded and its errors uniform: an accept loop that holds at most a set
//! number of connections (a quarter per client address) and closes those that send nothing, a
//! per-client rate limit (429), and a layer that turns every non-JSON error (axum's own
//! rejections, unknown routes, oversized bodies) into the API's JSON error body.

use super::{Api, error};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// How long a client may take to send a request's head; past it the connection is closed, so
/// a client cannot hold connections open by sending nothing.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener`: at most `connections_max` connections at once (more wait in
/// the kernel's backlog), at most a quarter of them from one IP address (more are closed at
/// once), each request's head read within [`HEADER_READ_TIMEOUT`]. Each request carries the
/// client's address for the rate limit.
pub(crate) async fn serve(listener: TcpListener, router: Router, connections_max: usize) {
    let permits = Arc::new(Semaphore::new(connections_max.max(1)));
    let per_client_max = (connections_max / 4).max(1);
    let per_client: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    loop {
        let permit = permits.clone().acquire_owned().await.expect("semaphore never closed");
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("API accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = ClientSlot::take(&per_client, addr.ip(), per_client_max) else {
            continue; // over this client's share: dropped, the client sees the connection close
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(ClientAddr(addr)));
                router.clone().oneshot(request)
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            if let Err(e) = http.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(%addr, "API connection ended: {e}");
            }
            drop((permit, slot));
        });
    }
}

/// One of a client's connections, counted while it is open.
struct ClientSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl ClientSlot {
    fn take(counts: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<Self> {
        let mut map = counts.lock().expect("connection counts lock poisoned");
        let count = map.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Self { counts: counts.clone(), ip })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().expect("connection counts lock poisoned");
        if let Some(count) = map.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// The client's address, as the rate limit sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub SocketAddr);

/// Token buckets per client IP address.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Clients tracked at most; past it, buckets idle long enough to be full again are dropped.
const CLIENTS_TRACKED_MAX: usize = 10_000;

impl RateLimiter {
    /// `per_second` requests per second with bursts of `burst`; 0 turns the limit off.
    pub(crate) fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`, or says how long until one is available.
    pub(crate) fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().expect("rate limiter lock poisoned");
        if buckets.len() >= CLIENTS_TRACKED_MAX && !buckets.contains_key(&ip) {
            let refill = Duration::from_secs_f64(self.burst / self.per_second);
            buckets.retain(|_, (_, last)| now.duration_since(*last) < refill);
        }
        let (tokens, last) = buckets.entry(ip).or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
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

/// Middleware: refuses a client over its rate with 429 and `Retry-After`.
pub(crate) async fn rate_limit(
    State(api): State<Api>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    request: Request,
    next: Next,
) -> Response {
    match api.limiter.take(client.0.ip(), Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = wait.as_secs().max(1);
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "more than {} requests per second from {}; retry in {} ms",
                    api.config.api.rate_per_s,
                    client.0.ip(),
                    wait.as_millis().max(1)
                ),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
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

    #[test]
    fn a_client_over_its_rate_waits_and_others_do_not() {
        let limiter = RateLimiter::new(10, 5);
        let now = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..5 {
            assert!(limiter.take(a, now).is_ok());
        }
        let wait = limiter.take(a, now).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO, "{wait:?}");
        assert!(limiter.take(b, now).is_ok(), "another client has its own bucket");
        assert!(limiter.take(a, now + Duration::from_millis(100)).is_ok(), "refilled");
        assert!(RateLimiter::new(0, 0).take(a, now).is_ok(), "0 turns the limit off");
    }
}
