//! Setting the fleet up and taking it down: device state and topics, gateway connections
//! with their last wills, and the goodbye that leaves nothing retained behind.

use super::{Dev, Engine, Life};
use crate::demo::sim::faults::FaultPlan;
use crate::demo::sim::fleets::{Model, metric_topics};
use crate::demo::sim::layout::Layout;
use crate::demo::sim::link::{Link, close_all, with_will};
use crate::demo::sim::payload::Effects;
use crate::demo::topics::{self, OFFLINE, ONLINE, Vars};
use rumqttc::v5::mqttbytes::QoS;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

impl Engine {
    pub(super) async fn connect_gateways(&mut self) -> Result<(), String> {
        let mut set = tokio::task::JoinSet::new();
        for g in 0..self.gateways.len() {
            let connector = self.connector.clone();
            let stats = self.stats.clone();
            let role = format!("gw-{}-0", self.layout.gateways[g].id);
            let options = with_will(connector.options(&role), &self.gateways[g].status, OFFLINE);
            set.spawn(async move {
                (
                    g,
                    Link::connect(&connector, options, 64, stats, None, None).await,
                )
            });
        }
        while let Some(joined) = set.join_next().await {
            let (g, link) = joined.map_err(|e| format!("gateway connection task failed: {e}"))?;
            let link = link.map_err(|e| format!("gateway {}: {e}", self.layout.gateways[g].id))?;
            let _ = link
                .client
                .publish(
                    self.gateways[g].status.clone(),
                    QoS::AtLeastOnce,
                    true,
                    ONLINE,
                )
                .await;
            self.stats.published.fetch_add(1, Relaxed);
            self.gateways[g].link = Some(link);
        }
        Ok(())
    }

    /// Says `offline` for everyone, clears what the simulation retained (a shared broker
    /// keeps nothing of it), and disconnects cleanly so no last will fires.
    pub(super) async fn shutdown(mut self) {
        // Gateways that finished reconnecting meanwhile leave cleanly too (dropped, their
        // will would fire after the goodbye).
        while let Ok((g, link)) = self.gateway_rx.try_recv() {
            if let Ok(link) = link {
                self.gateways[g].link = Some(link);
            }
        }
        let mut goodbye = Vec::new();
        for d in &self.devs {
            if !d.retained {
                continue;
            }
            if let Some(status) = &d.status {
                if d.announced {
                    goodbye.push((status.clone(), OFFLINE, false));
                }
                goodbye.push((status.clone(), "", true));
            }
            if d.topics.len() == 1 && matches!(d.model, Model::Meter(_)) {
                goodbye.push((d.topics[0].clone(), "", true));
            }
        }
        for gw in &self.gateways {
            goodbye.push((gw.status.clone(), OFFLINE, false));
            goodbye.push((gw.status.clone(), "", true));
        }
        // Two seconds for the goodbye and half a second to disconnect: callers (fleetop demo)
        // give the simulator three seconds to stop after Ctrl-C, even when the broker is gone.
        let deadline = Instant::now() + Duration::from_secs(2);
        let pool = &self.pool[0].client;
        for (topic, payload, retain) in goodbye {
            let qos = if retain {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            };
            let send = pool.publish(topic, qos, retain, payload);
            match tokio::time::timeout_at(deadline.into(), send).await {
                Ok(Ok(())) => self.stats.published.fetch_add(1, Relaxed),
                Ok(Err(_)) => self.stats.publish_errors.fetch_add(1, Relaxed),
                Err(_) => break,
            };
        }
        let mut links: Vec<Link> = self
            .gateways
            .iter_mut()
            .filter_map(|g| g.link.take())
            .collect();
        links.append(&mut self.pool);
        links.push(self.cmd);
        close_all(
            links,
            deadline.max(Instant::now()) + Duration::from_millis(500),
        )
        .await;
    }
}

/// Builds every device's state and topics; per-device random streams keep a device's values
/// independent of how many others there are.
pub(super) fn devices(layout: &Layout, prefix: &str, seed: u64) -> Vec<Dev> {
    let flaky = FaultPlan::flaky(seed, layout.devices.len());
    let mut fleet_index = [0usize; 5];
    layout
        .devices
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut rng =
                fastrand::Rng::with_seed(seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let index = fleet_index[spec.kind as usize];
            fleet_index[spec.kind as usize] += 1;
            let vars = layout.vars(spec);
            let topics = metric_topics(spec.kind)
                .iter()
                .map(|m| {
                    let v = Vars {
                        metric: Some(m),
                        ..vars.clone()
                    };
                    topics::telemetry_topic(prefix, spec.kind, &v)
                })
                .collect();
            Dev {
                model: Model::new(spec.kind, index, &mut rng),
                fx: Effects::default(),
                uptime_base_s: rng.u64(3_600..2_600_000),
                rng,
                life: Life::Up,
                announced: false,
                retained: false,
                boot_ms: 0,
                last_ms: 0,
                flaky: flaky[i],
                topics,
                status: topics::device_status_topic(prefix, spec.kind, &vars),
                commands: 0,
            }
        })
        .collect()
}
