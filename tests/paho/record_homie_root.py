"""Records a Homie 4 device published under a custom root by paho-mqtt, the way
firmware (homie-esp8266, Homie for ESP32) publishes it: retained attributes with $homie
first, then values. A second paho client records what the broker delivers, in
fleetop's recording format (topic, retain, payload_hex), one JSON object a line.

Usage: python3 record_homie_root.py HOST PORT OUT.jsonl   (regenerates the fixture)
"""
import json, sys, time, uuid
import paho.mqtt.client as mqtt

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
root = "site-%s/homie" % uuid.uuid4().hex[:6]
dev = root + "/boiler"
messages = [
    ("$homie", "4.0.0"), ("$name", "Boiler room"), ("$state", "init"),
    ("$nodes", "heater"), ("heater/$name", "Heater"), ("heater/$properties", "temperature,power"),
    ("heater/temperature/$name", "Water temperature"), ("heater/temperature/$unit", "°C"),
    ("heater/temperature/$datatype", "float"),
    ("heater/power/$datatype", "boolean"), ("heater/power/$settable", "true"),
    ("$state", "ready"), ("heater/temperature", "61.5"), ("heater/power", "true"),
]
got = []
rec = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rec-" + uuid.uuid4().hex[:6])
rec.on_message = lambda c, u, m: got.append(m)
rec.connect(host, port)
rec.subscribe(root + "/#")
rec.loop_start()
pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-" + uuid.uuid4().hex[:6])
pub.will_set(dev + "/$state", "lost", retain=True)
pub.connect(host, port)
pub.loop_start()
time.sleep(0.5)
for level, payload in messages:
    pub.publish(dev + "/" + level, payload, qos=1, retain=True).wait_for_publish()
time.sleep(0.5)
# Clear the retained topics so the broker keeps nothing of the recording.
for level in dict(messages):
    pub.publish(dev + "/" + level, b"", qos=1, retain=True).wait_for_publish()
pub.disconnect(); rec.disconnect()
with open(out, "w") as f:
    for m in got:
        if m.payload:
            f.write(json.dumps({"topic": m.topic.replace(root, "site/homie"), "retain": bool(m.retain), "payload_hex": m.payload.hex()}) + "\n")
print("recorded", len(got))
