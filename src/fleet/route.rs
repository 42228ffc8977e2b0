//! From a topic to where its messages go: classified once per topic and cached as a
//! [`Route`], so a known topic costs one hash lookup; devices are found or created here.

use super::*;

#[derive(Debug, Clone)]
pub(super) enum Route {
    Telemetry {
        device: DeviceId,
        topic: u16,
        /// Index into `FleetState::metric_names` of the `{metric}` level, if any.
        metric: Option<u32>,
        /// Index into `FleetState::shapes` (JSON fleets), else `NO_SHAPE`.
        shape: u32,
    },
    Availability {
        fleet: FleetIdx,
        rule: u16,
        target: RouteTarget,
    },
    Unmapped(u32),
    /// A topic a device convention claimed; the device is resolved on its first message.
    Convention {
        convention: Convention,
        device: Option<convention::Resolved>,
    },
}

#[derive(Debug, Clone)]
pub(super) enum RouteTarget {
    Device(DeviceId),
    Group(Labels),
}

/// `Route::Telemetry::shape` of a topic that keeps no shape.
pub(super) const NO_SHAPE: u32 = u32::MAX;

/// A copy of a route without its owned parts, so the map borrow can end.
pub(super) enum RouteRef {
    Telemetry(DeviceId, u16, Option<u32>, u32),
    Availability,
    Unmapped(u32),
    Convention(Convention, Option<convention::Resolved>),
}

impl Route {
    pub(super) fn clone_cheap(&self) -> RouteRef {
        match self {
            Route::Telemetry {
                device,
                topic,
                metric,
                shape,
            } => RouteRef::Telemetry(*device, *topic, *metric, *shape),
            Route::Availability { .. } => RouteRef::Availability,
            Route::Unmapped(i) => RouteRef::Unmapped(*i),
            Route::Convention { convention, device } => RouteRef::Convention(*convention, *device),
        }
    }
}

impl FleetState {
    /// Classifies a new topic and caches the answer; `None` if it was refused.
    /// Also the topic's record in `topic_stats`.
    pub(super) fn route(
        &mut self,
        conn: ConnId,
        topic: &str,
        payload: &[u8],
    ) -> Option<(RouteRef, u32)> {
        self.learn_layout(conn, topic, payload);
        let broker = self.connections[conn.index()].name.clone();
        let route = match self.mapper.classify(&broker, topic) {
            Classified::Telemetry {
                fleet,
                device,
                labels,
                metric,
            } => {
                if has_control(&device) {
                    self.counters.refused_bad_topic += 1;
                    return None;
                }
                let id = self.device_for(conn, fleet, &device, labels)?;
                let topic_idx = self.devices[id.index()].topic_index(topic);
                let metric =
                    metric.map(|m| match self.metric_names.iter().position(|n| **n == *m) {
                        Some(i) => i as u32,
                        None => {
                            self.metric_names.push(m.into());
                            (self.metric_names.len() - 1) as u32
                        }
                    });
                let json = matches!(
                    self.mapper.fleets[fleet as usize].format,
                    PayloadFormat::Json | PayloadFormat::Auto
                );
                let shape = if json { self.take_shape() } else { NO_SHAPE };
                Route::Telemetry {
                    device: id,
                    topic: topic_idx,
                    metric,
                    shape,
                }
            }
            Classified::Availability {
                fleet,
                rule,
                target,
            } => {
                let target = match target {
                    AvailabilityTarget::Device { device, labels } => {
                        if has_control(&device) {
                            self.counters.refused_bad_topic += 1;
                            return None;
                        }
                        RouteTarget::Device(self.device_for(conn, fleet, &device, labels)?)
                    }
                    AvailabilityTarget::Group(labels) => RouteTarget::Group(boxed(labels)),
                };
                Route::Availability {
                    fleet,
                    rule,
                    target,
                }
            }
            Classified::Unmapped if self.ha_bindings.contains_key(topic) => Route::Convention {
                convention: Convention::HomeAssistant,
                device: None,
            },
            Classified::Unmapped
                if let Some(convention) = conventions::claim(
                    &self.conventions,
                    &self.layouts,
                    self.mapper.has_configured_fleets(),
                    topic,
                    payload,
                ) =>
            {
                Route::Convention {
                    convention,
                    device: None,
                }
            }
            Classified::Unmapped => {
                if self.unmapped.len() >= self.limits.max_unmapped_topics {
                    self.refuse(super::caps::Cap::UnmappedTopics, conn, 1);
                    self.counters.unmapped_messages += 1;
                    return None;
                }
                self.unmapped.push(UnmappedTopic {
                    conn,
                    topic: topic.into(),
                    messages: 0,
                    last_ms: 0,
                    retained: false,
                    last_payload: Vec::new(),
                });
                Route::Unmapped((self.unmapped.len() - 1) as u32)
            }
        };
        let r = route.clone_cheap();
        let record = self
            .topic_stats
            .index_for(conn, topic, self.limits.max_explorer_topics);
        self.routes[conn.index()].insert(topic.as_bytes().into(), (route, record));
        Some((r, record))
    }

