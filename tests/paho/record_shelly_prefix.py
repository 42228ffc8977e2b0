"""Records two Shelly Gen2 devices with custom mqtt.topic_prefix values of more than one
level, published by paho-mqtt the way the firmware publishes (Gen2 API, MQTT component):
`home/plug` sends its retained `online` then component statuses; `barn/pump` has status
notifications on (`events/rpc`, NotifyStatus with its `src`) and nothing else yet. A
look-alike, `lab/box/status/sys` with no `online` and no notification, must not become a
Shelly. A second paho client records what the broker delivers, in fleetop's recording
format (topic, retain, payload_hex), one JSON object a line.

Usage: python3 record_shelly_prefix.py HOST PORT OUT.jsonl   (regenerates the fixture)
"""
import json, sys, time, uuid
import paho.mqtt.client as mqtt

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
run = "s%s" % uuid.uuid4().hex[:6]  # keeps this run's topics apart on a shared broker
switch = {"id": 0, "source": "init", "output": True, "apower": 12.5, "voltage": 230.1, "current": 0.071,
          "aenergy": {"total": 1520.3, "by_minute": [200.1, 199.8, 201.0], "minute_ts": 1764824400},
          "temperature": {"tC": 41.2, "tF": 106.2}}
sys_status = {"mac": "A8032AB12345", "restart_required": False, "time": "05:00", "unixtime": 1764824400,
              "uptime": 4521, "ram_size": 246260, "ram_free": 151928, "fs_size": 458752, "fs_free": 135168,
              "cfg_rev": 12, "available_updates": {}}
notify = {"src": "shellyplus1pm-a8032ab6789a", "dst": "barn/pump/events", "method": "NotifyStatus",
          "params": {"ts": 1764824401.52, "switch:0": {"id": 0, "apower": 640.2, "voltage": 229.4}}}
messages = [
    ("home/plug/online", "true", True),
    ("home/plug/status/sys", json.dumps(sys_status), False),
    ("home/plug/status/switch:0", json.dumps(switch), False),
    ("barn/pump/events/rpc", json.dumps(notify), False),
    ("lab/box/status/sys", json.dumps({"uptime": 10}), False),
]
got = []
rec = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rec-" + run)
rec.on_message = lambda c, u, m: got.append(m)
rec.connect(host, port)
rec.subscribe(run + "/#")
rec.loop_start()
pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-" + run)
pub.will_set(run + "/home/plug/online", "false", retain=True)
pub.connect(host, port)
pub.loop_start()
time.sleep(0.3)
for topic, payload, retain in messages:
    pub.publish(run + "/" + topic, payload, qos=1, retain=retain).wait_for_publish()
time.sleep(0.5)
pub.publish(run + "/home/plug/online", b"", qos=1, retain=True).wait_for_publish()
pub.disconnect(); pub.loop_stop()
time.sleep(0.3)
rec.disconnect()
with open(out, "w") as f:
    for m in got:
        if m.payload:
            f.write(json.dumps({"topic": m.topic[len(run) + 1:], "retain": bool(m.retain),
                                "payload_hex": m.payload.hex()}) + "\n")
print("recorded", len(got))
