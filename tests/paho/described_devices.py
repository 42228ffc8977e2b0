"""Devices that describe their own commands, played with paho-mqtt the way their firmware
behaves, and answering what they are sent:

- a Zigbee2MQTT bridge (base `zigbee2mqtt`) with a dimmable bulb `paho_bulb` whose exposes
  declare state ON/OFF, brightness 0..254 and an effect enum; the bridge echoes the
  bulb's new state on `zigbee2mqtt/paho_bulb` after a `…/set`;
- a Tasmota 4-channel relay `paho_4ch` announcing itself on `tasmota/discovery/<mac>/config`
  (relays 1..4) before it reported any POWER, answering `cmnd/paho_4ch/POWER<n>` with
  `stat/paho_4ch/RESULT` {"POWER<n>":"ON"};
- a Homie 4 thermostat `paho-thermo` whose `target` is an integer with `$format` 5:30, `boost`
  a boolean and `mode` an enum eco,comfort, publishing the new value after a `…/set`;
- a Home Assistant number (min 10, max 60) and a JSON-schema light on their own topics,
  discovered under `homeassistant`, echoing their state topics.

Every command received is printed as `got <topic> <payload>` so the test can tell what
reached the devices. Prints `ready` once everything is retained, then serves until killed.
"""

import json
import sys
import time

import paho.mqtt.client as mqtt

port = int(sys.argv[1])
try:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-described")
except AttributeError:  # paho-mqtt 1.x
    client = mqtt.Client(client_id="paho-described")

bulb_exposes = [
    {"type": "light", "features": [
        {"type": "binary", "name": "state", "property": "state", "access": 7,
         "value_on": "ON", "value_off": "OFF", "value_toggle": "TOGGLE"},
        {"type": "numeric", "name": "brightness", "property": "brightness", "access": 7,
         "value_min": 0, "value_max": 254},
    ]},
    {"type": "enum", "name": "effect", "property": "effect", "access": 2,
     "values": ["blink", "breathe", "okay"]},
    {"type": "numeric", "name": "linkquality", "property": "linkquality", "access": 1, "unit": "lqi"},
]
bridge_devices = [
    {"ieee_address": "0x00124b0001", "type": "Coordinator", "friendly_name": "Coordinator"},
    {"ieee_address": "0x0017880100aa", "type": "Router", "friendly_name": "paho_bulb",
     "definition": {"model": "LED1545G12", "vendor": "IKEA", "description": "TRADFRI bulb",
                    "exposes": bulb_exposes}},
]
bulb = {"state": "OFF", "brightness": 20, "linkquality": 120}
discovery = {"ip": "10.0.0.44", "dn": "Paho 4CH", "fn": ["Pump", "Fan", "Light", "Spare"],
             "hn": "paho-4ch", "mac": "A4CF12AABB01", "md": "Sonoff 4CH Pro", "ofln": "Offline",
             "onln": "Online", "state": ["OFF", "ON", "TOGGLE", "HOLD"], "sw": "14.3.0",
             "t": "paho_4ch", "ft": "%prefix%/%topic%/", "tp": ["cmnd", "stat", "tele"],
             "rl": [1, 1, 1, 1, 0, 0, 0, 0], "ver": 1}
homie = [
    ("$homie", "4.0.0"), ("$name", "Paho thermostat"), ("$state", "ready"), ("$nodes", "heater"),
    ("heater/$name", "Heater"), ("heater/$properties", "target,boost,mode"),
    ("heater/target", "21"), ("heater/target/$datatype", "integer"),
    ("heater/target/$format", "5:30"), ("heater/target/$settable", "true"), ("heater/target/$unit", "°C"),
    ("heater/boost", "false"), ("heater/boost/$datatype", "boolean"), ("heater/boost/$settable", "true"),
    ("heater/mode", "eco"), ("heater/mode/$datatype", "enum"), ("heater/mode/$format", "eco,comfort"),
    ("heater/mode/$settable", "true"),
]
ha_dev = {"identifiers": ["paho-ha-node"], "name": "Paho HA node"}
ha = [
    ("homeassistant/number/paho-ha-node/fan_speed/config",
     {"name": "Fan speed", "stat_t": "paho-ha/fan_speed/state", "cmd_t": "paho-ha/fan_speed/set",
      "min": 10, "max": 60, "dev": ha_dev}),
    ("homeassistant/light/paho-ha-node/lamp/config",
     {"name": "Lamp", "schema": "json", "stat_t": "paho-ha/lamp/state", "cmd_t": "paho-ha/lamp/set",
      "dev": ha_dev}),
]


def on_message(c, userdata, m):
    payload = m.payload.decode("utf-8", "replace")
    print("got", m.topic, payload, flush=True)
    if m.topic == "zigbee2mqtt/paho_bulb/set":
        bulb.update(json.loads(payload))
        c.publish("zigbee2mqtt/paho_bulb", json.dumps(bulb), qos=1, retain=True)
    elif m.topic.startswith("cmnd/paho_4ch/POWER"):
        key = m.topic.rsplit("/", 1)[1]
        word = "ON" if payload.upper() in ("ON", "1", "TRUE") else "OFF"
        c.publish("stat/paho_4ch/RESULT", json.dumps({key: word}), qos=1)
        c.publish("stat/paho_4ch/" + key, word, qos=1, retain=True)
    elif m.topic.startswith("homie/paho-thermo/") and m.topic.endswith("/set"):
        c.publish(m.topic[: -len("/set")], payload, qos=1, retain=True)
    elif m.topic == "paho-ha/fan_speed/set":
        c.publish("paho-ha/fan_speed/state", payload, qos=1, retain=True)
    elif m.topic == "paho-ha/lamp/set":
        c.publish("paho-ha/lamp/state", payload, qos=1, retain=True)


client.on_message = on_message
client.connect("127.0.0.1", port, keepalive=30)
client.loop_start()
client.subscribe([("zigbee2mqtt/+/set", 1), ("cmnd/paho_4ch/#", 1), ("homie/paho-thermo/+/+/set", 1),
                  ("paho-ha/+/set", 1)])
infos = [
    client.publish("zigbee2mqtt/bridge/state", json.dumps({"state": "online"}), qos=1, retain=True),
    client.publish("zigbee2mqtt/bridge/devices", json.dumps(bridge_devices), qos=1, retain=True),
    client.publish("zigbee2mqtt/paho_bulb", json.dumps(bulb), qos=1, retain=True),
    client.publish("tasmota/discovery/A4CF12AABB01/config", json.dumps(discovery), qos=1, retain=True),
    client.publish("tele/paho_4ch/LWT", "Online", qos=1, retain=True),
]
infos += [client.publish("homie/paho-thermo/" + t, p, qos=1, retain=True) for t, p in homie]
infos += [client.publish(t, json.dumps(p), qos=1, retain=True) for t, p in ha]
infos += [
    client.publish("paho-ha/fan_speed/state", "20", qos=1, retain=True),
    client.publish("paho-ha/lamp/state", json.dumps({"state": "OFF"}), qos=1, retain=True),
]
for info in infos:
    info.wait_for_publish(10)
print("ready", flush=True)
time.sleep(120)