    /// A device a convention created that configured fleet `fleet` names too (see `kin`).
    fn kin_of_convention(&self, conn: ConnId, fleet: FleetIdx, name: &str) -> Option<DeviceId> {
        Convention::ALL
            .iter()
            .zip(&self.kin)
            .filter(|(_, fleets)| fleets.contains(&fleet))
            .find_map(|(&c, _)| {
                let theirs = self.mapper.convention_fleet(c)?;
                self.device_index.get(&(conn, theirs, name.into())).copied()
            })
    }

    /// The configured fleet that already holds convention `convention`'s device `name`.
    pub(super) fn kin_fleet(
        &self,
        conn: ConnId,
        convention: Convention,
        name: &str,
    ) -> Option<FleetIdx> {
        let i = Convention::ALL.iter().position(|&c| c == convention)?;
        let key = |f: FleetIdx| (conn, f, Box::<str>::from(name));
        self.kin
            .get(i)?
            .iter()
            .copied()
            .find(|&f| self.device_index.contains_key(&key(f)))
    }

    /// Finds or creates a device; `None` when the device cap refuses it.
    pub(super) fn device_for(
        &mut self,
        conn: ConnId,
        fleet: FleetIdx,
        name: &str,
        labels: Vec<(String, String)>,
    ) -> Option<DeviceId> {
        let key = (conn, fleet, Box::<str>::from(name));
        if let Some(&id) = self.device_index.get(&key) {
            add_labels(&mut self.devices[id.index()], labels);
            return Some(id);
        }
        if let Some(id) = self.kin_of_convention(conn, fleet, name) {
            // The convention saw it first: it joins the configured fleet.
            let old = (conn, self.devices[id.index()].fleet, key.2.clone());
            self.device_index.remove(&old);
            self.device_index.insert(key, id);
            let expected = self.mapper.fleets[fleet as usize].expected_interval;
            let d = &mut self.devices[id.index()];
            let from = std::mem::replace(&mut d.fleet, fleet);
            d.guessed = false;
            d.expected_interval = expected.unwrap_or(DEFAULT_EXPECTED_INTERVAL);
            add_labels(d, labels);
            // A gateway the convention knows may have it offline already.
            d.group_offline |= self
                .offline_groups
                .iter()
                .any(|(f, g)| *f == fleet && matches_group(&d.labels, g));
            self.fleet_sizes[fleet as usize] += 1;
            self.fleet_sizes[from as usize] = self.fleet_sizes[from as usize].saturating_sub(1);
            self.events.push(FleetEvent::DeviceJoined {
                device: id,
                from,
                at_ms: self.now_ms,
            });
            return Some(id);
        }
        let slot = self.admit(conn, fleet)?;
        let id = slot.unwrap_or(DeviceId::nth(self.devices.len()));
        let labels = boxed(labels);
        let group_offline = self
            .offline_groups
            .iter()
            .any(|(f, g)| *f == fleet && matches_group(&labels, g));
        let expected_interval = self
            .mapper
            .fleets
            .get(fleet as usize)
            .and_then(|f| f.expected_interval)
            .unwrap_or(DEFAULT_EXPECTED_INTERVAL);
        let guessed = self.is_guessed(fleet);
        let device = Device {
            id,
            name: name.into(),
            fleet,
            conn,
            labels,
            status: Status::Unknown,
            first_seen_ms: self.now_ms,
            last_seen_ms: self.now_ms,
            last_live_ms: None,
            messages: 0,
            decode_errors: 0,
            last_error: None,
            metrics: Vec::new(),
            available: None,
            group_offline,
            topics: Vec::new(),
            last_topic: 0,
            last_payload: Vec::new(),
            expected_interval,
            facts: None,
            guessed,
            live_messages: 0,
            delivery: Default::default(),
        };
        match slot {
            Some(evicted) => self.devices[evicted.index()] = device,
            None => self.devices.push(device),
        }
        if guessed {
            self.guessed.push_back(id);
        }
        self.device_index.insert(key, id);
        if let Some(n) = self.fleet_sizes.get_mut(fleet as usize) {
            *n += 1;
        }
        self.events.push(FleetEvent::DeviceAppeared {
            device: id,
            at_ms: self.now_ms,
        });
        Some(id)
    }
}

impl FleetState {
    /// A payload shape slot for a new JSON topic (one a forgotten topic left, else a new
    /// one), or `NO_SHAPE` when shapes are off.
    pub(super) fn take_shape(&mut self) -> u32 {
        if !self.use_shapes {
            return NO_SHAPE;
        }
        if let Some(i) = self.free_shapes.pop() {
            return i;
        }
        self.shapes.push(Shape::default());
        (self.shapes.len() - 1) as u32
    }

    /// Gives back the shape slot of a topic whose route is gone: the next topic to take
    /// it learns its own shape, never the metric slots of the device it had.
    pub(super) fn free_shape(&mut self, shape: u32) {
        if let Some(s) = self.shapes.get_mut(shape as usize) {
            s.forget();
            self.free_shapes.push(shape);
        }
    }
}
