"""Kafka framed from kcat (librdkafka): the first request on a new broker connection is
ApiVersions (api_key 18); nothing else is sent before the broker answers."""
import harness as h


def request(m):
    h.expect(len(m) == 4 + h.u32be(m, 0), "size prefix disagrees with the framed length")
    key, ver, corr = h.u16be(m, 4), h.u16be(m, 6), h.u32be(m, 8)
    n = h.u16be(m, 12)
    client_id = m[14:14 + n].decode() if n != 0xFFFF else None
    return key, ver, corr, client_id


def client(port):
    return ["kcat", "-b", f"127.0.0.1:{port}", "-L", "-m", "2"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 request, got {len(msgs)}")
    key, ver, corr, cid = request(msgs[0])
    h.expect(key == 18, f"api_key {key}, expected 18 (ApiVersions)")
    h.expect(ver >= 3, f"librdkafka 1.x+ sends ApiVersions v3+, got v{ver}")
    h.expect(cid == "rdkafka", f"client_id {cid!r}")
    return [("ApiVersions", ver, len(msgs[0]))]


if __name__ == "__main__":
    h.main("kafka-kcat", lambda: h.require_program("kcat", "kcat"), "kafka", client, check,
           expect_messages=1, client_timeout=5)
