//! What a broker says about itself on `$SYS`: connected clients, message rates and the
//! messages it dropped. Pure: readings come in with the time they arrived.
//!
//! Brokers differ:
//! - Mosquitto: `$SYS/broker/clients/connected`, `$SYS/broker/load/messages/{received,sent}/1min`
//!   (messages a minute, averaged over the last minute), `$SYS/broker/publish/messages/dropped`
//!   (first published once non-zero), `$SYS/broker/version` ("mosquitto version 2.0.18").
//! - HiveMQ's `$SYS` plugin: the same clients and load topics, but its loads are Dropwizard
//!   meters (messages a second), and its drop counter is `$SYS/broker/messages/publish/dropped`.
//! - EMQX: one tree per cluster node, `$SYS/brokers/{node}/…`, with totals rather than
//!   rates: `stats/connections/count` (`stats/connections.count` before 5.0) and
//!   `metrics/messages/{received,sent,dropped}`. Rates come from the change between two
//!   readings; a cluster's figures are the sum over its nodes.

/// The filters the stats connection subscribes to: only the figures shown, never `$SYS/#`
/// (EMQX announces every client's connect and disconnect there).
pub const SYS_FILTERS: &[&str] = &[
    "$SYS/broker/version",
    "$SYS/broker/clients/connected",
    "$SYS/broker/load/messages/received/1min",
    "$SYS/broker/load/messages/sent/1min",
    "$SYS/broker/publish/messages/dropped",
    "$SYS/broker/messages/publish/dropped",
    "$SYS/brokers/+/version",
    "$SYS/brokers/+/stats/connections/count",
    "$SYS/brokers/+/stats/connections.count",
    "$SYS/brokers/+/metrics/messages/received",
    "$SYS/brokers/+/metrics/messages/sent",
    "$SYS/brokers/+/metrics/messages/dropped",
];

/// Cluster nodes kept: a broker that names more is not telling the truth about itself.
const MAX_NODES: usize = 64;
/// Longest version text kept.
const MAX_VERSION: usize = 80;

/// Which broker's `$SYS` dialect a connection speaks, as far as its topics tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    #[default]
    Unknown,
    Mosquitto,
    HiveMq,
    Emqx,
}

impl Flavour {
    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::Unknown => "broker",
            Flavour::Mosquitto => "Mosquitto",
            Flavour::HiveMq => "HiveMQ",
            Flavour::Emqx => "EMQX",
        }
    }
}

/// A total a node counts up (EMQX's metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Received,
    Sent,
    Dropped,
}

/// One `$SYS` message, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Version(String),
    Clients(u64),
    /// `load/messages/received/1min`, in the broker's own unit (see [`Flavour`]).
    ReceivedLoad(f64),
    SentLoad(f64),
    /// Mosquitto's drop counter.
    Dropped(u64),
    /// HiveMQ's drop counter (its topic tells the dialect apart).
    HiveMqDropped(u64),
    NodeVersion {
        node: String,
        version: String,
    },
    NodeClients {
        node: String,
        clients: u64,
    },
    NodeTotal {
        node: String,
        total: Total,
        count: u64,
    },
}

/// What `topic` with `payload` says, if it is one of [`SYS_FILTERS`] with a value of the
/// right kind. Anything else (another broker's topic of that name, a word where a count
/// belongs) is no reading.
pub fn parse(topic: &[u8], payload: &[u8]) -> Option<Reading> {
    let topic = std::str::from_utf8(topic).ok()?;
    let text = std::str::from_utf8(payload).ok()?.trim();
    let count = || text.parse::<u64>().ok();
    let load = || {
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(rest) = topic.strip_prefix("$SYS/broker/") {
        return match rest {
            "version" => Some(Reading::Version(version_text(text)?)),
            "clients/connected" => count().map(Reading::Clients),
            "load/messages/received/1min" => load().map(Reading::ReceivedLoad),
            "load/messages/sent/1min" => load().map(Reading::SentLoad),
            "publish/messages/dropped" => count().map(Reading::Dropped),
            "messages/publish/dropped" => count().map(Reading::HiveMqDropped),
            _ => None,
        };
    }
    let rest = topic.strip_prefix("$SYS/brokers/")?;
    let (node, what) = rest.split_once('/')?;
    let node = node.to_string();
    match what {
        "version" => Some(Reading::NodeVersion {
            node,
            version: version_text(text)?,
        }),
        "stats/connections/count" | "stats/connections.count" => {
            count().map(|clients| Reading::NodeClients { node, clients })
        }
        "metrics/messages/received" => node_total(node, Total::Received, count()),
        "metrics/messages/sent" => node_total(node, Total::Sent, count()),
        "metrics/messages/dropped" => node_total(node, Total::Dropped, count()),
        _ => None,
    }
}

fn node_total(node: String, total: Total, count: Option<u64>) -> Option<Reading> {
    count.map(|count| Reading::NodeTotal { node, total, count })
}

fn version_text(text: &str) -> Option<String> {
    (!text.is_empty())
        .then(|| crate::sanitize::truncate(&crate::sanitize::text(text), MAX_VERSION).into_owned())
}

/// A total and the rate it last grew at.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Counter {
    last: Option<(i64, u64)>,
    per_s: Option<f64>,
}

