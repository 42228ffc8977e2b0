//! Evaluation: which rules a message, a tick, a group or a link change can have changed,
//! and each alert's machine stepped until it rests.

use super::*;

impl AlertBook {
    /// Re-evaluates, for a device a message touched, the in-scope rules that message
    /// can have changed: those reading a metric whose content changed, plus built-ins
    /// and rules reading `status`. Time-driven changes are [`AlertBook::tick`]'s job.
    pub fn evaluate_device(&mut self, d: &Device, now_ms: i64) {
        let b = &mut self.book;
        if b.coalesce_ms > 0
            && let Some(m) = b.memo.get_mut(d.id.index())
            && m.evaluated_ms
                .is_some_and(|t| now_ms.saturating_sub(t) < b.coalesce_ms)
        {
            m.deferred = true;
            return;
        }
        self.evaluate_now(d, now_ms);
    }

    /// Evaluates the messages [`AlertBook::coalesce`] held back, now. Cheap when there
    /// are none; the engine calls it on every tick (and [`AlertBook::tick`] does).
    pub fn evaluate_deferred(&mut self, devices: &[Device], now_ms: i64) {
        for d in devices {
            if self.book.memo.get(d.id.index()).is_some_and(|m| m.deferred) {
                self.evaluate_now(d, now_ms);
            }
        }
    }

    fn evaluate_now(&mut self, d: &Device, now_ms: i64) {
        let b = &mut self.book;
        b.now_ms = b.now_ms.max(now_ms);
        let fleet_before = b
            .memo
            .get(d.id.index())
            .and_then(|m| m.seen.then_some(m.fleet));
        let scoped = b.refresh_memo(&self.rules, d, now_ms);
        if fleet_before.is_some_and(|f| f != d.fleet) {
            b.changed_fleet(&self.rules, d, &scoped, now_ms);
        }
        let mut todo = std::mem::take(&mut b.todo);
        todo.clear();
        let m = &mut b.memo[d.id.index()];
        m.note_changes(&self.rules, d, &mut todo);
        if std::mem::take(&mut m.rescoped) {
            todo.clear();
            todo.extend_from_slice(&scoped);
        } else {
            todo.extend_from_slice(self.rules.always());
            todo.sort_unstable();
            todo.dedup();
            todo.retain(|&r| m.in_scope(r));
        }
        for &r in &todo {
            b.check(&self.rules, r, d, now_ms);
        }
        let m = &mut b.memo[d.id.index()];
        m.scoped = scoped;
        m.evaluated_ms = Some(now_ms);
        m.deferred = false;
        b.todo = todo;
    }

    /// Time-based work: re-evaluates time-dependent and liveness rules on every device,
    /// advances `for`/`keep_firing_for`/flapping timers, expires silences, forgets old
    /// resolved alerts. `devices` is the fleet state's device list (indexed by id).
    pub fn tick(&mut self, devices: &[Device], now_ms: i64) {
        self.evaluate_deferred(devices, now_ms);
        let b = &mut self.book;
        b.now_ms = b.now_ms.max(now_ms);
        if b.silences.iter().any(|s| s.expires_ms <= now_ms) {
            let (ended, kept) = std::mem::take(&mut b.silences)
                .into_iter()
                .partition(|s| s.expires_ms <= now_ms);
            b.silences = kept;
            b.resurface(&ended, now_ms);
        }
        for d in devices {
            let scoped = b.refresh_memo(&self.rules, d, now_ms);
            for &r in &scoped {
                if let Some(rule) = self.rules.get(r)
                    && (rule.time_dependent() || rule.is_liveness())
                {
                    b.check(&self.rules, r, d, now_ms);
                }
            }
            b.memo[d.id.index()].scoped = scoped;
        }
        let Book {
            alerts,
            silences,
            out,
            memo,
            ..
        } = b;
        for a in alerts.values_mut() {
            if let Some(rule) = self.rules.get(a.rule)
                && !a.inhibited
            {
                step(rule, a, now_ms, silences, out);
            }
        }
        alerts.retain(|_, a| {
            let keep_ms =
                RESOLVED_KEEP_MS.max(self.rules.get(a.rule).map_or(0, |r| r.flap.window_ms));
            let idle = a.is_idle(now_ms, keep_ms);
            if idle && let Some(m) = memo.get_mut(a.device.index()) {
                m.alerts = m.alerts.saturating_sub(1);
            }
            !idle
        });
    }

