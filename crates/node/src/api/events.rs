//! `GET /v1/events`: the ledger's events as server-sent events.
//!
//! Each SSE message carries `id: HEIGHT:INDEX`, `event: TYPE` and the JSON [`EventEnvelope`].
//! A client resumes after a reconnect with the standard `Last-Event-ID` header (or
//! `?from_height=H` to start at a block), and misses nothing the node still holds: the stream
//! replays held blocks first, then follows new ones. Blocks older than the node holds answer
//! 410 `events_pruned` rather than a silent gap.

use super::guard::{ClientAddr, Share};
use super::{Api, Refused};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use medledger_types::api::{ApiError, EventEnvelope, EventFilter, EventPosition};
use std::collections::VecDeque;
use std::convert::Infallible;
use tokio::sync::oneshot;

/// Blocks read from the event log per step while catching up: one, so that a stream holds at
/// most one block's events (a few MB at most) waiting for a slow client.
const CATCH_UP_BLOCKS: usize = 1;

struct Follower {
    api: Api,
    filter: EventFilter,
    kinds: Option<Vec<&'static str>>,
    executed: tokio::sync::watch::Receiver<u64>,
    /// The next event to send.
    next: EventPosition,
    ready: VecDeque<SseEvent>,
    done: bool,
    /// This stream's share of the node's event streams.
    _share: Share,
    /// Fires when the share is taken back for a client from a network holding fewer: the
    /// stream ends, and the client resumes later or elsewhere with `Last-Event-ID`.
    evicted: oneshot::Receiver<()>,
}

impl Follower {
    fn sse(envelope: &EventEnvelope) -> SseEvent {
        SseEvent::default()
            .id(envelope.id.clone())
            .event(envelope.event.kind())
            .json_data(envelope)
            .expect("events serialize")
    }

    /// Queues the filtered events of held blocks from `next` on; false if none were held.
    fn catch_up(&mut self) -> Result<bool, SseEvent> {
        let (blocks, oldest, tip) = {
            let executed = self.api.chain.executed();
            let tip = executed.tip.height;
            (
                executed.events.range(self.next.height, tip, CATCH_UP_BLOCKS),
                executed.events.oldest(),
                tip,
            )
        };
        if blocks.is_empty() {
            if self.next.height <= tip {
                // Pruned while this stream was behind.
                return Err(pruned(self.next.height, oldest));
            }
            return Ok(false);
        }
        if blocks[0][0].height != self.next.height {
            return Err(pruned(self.next.height, oldest));
        }
        for block in blocks {
            let mut last_shown = None;
            for envelope in
                block.iter().filter(|e| e.index >= self.next.index || e.height > self.next.height)
            {
                if let Some(event) = self.filter.apply(self.kinds.as_deref(), &envelope.event) {
                    let shown = EventEnvelope { event, ..envelope.clone() };
                    self.ready.push_back(Self::sse(&shown));
                    last_shown = Some(envelope.index);
                }
            }
            // When the filter hid the block's last event, an id-only message (no data: clients
            // do not see it as an event) still moves the client's Last-Event-ID past the
            // block, so a quiet filtered stream resumes from where it is, not from its last
            // match.
            if let Some(last) = block.last()
                && last_shown != Some(last.index)
                && (last.height > self.next.height || last.index >= self.next.index)
            {
                self.ready.push_back(SseEvent::default().id(last.id.clone()));
            }
            let height = block[0].height;
            self.next = EventPosition { height: height + 1, index: 0 };
        }
        Ok(true)
    }

    async fn next_event(mut self) -> Option<(Result<SseEvent, Infallible>, Self)> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some((Ok(event), self));
            }
            if self.done
                || !matches!(self.evicted.try_recv(), Err(oneshot::error::TryRecvError::Empty))
            {
                return None;
            }
            match self.catch_up() {
                Ok(true) => {}
                Ok(false) => {
                    // Nothing new: wait for the next executed block (or the node to stop, or
                    // the share to be taken back).
                    tokio::select! {
                        changed = self.executed.changed() => {
                            if changed.is_err() {
                                return None;
                            }
                        }
                        _ = &mut self.evicted => return None,
                    }
                }
                Err(last) => {
                    self.done = true;
                    self.ready.push_back(last);
                }
            }
        }
    }
}