impl Counter {
    fn push(&mut self, at_ms: i64, count: u64) {
        match self.last {
            // The same reading again, or one older than the last: nothing new.
            Some((t, _)) if at_ms <= t => return,
            // A smaller total is a restarted node: no rate until the next reading.
            Some((t, n)) => {
                self.per_s = (count >= n).then(|| (count - n) as f64 * 1000.0 / (at_ms - t) as f64)
            }
            None => {}
        }
        self.last = Some((at_ms, count));
    }
}

/// One EMQX node's figures.
#[derive(Debug, Clone, PartialEq, Default)]
struct Node {
    name: String,
    clients: Option<u64>,
    received: Counter,
    sent: Counter,
    dropped: Counter,
}

/// A connection's broker, as its `$SYS` topics describe it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BrokerHealth {
    pub flavour: Flavour,
    pub version: Option<String>,
    /// When the latest reading came; `None` until one has.
    pub updated_ms: Option<i64>,
    clients: Option<u64>,
    received_load: Option<f64>,
    sent_load: Option<f64>,
    dropped: Option<u64>,
    nodes: Vec<Node>,
}

impl BrokerHealth {
    /// Takes in a reading that arrived at `at_ms`.
    pub fn apply(&mut self, reading: Reading, at_ms: i64) {
        self.updated_ms = Some(at_ms);
        match reading {
            Reading::Version(v) => {
                if v.to_ascii_lowercase().starts_with("mosquitto") {
                    self.flavour = Flavour::Mosquitto;
                }
                self.version = Some(v);
            }
            Reading::Clients(n) => self.clients = Some(n),
            Reading::ReceivedLoad(v) => self.received_load = Some(v),
            Reading::SentLoad(v) => self.sent_load = Some(v),
            Reading::Dropped(n) => self.dropped = Some(n),
            Reading::HiveMqDropped(n) => {
                self.flavour = Flavour::HiveMq;
                self.dropped = Some(n);
            }
            Reading::NodeVersion { node, version } => {
                self.flavour = Flavour::Emqx;
                if self.node(node).is_some() {
                    self.version = Some(version);
                }
            }
            Reading::NodeClients { node, clients } => {
                self.flavour = Flavour::Emqx;
                if let Some(n) = self.node(node) {
                    n.clients = Some(clients);
                }
            }
            Reading::NodeTotal { node, total, count } => {
                self.flavour = Flavour::Emqx;
                if let Some(n) = self.node(node) {
                    match total {
                        Total::Received => n.received.push(at_ms, count),
                        Total::Sent => n.sent.push(at_ms, count),
                        Total::Dropped => n.dropped.push(at_ms, count),
                    }
                }
            }
        }
    }

    fn node(&mut self, name: String) -> Option<&mut Node> {
        let at = match self.nodes.iter().position(|n| n.name == name) {
            Some(i) => i,
            None if self.nodes.len() < MAX_NODES => {
                self.nodes.push(Node {
                    name,
                    ..Node::default()
                });
                self.nodes.len() - 1
            }
            None => return None,
        };
        self.nodes.get_mut(at)
    }

    /// True once the broker has said anything about itself.
    pub fn is_known(&self) -> bool {
        self.updated_ms.is_some()
    }

    /// Cluster nodes heard from (EMQX); 0 for a single broker.
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Clients connected now (summed over a cluster's nodes).
    pub fn clients(&self) -> Option<u64> {
        self.clients.or_else(|| self.sum(|n| n.clients))
    }

    /// Messages the broker received a second, over about the last minute.
    pub fn received_per_s(&self) -> Option<f64> {
        self.load_per_s(self.received_load)
            .or_else(|| self.sum_f(|n| n.received.per_s))
    }

    /// Messages the broker sent a second, over about the last minute.
    pub fn sent_per_s(&self) -> Option<f64> {
        self.load_per_s(self.sent_load)
            .or_else(|| self.sum_f(|n| n.sent.per_s))
    }

    /// Messages the broker says it dropped (for all its clients) since it started.
    pub fn dropped(&self) -> Option<u64> {
        self.dropped
            .or_else(|| self.sum(|n| n.dropped.last.map(|(_, c)| c)))
    }

    fn load_per_s(&self, load: Option<f64>) -> Option<f64> {
        match self.flavour {
            Flavour::HiveMq => load,
            _ => load.map(|per_minute| per_minute / 60.0),
        }
    }

    fn sum(&self, f: impl Fn(&Node) -> Option<u64>) -> Option<u64> {
        self.nodes
            .iter()
            .filter_map(f)
            .fold(None, |acc, v| Some(acc.unwrap_or(0).saturating_add(v)))
    }

    fn sum_f(&self, f: impl Fn(&Node) -> Option<f64>) -> Option<f64> {
        self.nodes
            .iter()
            .filter_map(f)
            .fold(None, |acc, v| Some(acc.unwrap_or(0.0) + v))
    }
}

#[cfg(test)]
mod tests;
