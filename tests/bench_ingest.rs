//! `fleetop bench ingest --ceiling` through the real binary, on a small flood: the output
//! has the fixed last line and the counts add up. Rates are printed, never asserted.

use std::process::Command;

const N: u64 = 20_000;

/// `ingest: fleetop X msg/s, mosquitto_sub Y msg/s, ratio Z` → (X, Some((Y, Z))), or
/// (X, None) for `mosquitto_sub n/a, ratio n/a`.
fn parse_last(line: &str) -> Option<(u64, Option<(u64, f64)>)> {
    let rest = line.strip_prefix("ingest: fleetop ")?;
    let (x, rest) = rest.split_once(" msg/s, mosquitto_sub ")?;
    let x = x.parse().ok()?;
    if rest == "n/a, ratio n/a" {
        return Some((x, None));
    }
    let (y, z) = rest.split_once(" msg/s, ratio ")?;
    let (whole, decimals) = z.split_once('.')?;
    if decimals.len() != 2 || whole.is_empty() {
        return None;
    }
    Some((x, Some((y.parse().ok()?, z.parse().ok()?))))
}

#[test]
fn last_line_parser_accepts_only_the_fixed_shape() {
    assert_eq!(
        parse_last("ingest: fleetop 1200000 msg/s, mosquitto_sub 180000 msg/s, ratio 6.67"),
        Some((1_200_000, Some((180_000, 6.67))))
    );
    assert_eq!(
        parse_last("ingest: fleetop 5 msg/s, mosquitto_sub n/a, ratio n/a"),
        Some((5, None))
    );
    assert_eq!(
        parse_last("ingest: fleetop 5 msg/s, mosquitto_sub 4 msg/s, ratio 1.3"),
        None
    );
    assert_eq!(parse_last("ingest: fleetop 5.5 msg/s"), None);
}

/// The number after `prefix` in `line`, e.g. `got 20000` → 20000.
fn number_after(line: &str, prefix: &str) -> Option<u64> {
    let rest = &line[line.find(prefix)? + prefix.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[test]
fn ceiling_bench_prints_counts_and_the_fixed_last_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(["bench", "ingest", "--ceiling", "--messages", &N.to_string()])
        .output()
        .expect("run fleetop");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    print!("{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    let last = lines.last().copied().unwrap_or_default();
    let (fleetop, reference) =
        parse_last(last).unwrap_or_else(|| panic!("bad last line: {last:?}\n{stdout}"));
    assert!(fleetop > 0, "{stdout}");

    // The bare rumqttc loops ran for both protocols.
    for p in ["MQTT 3.1.1", "MQTT 5"] {
        assert!(
            lines
                .iter()
                .any(|l| l.trim_start().starts_with(p) && l.contains("msg/s")),
            "no bare-loop line for {p}\n{stdout}"
        );
    }

    // Two rounds by default, each subscriber measured in both, the best of each kept.
    assert!(lines.contains(&"round 2 of 2:"), "{stdout}");
    let best = lines
        .iter()
        .find(|l| l.starts_with("best of 2 rounds each: fleetop (MQTT 5) "))
        .unwrap_or_else(|| panic!("no best-of line\n{stdout}"));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("fleetop whole pipeline (MQTT 5)"))
            .count(),
        2,
        "{stdout}"
    );

    // fleetop accounts for every message: what it applied plus what its queue dropped.
    let pipeline = lines
        .iter()
        .find(|l| l.starts_with("fleetop whole pipeline"))
        .unwrap_or_else(|| panic!("no pipeline line\n{stdout}"));
    let got = number_after(pipeline, "got ").expect("got");
    let applied = number_after(pipeline, "applied ").expect("applied");
    let dropped = number_after(pipeline, "queue drops ").expect("drops");
    assert_eq!(got, N, "{pipeline}");
    assert_eq!(applied + dropped, N, "{pipeline}");
    assert!(applied > 0, "{pipeline}");

    match reference {
        Some((y, ratio)) => {
            let line = lines
                .iter()
                .rev()
                .find(|l| l.starts_with("mosquitto_sub: got "))
                .unwrap_or_else(|| panic!("no mosquitto_sub line\n{stdout}"));
            // TCP does not drop: the stand-in's stream reaches mosquitto_sub whole.
            assert_eq!(number_after(line, "got "), Some(N), "{line}");
            assert!(best.contains(" msg/s, mosquitto_sub ") && !best.ends_with("n/a"));
            assert!(y > 0);
            let expected = fleetop as f64 / y as f64;
            assert!((ratio - expected).abs() < 0.01, "{last}");
        }
        None => assert!(
            stdout.contains("mosquitto_sub is not on PATH")
                || stdout.contains("mosquitto_sub cannot be measured"),
            "{stdout}"
        ),
    }
}

#[test]
fn broker_mode_needs_a_broker() {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(["bench", "ingest", "--messages", "10"])
        .output()
        .expect("run fleetop");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--broker"), "{stderr}");
}
