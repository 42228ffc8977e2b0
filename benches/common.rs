//! Shared by the benches: the fleet config they map.

use fleetop::config::Config;
use fleetop::engine::Engine;
use fleetop::fleet::FleetState;
use fleetop::mapping::Mapper;
use fleetop::source::Outlet;

pub const CONFIG: &str = r#"
[[fleet]]
name = "tanks"
topic = "bench/tanks/{device}/telemetry"
format = "json"
expected_interval = "10s"
"#;

pub fn state(limits: fleetop::config::Limits) -> FleetState {
    let config = Config::parse(CONFIG, None).expect("bench config parses");
    let mapper = Mapper::new(&config.fleets).expect("bench fleets compile");
    FleetState::new(mapper, limits, &["bench".to_string()])
}

/// The engine every front end runs (built-in alert rules included), with its outlets.
#[allow(dead_code)]
pub fn engine(limits: fleetop::config::Limits) -> (Engine, Vec<Outlet>) {
    let config = Config::parse(CONFIG, None).expect("bench config parses");
    let mapper = Mapper::new(&config.fleets).expect("bench fleets compile");
    Engine::detached(mapper, limits, &["bench".to_string()])
}