fn pruned(height: u64, oldest: Option<u64>) -> SseEvent {
    SseEvent::default().event("error").data(format!(
        "{{\"code\":\"events_pruned\",\"message\":\"events of block {height} are no longer held; the oldest held is {}\"}}",
        oldest.unwrap_or(0)
    ))
}

/// The stream's start: after `Last-Event-ID`, at `from_height`, or after the current block.
fn start(api: &Api, filter: &EventFilter, headers: &HeaderMap) -> Result<EventPosition, Refused> {
    let last_event = headers.get("last-event-id").map(|v| v.to_str().unwrap_or("?").to_string());
    let executed = api.chain.executed();
    let tip = executed.tip.height;
    let start = match (last_event, filter.from_height) {
        (Some(id), _) => {
            let after: EventPosition = id
                .parse()
                .map_err(|e: String| Refused::new(StatusCode::BAD_REQUEST, "bad_event_id", e))?;
            EventPosition { height: after.height, index: after.index.saturating_add(1) }
        }
        // Events begin at block 1.
        (None, Some(height)) => EventPosition { height: height.max(1), index: 0 },
        (None, None) => EventPosition { height: tip + 1, index: 0 },
    };
    let oldest = executed.events.oldest().unwrap_or(tip + 1);
    if start.height < oldest && start.height <= tip {
        return Err(Refused::new(
            StatusCode::GONE,
            "events_pruned",
            format!(
                "events of block {} are no longer held by this node; the oldest held is {oldest}",
                start.height
            ),
        ));
    }
    Ok(start)
}

#[utoipa::path(get, path = "/v1/events", tag = "events", operation_id = "events",
    summary = "Server-sent events: blocks, bills issued and voided, claims submitted, settled, rejected and withdrawn",
    description = "Each message has `id: HEIGHT:INDEX`, `event: TYPE` and an `EventEnvelope` as JSON data. A block's events come in block order and end with its `block` event. `block` events of empty blocks (an idle chain's heartbeat) come only when `types` names `block`; other `block` events also come on a stream with no filter at all, never on one filtered by type, payer, patient or issuer unless `types` names `block`. Resume with the `Last-Event-ID` header (after that event) or `from_height` (from that block); without either the stream starts after the current block. A keep-alive comment is sent every 15 s.",
    params(
        ("types" = Option<String>, Query, description = "Comma-separated event types: bills_issued, bill_voided, claim_submitted, claim_settled, claim_rejected, claim_withdrawn, payment_recorded, policy_registered, body_accessed, tx_rejected, block"),
        ("payer" = Option<medledger_types::MemberId>, Query, description = "Only claim events of this payer"),
        ("patient" = Option<medledger_types::Pseudonym>, Query, description = "Only this patient's bills and claims"),
        ("issuer" = Option<medledger_types::MemberId>, Query, description = "Only bills issued or voided by this hospital"),
        ("from_height" = Option<u64>, Query, description = "Start with this block's events"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (HEIGHT:INDEX)")),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = EventEnvelope),
        (status = 400, description = "Unknown event type, bad filter or bad event id", body = ApiError),
        (status = 410, description = "The node no longer holds the events asked for", body = ApiError),
        (status = 429, description = "Over this client's request rate (`rate_limited`), or its address or network holds its share of the node's event streams (`too_many_streams`)", body = ApiError),
        (status = 503, description = "All the node's event streams are held, one per network (`too_many_streams`)", body = ApiError)))]
pub(crate) async fn events(
    State(api): State<Api>,
    ConnectInfo(client): ConnectInfo<ClientAddr>,
    Query(filter): Query<EventFilter>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Refused> {
    let kinds =
        filter.kinds().map_err(|e| Refused::new(StatusCode::BAD_REQUEST, "bad_event_type", e))?;
    let next = start(&api, &filter, &headers)?;
    let (share, evicted) = api
        .streams
        .take(client.0.ip(), None)
        .map_err(|refusal| Refused(Box::new(refusal.into_response())))?;
    let follower = Follower {
        executed: api.chain.watch_executed(),
        api,
        filter,
        kinds,
        next,
        ready: VecDeque::new(),
        done: false,
        _share: share,
        evicted,
    };
    Ok(Sse::new(futures::stream::unfold(follower, Follower::next_event))
        .keep_alive(KeepAlive::default()))
}
