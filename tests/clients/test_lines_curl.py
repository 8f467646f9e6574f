"""Generic CRLF lines framed from curl: an HTTP/1.1 GET request head is a request line,
one line per header field, and the empty line that ends the head (RFC 9112 §2.1)."""
import harness as h


def client(port):
    return ["curl", "-s", "-m", "3", "-A", "sockframe-test", "-H", "X-Test: 1",
            f"http://127.0.0.1:{port}/path?q=1"]


def check(run):
    run.check_stream_integrity(conns=1)
    lines = [m.decode() for m in run.payloads()]
    want = ["GET /path?q=1 HTTP/1.1\r\n", f"Host: 127.0.0.1:{run.port}\r\n", "User-Agent: sockframe-test\r\n",
            "Accept: */*\r\n", "X-Test: 1\r\n", "\r\n"]
    h.expect(lines == want, f"lines {lines}")
    return [l.replace(str(run.port), "PORT") for l in lines]


if __name__ == "__main__":
    h.main("lines-curl", lambda: h.require_program("curl", "curl"), "line-crlf", client, check,
           expect_messages=6, client_timeout=4)
