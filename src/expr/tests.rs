use super::*;
use crate::fleet::MetricValue;
use crate::fleet::testutil::{device, set};
use proptest::prelude::*;

fn eval(src: &str, d: &Device, now: i64) -> Truth {
    Expr::parse(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .eval(d, &EvalCtx::at(now))
}

fn err(src: &str) -> ExprError {
    match Expr::parse(src) {
        Ok(_) => panic!("`{src}` parsed"),
        Err(e) => e,
    }
}

#[test]
fn comparisons_logic_and_arithmetic() {
    let mut d = device("tank-07", &[("level_pct", 12.0), ("air.temp_c", 31.5)]);
    d.labels.push(("site".into(), "north".into()));
    assert_eq!(eval("level_pct < 15", &d, 0), Truth::True);
    assert_eq!(
        eval("level_pct >= 15 || air.temp_c > 30", &d, 0),
        Truth::True
    );
    assert_eq!(
        eval(
            "not (level_pct < 15) and label(\"site\") == \"north\"",
            &d,
            0
        ),
        Truth::False
    );
    assert_eq!(
        eval("(level_pct + 3) * 2 == 30 && !(1 > 2)", &d, 0),
        Truth::True
    );
    assert_eq!(eval("-level_pct / 4 == -3", &d, 0), Truth::True);
    assert_eq!(eval("label(site) != \"south\"", &d, 0), Truth::True);
    assert_eq!(eval("abs(0 - level_pct) > 11.5", &d, 0), Truth::True);
    assert_eq!(eval("status == \"online\"", &d, 0), Truth::True);
}

#[test]
fn missing_metric_is_no_data_and_logic_is_three_valued() {
    let d = device("tank-07", &[("level_pct", 12.0)]);
    assert_eq!(eval("humidity > 50", &d, 0), Truth::NoData);
    assert_eq!(eval("not (humidity > 50)", &d, 0), Truth::NoData);
    assert_eq!(eval("humidity > 50 or level_pct < 15", &d, 0), Truth::True);
    assert_eq!(
        eval("humidity > 50 and level_pct < 15", &d, 0),
        Truth::NoData
    );
    assert_eq!(
        eval("humidity > 50 and level_pct > 15", &d, 0),
        Truth::False
    );
    assert_eq!(eval("label(\"site\") == \"north\"", &d, 0), Truth::NoData);
    assert_eq!(eval("avg(humidity, 5m) > 1", &d, 0), Truth::NoData);
    assert_eq!(eval("age(humidity) > 1", &d, 0), Truth::NoData);
}

#[test]
fn nan_infinity_and_division_by_zero_never_fire() {
    let mut d = device("x", &[("v", 1.0)]);
    d.metrics[0].value = MetricValue::Number(f64::NAN);
    for src in [
        "v > 0",
        "v < 0",
        "v == v",
        "v != 3",
        "not (v == 3)",
        "v",
        "v + 1 > 0",
    ] {
        assert_eq!(eval(src, &d, 0), Truth::NoData, "{src}");
    }
    d.metrics[0].value = MetricValue::Number(0.0);
    assert_eq!(eval("1 / v > 0", &d, 0), Truth::NoData);
    assert_eq!(eval("1 / v != 0", &d, 0), Truth::NoData);
    d.metrics[0].value = MetricValue::Number(1e308);
    assert_eq!(eval("v * 10 > 0", &d, 0), Truth::NoData);
}

#[test]
fn text_and_bool_metrics() {
    let mut d = device("x", &[]);
    d.metrics.push(crate::fleet::Metric {
        value: MetricValue::Text("auto".into()),
        ..device("y", &[("mode", 0.0)]).metrics.remove(0)
    });
    d.metrics.push(crate::fleet::Metric {
        value: MetricValue::Bool(true),
        ..device("y", &[("door", 0.0)]).metrics.remove(0)
    });
    assert_eq!(eval("mode == \"auto\"", &d, 0), Truth::True);
    assert_eq!(eval("mode > 3", &d, 0), Truth::NoData);
    assert_eq!(eval("mode + 1 > 0", &d, 0), Truth::NoData);
    assert_eq!(eval("door", &d, 0), Truth::True);
    assert_eq!(eval("door == true and door > 0", &d, 0), Truth::True);
    assert_eq!(eval("metric(\"mode\") != \"manual\"", &d, 0), Truth::True);
}

#[test]
fn window_functions_over_the_ring() {
    let mut d = device("x", &[]);
    for (i, v) in [10.0, 12.0, 14.0, 14.0, 20.0].into_iter().enumerate() {
        set(&mut d, "v", i as i64 * 60_000, v);
    }
    let now = 4 * 60_000;
    assert_eq!(eval("avg(v, 2m) == 16", &d, now), Truth::True);
    assert_eq!(
        eval("min(v, 10m) == 10 and max(v, 10m) == 20", &d, now),
        Truth::True
    );
    assert_eq!(eval("delta(v, 2m) == 6", &d, now), Truth::True);
    assert_eq!(eval("rate(v, 2m) == 0.05", &d, now), Truth::True);
    assert_eq!(eval("changes(v, 4m) == 3", &d, now), Truth::True);
    // A window with one sample has no delta; an empty one has no average.
    assert_eq!(eval("delta(v, 30s) > -1", &d, now), Truth::NoData);
    assert_eq!(eval("avg(v, 30s) > 0", &d, now + 60_000), Truth::NoData);
    let e = Expr::parse("avg(v, 2m) > 15 and v > 1").unwrap();
    assert_eq!(e.value_text(&d, &EvalCtx::at(now)), "16");
    assert!(e.time_dependent());
    assert_eq!(e.metrics(), ["v".into()]);
}

#[test]
fn changes_needs_history_covering_the_window() {
    let mut d = device("x", &[]);
    set(&mut d, "p", 0, 5.0);
    set(&mut d, "p", 60_000, 5.0);
    // Two equal samples a minute apart do not prove a 30-minute flat line...
    assert_eq!(eval("changes(p, 30m) == 0", &d, 120_000), Truth::NoData);
    for i in 2..=31 {
        set(&mut d, "p", i * 60_000, 5.0);
    }
    // ...thirty minutes of them do.
    assert_eq!(eval("changes(p, 30m) == 0", &d, 31 * 60_000), Truth::True);
}

#[test]
fn long_windows_reach_into_the_coarse_tier() {
    let mut d = device("x", &[]);
    // The test ring keeps 64 samples; 600 at one a second spill 536 into the coarse tier.
    for i in 0..600 {
        set(&mut d, "v", i * 1000, if i < 300 { 10.0 } else { 20.0 });
    }
    let now = 599_000;
    assert_eq!(
        eval("min(v, 10m) == 10 and max(v, 10m) == 20", &d, now),
        Truth::True
    );
    let avg = Expr::parse("avg(v, 10m) > 0")
        .unwrap()
        .value_text(&d, &EvalCtx::at(now));
    let avg: f64 = avg.parse().unwrap();
    assert!((avg - 15.0).abs() < 1.5, "{avg}");
    assert_eq!(eval("changes(v, 9m) >= 1", &d, now), Truth::True);
}

#[test]
fn age_counts_seconds_and_respects_the_reconnect_floor() {
    let d = device("x", &[("v", 1.0)]);
    assert_eq!(eval("age(v) > 10m", &d, 601_000), Truth::True);
    assert_eq!(eval("age(v) > 10m", &d, 599_000), Truth::False);
    let e = Expr::parse("age(v) > 10m").unwrap();
    let ctx = EvalCtx {
        now_ms: 601_000,
        blind: crate::vocab::Blind {
            from_ms: i64::MIN,
            until_ms: 300_000,
        },
        cache: None,
        slots: &[],
    };
    assert_eq!(e.eval(&d, &ctx), Truth::False);
    assert!(e.reads_liveness());
}

#[test]
fn parse_errors_give_columns() {
    let cases: &[(&str, usize, &str)] = &[
        ("level_pct = 15", 11, "=="),
        ("level_pct < ", 13, "expected a metric"),
        ("avg(level_pct)", 14, "window"),
        ("avg(level_pct, 0s) > 1", 16, "longer than zero"),
        ("foo(x) > 1", 1, "unknown function"),
        ("label(\"site\") > 3", 1, "text can only"),
        ("status == \"ofline\"", 11, "status is one of"),
        ("\"a\" + 1 > 0", 1, "arithmetic needs numbers"),
        ("1 < 2 < 3", 7, "do not chain"),
        ("x > \"north", 5, "no closing"),
        ("level_pct + 1", 1, "true or false"),
        ("x > 1 y", 7, "unexpected"),
        ("x > 1 and $", 11, "unexpected character"),
        ("", 1, "empty"),
        ("x > 5q", 5, "not a duration"),
        ("(x > 1", 7, "`)`"),
    ];
    for &(src, column, needle) in cases {
        let e = err(src);
        assert_eq!(e.column, column, "{src}: {e}");
        assert!(e.message.contains(needle), "{src}: {e}");
    }
    let deep = format!("{}x > 1{}", "(".repeat(200), ")".repeat(200));
    assert!(err(&deep).message.contains("nested deeper"));
    assert!(
        err(&"x".repeat(MAX_EXPR_LEN + 1))
            .message
            .contains("longer")
    );
}

const OPS: [&str; 12] = [
    "+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!=", "and", "or",
];

/// Valid-looking expressions over a few metrics.
fn arb_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("c.d".to_string()),
        Just("missing".to_string()),
        any::<f64>().prop_map(|x| if x.is_finite() {
            format!("{x:e}")
        } else {
            "0".into()
        }),
        Just("avg(a, 1m)".to_string()),
        Just("rate(b, 10s)".to_string()),
        Just("delta(c.d, 1h)".to_string()),
        Just("changes(a, 5m)".to_string()),
        Just("min(b, 30s)".to_string()),
        Just("age(a)".to_string()),
        Just("5m".to_string()),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            (
                inner.clone(),
                proptest::sample::select(&OPS[..]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("(not ({a}))")),
            inner.clone().prop_map(|a| format!("-({a})")),
            inner.prop_map(|a| format!("abs({a})")),
        ]
    })
}

