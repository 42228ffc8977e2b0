"""Records two Tasmota devices under FullTopics other than the default, published by
paho-mqtt the way the firmware publishes (tasmota/tasmota/xdrv_02_9_mqtt.ino): the LWT
`Offline` as the will and `Online` retained on connect, INFO1..3, STATE and SENSOR on
`tele`, RESULT and POWER on `stat`. `kitchen` uses `%topic%/%prefix%/`, `pump` uses
`site/%prefix%/%topic%/`. A third publisher, `well`, sends a Tasmota-looking SENSOR under
`site/tele/` with no LWT: it must not become a Tasmota device. A second paho client
records what the broker delivers, in fleetop's recording format (topic, retain,
payload_hex), one JSON object a line.

Usage: python3 record_tasmota_fulltopic.py HOST PORT OUT.jsonl   (regenerates the fixture)
"""
import json, sys, time, uuid
import paho.mqtt.client as mqtt

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
run = "t%s" % uuid.uuid4().hex[:6]  # keeps this run's topics apart on a shared broker
now = "2026-12-04T05:00:00"
state = ('{"Time":"%s","Uptime":"0T00:01:05","UptimeSec":65,"Heap":26,"SleepMode":"Dynamic",'
         '"Sleep":50,"LoadAvg":19,"MqttCount":1,"POWER":"ON","Wifi":{"AP":1,"SSId":"home",'
         '"BSSId":"AA:BB:CC:DD:EE:FF","Channel":6,"Mode":"11n","RSSI":76,"Signal":-62,'
         '"LinkCount":1,"Downtime":"0T00:00:03"}}' % now)
info1 = ('{"Info1":{"Module":"Sonoff Pow R2","Version":"14.3.0(tasmota)",'
         '"FallbackTopic":"cmnd/DVES_5EA8C2_fb/","GroupTopic":"cmnd/tasmotas/"}}')
info2 = '{"Info2":{"WebServerMode":"Admin","Hostname":"kitchen-2242","IPAddress":"192.168.1.40"}}'
info3 = '{"Info3":{"RestartReason":"Software/System restart","BootCount":12}}'
energy = ('{"Time":"%s","ENERGY":{"TotalStartTime":"2026-01-01T00:00:00","Total":12.345,'
          '"Yesterday":0.512,"Today":0.204,"Period":3,"Power":40,"ApparentPower":45,'
          '"ReactivePower":20,"Factor":0.89,"Voltage":231,"Current":0.195}}' % now)
ds18 = '{"Time":"%s","DS18B20":{"Id":"01144A0CB6AA","Temperature":21.3},"TempUnit":"C"}' % now
devices = {
    # FullTopic with %prefix% and %topic% filled in, and what the device publishes.
    "kitchen/%s/": [("tele", "INFO1", info1), ("tele", "INFO2", info2), ("tele", "INFO3", info3),
                    ("stat", "RESULT", '{"POWER":"ON"}'), ("stat", "POWER", "ON"),
                    ("tele", "STATE", state), ("tele", "SENSOR", energy)],
    "site/%s/pump/": [("tele", "INFO1", info1.replace("Sonoff Pow R2", "ESP32-DevKit")),
                      ("tele", "STATE", state), ("tele", "SENSOR", ds18),
                      ("stat", "RESULT", '{"POWER":"OFF"}')],
}
got = []
rec = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rec-" + run)
rec.on_message = lambda c, u, m: got.append(m)
rec.connect(host, port)
rec.subscribe(run + "/#")
rec.loop_start()
time.sleep(0.3)
pubs = []
for full, messages in devices.items():
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-" + uuid.uuid4().hex[:6])
    pub.will_set(run + "/" + (full % "tele") + "LWT", "Offline", qos=1, retain=True)
    pub.connect(host, port)
    pub.loop_start()
    pub.publish(run + "/" + (full % "tele") + "LWT", "Online", qos=1, retain=True).wait_for_publish()
    for prefix, kind, payload in messages:
        pub.publish(run + "/" + (full % prefix) + kind, payload, qos=1).wait_for_publish()
    pubs.append((pub, full))
decoy = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="decoy-" + run)
decoy.connect(host, port)
decoy.loop_start()
decoy.publish(run + "/site/tele/well/SENSOR", ds18, qos=1).wait_for_publish()
decoy.disconnect()
decoy.loop_stop()
time.sleep(0.5)
# The pump drops off the network: the broker publishes its will.
pump, full = pubs[1]
pump._sock.close()
time.sleep(2.5)
for pub, full in pubs:
    pub.publish(run + "/" + (full % "tele") + "LWT", b"", qos=1, retain=True)
time.sleep(0.5)
for pub, _ in pubs:
    pub.disconnect()
    pub.loop_stop()
rec.disconnect()
with open(out, "w") as f:
    for m in got:
        if m.payload:
            f.write(json.dumps({"topic": m.topic[len(run) + 1:], "retain": bool(m.retain),
                                "payload_hex": m.payload.hex()}) + "\n")
print("recorded", len(got))
