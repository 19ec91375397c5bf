//! The node's own Prometheus metrics, and the text `/metrics` serves.
//!
//! Two sources make up `/metrics`: the Commonware runtime's registry (consensus, P2P, storage,
//! marshal) and [`NodeMetrics`] (the ledger, the mempool and the API). Both are encoded by
//! `prometheus-client` in the OpenMetrics text format; [`exposition`] turns them into the
//! Prometheus text format 0.0.4 that scrapers and `promtool check metrics` read: counter
//! families are named with their `_total` sample, OpenMetrics-only lines (`# UNIT`, `# EOF`,
//! `_created` samples) are dropped, and a family the library registered without help text gets
//! one derived from its name, so that every series is documented.
//!
//! Names follow Prometheus' conventions: base units (seconds, bytes), `_total` on counters,
//! histograms for latencies (never a bare sum).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::time::Duration;

/// Buckets of end-to-end latencies (submit to commit, API requests), in seconds.
const LATENCY_BUCKETS_S: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Buckets of a block's execution time, in seconds.
const EXECUTION_BUCKETS_S: [f64; 12] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// A rejection or refusal code (`over_claim`, `mempool_full`, …): a bounded set, the ledger's
/// and the mempool's codes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    /// The machine code.
    pub code: String,
}

/// An API request: the route as registered (`/v1/bills/{code}/{number}`, never the concrete
/// path, so the label set stays bounded), the method and the status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabel {
    /// The matched route, or `unmatched`.
    pub route: String,
    /// GET, POST, …
    pub method: String,
    /// The HTTP status code.
    pub status: u16,
}

/// An API route, for its latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    /// The matched route, or `unmatched`.
    pub route: String,
}

/// What the state holds, for the state size gauge.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum StateKind {
    /// Members of the consortium.
    members,
    /// Registered patients.
    patients,
    /// Bills (red bills included).
    bills,
    /// Claims.
    claims,
    /// Registered payer policies.
    policies,
    /// Included transactions remembered until their expiry (the replay set).
    replay_set,
    /// Receipts of committed transactions this node serves.
    receipts,
}

/// The kind label of the state size gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// What is counted.
    pub kind: StateKind,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS_S)
}

/// The node's metrics. Cloning shares them.
#[derive(Clone, Debug)]
pub struct NodeMetrics {
    registry: Arc<Registry>,
    /// From a transaction's admission to this node's mempool (through its API or by gossip)
    /// to the execution of the block that includes it.
    pub submit_to_commit: Histogram,
    /// From a block's timestamp (its proposal) to its execution here.
    pub propose_to_commit: Histogram,
    /// Executing one block (the ledger, the state tree, indexes, events).
    pub block_execution: Histogram,
    /// Transactions the ledger rejected in a block, by code.
    pub txs_rejected: Family<CodeLabel, Counter>,
    /// Transactions refused at admission (never in a block), by code.
    pub admissions_refused: Family<CodeLabel, Counter>,
    /// API requests answered, by route, method and status.
    pub api_requests: Family<RequestLabel, Counter>,
    /// API request latency, by route (an event stream counts until its head is sent).
    pub api_request_duration: HistogramFamily<RouteLabel>,
    /// Items in the state, by kind (set when `/metrics` is read).
    pub state_items: Family<StateLabel, Gauge>,
    /// Height of the last executed block.
    pub height: Gauge,
    /// Transactions waiting in the mempool.
    pub mempool_txs: Gauge,
    /// Their bytes.
    pub mempool_bytes: Gauge,
}

