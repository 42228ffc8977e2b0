//! The `:` command line: `:sort`, `:filter`, `:group`, `:theme`, `:alerts`, `:silence`,
//! `:cmd`, `:publish`, `:export` and the rest, turned into state and effects.

use super::*;

impl App {
    /// `:cmd [NAME [k=v…]]`: the dialog for the device at hand, NAME already picked.
    fn command_line_cmd(&mut self, rest: &[&str], state: &FleetState) {
        let targets: Vec<DeviceId> = self.device_at_hand().into_iter().collect();
        if !self.open_composer(targets, state) {
            return;
        }
        let Some((name, args)) = rest.split_first() else {
            return;
        };
        let Mode::Compose(mut c) = std::mem::replace(&mut self.mode, Mode::Normal) else {
            return;
        };
        c.stage = compose::Stage::Pick {
            query: (*name).to_string(),
            selected: 0,
        };
        let set = self.commands.clone();
        let (next, _, message) = c.update(Action::Submit, &set, state);
        self.message = message;
        if let Some(mut c) = next {
            if let compose::Stage::Params { fields, .. } = &mut c.stage {
                for (k, v) in crate::commands::parse_args(args.iter().copied()).unwrap_or_default()
                {
                    if let Some(f) = fields.iter_mut().find(|f| f.name == k) {
                        f.text = v;
                    }
                }
            }
            self.mode = Mode::Compose(c);
        }
    }

    /// `:publish TOPIC PAYLOAD [--qos N] [--retain]`.
    fn command_line_publish(&mut self, line: &str) {
        if self.read_only {
            self.message =
                Some("read-only: publishing is off (--read-only or read_only = true)".into());
            return;
        }
        let usage = "usage: :publish TOPIC PAYLOAD [--qos 0|1|2] [--retain]";
        let mut words: Vec<&str> = line.split_whitespace().skip(1).collect();
        let mut qos = 1u8;
        let mut retain = false;
        loop {
            match words.as_slice() {
                [.., "--retain"] => {
                    retain = true;
                    words.pop();
                }
                [.., "--qos", q] => match q.parse::<u8>() {
                    Ok(n) if n <= 2 => {
                        qos = n;
                        words.truncate(words.len() - 2);
                    }
                    _ => {
                        self.message = Some(format!("--qos must be 0, 1 or 2; {usage}"));
                        return;
                    }
                },
                _ => break,
            }
        }
        let Some((topic, payload)) = words.split_first() else {
            self.message = Some(usage.into());
            return;
        };
        let payload = payload.join(" ");
        let payload = payload
            .strip_prefix('\'')
            .and_then(|p| p.strip_suffix('\''))
            .unwrap_or(&payload)
            .to_string();
        let op = CommandOp::Publish {
            device: self.device_at_hand(),
            topic: (*topic).to_string(),
            payload,
            qos,
            retain,
        };
        self.mode = Mode::Compose(Composer {
            targets: self.device_at_hand().into_iter().collect(),
            stage: compose::Stage::Publish {
                op: Box::new(op),
                typed: String::new(),
            },
        });
    }

    pub(super) fn edit_command(
        &mut self,
        action: Action,
        mut text: super::prompt::Prompt,
        state: &FleetState,
    ) -> Vec<Effect> {
        match action {
            Action::Input(c) => text.edit(super::prompt::Edit::InsertChar(c)),
            Action::Backspace => text.edit(super::prompt::Edit::DeletePrevChar),
            Action::Edit(e) => text.edit(e),
            Action::Complete => text.replace(keys::complete(text.text())),
            Action::Cancel => {
                self.mode = Mode::Normal;
                self.command_hint = None;
                return Vec::new();
            }
            Action::Submit => {
                self.mode = Mode::Normal;
                self.command_hint = None;
                return self.run_command(text.text(), state);
            }
            _ => {}
        }
        self.mode = Mode::Command(text);
        Vec::new()
    }

