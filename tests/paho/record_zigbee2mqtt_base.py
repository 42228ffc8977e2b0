"""Records a Zigbee2MQTT bridge under a base other than `zigbee2mqtt`, published by
paho-mqtt the way Zigbee2MQTT 1.x/2.x publishes (lib/extension/bridge.ts,
availability.ts): retained `bridge/state` {"state":"online"} (its will is
{"state":"offline"}), `bridge/info`, `bridge/devices`, each device's retained
`<friendly>/availability` and its state as flat JSON on `<friendly>`; the device list
holds a dozen more sensors that say nothing else. A look-alike,
`lab/bridge/state` `online` with a JSON `lab/thing`, has no device list or info: it must
not become a bridge. A second paho client records what the broker delivers, in
fleetop's recording format (topic, retain, payload_hex), one JSON object a line.

Usage: python3 record_zigbee2mqtt_base.py HOST PORT OUT.jsonl   (regenerates the fixture)
"""
import json, sys, time, uuid
import paho.mqtt.client as mqtt

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
run = "z%s" % uuid.uuid4().hex[:6]  # keeps this run's topics apart on a shared broker
base = "site/zigbee"
info = {"version": "2.1.3", "commit": "d9f4a2b", "coordinator": {"ieee_address": "0x00124b00222b3a12",
        "type": "zStack3x0", "meta": {"revision": 20230507}}, "network": {"channel": 15, "pan_id": 6754},
        "log_level": "info", "permit_join": False, "config": {"mqtt": {"base_topic": base}}}
devices = [
    {"ieee_address": "0x00124b00222b3a12", "type": "Coordinator", "network_address": 0,
     "supported": True, "friendly_name": "Coordinator", "disabled": False, "definition": None,
     "power_source": None, "interview_completed": True},
    {"ieee_address": "0x00158d0001a2b3c4", "type": "EndDevice", "network_address": 12345,
     "supported": True, "friendly_name": "living/thermometer", "disabled": False,
     "definition": {"model": "WSDCGQ11LM", "vendor": "Aqara",
                    "description": "Temperature, humidity and pressure sensor", "exposes": [
                        {"type": "numeric", "name": "temperature", "property": "temperature", "access": 1, "unit": "°C"},
                        {"type": "numeric", "name": "humidity", "property": "humidity", "access": 1, "unit": "%"},
                        {"type": "numeric", "name": "linkquality", "property": "linkquality", "access": 1, "unit": "lqi"}]},
     "power_source": "Battery", "interview_completed": True},
    {"ieee_address": "0x0017880104e45517", "type": "Router", "network_address": 4242,
     "supported": True, "friendly_name": "0x0017880104e45517", "disabled": False,
     "definition": {"model": "E1603", "vendor": "IKEA", "description": "TRADFRI control outlet", "exposes": [
         {"type": "switch", "features": [{"type": "binary", "name": "state", "property": "state", "access": 7,
                                          "value_on": "ON", "value_off": "OFF"}]},
         {"type": "numeric", "name": "linkquality", "property": "linkquality", "access": 1, "unit": "lqi"}]},
     "power_source": "Mains (single phase)", "interview_completed": True},
]
# A garden of sensors makes the list as long as real ones are (over fleetop's 4 KiB
# unmapped-payload cap), so one that comes early must be held whole.
sensor = devices[1]
for i in range(12):
    devices.append(dict(sensor, ieee_address="0x00158d0001a2b3%02x" % i,
                        friendly_name="garden/sensor-%d" % i, network_address=20000 + i))
retained = [
    ("bridge/state", {"state": "online"}), ("bridge/info", info), ("bridge/devices", devices),
    ("living/thermometer/availability", {"state": "online"}),
    ("0x0017880104e45517/availability", {"state": "online"}),
]
live = [
    ("living/thermometer", {"temperature": 21.4, "humidity": 48.2, "linkquality": 120, "battery": 97}),
    ("0x0017880104e45517", {"state": "ON", "linkquality": 200}),
]
pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-" + run)
pub.will_set("%s/%s/bridge/state" % (run, base), json.dumps({"state": "offline"}), retain=True)
pub.connect(host, port)
pub.loop_start()
for level, payload in retained:
    pub.publish("%s/%s/%s" % (run, base, level), json.dumps(payload), qos=1, retain=True).wait_for_publish()
pub.publish("%s/lab/bridge/state" % run, "online", qos=1, retain=True).wait_for_publish()
got = []
rec = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rec-" + run)
rec.on_message = lambda c, u, m: got.append(m)
rec.connect(host, port)
rec.subscribe(run + "/#")  # the retained topics arrive in the broker's order
rec.loop_start()
time.sleep(0.5)
for level, payload in live:
    pub.publish("%s/%s/%s" % (run, base, level), json.dumps(payload), qos=1).wait_for_publish()
pub.publish("%s/lab/thing" % run, json.dumps({"temperature": 30.0}), qos=1).wait_for_publish()
time.sleep(0.5)
for level, _ in retained:
    pub.publish("%s/%s/%s" % (run, base, level), b"", qos=1, retain=True).wait_for_publish()
pub.publish("%s/lab/bridge/state" % run, b"", qos=1, retain=True).wait_for_publish()
pub.disconnect(); pub.loop_stop()
time.sleep(0.3)
rec.disconnect()
with open(out, "w") as f:
    for m in got:
        if m.payload:
            f.write(json.dumps({"topic": m.topic[len(run) + 1:], "retain": bool(m.retain),
                                "payload_hex": m.payload.hex()}) + "\n")
print("recorded", len(got))
