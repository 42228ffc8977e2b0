//! The demo's fleetop configuration: what `fleetop demo` runs with and what
//! `fleetop demo --print-config` prints, so people learn the config format from a working
//! example. Topic templates come from [`crate::demo::topics`], the same ones the simulator
//! fills in; a test checks every declared metric against what the simulator really sends.

use super::topics::{self, Kind};

/// The demo config for topics under `prefix` (which [`crate::demo::validate_prefix`] accepts).
pub fn demo_config(prefix: &str) -> String {
    let t = |k: Kind| topics::telemetry_template(prefix, k);
    let dev = |k: Kind| topics::device_status_template(prefix, k).unwrap_or_default();
    let gw = |k: Kind| topics::gateway_status_template(prefix, k).unwrap_or_default();
    TEMPLATE
        .replace("@ALERTS@", ALERTS)
        .replace("@PREFIX@", prefix)
        .replace("@TANKS@", &t(Kind::Tank))
        .replace("@TANKS_STATUS@", &dev(Kind::Tank))
        .replace("@TANKS_GW@", &gw(Kind::Tank))
        .replace("@POLES@", &t(Kind::Pole))
        .replace("@POLES_GW@", &gw(Kind::Pole))
        .replace("@WEATHER@", &t(Kind::Weather))
        .replace("@WEATHER_STATUS@", &dev(Kind::Weather))
        .replace("@METERS@", &t(Kind::Meter))
        .replace("@VEHICLES@", &t(Kind::Vehicle))
        .replace("@VEHICLES_STATUS@", &dev(Kind::Vehicle))
}

/// The demo's alert rules: one for every fault the simulator injects and every trend it
/// plays out (`src/demo/sim/engine/fault_alerts.rs` holds them to that). A file of its own:
/// it is plain TOML, with no topics to fill in.
const ALERTS: &str = include_str!("alerts.toml");

const TEMPLATE: &str = r#"# fleetop demo configuration: five simulated field fleets.
#
# `fleetop demo` runs with this; `fleetop demo --print-config --prefix @PREFIX@` prints it.
# Watch a simulation running elsewhere with:
#   fleetop demo --print-config --prefix @PREFIX@ > demo.toml
#   fleetop --config demo.toml --broker mqtt://BROKER:1883
# There is no [[broker]] entry: pass --broker URL (or add one).
#
# A fleet is a class of devices recognised by a topic template. In a template, {device}
# names the device, {metric} names the metric (for one-value-per-topic payloads), and any
# other {name} becomes a label (site, gateway). An availability topic with {device} speaks
# for that device (its LWT); one without {device} speaks for every device of the fleet whose
# labels match, so a gateway that drops takes its devices offline with it.
# A device is "stale" after twice its expected_interval without a message.

# ---------------------------------------------------------------------------------------
# Water tanks with cellular modems, grouped by site behind one cellular gateway per site.
# Levels rise and fall with pump cycles; a few tanks leak (critical low) or overfill.
[[fleet]]
name = "tanks"
topic = "@TANKS@"
format = "json"
expected_interval = "10s"
table = ["level_pct", "pump", "overflow", "battery_v", "rssi_dbm"]

[[fleet.metric]]
name = "level_pct"
display = "level"
unit = "%"
min = 0
max = 100

[[fleet.metric]]
name = "volume_l"
display = "volume"
unit = "L"
min = 0

[[fleet.metric]]
name = "battery_v"
display = "battery"
unit = "V"
min = 3.4
max = 4.2

[[fleet.metric]]
name = "rssi_dbm"
display = "signal"
unit = "dBm"
min = -115
max = -50

[[fleet.metric]]
name = "temp_c"
display = "temperature"
unit = "°C"
min = -10
max = 45

[[fleet.metric]]
name = "uptime_s"
display = "uptime"
unit = "s"

# The tank's own last will.
[[fleet.availability]]
topic = "@TANKS_STATUS@"
online = "online"
offline = "offline"

# The site's cellular gateway (a real MQTT last will): offline takes the site's tanks with it.
[[fleet.availability]]
topic = "@TANKS_GW@"
online = "online"
offline = "offline"

# ---------------------------------------------------------------------------------------
# Smart street poles behind LoRaWAN gateways, one value per topic:
# light (ON/OFF), dim (%), pm2_5, pm10 (µg/m³), no2 (ppb), bay_occupied (true/false).
[[fleet]]
name = "poles"
topic = "@POLES@"
format = "auto"
expected_interval = "15s"
table = ["light", "dim", "pm2_5", "pm10", "no2", "bay_occupied"]

