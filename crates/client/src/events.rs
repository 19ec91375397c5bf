//! Following a node's event stream (`GET /v1/events`, server-sent events) with automatic
//! resume: after a dropped connection or a node restart, the stream reconnects with the last
//! event id it delivered, so the caller sees every event once and in order.

use crate::{Client, ClientError, http, query_string};
use medledger_types::api::{ApiError, EventEnvelope, EventFilter};
use std::io::BufRead;
use std::time::{Duration, Instant};

/// A node sends a keep-alive at least every 15 s; silence for this long means a dead link.
const SILENCE_MAX: Duration = Duration::from_secs(45);
/// SSE messages larger than this are refused (a block's issuance event is the largest).
const MESSAGE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Events as they happen, resuming by itself. Iterate it; `None` never comes while the node is
/// reachable, so stop with `take`, `take_while` or by dropping it.
pub struct EventStream {
    client: Client,
    filter: EventFilter,
    last_id: Option<String>,
    body: Option<Box<dyn BufRead + Send>>,
    reconnect_for: Duration,
    failing_since: Option<Instant>,
    /// An error was just returned: wait before connecting again.
    backoff: bool,
    /// Reconnections made so far.
    pub reconnects: u64,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("node", &self.client.addr())
            .field("filter", &self.filter)
            .field("last_id", &self.last_id)
            .finish()
    }
}

/// One SSE message.
struct Message {
    id: Option<String>,
    event: String,
    data: String,
}

impl EventStream {
    pub(crate) fn new(client: Client, filter: EventFilter) -> Self {
        Self {
            client,
            filter,
            last_id: None,
            body: None,
            reconnect_for: Duration::from_secs(60),
            failing_since: None,
            backoff: false,
            reconnects: 0,
        }
    }

    /// Resumes after the event with this id (`HEIGHT:INDEX`), as a payer's system does after
    /// its own restart with the last id it processed.
    pub fn resume_after(mut self, event_id: impl Into<String>) -> Self {
        self.last_id = Some(event_id.into());
        self
    }

    /// How long to keep trying to reconnect before giving up with an error (default 60 s).
    pub fn reconnect_for(mut self, duration: Duration) -> Self {
        self.reconnect_for = duration;
        self
    }

    /// The id of the last event delivered: store it to resume later.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    fn connect(&mut self) -> Result<Box<dyn BufRead + Send>, ClientError> {
        if self.last_id.is_none() && self.filter.from_height.is_none() {
            // Pin "after the current block" to a height, so that a reconnection before the
            // first event resumes there instead of after whatever block is current then.
            self.filter.from_height = Some(self.client.status()?.height.saturating_add(1));
        }
        let path = format!("/v1/events{}", query_string(&self.filter));
        let mut headers = String::from("Accept: text/event-stream\r\n");
        if let Some(id) = &self.last_id {
            headers.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        let addr = self.client.addr();
        let mut streamed = http::open_stream(addr, &path, &headers, SILENCE_MAX)
            .map_err(|source| ClientError::Io { addr, source })?;
        if streamed.status != 200 {
            let mut bytes = Vec::new();
            let _ = std::io::Read::read_to_end(
                &mut std::io::Read::take(&mut streamed.body, 64 * 1024),
                &mut bytes,
            );
            let error = serde_json::from_slice::<ApiError>(&bytes).unwrap_or_else(|_| ApiError {
                code: format!("http_{}", streamed.status),
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            });
            return Err(ClientError::Api { status: streamed.status, error });
        }
        Ok(streamed.body)
    }

    /// Reads the next message; `Ok(None)` when the connection ended.
    fn read_message(body: &mut dyn BufRead) -> std::io::Result<Option<Message>> {
        let (mut id, mut event, mut data) = (None, String::new(), String::new());
        loop {
            let mut line = String::new();
            // Bounded: a line longer than any event is refused, not buffered.
            let limit = u64::try_from(MESSAGE_BYTES_MAX).unwrap_or(u64::MAX);
            if std::io::Read::take(&mut *body, limit).read_line(&mut line)? == 0 {
                return Ok(None);
            }
            if !line.ends_with('\n') && line.len() as u64 >= limit {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "event larger than the SDK accepts",
                ));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if data.is_empty() && id.is_none() {
                    continue; // the end of a keep-alive comment
                }
                return Ok(Some(Message { id, event, data }));
            }
            if data.len() + line.len() > MESSAGE_BYTES_MAX {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "event larger than the SDK accepts",
                ));
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => id = Some(value.to_string()),
                "event" => event = value.to_string(),
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                _ => {} // comments and retry hints
            }
        }
    }

    fn retry_or_fail(&mut self, error: ClientError) -> Result<(), ClientError> {
        let since = *self.failing_since.get_or_insert_with(Instant::now);
        let permanent =
            matches!(&error, ClientError::Api { status, .. } if ![429, 503].contains(status));
        if permanent || since.elapsed() >= self.reconnect_for {
            // A caller that keeps iterating after an error retries at most once a second.
            self.failing_since = None;
            self.backoff = true;
            return Err(error);
        }
        std::thread::sleep(Duration::from_millis(250));
        Ok(())
    }
}

impl Iterator for EventStream {
    type Item = Result<EventEnvelope, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.body.is_none() && std::mem::take(&mut self.backoff) {
                std::thread::sleep(Duration::from_secs(1));
            }
            let body = match self.body.as_mut() {
                Some(body) => body,
                None => match self.connect() {
                    Ok(body) => {
                        self.failing_since = None;
                        self.body.insert(body)
                    }
                    Err(e) => match self.retry_or_fail(e) {
                        Ok(()) => continue,
                        Err(e) => return Some(Err(e)),
                    },
                },
            };
            match Self::read_message(body.as_mut()) {
                Ok(Some(message)) if message.data.is_empty() => {
                    // An id-only message: the node moved our resume point past filtered events.
                    self.last_id = message.id;
                }
                Ok(Some(message)) if message.event == "error" => {
                    self.body = None;
                    let error = serde_json::from_str::<ApiError>(&message.data)
                        .unwrap_or(ApiError { code: "stream_error".into(), message: message.data });
                    return Some(Err(ClientError::Api { status: 410, error }));
                }
                Ok(Some(message)) => {
                    return Some(match serde_json::from_str::<EventEnvelope>(&message.data) {
                        Ok(envelope) => {
                            self.failing_since = None;
                            self.last_id = Some(envelope.id.clone());
                            Ok(envelope)
                        }
                        Err(e) => Err(ClientError::Decode(format!("event: {e}"))),
                    });
                }
                Ok(None) | Err(_) => {
                    // The connection ended (node restart, network): resume where we were.
                    self.body = None;
                    self.reconnects += 1;
                    let addr = self.client.addr();
                    let error = ClientError::Io {
                        addr,
                        source: std::io::ErrorKind::ConnectionAborted.into(),
                    };
                    if let Err(e) = self.retry_or_fail(error) {
                        return Some(Err(e));
                    }
                }
            }
        }
    }
}
