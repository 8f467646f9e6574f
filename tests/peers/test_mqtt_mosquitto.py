"""MQTT by client identifier (issue 16): mosquitto_pub -i ID -> sockframe proxy (mqtt,
--route first-key, --backend pub-a=… --backend pub-b=…) -> two mosquitto brokers.

A mosquitto_sub on each broker (straight, not through the proxy) waits for one message
on the same topic. Through the proxy, mosquitto_pub -i pub-a publishes (QoS 1, so the
PUBACK travels back through the proxy) "for A" and -i pub-b publishes "for B": broker A's
subscriber must receive exactly "for A" and broker B's exactly "for B"."""
import os
import time

import peers as p

TOPIC = "sockframe/peers"
state = {}


def start_broker(d, tag):
    port = p.free_port()
    conf = os.path.join(d, f"mosquitto-{tag}.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n")
    return p.server([p.require("mosquitto", "mosquitto"), "-c", conf], f"mosquitto {tag}", port), port


def requires():
    p.require("mosquitto", "mosquitto")
    p.require("mosquitto-clients", "mosquitto_pub")
    d = p.workdir()
    state["A"], state["portA"] = start_broker(d, "A")
    state["B"], state["portB"] = start_broker(d, "B")


def subscribe(port):
    sub = p.Process(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", TOPIC, "-C", "1", "-W", "20",
                     "-q", "1", "-i", f"sub-{port}"], f"mosquitto_sub {port}")
    time.sleep(0.3)  # until the subscription is in place (the broker logs nothing we can wait on)
    return sub


def received(sub):
    try:
        sub.wait(20)
    except Exception:
        sub.stop()
    return sub.log().strip()


def exchange(port_for):
    subs = {t: subscribe(state["port" + t]) for t in ("A", "B")}
    for t in ("A", "B"):
        p.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port_for(t)), "-i", f"pub-{t.lower()}", "-q", "1",
               "-t", TOPIC, "-m", f"for {t}"], what="mosquitto_pub")
    return {t: received(subs[t]) for t in ("A", "B")}


def direct():
    got = exchange(lambda t: state["port" + t])
    p.expect(got == {"A": "for A", "B": "for B"}, f"straight to the brokers: {got}")


def through(path):
    backends = [f"pub-a=127.0.0.1:{state['portA']}", f"pub-b=127.0.0.1:{state['portB']}"]
    with p.Proxy("mqtt", backends, path, route="first-key") as proxy:
        got = exchange(lambda t: proxy.port)
        p.expect(got == {"A": "for A", "B": "for B"}, f"through the proxy the brokers received {got}\n{proxy.log()}")
        proxy.stop()
    return got


if __name__ == "__main__":
    p.main("mqtt-mosquitto", requires, direct, through)