[[fleet.metric]]
name = "dim"
unit = "%"
min = 0
max = 100

[[fleet.metric]]
name = "pm2_5"
display = "PM2.5"
unit = "µg/m³"
min = 0
max = 75

[[fleet.metric]]
name = "pm10"
display = "PM10"
unit = "µg/m³"
min = 0
max = 150

[[fleet.metric]]
name = "no2"
display = "NO2"
unit = "ppb"
min = 0
max = 100

[[fleet.metric]]
name = "bay_occupied"
display = "parking"

# The LoRaWAN gateway's last will: its poles go offline with it.
[[fleet.availability]]
topic = "@POLES_GW@"
online = "online"
offline = "offline"

# ---------------------------------------------------------------------------------------
# Modular weather stations: ~25 readings in nested JSON; nested keys become dotted metric
# names (air.temp_c, soil.moisture_40cm).
[[fleet]]
name = "weather"
topic = "@WEATHER@"
format = "json"
expected_interval = "15s"
table = ["air.temp_c", "air.humidity_pct", "wind.speed_ms", "rain.rate_mmh", "soil.moisture_10cm", "battery_v"]

[[fleet.metric]]
name = "air.temp_c"
display = "temperature"
unit = "°C"
min = -30
max = 50

[[fleet.metric]]
name = "air.humidity_pct"
display = "humidity"
unit = "%"
min = 0
max = 100

[[fleet.metric]]
name = "air.pressure_hpa"
display = "pressure"
unit = "hPa"
min = 960
max = 1050

[[fleet.metric]]
name = "air.dew_point_c"
display = "dew point"
unit = "°C"

[[fleet.metric]]
name = "wind.speed_ms"
display = "wind"
unit = "m/s"
min = 0
max = 40

[[fleet.metric]]
name = "wind.gust_ms"
display = "gust"
unit = "m/s"
min = 0
max = 60

[[fleet.metric]]
name = "wind.dir_deg"
display = "wind dir"
unit = "°"
min = 0
max = 360

[[fleet.metric]]
name = "rain.rate_mmh"
display = "rain"
unit = "mm/h"
min = 0

[[fleet.metric]]
name = "rain.today_mm"
display = "rain today"
unit = "mm"
min = 0

[[fleet.metric]]
name = "solar.radiation_wm2"
display = "solar"
unit = "W/m²"
min = 0
max = 1400

[[fleet.metric]]
name = "solar.uv_index"
display = "UV"
min = 0
max = 15

[[fleet.metric]]
name = "soil.moisture_10cm"
display = "soil 10cm"
unit = "%"
min = 0
max = 60

[[fleet.metric]]
name = "soil.moisture_20cm"
display = "soil 20cm"
unit = "%"
min = 0
max = 60

[[fleet.metric]]
name = "soil.moisture_40cm"
display = "soil 40cm"
unit = "%"
min = 0
max = 60

[[fleet.metric]]
name = "soil.moisture_80cm"
display = "soil 80cm"
unit = "%"
min = 0
max = 60

[[fleet.metric]]
name = "leaf_wetness_pct"
display = "leaf wetness"
unit = "%"
min = 0
max = 100

[[fleet.metric]]
name = "battery_v"
display = "battery"
unit = "V"
min = 3.4
max = 4.2

[[fleet.availability]]
topic = "@WEATHER_STATUS@"
online = "online"
offline = "offline"

# ---------------------------------------------------------------------------------------
# Utility meters (M2M): a reading every three minutes, retained, with its own timestamp
# (ts). The long expected_interval keeps a quiet meter from looking dead.
[[fleet]]
name = "meters"
topic = "@METERS@"
format = "json"
expected_interval = "3m"
table = ["energy_kwh", "power_kw", "voltage_v"]

[[fleet.metric]]
name = "energy_kwh"
display = "energy"
unit = "kWh"
min = 0

[[fleet.metric]]
name = "power_kw"
display = "power"
unit = "kW"
min = 0
max = 25

[[fleet.metric]]
name = "voltage_v"
display = "voltage"
unit = "V"
min = 207
max = 253

[[fleet.metric]]
name = "current_a"
display = "current"
unit = "A"
min = 0
max = 100

[[fleet.metric]]
name = "pf"
display = "power factor"
min = 0.8
max = 1

# ---------------------------------------------------------------------------------------
# A delivery fleet: GPS, speed, heading, fuel, engine temperature.
[[fleet]]
name = "vehicles"
topic = "@VEHICLES@"
format = "json"
expected_interval = "5s"
table = ["speed_kmh", "fuel_pct", "engine_temp_c", "ignition", "lat", "lon"]

