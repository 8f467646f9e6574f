"""OpenFlow framed from ovs-ofctl (openvswitch-common): connecting actively to
tcp:127.0.0.1:PORT it first sends HELLO; with -O OpenFlow13 the HELLO (version 4, type 0)
carries a version-bitmap element: 16 bytes in all."""
import harness as h


def client(port):
    return ["ovs-ofctl", "-O", "OpenFlow13", "-t", "3", "dump-flows", f"tcp:127.0.0.1:{port}"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 message, got {len(msgs)}")
    m = msgs[0]
    version, typ, length = m[0], m[1], h.u16be(m, 2)
    h.expect(length == len(m), "ofp_header length disagrees with the framed length")
    h.expect((version, typ) == (4, 0), f"version {version} type {typ}: expected OpenFlow 1.3 HELLO")
    h.expect(len(m) == 16 and h.u16be(m, 8) == 1 and h.u16be(m, 10) == 8, "one VERSIONBITMAP element")
    h.expect(h.u32be(m, 12) & (1 << 4), "bitmap offers OpenFlow 1.3")
    return [("HELLO", version, len(m))]


if __name__ == "__main__":
    h.main("openflow-ovs", lambda: h.require_program("openvswitch-common", "ovs-ofctl"), "openflow", client, check,
           expect_messages=1, client_timeout=4)
