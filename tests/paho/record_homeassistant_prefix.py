"""Records a device announcing itself by Home Assistant MQTT discovery under a prefix
other than `homeassistant` (discovery_prefix: site/ha), published by paho-mqtt the way
firmware does it (ESPHome's mqtt component, Tasmota's SetOption19 1): retained configs,
abbreviated keys and `~` among them, then availability and state. A look-alike,
`lab/sensor/probe/config`, is JSON with no topic to read or drive the entity on: it must
not teach a prefix. A second paho client records what the broker delivers, in fleetop's
recording format (topic, retain, payload_hex), one JSON object a line.

Usage: python3 record_homeassistant_prefix.py HOST PORT OUT.jsonl   (regenerates the fixture)
"""
import json, sys, time, uuid
import paho.mqtt.client as mqtt

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
run = "h%s" % uuid.uuid4().hex[:6]  # keeps this run's topics apart on a shared broker
dev = {"ids": ["greenhouse-5c2f"], "name": "Greenhouse", "mf": "espressif", "mdl": "esp32dev",
       "sw": "2026.11.0"}
configs = [
    ("site/ha/sensor/greenhouse/temperature/config",
     {"~": "greenhouse", "name": "Temperature", "uniq_id": "greenhouse-5c2f-temp", "stat_t": "~/sensor/temperature/state",
      "unit_of_meas": "°C", "dev_cla": "temperature", "stat_cla": "measurement", "avty_t": "~/status", "dev": dev}),
    ("site/ha/switch/greenhouse/fan/config",
     {"~": "greenhouse", "name": "Fan", "uniq_id": "greenhouse-5c2f-fan", "stat_t": "~/switch/fan/state",
      "cmd_t": "~/switch/fan/command", "avty_t": "~/status", "dev": dev}),
    ("lab/sensor/probe/config", {"name": "probe", "unit": "C"}),
]
live = [("greenhouse/status", "online"), ("greenhouse/sensor/temperature/state", "23.7"),
        ("greenhouse/switch/fan/state", "ON")]
pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-" + run)
pub.will_set(run + "/greenhouse/status", "offline", retain=True)
pub.connect(host, port)
pub.loop_start()
for topic, payload in configs:
    pub.publish(run + "/" + topic, json.dumps(payload), qos=1, retain=True).wait_for_publish()
got = []
rec = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rec-" + run)
rec.on_message = lambda c, u, m: got.append(m)
rec.connect(host, port)
rec.subscribe(run + "/#")
rec.loop_start()
time.sleep(0.5)
for topic, payload in live:
    pub.publish(run + "/" + topic, payload, qos=1, retain=topic.endswith("status")).wait_for_publish()
time.sleep(0.5)
for topic, _ in configs + live[:1]:
    pub.publish(run + "/" + topic, b"", qos=1, retain=True).wait_for_publish()
pub.disconnect(); pub.loop_stop()
time.sleep(0.3)
rec.disconnect()
with open(out, "w") as f:
    for m in got:
        if m.payload:
            f.write(json.dumps({"topic": m.topic[len(run) + 1:], "retain": bool(m.retain),
                                "payload_hex": m.payload.hex()}) + "\n")
print("recorded", len(got))
