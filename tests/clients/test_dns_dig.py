"""DNS over TCP framed from dig (bind9-dnsutils): one query, QNAME example.com, type A."""
import harness as h


def client(port):
    return ["dig", "+tcp", "+tries=1", "+time=1", "-p", str(port), "@127.0.0.1", "example.com", "A"]


def parse_query(m):
    h.expect(len(m) == 2 + h.u16be(m, 0), "DNS length prefix disagrees with the framed length")
    flags, qd, an, ns, ar = (h.u16be(m, o) for o in (4, 6, 8, 10, 12))
    h.expect(flags & 0x8000 == 0 and (flags >> 11) & 0xF == 0, f"not a standard query: flags {flags:#06x}")
    h.expect((qd, an, ns) == (1, 0, 0), f"counts qd/an/ns = {qd}/{an}/{ns}")
    labels, o = [], 14
    while m[o]:
        labels.append(m[o + 1:o + 1 + m[o]].decode())
        o += 1 + m[o]
    qtype, qclass = h.u16be(m, o + 1), h.u16be(m, o + 3)
    return ".".join(labels), qtype, qclass, ar


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 DNS message, got {len(msgs)}")
    qname, qtype, qclass, ar = parse_query(msgs[0])
    h.expect((qname, qtype, qclass) == ("example.com", 1, 1), f"question {qname} {qtype} {qclass}")
    h.expect(ar == 1, "dig adds one EDNS OPT record")
    return [("query", qname, qtype, qclass, len(msgs[0]))]


if __name__ == "__main__":
    h.main("dns-dig", lambda: h.require_program("bind9-dnsutils", "dig"), "dns", client, check,
           expect_messages=1, client_timeout=5)
