"""Cassandra native protocol v4 framed from the DataStax driver (python3-cassandra): a
new connection starts with OPTIONS (opcode 0x05, empty body, 9-byte frame); STARTUP only
follows the server's SUPPORTED."""
import harness as h

CODE = r'''
import sys
from cassandra.cluster import Cluster
c = Cluster(["127.0.0.1"], port=int(sys.argv[1]), protocol_version=4, connect_timeout=2,
            control_connection_timeout=2)
try:
    c.connect()
except Exception as e:
    print("cassandra:", type(e).__name__)
'''


def client(port):
    return [h.SYSTEM_PYTHON, "-c", CODE, str(port)]


def check(run):
    run.check_stream_integrity()
    for c in run.conns():
        msgs = run.payloads(c)
        h.expect(len(msgs) == 1, f"conn {c}: expected exactly 1 frame, got {len(msgs)}")
        m = msgs[0]
        h.expect(len(m) == 9 + h.u32be(m, 5), "length field disagrees with the framed length")
        version, flags, opcode, length = m[0], m[1], m[4], h.u32be(m, 5)
        h.expect((version, flags, opcode, length) == (0x04, 0, 0x05, 0), f"frame {m.hex()}: expected v4 OPTIONS")
    return [("OPTIONS", 4, 9)]


if __name__ == "__main__":
    h.main("cassandra-driver", lambda: h.require_python_module("python3-cassandra", "cassandra"), "cassandra-v4",
           client, check, expect_messages=1, client_timeout=3)
