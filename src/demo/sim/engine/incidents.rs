//! What happens to devices between reports: scheduled faults, gateways coming back, and
//! commands (with the field's delays, failures and losses).

use super::{Dev, Engine, Ev, Life, MIN_GATEWAY_DOWN, REBOOT_MS};
use crate::demo::sim::commands::{self, Fate, Outcome};
use crate::demo::sim::faults::{Fault, FaultKind};
use crate::demo::sim::link::{Link, with_will};
use crate::demo::sim::payload::Msg;
use crate::demo::topics::{self, OFFLINE, ONLINE};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

impl Engine {
    /// Applies a scheduled fault, if it can happen now; only those that do are announced
    /// and counted, so the log never names an incident nobody could see.
    pub(super) async fn apply_fault(&mut self, f: Fault, now: u64) {
        let max_down = max_gateways_down(self.gateways.len());
        let can = match &f.kind {
            FaultKind::GatewayDrops { gateway, .. } => {
                self.gateways_down < max_down && self.gateways[*gateway].link.is_some()
            }
            other => other.device().is_some_and(|d| self.reachable(d)),
        };
        if !can {
            tracing::debug!(
                "simulator: skipped (cannot happen now): {}",
                f.describe(&self.layout)
            );
            return;
        }
        tracing::info!("simulator fault: {}", f.describe(&self.layout));
        self.stats.faults.fetch_add(1, Relaxed);
        match f.kind {
            FaultKind::GatewayDrops {
                gateway,
                back_after_ms,
            } => {
                if let Some(link) = self.gateways[gateway].link.take() {
                    link.kill();
                    self.gateways_down += 1;
                    let back = back_after_ms.max(self.clock.sim_of(MIN_GATEWAY_DOWN));
                    self.schedule(now + back, Ev::GatewayBack(gateway));
                }
            }
            kind => {
                let Some(device) = kind.device() else { return };
                if matches!(kind, FaultKind::Malformed { .. }) {
                    self.stats.malformed.fetch_add(1, Relaxed);
                }
                if let Some(back) = self.devs[device].suffer(&kind, now, &mut self.out) {
                    self.schedule(back, Ev::Revive(device));
                }
                self.flush(device).await;
            }
        }
    }

    /// Starts reconnecting a dropped gateway, in the background.
    pub(super) fn gateway_back(&mut self, g: usize) {
        let gw = &mut self.gateways[g];
        gw.session += 1;
        let role = format!("gw-{}-{}", self.layout.gateways[g].id, gw.session);
        let options = with_will(self.connector.options(&role), &gw.status, OFFLINE);
        let (connector, stats, done) = (
            self.connector.clone(),
            self.stats.clone(),
            self.gateway_tx.clone(),
        );
        tokio::spawn(async move {
            let link = Link::connect(&connector, options, 64, stats, None, None).await;
            // If the engine has gone, dropping the link here fires its will: it is shutting
            // down anyway.
            let _ = done.send((g, link));
        });
    }

    /// A gateway is back: it says `online` (its devices are reachable again), or it retries.
    pub(super) async fn gateway_connected(&mut self, g: usize, link: Result<Link, String>) {
        match link {
            Ok(link) => {
                let gw = &mut self.gateways[g];
                let _ = link
                    .client
                    .publish(gw.status.clone(), QoS::AtLeastOnce, true, ONLINE)
                    .await;
                self.stats.published.fetch_add(1, Relaxed);
                gw.link = Some(link);
                self.gateways_down -= 1;
            }
            Err(e) => {
                tracing::warn!(
                    "simulator: gateway {} cannot reconnect: {e}",
                    self.layout.gateways[g].id
                );
                let retry = self.clock.now_ms() + self.clock.sim_of(Duration::from_secs(5));
                self.schedule(retry, Ev::GatewayBack(g));
            }
        }
    }

    pub(super) async fn on_command(&mut self, p: Publish) {
        self.stats.commands_received.fetch_add(1, Relaxed);
        let now = self.clock.now_ms();
        let Ok(topic) = std::str::from_utf8(&p.topic) else {
            return;
        };
        let Some((kind, id)) = topics::parse_command_topic(&self.prefix, topic) else {
            return;
        };
        // No such device, or one that cannot hear: nobody answers, as in the field.
        let Some(&i) = self.by_id.get(id) else {
            return;
        };
        if self.layout.devices[i].kind != kind || !self.reachable(i) {
            return;
        }
        let n = self.devs[i].commands;
        self.devs[i].commands += 1;
        let Fate::Reply { delay, failure } = commands::fate(self.seed, i, n) else {
            return;
        };
        let parsed = commands::parse(&p.payload);
        let mut rebooting = false;
        let outcome = match (&parsed, failure) {
            (Err(e), _) => Outcome::Failed(e.clone()),
            (Ok(_), Some(reason)) => Outcome::Failed(reason.to_string()),
            (Ok(cmd), None) if cmd.name == "reboot" => {
                rebooting = true;
                Outcome::Done(format!("rebooting; back in about {} s", REBOOT_MS / 1000))
            }
            (Ok(cmd), None) => self.devs[i].model.command(cmd, now as f64 / 1000.0),
        };
        let payload = commands::reply_payload(id, parsed.as_ref().ok(), &outcome);
        let (reply_to, props) = match p.properties {
            Some(PublishProperties {
                response_topic: Some(t),
                correlation_data,
                ..
            }) => (
                t,
                Some(PublishProperties {
                    correlation_data,
                    ..PublishProperties::default()
                }),
            ),
            _ => (topics::reply_topic(topic), None),
        };
        let client = self.cmd.client.clone();
        let stats = self.stats.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let sent = match props {
                Some(pr) => {
                    client
                        .publish_with_properties(reply_to, QoS::AtLeastOnce, false, payload, pr)
                        .await
                }
                None => {
                    client
                        .publish(reply_to, QoS::AtLeastOnce, false, payload)
                        .await
                }
            };
            if sent.is_ok() {
                stats.commands_answered.fetch_add(1, Relaxed);
            }
        });
        if rebooting {
            // Go down once the reply is on its way.
            let at = now + self.clock.sim_of(delay + Duration::from_millis(300));
            self.schedule(at, Ev::Reboot(i));
        } else if matches!(outcome, Outcome::Done(_)) {
            // The change shows in telemetry straight away.
            self.emit(i, now.max(self.devs[i].last_ms), true);
            self.flush(i).await;
        }
    }
}

/// Gateways down at once, at most: most of the fleet stays reachable when faults come fast.
pub(super) fn max_gateways_down(gateways: usize) -> usize {
    (gateways / 8).max(1)
}

impl Dev {
    /// A fault of this device's own (not its gateway's): a sensor effect, or it dies (its
    /// last will into `out`). Returns when it is back, for a death with a return.
    pub(super) fn suffer(&mut self, kind: &FaultKind, now: u64, out: &mut Vec<Msg>) -> Option<u64> {
        match *kind {
            FaultKind::Dies { back_after_ms, .. } => {
                let died = self.take_down(Life::Dead, out);
                return back_after_ms.filter(|_| died).map(|b| now + b);
            }
            FaultKind::Stuck { metric, for_ms, .. } => self.fx.stick(metric, now + for_ms),
            FaultKind::Drift {
                metric,
                per_s,
                for_ms,
                ..
            } => self.fx.drift(metric, per_s, now, now + for_ms),
            FaultKind::Spike { metric, value, .. } => self.fx.spike(metric, value),
            FaultKind::Malformed { .. } => self.fx.malform(),
            FaultKind::GatewayDrops { .. } => {}
        }
        None
    }
}