    /// Evaluates `gateway_offline` once per group (gateway) an availability topic speaks
    /// for, not once per device behind it. Group alerts have ids from the top of the
    /// device id range ([`group_alert_id`]); their "device" is the group's labels.
    pub fn evaluate_groups(&mut self, groups: &[Group], now_ms: i64) {
        let Some(r) = self
            .rules
            .rules()
            .iter()
            .position(|r| r.builtin() == Some(Builtin::GatewayOffline))
        else {
            return;
        };
        let r = r as RuleIdx;
        let Some(rule) = self.rules.get(r) else {
            return;
        };
        let b = &mut self.book;
        b.now_ms = b.now_ms.max(now_ms);
        for (i, g) in groups.iter().enumerate() {
            if !rule.scope.matches_labels(g.fleet, &g.labels) {
                continue;
            }
            let id = group_alert_id(i);
            let link = b.links.get(g.conn.index()).copied().unwrap_or_default();
            let existing = b.alerts.get_mut(&(id, r));
            if link.down {
                if let Some(a) = existing {
                    a.inhibited = true;
                }
                continue;
            }
            let raise = if g.online { Truth::False } else { Truth::True };
            let a = match existing {
                Some(a) => a,
                None if g.online && b.restored_raised.is_empty() => continue,
                None => {
                    let labels: Vec<(Box<str>, Box<str>)> = g
                        .labels
                        .iter()
                        .map(|(k, v)| (sanitize::text(k).into(), sanitize::text(v).into()))
                        .collect();
                    let name = labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let mut a = Alert::new(
                        r,
                        id,
                        rule.name.clone(),
                        name.into(),
                        self.rules.fleet_name(g.fleet),
                        labels,
                        rule.severity,
                        now_ms,
                    );
                    let resumed = b.restored_raised.remove(&key_of(&a));
                    if g.online && resumed.is_none() {
                        continue;
                    }
                    if let Some(raised) = resumed {
                        a.resume(raised);
                    }
                    if let Some(ack) = b.restored_acks.remove(&key_of(&a)) {
                        a.ack = Some(ack);
                    }
                    b.alerts.entry((id, r)).or_insert(a)
                }
            };
            a.inhibited = false;
            let clear = if raise == Truth::True {
                Truth::False
            } else {
                Truth::True
            };
            a.observe(raise, clear, now_ms);
            a.value = if g.online { "online" } else { "offline" }.into();
            a.message = format!(
                "gateway {} ({}) is offline: its devices are unreachable",
                a.device_name, a.fleet
            );
            step(rule, a, now_ms, &b.silences, &mut b.out);
        }
    }

    /// Fleetop stopped at `stopped_ms` and starts again with devices it knew: until each
    /// of the `conns` links comes up, their liveness alerts are held, and once up, a
    /// device silent since before the stop is judged by its silence then.
    pub fn held_since_stop(&mut self, conns: usize, stopped_ms: i64) {
        let links = &mut self.book.links;
        if links.len() < conns {
            links.resize(conns, Link::default());
        }
        for l in links.iter_mut().filter(|l| l.up_since.is_none()) {
            l.down = true;
            l.down_since = Some(stopped_ms);
        }
    }

    /// A broker link went up (`Connected`, `Replaying`) or down. While down, liveness
    /// alerts of its devices are held; once up, staleness counts from the reconnect.
    pub fn link_changed(&mut self, conn: ConnId, up: bool, at_ms: i64) {
        let links = &mut self.book.links;
        if links.len() <= conn.index() {
            links.resize(conn.index() + 1, Link::default());
        }
        let l = &mut links[conn.index()];
        if up {
            if l.down || l.up_since.is_none() {
                l.up_since = Some(at_ms);
            }
            l.down = false;
        } else {
            if !l.down {
                l.down_since = Some(at_ms);
            }
            l.down = true;
        }
    }
}

impl Book {
    /// Silences `ended` (expired or lifted): the raised alerts they hid, and no other
    /// silence still hides, show again as a transition to their own state (`from` ==
    /// `to`, not silenced), so the operator, the bell and `on_fire` hear of them now.
    pub(super) fn resurface(&mut self, ended: &[Silence], now: i64) {
        for a in self.alerts.values() {
            let was_hidden = ended.iter().any(|s| s.matches(a));
            if was_hidden
                && a.state.is_raised()
                && !a.inhibited
                && !self.silences.iter().any(|s| s.covers(a, now))
            {
                self.out
                    .push(Transition::of(a, a.state, a.state, now, false));
            }
        }
    }

    /// Brings a device's memo up to date; returns its in-scope rules (taken out of the
    /// memo so the caller can iterate while mutating the book; put them back after).
    /// A device joined another fleet (a convention's device a configured fleet names):
    /// its alerts carry the new fleet's name, and those of rules that no longer apply to
    /// it end as if their condition had cleared.
    fn changed_fleet(&mut self, rules: &RuleSet, d: &Device, scoped: &[RuleIdx], now: i64) {
        let fleet = rules.fleet_name(d.fleet);
        let mine = self.alerts.iter_mut().filter(|((id, _), _)| *id == d.id);
        for ((_, r), a) in mine {
            a.fleet = fleet.clone();
            if scoped.binary_search(r).is_ok() {
                continue;
            }
            if let Some(rule) = rules.get(*r) {
                a.observe(Truth::False, Truth::True, now);
                step(rule, a, now, &self.silences, &mut self.out);
            }
        }
    }