impl Default for NodeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl NodeMetrics {
    /// Fresh metrics in their own registry, every series prefixed `medledger_`.
    pub fn new() -> Self {
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("medledger");
        let submit_to_commit = latency_histogram();
        registry.register_with_unit(
            "submit_to_commit",
            "From a transaction's admission to this node's mempool (by its API or by gossip) to the execution of its block",
            Unit::Seconds,
            submit_to_commit.clone(),
        );
        let propose_to_commit = latency_histogram();
        registry.register_with_unit(
            "propose_to_commit",
            "From a block's timestamp (its proposal) to its execution on this node",
            Unit::Seconds,
            propose_to_commit.clone(),
        );
        let block_execution = Histogram::new(EXECUTION_BUCKETS_S);
        registry.register_with_unit(
            "block_execution",
            "Time to execute one block: ledger, state tree, indexes and events",
            Unit::Seconds,
            block_execution.clone(),
        );
        let txs_rejected = Family::<CodeLabel, Counter>::default();
        registry.register(
            "txs_rejected_by_code",
            "Transactions the ledger rejected in a block, by rejection code",
            txs_rejected.clone(),
        );
        let admissions_refused = Family::<CodeLabel, Counter>::default();
        registry.register(
            "admissions_refused_by_code",
            "Transactions refused at admission to the mempool, by code",
            admissions_refused.clone(),
        );
        let api_requests = Family::<RequestLabel, Counter>::default();
        registry.register(
            "api_requests",
            "API requests answered, by route, method and status",
            api_requests.clone(),
        );
        let api_request_duration: HistogramFamily<RouteLabel> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "api_request_duration",
            "API request latency by route (for an event stream, until its head is sent)",
            Unit::Seconds,
            api_request_duration.clone(),
        );
        let state_items = Family::<StateLabel, Gauge>::default();
        registry.register("state_items", "Items in the ledger state, by kind", state_items.clone());
        let height = Gauge::default();
        registry.register("height", "Height of the last executed block", height.clone());
        let mempool_txs = Gauge::default();
        registry.register(
            "mempool_txs",
            "Transactions waiting in the mempool",
            mempool_txs.clone(),
        );
        let mempool_bytes = Gauge::default();
        registry.register_with_unit(
            "mempool",
            "Bytes of the transactions waiting in the mempool",
            Unit::Bytes,
            mempool_bytes.clone(),
        );
        Self {
            registry: Arc::new(root),
            submit_to_commit,
            propose_to_commit,
            block_execution,
            txs_rejected,
            admissions_refused,
            api_requests,
            api_request_duration,
            state_items,
            height,
            mempool_txs,
            mempool_bytes,
        }
    }

    /// Counts a rejection or refusal `code` in `family`.
    pub fn count(family: &Family<CodeLabel, Counter>, code: String) {
        family.get_or_create(&CodeLabel { code }).inc();
    }

    /// Records an API request.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.api_requests
            .get_or_create(&RequestLabel {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        self.api_request_duration
            .get_or_create(&RouteLabel { route: route.to_string() })
            .observe(took.as_secs_f64());
    }

    /// Sets the state size gauge of `kind`.
    pub fn state_size(&self, kind: StateKind, items: usize) {
        self.state_items
            .get_or_create(&StateLabel { kind })
            .set(i64::try_from(items).unwrap_or(i64::MAX));
    }

    /// These metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// Turns OpenMetrics text (from one or more registries) into the Prometheus text format
/// 0.0.4, every family with a `# HELP` and a `# TYPE` line.
pub fn exposition(openmetrics: &[&str]) -> String {
    let mut out = String::new();
    for text in openmetrics {
        let mut family: Option<Family0> = None;
        for line in text.lines() {
            if line == "# EOF" || line.starts_with("# UNIT ") || line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                flush(&mut out, family.take());
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                family = Some(Family0::new(name, help));
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
                match &mut family {
                    Some(f) if f.name == name => f.kind = kind.to_string(),
                    _ => {
                        flush(&mut out, family.take());
                        let mut f = Family0::new(name, "");
                        f.kind = kind.to_string();
                        family = Some(f);
                    }
                }
            } else if line.starts_with('#') {
                continue;
            } else {
                let sample_name = line.split(['{', ' ']).next().unwrap_or("");
                if sample_name.ends_with("_created") {
                    continue;
                }
                match &mut family {
                    Some(f) => f.samples.push(line.to_string()),
                    None => out.push_str(&format!("{line}\n")),
                }
            }
        }
        flush(&mut out, family.take());
    }
    out
}

/// One metric family being converted.
struct Family0 {
    name: String,
    help: String,
    kind: String,
    samples: Vec<String>,
}

impl Family0 {
    fn new(name: &str, help: &str) -> Self {
        Self {
            name: name.to_string(),
            help: help.trim().to_string(),
            kind: "untyped".to_string(),
            samples: Vec::new(),
        }
    }
}

fn flush(out: &mut String, family: Option<Family0>) {
    let Some(f) = family else { return };
    let kind = match f.kind.as_str() {
        "counter" | "gauge" | "histogram" | "summary" => f.kind.as_str(),
        // OpenMetrics' info, stateset and gaugehistogram have no 0.0.4 equivalent but gauge.
        "info" | "stateset" | "gaugehistogram" => "gauge",
        _ => "untyped",
    };
    // A counter's samples end in `_total`; 0.0.4 names the family after them.
    let name = if kind == "counter" && !f.name.ends_with("_total") {
        format!("{}_total", f.name)
    } else {
        f.name.clone()
    };
    let help = if f.help.is_empty() {
        // The library registered it without help: say what its name says.
        format!("{} ({kind}).", f.name.replace('_', " "))
    } else {
        f.help.clone()
    };
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for sample in f.samples {
        out.push_str(&sample);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_after_their_total_and_openmetrics_lines_go() {
        let om = "# HELP a_requests Requests.\n# TYPE a_requests counter\na_requests_total 3\na_requests_created 1.0\n# HELP up Up.\n# TYPE up gauge\n# UNIT up seconds\nup 1\n# EOF\n";
        assert_eq!(
            exposition(&[om]),
            "# HELP a_requests_total Requests.\n# TYPE a_requests_total counter\na_requests_total 3\n# HELP up Up.\n# TYPE up gauge\nup 1\n"
        );
    }

    #[test]
    fn a_family_without_help_gets_one() {
        let om = "# HELP peers \n# TYPE peers gauge\npeers 4\n# TYPE lonely counter\nlonely_total 1\n# EOF\n";
        let text = exposition(&[om]);
        assert!(text.contains("# HELP peers peers (gauge).\n"), "{text}");
        assert!(text.contains("# HELP lonely_total lonely (counter).\n# TYPE lonely_total counter\nlonely_total 1\n"), "{text}");
    }

    #[test]
    fn node_metrics_encode_with_units_and_labels() {
        let m = NodeMetrics::new();
        m.submit_to_commit.observe(0.02);
        NodeMetrics::count(&m.txs_rejected, "over_claim".to_string());
        m.request("/v1/status", "GET", 200, Duration::from_millis(3));
        m.state_size(StateKind::bills, 7);
        let text = exposition(&[&m.encode()]);
        assert!(text.contains("# TYPE medledger_submit_to_commit_seconds histogram"), "{text}");
        assert!(
            text.contains("medledger_txs_rejected_by_code_total{code=\"over_claim\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "medledger_api_requests_total{route=\"/v1/status\",method=\"GET\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("medledger_state_items{kind=\"bills\"} 7"), "{text}");
        assert!(text.contains("# TYPE medledger_mempool_bytes gauge"), "{text}");
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
    }
}
