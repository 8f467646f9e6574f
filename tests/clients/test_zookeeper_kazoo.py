"""ZooKeeper framed from kazoo (python3-kazoo): every connection opens with one
ConnectRequest (protocolVersion 0, lastZxidSeen 0, timeOut, sessionId 0, 16-byte
password, readOnly) and nothing else until the server answers."""
import struct

import harness as h

CODE = r'''
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts="127.0.0.1:" + sys.argv[1], timeout=4, connection_retry={"max_tries": 0})
try:
    zk.start(timeout=4)
except Exception as e:
    print("kazoo:", type(e).__name__)
'''


def client(port):
    return [h.SYSTEM_PYTHON, "-c", CODE, str(port)]


def connect_request(m):
    h.expect(len(m) == 4 + h.u32be(m, 0), "length prefix disagrees with the framed length")
    h.expect(len(m) == 4 + 45, f"ConnectRequest is 45 bytes after the prefix, got {len(m) - 4}")
    proto, zxid, timeout, session, plen = struct.unpack_from(">iqiqi", m, 4)
    h.expect((proto, zxid, session, plen) == (0, 0, 0, 16), f"ConnectRequest fields {proto} {zxid} {session} {plen}")
    h.expect(m[32:48] == bytes(16) and m[48] in (0, 1), "password / readOnly")
    return timeout


def check(run):
    run.check_stream_integrity()
    for c in run.conns():
        msgs = run.payloads(c)
        h.expect(len(msgs) == 1, f"conn {c}: expected exactly 1 ConnectRequest, got {len(msgs)}")
        timeout = connect_request(msgs[0])
        h.expect(timeout == 4000, f"session timeout {timeout} ms, expected 4000")
    return [("ConnectRequest", 4000, 49)]


if __name__ == "__main__":
    h.main("zookeeper-kazoo", lambda: h.require_python_module("python3-kazoo", "kazoo"), "zookeeper", client, check,
           expect_messages=1, client_timeout=3)