[[fleet.metric]]
name = "lat"
unit = "°"

[[fleet.metric]]
name = "lon"
unit = "°"

[[fleet.metric]]
name = "speed_kmh"
display = "speed"
unit = "km/h"
min = 0
max = 130

[[fleet.metric]]
name = "heading_deg"
display = "heading"
unit = "°"
min = 0
max = 360

[[fleet.metric]]
name = "fuel_pct"
display = "fuel"
unit = "%"
min = 10
max = 100

[[fleet.metric]]
name = "engine_temp_c"
display = "engine"
unit = "°C"
min = 0
max = 110

[[fleet.metric]]
name = "odometer_km"
display = "odometer"
unit = "km"
min = 0

[[fleet.availability]]
topic = "@VEHICLES_STATUS@"
online = "online"
offline = "offline"

@ALERTS@# ---------------------------------------------------------------------------------------
# Commands: on a device press c (or :cmd); scripts use `fleetop cmd DEVICE COMMAND k=v`.
# The simulated devices answer on the MQTT 5 response topic with fleetop's correlation
# data, or on @PREFIX@/cmd/<fleet>/<device>/reply (matched on "id") for MQTT 3.1.1.
# Like a real field, some replies take seconds, a few commands fail with a reason, a few
# are lost (they time out), and a dead or unreachable device never answers.
[[command]]
name = "light-on"
fleet = "poles"
description = "Switch the light on"
topic = "@PREFIX@/cmd/poles/{device}"
payload = { cmd = "light-on", id = "{id}" }
response = true
reply_topic = "@PREFIX@/cmd/poles/{device}/reply"

[[command]]
name = "light-off"
fleet = "poles"
description = "Switch the light off"
topic = "@PREFIX@/cmd/poles/{device}"
payload = { cmd = "light-off", id = "{id}" }
response = true
reply_topic = "@PREFIX@/cmd/poles/{device}/reply"

[[command]]
name = "light-dim"
fleet = "poles"
description = "Dim the light to a level (0 to 100 %)"
topic = "@PREFIX@/cmd/poles/{device}"
payload = { cmd = "light-dim", level = "{level}", id = "{id}" }
response = true
reply_topic = "@PREFIX@/cmd/poles/{device}/reply"

[[command.param]]
name = "level"
type = "int"
min = 0
max = 100
default = 50
description = "brightness, %"

[[command]]
name = "pump-start"
fleet = "tanks"
description = "Start the tank's pump"
topic = "@PREFIX@/cmd/tanks/{device}"
payload = { cmd = "pump-start", id = "{id}" }
response = true
reply_topic = "@PREFIX@/cmd/tanks/{device}/reply"

[[command]]
name = "pump-stop"
fleet = "tanks"
description = "Stop the tank's pump"
topic = "@PREFIX@/cmd/tanks/{device}"
payload = { cmd = "pump-stop", id = "{id}" }
response = true
reply_topic = "@PREFIX@/cmd/tanks/{device}/reply"

[[command]]
name = "reboot"
description = "Restart the device (offline for about 8 s)"
topic = "@PREFIX@/cmd/{fleet}/{device}"
payload = { cmd = "reboot", id = "{id}" }
dangerous = true
response = true
reply_topic = "@PREFIX@/cmd/{fleet}/{device}/reply"
timeout = "15s"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn parses_and_has_the_five_fleets() {
        for prefix in ["demo", "fleetop-demo/x7k2", "a.b/c-d_e"] {
            let text = demo_config(prefix);
            assert!(!text.contains('@'), "unfilled placeholder in {text}");
            let c = Config::parse(&text, None).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let names: Vec<&str> = c.fleets.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(names, ["tanks", "poles", "weather", "meters", "vehicles"]);
            assert!(c.brokers.is_empty());
            for f in &c.fleets {
                assert!(f.topic.get_ref().starts_with(&format!("{prefix}/")));
                assert!(f.expected_interval.is_some(), "{}", f.name);
            }
            crate::mapping::Mapper::from_config(&c).unwrap_or_else(|e| panic!("{e}\n{text}"));
            crate::alerts::RuleSet::from_config(&c).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let commands = crate::commands::CommandSet::from_config(&c).unwrap();
            let names: Vec<&str> = commands.commands.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(
                names,
                [
                    "light-on",
                    "light-off",
                    "light-dim",
                    "pump-start",
                    "pump-stop",
                    "reboot"
                ]
            );
            let meters = &c.fleets[3];
            assert_eq!(
                meters.expected_interval,
                Some(std::time::Duration::from_secs(180))
            );
        }
    }
}
