//! Lossless by default: a stand-in broker writes a flood of pre-encoded QoS 0 PUBLISHes as
//! fast as the socket takes them while the core is deliberately slow, first stalled for
//! several keepalive intervals, then pumped in small slices. Every message must be applied,
//! none dropped, the mailbox never above its capacity, and the link never down (a stall
//! longer than the keepalive must not cost the connection).

use fleetop::bench::flood;
use fleetop::bench::standin::{Prepared, StandIn};
use fleetop::config::Config;
use fleetop::engine::Engine;
use fleetop::fleet::FleetEvent;
use fleetop::mapping::Mapper;
use fleetop::source::mqtt::ConnectionSpec;
use fleetop::vocab::LinkState;
use std::sync::Arc;
use std::time::Duration;

const MESSAGES: u64 = 200_000;
/// Small against the flood, so that the connection waits on a full mailbox most of the run.
const QUEUE: usize = 4096;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_through_a_stalled_then_slow_core_is_applied_whole() {
    let prepared = Arc::new(Prepared::new(&flood::block(10_000)));
    let mut standin = StandIn::start(prepared, MESSAGES, false).expect("stand-in broker");
    let text = format!(
        "[limits]\nqueue = {QUEUE}\n\
         [[broker]]\nname = \"standin\"\nurl = \"{}\"\nprotocol = \"3.1.1\"\nkeepalive = \"1s\"\n\
         [[fleet]]\nname = \"tanks\"\ntopic = \"{}\"\nformat = \"json\"\n",
        standin.url(),
        flood::TEMPLATE
    );
    let config = Config::parse(&text, None).expect("config");
    let mapper = Mapper::new(&config.fleets).expect("fleets");
    let (mut engine, outlets) =
        Engine::detached(mapper, config.limits.clone(), &["standin".into()]);
    let outlet = outlets[0].clone();
    let spec = ConnectionSpec::from_config(
        &config.brokers[0],
        vec![(flood::FILTER.to_string(), 0)],
        true,
    )
    .expect("spec");
    let _started = fleetop::source::mqtt::spawn(spec, outlets[0].clone());
    standin
        .subscribed(Duration::from_secs(20))
        .await
        .expect("subscribed");

    // The core takes nothing for four keepalive intervals: the mailbox fills, the
    // connection stops reading, the stand-in's writes block.
    tokio::time::sleep(Duration::from_secs(4)).await;
    // Then it runs slowly for a while, then freely. The deadline only ends a broken test.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut slices = 0u32;
    let mut events = Vec::new();
    while engine.state.counters.messages < MESSAGES {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {MESSAGES} messages applied; link: {}",
            engine.state.counters.messages,
            engine.state.connections[0].state
        );
        let _ = tokio::time::timeout(Duration::from_millis(100), engine.pump(1)).await;
        engine.tick();
        events.extend(engine.state.drain_events());
        slices += 1;
        if slices < 200 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    assert_eq!(engine.state.counters.messages, MESSAGES, "all applied");
    assert_eq!(outlet.dropped.get(), 0, "nothing dropped");
    assert_eq!(engine.dropped(), 0);
    assert!(
        outlet.mailbox_peak() <= outlet.mailbox_capacity(),
        "the mailbox held {} with room for {}",
        outlet.mailbox_peak(),
        outlet.mailbox_capacity()
    );
    assert_eq!(outlet.mailbox_capacity(), QUEUE);
    let downs: Vec<&LinkState> = events
        .iter()
        .filter_map(|e| match e {
            FleetEvent::LinkChanged { state, .. } if matches!(state, LinkState::Down { .. }) => {
                Some(state)
            }
            _ => None,
        })
        .collect();
    assert!(downs.is_empty(), "the link went down: {downs:?}");
    let served = standin.finish().expect("the stand-in served the flood");
    assert_eq!(served.messages, MESSAGES);
}
