//! Convention commands take what the device declares about itself.

use super::super::*;
use super::tests::{device, msg, state};

#[test]
fn a_homie_command_takes_what_its_datatype_and_format_declare_in_either_order() {
    use crate::conventions::Accepts;
    let attributes = [
        ("homie/th/heater/target/$settable", "true"),
        ("homie/th/heater/target/$datatype", "integer"),
        ("homie/th/heater/target/$format", "5:30"),
    ];
    for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
        let mut s = state(ConventionsConfig::default());
        s.apply(&msg("homie/th/$homie", b"4.0.0", 0));
        for (at, &i) in order.iter().enumerate() {
            let (topic, payload) = attributes[i];
            s.apply(&msg(topic, payload.as_bytes(), at as i64 + 1));
        }
        let f = device(&s, "th").facts.as_ref().unwrap();
        assert_eq!(
            f.commands[0].accepts,
            Accepts::Integer {
                min: Some(5),
                max: Some(30)
            },
            "{order:?}"
        );
    }
}
