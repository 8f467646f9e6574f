"""Kafka framed from kafka-python (python3-kafka): probing the broker version it sends
ApiVersions v0 then Metadata v0 on the same connection without waiting (two messages,
often in one segment); every message is a valid request header."""
import harness as h
from test_kafka_kcat import request

CODE = r'''
import sys
from kafka import KafkaConsumer
try:
    KafkaConsumer(bootstrap_servers="127.0.0.1:" + sys.argv[1], request_timeout_ms=3000,
                  api_version_auto_timeout_ms=1500)
except Exception as e:
    print("kafka-python:", type(e).__name__)
'''


def client(port):
    return [h.SYSTEM_PYTHON, "-c", CODE, str(port)]


def check(run):
    run.check_stream_integrity()
    first = run.conns()[0]
    msgs = run.payloads(first)
    h.expect(len(msgs) >= 2, f"expected at least 2 requests on the first connection, got {len(msgs)}")
    reqs = [request(m) for m in msgs]
    h.expect(reqs[0][:2] == (18, 0), f"first request {reqs[0][:2]}, expected ApiVersions v0")
    h.expect(reqs[1][:2] == (3, 0), f"second request {reqs[1][:2]}, expected Metadata v0")
    h.expect(msgs[1][14 + len(reqs[1][3]):] == b"\0\0\0\0", "Metadata v0 for all topics: an empty topic array")
    for c in run.conns():
        rs = [request(m) for m in run.payloads(c)]
        corr = [r[2] for r in rs]
        h.expect(corr == sorted(corr) and len(set(corr)) == len(corr), f"correlation ids not increasing: {corr}")
        h.expect(all(r[3] and r[3].startswith("kafka-python") for r in rs), "client_id is not kafka-python")
    return [("ApiVersions", 0, len(msgs[0])), ("Metadata", 0, len(msgs[1]))]


if __name__ == "__main__":
    h.main("kafka-python", lambda: h.require_python_module("python3-kafka", "kafka"), "kafka", client, check,
           expect_messages=2, grace=0.3, client_timeout=5)
