"""HAProxy in front of sockframe, sending the PROXY protocol v2 header.

usage: haproxy_front.py SOCKFRAME_PORT [--tlvs] -- CLIENT ARGS...   ({haproxy} in ARGS = HAProxy's port)

Writes a minimal HAProxy configuration (TCP mode, one frontend on a free loopback port, one
backend server: sockframe, with "send-proxy-v2"; no health checks, so HAProxy opens no
connection of its own), runs `haproxy -db -f CFG` (foreground) as a child, waits until its
frontend port is listening (read from /proc/net/tcp: connecting to probe it would make
HAProxy open a backend connection to sockframe), runs the client, then stops HAProxy.
With --tlvs the server line adds "proxy-v2-options crc32c,unique-id" (and the frontend a
unique-id-format "sockframe-test-<client port>"): the header then carries a CRC32C TLV and
a unique ID TLV after the addresses. HAProxy opens one connection to sockframe per client connection and writes the PROXY v2
header first, then the client's bytes unchanged. The front prints the frontend port as
"haproxy_front: frontend 127.0.0.1:PORT" so a test can check the header's destination.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

CFG = """global
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 20s
    timeout server 20s
frontend fe
    bind 127.0.0.1:{front}
{frontend_extra}    default_backend sockframe
backend sockframe
    server sf 127.0.0.1:{sockframe} send-proxy-v2{server_extra}
"""


def listening(port):
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1] == want and cols[3] == "0A":  # TCP_LISTEN
                return True
    return False


def main():
    sockframe_port = int(sys.argv[1])
    tlvs = "--tlvs" in sys.argv[:sys.argv.index("--")]
    argv = sys.argv[sys.argv.index("--") + 1:]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        front = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(CFG.format(front=front, sockframe=sockframe_port,
                               frontend_extra="    unique-id-format sockframe-test-%cp\n" if tlvs else "",
                               server_extra=" proxy-v2-options crc32c,unique-id" if tlvs else ""))
        haproxy = subprocess.Popen(["haproxy", "-db", "-f", cfg])
        try:
            deadline = time.monotonic() + 10
            while not listening(front):
                if haproxy.poll() is not None or time.monotonic() > deadline:
                    print(f"haproxy_front: haproxy did not start listening (exit {haproxy.poll()})", flush=True)
                    sys.exit(1)
                time.sleep(0.02)
            print(f"haproxy_front: frontend 127.0.0.1:{front}", flush=True)
            rc = subprocess.call([a.replace("{haproxy}", str(front)) for a in argv], timeout=20)
        finally:
            if haproxy.poll() is None:
                haproxy.send_signal(signal.SIGTERM)  # hard stop: closes every connection
                try:
                    haproxy.wait(5)
                except subprocess.TimeoutExpired:
                    haproxy.kill()
                    haproxy.wait(5)
    sys.exit(rc)


if __name__ == "__main__":
    main()