    fn refresh_memo(&mut self, rules: &RuleSet, d: &Device, now: i64) -> Vec<RuleIdx> {
        let i = d.id.index();
        if self.memo.len() <= i {
            self.memo.resize_with(i + 1, DeviceMemo::default);
        }
        self.memo[i].refresh(rules, d, now);
        std::mem::take(&mut self.memo[i].scoped)
    }

    fn check(&mut self, rules: &RuleSet, r: RuleIdx, d: &Device, now: i64) {
        let Some(rule) = rules.get(r) else { return };
        let key = (d.id, r);
        // One alert per gateway, from evaluate_groups, not one per device behind it.
        if rule.builtin() == Some(Builtin::GatewayOffline) {
            return;
        }
        let link = self.links.get(d.conn.index()).copied().unwrap_or_default();
        let inhibited = rule.is_liveness() && (link.down || d.group_offline);
        let Some(memo) = self.memo.get_mut(d.id.index()) else {
            return;
        };
        let ctx = EvalCtx {
            now_ms: now,
            blind: link.blind(),
            cache: Some(&memo.cache),
            slots: &memo.slots,
        };
        let facts = BuiltinFacts {
            decode_error_at: memo.decode_at,
        };
        let existing = if memo.alerts > 0 {
            self.alerts.get_mut(&key)
        } else {
            None
        };
        if inhibited {
            if let Some(a) = existing {
                a.inhibited = true;
            }
            return;
        }
        let raise = rule.raise(d, &ctx, &facts);
        let mut restored = None;
        let a = match existing {
            Some(a) => a,
            None => {
                let restoring = !self.restored_acks.is_empty() || !self.restored_raised.is_empty();
                let key = restoring.then(|| new_key(rules, rule, d));
                let resumed = key.as_ref().and_then(|k| self.restored_raised.remove(k));
                if raise != Truth::True && resumed.is_none() {
                    // The episode an old ack was for ended while fleetop was down.
                    if raise == Truth::False
                        && let Some(k) = &key
                    {
                        self.restored_acks.remove(k);
                    }
                    return;
                }
                restored = key.as_ref().and_then(|k| self.restored_acks.remove(k));
                memo.alerts += 1;
                let labels = d
                    .labels
                    .iter()
                    .map(|(k, v)| (sanitize::text(k).into(), sanitize::text(v).into()))
                    .collect();
                self.alerts.entry((d.id, r)).or_insert_with(|| {
                    let mut a = Alert::new(
                        r,
                        d.id,
                        rule.name.clone(),
                        sanitize::text(&d.name).into(),
                        rules.fleet_name(d.fleet),
                        labels,
                        rule.severity,
                        now,
                    );
                    if let Some(raised) = resumed {
                        a.resume(raised);
                    }
                    a
                })
            }
        };
        a.inhibited = false;
        let firing = a.inner == AlertState::Firing;
        let clear = if firing && raise != Truth::True {
            rule.clear(d, &ctx, &facts)
        } else {
            Truth::NoData
        };
        a.observe(raise, clear, now);
        // Only alerts that are (or are becoming) raised need their value text.
        if raise == Truth::True
            || a.inner != AlertState::Inactive && a.inner != AlertState::Resolved
        {
            a.value = rule.value_text(d, &ctx);
            a.message = rule.message(d, &ctx, &a.fleet, &a.value);
        }
        step(rule, a, now, &self.silences, &mut self.out);
        if restored.is_some() {
            a.ack = restored;
        }
    }
}

/// Runs the machine until it rests, queueing the transitions it shows.
fn step(rule: &Rule, a: &mut Alert, now: i64, silences: &[Silence], out: &mut Vec<Transition>) {
    // At most: settle from flapping, then one real transition; the bound is a guard.
    for _ in 0..4 {
        let Some((from, to)) = a.step(rule.for_ms, rule.keep_firing_for_ms, rule.flap, now) else {
            break;
        };
        let silenced = silences.iter().any(|s| s.covers(a, now));
        out.push(Transition::of(a, from, to, now, silenced));
    }
}

fn new_key(rules: &RuleSet, rule: &Rule, d: &Device) -> AlertKey {
    AlertKey {
        rule: rule.name.to_string(),
        fleet: rules.fleet_name(d.fleet).to_string(),
        device: sanitize::text(&d.name).into_owned(),
    }
}
