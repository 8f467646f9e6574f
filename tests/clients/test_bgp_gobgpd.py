"""BGP-4 framed from GoBGP (gobgpd): configured with one active neighbor at
127.0.0.1:PORT, it connects and sends OPEN (type 1, version 4, AS 65001, hold time 90,
BGP identifier 192.0.2.1, capabilities) and waits for the peer's OPEN. When the harness
stops it, it may close with a NOTIFICATION (type 3, Cease) -- nothing else."""
import os
import tempfile

import harness as h

WORK = tempfile.mkdtemp(prefix="sockframe-gobgp-")


def client(port):
    conf = os.path.join(WORK, f"gobgpd-{port}.toml")
    with open(conf, "w") as f:
        f.write('[global.config]\n  as = 65001\n  router-id = "192.0.2.1"\n  port = -1\n'
                '[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "127.0.0.1"\n    peer-as = 65002\n'
                f'  [neighbors.transport.config]\n    remote-port = {port}\n'
                '  [neighbors.timers.config]\n    connect-retry = 1\n')
    return ["gobgpd", "-f", conf, "--api-hosts", "127.0.0.1:0", "--log-level=warn"]


def message(m):
    h.expect(m[:16] == b"\xff" * 16, "marker is not 16 x 0xFF")
    h.expect(h.u16be(m, 16) == len(m) and 19 <= len(m) <= 4096, "Length disagrees with the framed length")
    return m[18]


def check(run):
    run.check_stream_integrity()
    for c in run.conns():
        msgs = run.payloads(c)
        types = [message(m) for m in msgs]
        h.expect(types in ([1], [1, 3]), f"conn {c}: message types {types}, expected OPEN (then maybe NOTIFICATION)")
        o = msgs[0]
        version, my_as, hold = o[19], h.u16be(o, 20), h.u16be(o, 22)
        bgp_id = ".".join(str(b) for b in o[24:28])
        h.expect((version, my_as, hold, bgp_id) == (4, 65001, 90, "192.0.2.1"), f"OPEN {version} {my_as} {hold} {bgp_id}")
        h.expect(29 + o[28] == len(o), "optional parameters do not fill the OPEN")
        if len(types) == 2:
            h.expect(msgs[1][19] == 6, f"NOTIFICATION error code {msgs[1][19]}, expected 6 (Cease)")
    first = run.payloads(run.conns()[0])[0]
    return [("OPEN", 65001, len(first))]


if __name__ == "__main__":
    h.main("bgp-gobgpd", lambda: h.require_program("gobgpd", "gobgpd"), "bgp", client, check,
           expect_messages=1, grace=0.5, client_timeout=18)
