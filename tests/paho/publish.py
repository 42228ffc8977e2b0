"""Publishes device-convention traffic with paho-mqtt (a client fleetop did not write):
a Tasmota plug whose LWT is its last will, a Shelly switch and a Zigbee2MQTT sensor.
Prints `published` once everything is sent, then stays connected until killed, so the
broker publishes the will when the connection drops without a DISCONNECT."""

import json
import sys
import time

import paho.mqtt.client as mqtt

port = int(sys.argv[1])
try:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-plug")
except AttributeError:  # paho-mqtt 1.x
    client = mqtt.Client(client_id="paho-plug")
client.will_set("tele/paho_plug/LWT", "Offline", qos=1, retain=True)
client.connect("127.0.0.1", port, keepalive=5)
client.loop_start()
infos = [
    client.publish("tele/paho_plug/LWT", "Online", qos=1, retain=True),
    client.publish(
        "tele/paho_plug/SENSOR",
        json.dumps({"Time": "2026-11-25T10:00:00", "ENERGY": {"Power": 42.5, "Voltage": 230}}),
        qos=1,
    ),
    client.publish("shellyplus1pm-paho/online", "true", qos=1, retain=True),
    client.publish(
        "shellyplus1pm-paho/status/switch:0",
        json.dumps({"id": 0, "output": True, "apower": 12.5, "temperature": {"tC": 40.1}}),
        qos=1,
    ),
    client.publish("zigbee2mqtt/paho_sensor/availability", json.dumps({"state": "online"}), qos=1, retain=True),
    client.publish("zigbee2mqtt/paho_sensor", json.dumps({"humidity": 51.5, "temperature": 22.25}), qos=1),
]
for info in infos:
    info.wait_for_publish(10)
print("published", flush=True)
time.sleep(60)
