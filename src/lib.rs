//! fleetop: `top` for a fleet of IoT/M2M devices over MQTT.
//!
//! The core (config, mapping, decode, fleet) is pure and unit-tested without IO; sources
//! (MQTT, recordings) and outputs (snapshot, NDJSON, TUI) sit at the edges.

pub mod alerts;
pub mod app;
pub mod bench;
pub mod broker;
pub mod cli;
pub mod commands;
pub mod config;
pub mod conventions;
pub mod decode;
pub mod demo;
pub mod engine;
pub mod expr;
pub mod fleet;
pub mod logging;
pub mod mapping;
pub mod output;
pub mod sanitize;
pub mod signals;
pub mod source;
pub mod text;
pub mod theme;
pub mod tui;
pub mod ui;
pub mod view;
pub mod vocab;
