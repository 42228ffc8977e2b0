//! The demo: an embedded MQTT broker and simulated field fleets.
