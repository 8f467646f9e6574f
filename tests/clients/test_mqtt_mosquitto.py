"""MQTT framed from mosquitto_pub (mosquitto-clients): the first packet is CONNECT
(packet type 1) carrying protocol name "MQTT", level 4 (3.1.1), the client id, user name
and password. A 200-byte user name makes the Remaining Length a 2-byte variable byte
integer (MQTT 3.1.1 §2.2.3). mosquitto_pub then waits for CONNACK, which sockframe never
sends: the harness stops it."""
import harness as h

USER = "u" * 200
CLIENT_ID = "sockframe-test"


def client(port):
    return ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv311", "-i", CLIENT_ID,
            "-u", USER, "-P", "secret", "-t", "t", "-m", "hi"]


def remaining_length(m):
    value, mult, i = 0, 1, 1
    while True:
        b = m[i]
        value += (b & 0x7F) * mult
        mult *= 128
        i += 1
        if not b & 0x80:
            return value, i


def mqtt_str(m, o):
    n = h.u16be(m, o)
    return m[o + 2:o + 2 + n], o + 2 + n


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 MQTT packet (CONNECT), got {len(msgs)}")
    m = msgs[0]
    h.expect(m[0] == 0x10, f"first packet is not CONNECT: fixed header {m[0]:#04x}")
    rl, o = remaining_length(m)
    h.expect(o == 3, f"Remaining Length should take 2 bytes, took {o - 1}")
    h.expect(len(m) == o + rl, f"Remaining Length {rl} disagrees with the framed length {len(m)}")
    name, o = mqtt_str(m, o)
    level, flags = m[o], m[o + 1]
    h.expect((name, level) == (b"MQTT", 4), f"protocol {name!r} level {level}")
    h.expect(flags & 0xC0 == 0xC0, f"user name and password flags missing: {flags:#04x}")
    o += 4  # level, flags, keep alive
    cid, o = mqtt_str(m, o)
    user, o = mqtt_str(m, o)
    pw, o = mqtt_str(m, o)
    h.expect((cid, user, pw) == (CLIENT_ID.encode(), USER.encode(), b"secret"), f"payload {cid!r} {user!r} {pw!r}")
    h.expect(o == len(m), f"{len(m) - o} trailing bytes in CONNECT")
    return [("CONNECT", level, rl, len(m))]


if __name__ == "__main__":
    h.main("mqtt-mosquitto", lambda: h.require_program("mosquitto-clients", "mosquitto_pub"), "mqtt", client, check,
           expect_messages=1, client_timeout=5)
