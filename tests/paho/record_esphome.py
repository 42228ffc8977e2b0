"""Records two native ESPHome nodes (MQTT component, discovery off), published by paho-mqtt
the way the firmware publishes (esphome/components/mqtt): the will `offline` and the birth
`online` on `<topic_prefix>/status`, retained; each component's state, retained, on
`<prefix>/<component>/<object_id>/state` (sensors with their accuracy, `nan` before a
first reading, ON/OFF, the light's JSON schema, a climate's sub-states); the logger's
lines, coloured, on `<prefix>/debug`. `garden-node` keeps the default prefix (its name);
`site/esp-hvac` has a prefix of two levels and drops off the network, so the broker
publishes its will. Look-alikes: `lab/status` says `online` and nothing else, and
`plant/sensor/pressure/state` comes with no status: neither is an ESPHome node. A second
paho client records what the broker delivers, in fleetop's recording format (topic,
retain, payload_hex), one JSON object a line.

Usage: python3 record_esphome.py HOST PORT OUT.jsonl   (regenerates the fixture)
"""
import json, sys, time, uuid
import paho.mqtt.client as mqtt

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
run = "e%s" % uuid.uuid4().hex[:6]  # keeps this run's topics apart on a shared broker


def log(level, colour, tag, text):
    return "\033[0;%sm[%s][%s]: %s\033[0m" % (colour, level, tag, text)


light = {"color_mode": "rgb", "state": "ON", "brightness": 180,
         "color": {"r": 255, "g": 180, "b": 100}, "effect": "None"}
nodes = {
    "garden-node": [
        ("sensor/temperature/state", "21.5"),
        ("sensor/humidity/state", "48.2"),
        ("sensor/wifi_signal/state", "-61"),
        ("sensor/soil_moisture/state", "nan"),
        ("binary_sensor/door/state", "OFF"),
        ("switch/pump_relay/state", "ON"),
        ("text_sensor/esphome_version/state", "2025.11.2 Dec  1 2025, 10:00:00"),
        ("light/garden_lights/state", json.dumps(light)),
        ("debug", log("D", "36", "sensor:094", "'Temperature': Sending state 21.50000 °C with 1 decimals of accuracy")),
        ("debug", log("W", "33", "wifi:1351", "WiFi signal weak")),
    ],
    "site/esp-hvac": [
        ("climate/hvac/mode/state", "heat"),
        ("climate/hvac/current_temperature/state", "19.5"),
        ("climate/hvac/target_temperature/state", "21.0"),
        ("climate/hvac/action/state", "heating"),
        ("cover/vent/state", "open"),
        ("cover/vent/position/state", "40"),
        ("number/fan_speed/state", "3"),
        ("select/preset_mode/state", "Eco"),
    ],
}
got = []
rec = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rec-" + run)
rec.on_message = lambda c, u, m: got.append(m)
rec.connect(host, port)
rec.subscribe(run + "/#")
rec.loop_start()
time.sleep(0.3)
pubs = []
for prefix, messages in nodes.items():
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=prefix.replace("/", "-") + "-" + run)
    pub.will_set(run + "/" + prefix + "/status", "offline", qos=1, retain=True)
    pub.connect(host, port)
    pub.loop_start()
    pub.publish(run + "/" + prefix + "/status", "online", qos=1, retain=True).wait_for_publish()
    for topic, payload in messages:
        retain = topic != "debug"
        pub.publish(run + "/" + prefix + "/" + topic, payload, qos=0 if not retain else 1,
                    retain=retain).wait_for_publish()
    pubs.append((pub, prefix))
decoy = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="decoy-" + run)
decoy.connect(host, port)
decoy.loop_start()
decoy.publish(run + "/lab/status", "online", qos=1).wait_for_publish()
decoy.publish(run + "/plant/sensor/pressure/state", "2.5", qos=1).wait_for_publish()
decoy.disconnect()
decoy.loop_stop()
time.sleep(0.5)
# The hvac node drops off the network: the broker publishes its will.
hvac, prefix = pubs[1]
hvac._sock.close()
time.sleep(2.5)
# Retained messages are cleared so the shared broker keeps nothing of this run.
cleaner = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="clean-" + run)
cleaner.connect(host, port)
cleaner.loop_start()
for prefix, messages in nodes.items():
    cleaner.publish(run + "/" + prefix + "/status", b"", qos=1, retain=True).wait_for_publish()
    for topic, _ in messages:
        if topic != "debug":
            cleaner.publish(run + "/" + prefix + "/" + topic, b"", qos=1, retain=True).wait_for_publish()
time.sleep(0.5)
for pub, _ in pubs[:1]:
    pub.disconnect()
    pub.loop_stop()
cleaner.disconnect()
cleaner.loop_stop()
rec.disconnect()
with open(out, "w") as f:
    for m in got:
        if m.payload:
            f.write(json.dumps({"topic": m.topic[len(run) + 1:], "retain": bool(m.retain),
                                "payload_hex": m.payload.hex()}) + "\n")
print("recorded", len(got))
