//! Layouts `[conventions]` pins: known and subscribed to before any traffic.

use super::*;
use crate::conventions::Convention;

fn pins() -> ConventionsConfig {
    ConventionsConfig {
        homie_roots: vec!["plant/homie".into()],
        homeassistant_prefixes: vec!["ha".into()],
        shelly_prefixes: vec!["plant/plug-1".into()],
        esphome_prefixes: vec!["plant/boiler".into()],
        ..ConventionsConfig::default()
    }
}

#[test]
fn pinned_layouts_are_known_and_subscribed_before_any_traffic() {
    let c = pins();
    let l = Layouts::pinned(&c);
    assert_eq!(
        l.homie_roots().collect::<Vec<_>>(),
        ["plant/homie", "homie"]
    );
    assert_eq!(
        l.homeassistant_prefixes().collect::<Vec<_>>(),
        ["homeassistant", "ha"]
    );
    assert!(l.shelly_prefix("plant/plug-1") && l.esphome_node("plant/boiler"));
    assert!(
        Convention::Homie
            .filters(&c)
            .contains(&"plant/homie/#".to_string())
    );
    assert!(
        Convention::HomeAssistant
            .filters(&c)
            .contains(&"ha/#".to_string())
    );
    assert!(
        Convention::Shelly
            .filters(&c)
            .contains(&"plant/plug-1/#".to_string())
    );
    assert!(
        Convention::EspHome
            .filters(&c)
            .contains(&"plant/boiler/#".to_string())
    );
    // Learning what is pinned teaches nothing new.
    let mut l = l;
    assert_eq!(l.learn(&c, "plant/homie/lamp/$homie", b"4.0.0"), None);
}

#[test]
fn a_pin_that_is_not_a_topic_prefix_is_refused_with_its_line() {
    let text = "[conventions]\nhomie_roots = [\"plant/homie\", \"site/+\"]\n";
    let e = crate::config::Config::parse(text, Some(std::path::Path::new("f.toml")))
        .err()
        .map(|e| e.0)
        .unwrap_or_default();
    assert!(e.starts_with("f.toml:2:"), "{e}");
    assert!(
        e.contains("homie_roots: `site/+` is not a topic prefix"),
        "{e}"
    );
}