proptest! {
    // Failures print their minimal input; no regression file is written outside
    // src/alerts.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_text_never_panics(src in "\\PC{0,80}") {
        let _ = Expr::parse(&src);
    }

    #[test]
    fn evaluation_never_panics(
        src in arb_expr(),
        samples in proptest::collection::vec((any::<i64>(), any::<f64>()), 0..40),
        latest in any::<f64>(),
        now in any::<i64>(),
        floor in any::<i64>(),
    ) {
        let mut d = device("x", &[]);
        for (i, &(t, v)) in samples.iter().enumerate() {
            set(&mut d, ["a", "b", "c.d"][i % 3], t, v);
        }
        if let Some(m) = d.metrics.first_mut() {
            m.value = MetricValue::Number(latest);
        }
        // Wrapping makes any number-typed tree a condition, so most cases get evaluated.
        let wrapped = format!("({src}) != 0");
        prop_assert!(Expr::parse(&wrapped).is_ok(), "{}", wrapped);
        for e in [Expr::parse(&src), Expr::parse(&wrapped)].into_iter().flatten() {
            let cache = WindowCache::new(15);
            let blind = crate::vocab::Blind { from_ms: i64::MIN, until_ms: floor };
            let ctx = EvalCtx { now_ms: now, blind, cache: Some(&cache), slots: &[] };
            let t = e.eval(&d, &ctx);
            let _ = e.value_text(&d, &ctx);
            // Cached summaries answer like fresh ones once past the slack (4 min at most).
            for dt in [0, 600_000, 14_400_001, -5_000] {
                let later = EvalCtx { now_ms: now.saturating_add(dt), ..ctx };
                let fresh = EvalCtx { cache: None, ..later };
                prop_assert_eq!(e.eval(&d, &later), e.eval(&d, &fresh), "{} at +{}", src, dt);
            }
            // NaN never fires.
            if latest.is_nan() && src == "a" {
                prop_assert_eq!(t, Truth::NoData);
            }
        }
    }
}
