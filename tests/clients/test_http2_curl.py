"""HTTP/2 framed from `curl --http2-prior-knowledge` (curl, nghttp2): the 24-byte client
connection preface "PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" arrives as a message of its own
(RFC 9113 §3.4), then the frames: SETTINGS (type 4, stream 0), WINDOW_UPDATE (type 8,
stream 0) and the request's HEADERS (type 1, stream 1, END_STREAM|END_HEADERS). Each frame
is the 9-byte header plus the 24-bit length (RFC 9113 §4.1). curl then waits for the
server's SETTINGS: the harness stops it."""
import harness as h

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def client(port):
    return ["curl", "-s", "-m", "3", "--http2-prior-knowledge", f"http://127.0.0.1:{port}/"]


def frame(m):
    h.expect(len(m) >= 9 and h.u24be(m, 0) == len(m) - 9, f"frame length field disagrees with {len(m)} bytes")
    return m[3], m[4], h.u32be(m, 5) & 0x7FFFFFFF, m[9:]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 4, f"expected the preface and 3 frames, got {len(msgs)} messages")
    h.expect(msgs[0] == PREFACE, f"first message is not the preface: {msgs[0]!r}")
    frames = [frame(m) for m in msgs[1:]]
    (t1, f1, s1, p1), (t2, f2, s2, p2), (t3, f3, s3, p3) = frames
    h.expect((t1, f1, s1) == (4, 0, 0), f"second message is not SETTINGS on stream 0: {(t1, f1, s1)}")
    h.expect(len(p1) % 6 == 0, f"SETTINGS payload of {len(p1)} bytes is not a list of 6-byte settings")
    settings = {h.u16be(p1, i): h.u32be(p1, i + 2) for i in range(0, len(p1), 6)}
    h.expect(settings.get(2) == 0, f"curl disables server push (ENABLE_PUSH=0): {settings}")
    h.expect((t2, f2, s2, len(p2)) == (8, 0, 0, 4), f"third message is not a connection WINDOW_UPDATE: {(t2, f2, s2)}")
    h.expect((t3, s3) == (1, 1) and f3 & 0x05 == 0x05, f"fourth message is not HEADERS on stream 1 "
                                                       f"with END_STREAM|END_HEADERS: {(t3, f3, s3)}")
    return [("preface", 24), ("SETTINGS", sorted(settings)), ("WINDOW_UPDATE", 13), ("HEADERS", 1)]  # its length depends on the port (HPACK Huffman)


if __name__ == "__main__":
    h.main("http2-curl", lambda: h.require_program("curl", "curl"), "http2", client, check,
           expect_messages=4, client_timeout=5)