    /// `:sort`, `:filter`, `:group`, `:theme`, `:topics`, `:export csv FILE`, `:q`.
    pub fn run_command(&mut self, line: &str, state: &FleetState) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        match cmd {
            "" => {}
            "q" | "quit" => self.quit = true,
            "help" => self.mode = Mode::Help,
            "topics" => self.view = View::Topics,
            "map" if self.view != View::Map => self.toggle_map(state),
            "map" => {}
            "overview" => self.open_view(View::Overview),
            "broker" => self.open_view(View::Broker),
            "alerts" => match rest.first().map(|f| alerts::StateFilter::parse(f)) {
                None => self.open_alerts(None),
                Some(Some(f)) => self.open_alerts(Some(f)),
                Some(None) => {
                    self.message = Some(format!(
                        "usage: :alerts [{}]",
                        alerts::StateFilter::ALL.map(alerts::StateFilter::label).join("|")
                    ))
                }
            },
            "fleet" => self.view = View::Fleet,
            "sort" => match rest.as_slice() {
                [key] | [key, "asc"] => {
                    self.sort = SortKey::parse(key);
                    self.descending = false;
                    self.rows_dirty = true;
                }
                [key, "desc"] => {
                    self.sort = SortKey::parse(key);
                    self.descending = true;
                    self.rows_dirty = true;
                }
                _ => {
                    self.message = Some(
                        "usage: :sort <status|name|fleet|seen|errors|METRIC> [asc|desc]".into(),
                    )
                }
            },
            "filter" => self.apply_filter(&rest.join(" ")),
            "group" => {
                self.group = GroupBy::parse(rest.first().copied().unwrap_or("none"));
                self.collapsed.clear();
                self.rows_dirty = true;
            }
            "theme" => match rest.first() {
                Some(name) => return vec![Effect::LoadTheme(name.to_string())],
                None => self.message = Some(format!("themes: {}", Theme::names().join(", "))),
            },
            "export" => return self.export(&rest, state),
            "silence" if !rest.is_empty() => {
                let args = line.trim_start().trim_start_matches("silence").trim().to_string();
                return vec![Effect::Alert(AlertOp::Silence(args))];
            }
            "silence" => {
                self.message = Some("usage: :silence site=north 2h \"pump maintenance\" (matchers: device, fleet, rule, severity, any label)".into())
            }
            "cmd" => self.command_line_cmd(&rest, state),
            "publish" => self.command_line_publish(line),
            "unsilence" => match rest.first().and_then(|id| id.parse().ok()) {
                Some(id) => return vec![Effect::Alert(AlertOp::Unsilence(id))],
                None => self.message = Some("usage: :unsilence ID (the id :silence reported)".into()),
            },
            other => {
                self.message = Some(format!(
                    "unknown command `:{}`; try :map, :overview, :broker, :sort, :filter, :group, :theme, :topics, :alerts, :silence, :cmd, :publish, :export csv FILE, :q",
                    crate::sanitize::text(other)
                ))
            }
        }
        Vec::new()
    }

    fn export(&mut self, args: &[&str], state: &FleetState) -> Vec<Effect> {
        let ["csv", path] = args else {
            self.message = Some("usage: :export csv FILE (the selected metric's history)".into());
            return Vec::new();
        };
        let View::Device(id) = self.view else {
            self.message = Some("open a device (Enter) and select a metric first".into());
            return Vec::new();
        };
        let Some(m) = state
            .devices
            .get(id.index())
            .and_then(|d| d.metrics.get(self.metric))
        else {
            self.message = Some("this device has no metric to export".into());
            return Vec::new();
        };
        let mut csv = String::from("time,value\n");
        for (t, v) in m.ring.iter() {
            csv.push_str(&format!("{},{v}\n", crate::text::rfc3339(t)));
        }
        self.message = Some(format!(
            "wrote {} samples of {} to {path}",
            m.ring.len(),
            m.name
        ));
        vec![Effect::Write {
            path: (*path).to_string(),
            contents: csv,
        }]
    }
}
