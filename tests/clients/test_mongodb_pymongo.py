"""MongoDB wire protocol framed from pymongo (python3-pymongo): every connection opens
with the handshake, an OP_QUERY (2004) "isMaster" command on admin.$cmd carrying the
client metadata; the server must answer before anything else is sent."""
import struct

import harness as h

CODE = r'''
import sys
from pymongo import MongoClient
c = MongoClient("mongodb://127.0.0.1:" + sys.argv[1], directConnection=True, appname="sockframe-test",
                serverSelectionTimeoutMS=2500, connectTimeoutMS=2000, socketTimeoutMS=2000)
try:
    c.admin.command("ping")
except Exception as e:
    print("pymongo:", type(e).__name__)
'''


def client(port):
    return [h.SYSTEM_PYTHON, "-c", CODE, str(port)]


def op_query(m):
    length, req_id, resp_to, opcode = struct.unpack_from("<iiii", m, 0)
    h.expect(length == len(m), "messageLength disagrees with the framed length")
    h.expect(opcode == 2004 and resp_to == 0, f"opCode {opcode}, expected OP_QUERY 2004")
    end = m.index(b"\0", 20)
    coll = m[20:end].decode()
    doc = m[end + 1 + 8:]  # numberToSkip, numberToReturn
    doc_len = struct.unpack_from("<i", doc, 0)[0]
    h.expect(doc_len <= len(doc), "BSON document overruns the message")
    first_key = doc[5:doc.index(b"\0", 5)].decode()  # after the int32 size and the element type
    return coll, first_key, doc[:doc_len]


def check(run):
    run.check_stream_integrity()
    for c in run.conns():
        msgs = run.payloads(c)
        h.expect(len(msgs) == 1, f"conn {c}: expected exactly 1 message (the handshake), got {len(msgs)}")
        coll, key, doc = op_query(msgs[0])
        h.expect(coll == "admin.$cmd" and key.lower() == "ismaster", f"handshake {coll} {key}")
        h.expect(b"sockframe-test" in doc and b"PyMongo" in doc, "client metadata (appname, driver) missing")
    return [("OP_QUERY", "admin.$cmd", "isMaster")]


if __name__ == "__main__":
    h.main("mongodb-pymongo", lambda: h.require_python_module("python3-pymongo", "pymongo"), "mongodb", client,
           check, expect_messages=1, client_timeout=3)
