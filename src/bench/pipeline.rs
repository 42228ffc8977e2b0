//! fleetop's whole pipeline as the bench runs it: the same [`Engine`] every front end uses
//! (rumqttc connection task → bounded queue → decode, map, apply with history), fed by one
//! broker and mapped by one fleet, so every flood message is decoded and stored.

use super::Tally;
use super::flood::{FILTER, TEMPLATE};
use crate::config::{Config, Protocol};
use crate::engine::{Engine, Input};
use crate::source::SourceEvent;
use crate::vocab::LinkState;
use std::time::Duration;
use tokio::time::Instant;

/// Events applied per wake-up, as the live front ends do.
const BATCH: usize = 4096;
/// How often the front ends advance time; the bench does the same work.
const TICK: Duration = Duration::from_millis(250);

/// The name of the fleet that maps the flood.
pub const FLEET: &str = "bench-tanks";

/// The fleet that maps the flood, plus `alerts` (`[[alert]]` entries, maybe none).
/// Limits stay at their defaults: the bench measures fleetop as a user runs it.
pub fn config(alerts: &str) -> Result<Config, String> {
    let text = format!(
        "[[fleet]]\nname = \"{FLEET}\"\ntopic = \"{TEMPLATE}\"\nformat = \"json\"\n\
         expected_interval = \"10s\"\n{alerts}"
    );
    Config::parse(&text, None).map_err(|e| e.0)
}

/// A started pipeline and what it has applied since its baseline.
pub struct Pipeline {
    pub engine: Engine,
    pub protocol: String,
    /// The connection's resolved credentials, for a publisher to the same broker.
    pub credentials: Option<(String, String)>,
    base_applied: u64,
    base_dropped: u64,
    pub tally: Tally,
    last_tick: Instant,
    /// Take messages off the queue without applying them (see [`Pipeline::transport_only`]).
    drain_only: bool,
    drained: u64,
    /// Messages the current run waits for.
    want: u64,
}

impl Pipeline {
    /// Starts the engine of `config` (see [`config`]) on `input`, one broker reached with the
    /// user's connection flags, subscribed to the same filter as mosquitto_sub.
    pub fn start(
        config: &Config,
        mut input: Input,
        protocol: Protocol,
    ) -> Result<Pipeline, String> {
        let mut credentials = None;
        if let Input::Brokers(specs) = &mut input {
            for spec in specs {
                spec.subscriptions = vec![(FILTER.to_string(), 0)];
                credentials = spec.credentials.clone();
            }
        }
        let engine = Engine::start(config, input)?;
        Ok(Pipeline {
            engine,
            protocol: protocol.to_string(),
            credentials,
            base_applied: 0,
            base_dropped: 0,
            tally: Tally::default(),
            last_tick: Instant::now(),
            drain_only: false,
            drained: 0,
            want: u64::MAX,
        })
    }

    /// Messages applied since the baseline (decoded, mapped and stored, or refused); in
    /// transport-only mode, messages taken off the queue.
    pub fn applied(&self) -> u64 {
        if self.drain_only {
            return self.drained;
        }
        self.engine.state.counters.messages - self.base_applied
    }

    /// From now on, take messages off the queue without applying them: what the connection
    /// task and the queue can carry, apart from the core's cost.
    pub fn transport_only(&mut self) {
        self.drain_only = true;
    }

    pub fn is_transport_only(&self) -> bool {
        self.drain_only
    }

    /// What the run made of the `sent` messages of the flood.
    pub fn outcome(&self, sent: u64) -> super::Outcome {
        super::Outcome {
            rate: self.tally.rate(),
            applied: self.applied().min(sent),
            sent,
        }
    }

    /// Messages the connection received but the full queue refused, since the baseline.
    pub fn dropped(&self) -> u64 {
        self.engine.dropped() - self.base_dropped
    }

    /// Counts from now on: what arrived before (probes) is not part of the flood.
    pub fn rebase(&mut self) {
        self.base_applied = self.engine.state.counters.messages;
        self.base_dropped = self.engine.dropped();
        self.tally = Tally::default();
    }

    /// The connection's state as a user would see it.
    pub fn link(&self) -> LinkState {
        self.engine
            .state
            .connections
            .first()
            .map_or(LinkState::Connecting, |c| c.state.clone())
    }

    /// Applies what arrives for `slice`, noting progress after every batch.
    pub async fn pump_for(&mut self, slice: Duration) {
        let deadline = tokio::time::sleep(slice);
        tokio::pin!(deadline);
        if self.drain_only {
            return self.drain_until(deadline).await;
        }
        loop {
            tokio::select! {
                biased;
                more = self.engine.pump(BATCH) => {
                    if !more {
                        break;
                    }
                    let applied = self.applied();
                    self.tally.note(std::time::Instant::now(), applied);
                }
                () = &mut deadline => break,
            }
        }
        if self.last_tick.elapsed() >= TICK {
            self.last_tick = Instant::now();
            self.engine.tick();
            // A front end would show these; the bench only keeps them from piling up.
            self.engine.state.drain_events().for_each(drop);
            self.engine.drain_alerts();
        }
    }

    async fn drain_until(&mut self, mut deadline: std::pin::Pin<&mut tokio::time::Sleep>) {
        loop {
            tokio::select! {
                biased;
                ev = self.engine.next_event() => match ev {
                    Some(SourceEvent::Message(_)) => {
                        self.drained += 1;
                        // A clock read per message would be a cost the pipeline does not have.
                        if self.drained % 1024 == 0 || self.drained == self.want {
                            self.tally.note(std::time::Instant::now(), self.drained);
                        }
                    }
                    Some(other) => self.engine.handle(other),
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
    }

    /// Pumps until `want` messages are accounted for (applied or dropped), the connection
    /// goes quiet for `idle`, or `limit` passes. Returns why it stopped, if not complete.
    pub async fn run_until(
        &mut self,
        want: u64,
        idle: Duration,
        limit: Duration,
    ) -> Option<String> {
        self.want = want;
        let started = Instant::now();
        let mut last_change = Instant::now();
        let mut last_seen = 0;
        loop {
            self.pump_for(Duration::from_millis(50)).await;
            let seen = self.applied() + self.dropped();
            if seen >= want {
                return None;
            }
            if seen != last_seen {
                last_seen = seen;
                last_change = Instant::now();
            } else if last_change.elapsed() >= idle {
                return Some(format!(
                    "no message for {:.0} s after {seen} of {want} (connection: {})",
                    idle.as_secs_f64(),
                    self.link()
                ));
            }
            if started.elapsed() >= limit {
                return Some(format!("gave up after {:.0} s", limit.as_secs_f64()));
            }
        }
    }

    /// Waits until the connection is up, or says why not.
    pub async fn connected(&mut self, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if self.engine.ever_connected(0) {
                return Ok(());
            }
            if started.elapsed() >= limit {
                return Err(format!(
                    "fleetop could not connect within {:.0} s: {}",
                    limit.as_secs_f64(),
                    self.link()
                ));
            }
            self.pump_for(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_fleet_maps_the_flood() {
        let c = config("").unwrap();
        assert_eq!(c.fleets.len(), 1);
        assert_eq!(c.limits.queue, crate::config::Limits::default().queue);
    }
}
