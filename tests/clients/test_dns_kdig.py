"""DNS over TCP framed from kdig (knot-dnsutils): one AAAA query for example.org, no EDNS."""
import harness as h
from test_dns_dig import parse_query


def client(port):
    return ["kdig", "+tcp", "+retry=0", "+timeout=1", "+noedns", "-p", str(port), "@127.0.0.1", "example.org", "AAAA"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 DNS message, got {len(msgs)}")
    qname, qtype, qclass, ar = parse_query(msgs[0])
    h.expect((qname, qtype, qclass, ar) == ("example.org", 28, 1, 0), f"question {qname} {qtype} {qclass} ar={ar}")
    h.expect(len(msgs[0]) == 2 + 12 + 13 + 4, f"length {len(msgs[0])}")
    return [("query", qname, qtype, qclass, len(msgs[0]))]


if __name__ == "__main__":
    h.main("dns-kdig", lambda: h.require_program("knot-dnsutils", "kdig"), "dns", client, check,
           expect_messages=1, client_timeout=5)
