"""MQTT 5.0 framed from a whole mosquitto_pub session (mosquitto-clients). The broker's
CONNACK comes from reply_front.py; every byte the client sends is forwarded unchanged to
sockframe. mosquitto_pub -V mqttv5 must send exactly: CONNECT (type 1, level 5), PUBLISH
(type 3, QoS 0) with a 20000-byte payload, whose Remaining Length takes 3 bytes (> 16383,
MQTT 5.0 §1.5.5), and DISCONNECT (type 14), which is 2 bytes: MQTT 5.0 §3.14.2.1 lets the
client omit the reason code and properties when the reason is 0."""
import os

import harness as h

PAYLOAD = "x" * 20000


def client(port):
    return [h.SYSTEM_PYTHON, os.path.join(h.HERE, "reply_front.py"), "mqtt", str(port), "--",
            "mosquitto_pub", "-h", "127.0.0.1", "-p", "{front}", "-V", "mqttv5", "-i", "sockframe-test",
            "-t", "t/1", "-m", PAYLOAD]


def remaining_length(m):
    value, mult, i = 0, 1, 1
    while True:
        b = m[i]
        value += (b & 0x7F) * mult
        mult *= 128
        i += 1
        if not b & 0x80:
            return value, i


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 3, f"expected CONNECT, PUBLISH, DISCONNECT, got {len(msgs)} packets")
    out = []
    for m in msgs:
        rl, o = remaining_length(m)
        h.expect(len(m) == o + rl, f"packet {m[:4].hex()}: Remaining Length {rl} disagrees with {len(m)} bytes")
        out.append((m[0] >> 4, o - 1, len(m)))
    conn, pub, disc = msgs
    o = out[0][1] + 1
    h.expect(conn[0] == 0x10 and conn[o:o + 6] == b"\x00\x04MQTT" and conn[o + 6] == 5, f"CONNECT {conn[:10].hex()}")
    h.expect(pub[0] == 0x30 and out[1][1] == 3, f"PUBLISH QoS 0 with a 3-byte Remaining Length: {pub[:5].hex()}")
    o = out[1][1] + 1
    tlen = h.u16be(pub, o)
    h.expect(pub[o + 2:o + 2 + tlen] == b"t/1", f"topic {pub[o + 2:o + 2 + tlen]!r}")
    o += 2 + tlen
    h.expect(pub[o] == 0 and pub[o + 1:] == PAYLOAD.encode(), "PUBLISH: no empty property list, or payload differs")
    h.expect(disc == b"\xe0\x00", f"DISCONNECT {disc.hex()}")
    h.expect(run.client_rc == 0, f"mosquitto_pub exited {run.client_rc}")
    return out


if __name__ == "__main__":
    h.main("mqtt-mosquitto-session", lambda: h.require_program("mosquitto-clients", "mosquitto_pub"), "mqtt",
           client, check, client_timeout=10)
