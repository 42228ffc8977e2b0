//! config.example.toml documents every key: it must stay a valid config.

#[test]
fn config_example_parses() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config = fleetop::config::Config::load(&path).unwrap_or_else(|e| panic!("{}", e.0));
    // Loading checks the schema; the fleets, rules and commands compile on their own.
    fleetop::mapping::Mapper::from_config(&config).unwrap_or_else(|e| panic!("{}", e.0));
    fleetop::alerts::RuleSet::from_config(&config).unwrap_or_else(|e| panic!("{}", e.0));
    fleetop::commands::CommandSet::from_config(&config).unwrap_or_else(|e| panic!("{}", e.0));
    assert_eq!(config.brokers.len(), 1);
    assert_eq!(config.fleets.len(), 2);
    assert_eq!(config.brokers[0].subscribe.len(), 2);
    assert_eq!(config.alerts.len(), 2);
    assert_eq!(
        config.conventions,
        fleetop::config::conventions::ConventionsConfig::default(),
        "the example documents the defaults"
    );
    assert_eq!(config.hooks.max_running, Some(8));
    assert!(!config.ui.bell, "the bell is off by default");
}
