"""TDS framed from FreeTDS tsql (freetds-bin): a TDS 7.x login starts with one
PRELOGIN packet (type 0x12, status 0x01 end of message) whose option table ends
with 0xFF; the server's PRELOGIN response must come before LOGIN7."""
import harness as h


def client(port):
    return ["tsql", "-H", "127.0.0.1", "-p", str(port), "-U", "sa", "-P", "secret", "-o", "q"]


def check(run):
    run.check_stream_integrity()
    for c in run.conns():
        msgs = run.payloads(c)
        h.expect(len(msgs) == 1, f"conn {c}: expected exactly 1 packet, got {len(msgs)}")
        m = msgs[0]
        h.expect(h.u16be(m, 2) == len(m), "packet Length disagrees with the framed length")
        h.expect((m[0], m[1]) == (0x12, 0x01), f"type {m[0]:#x} status {m[1]:#x}: expected PRELOGIN, EOM")
        o, tokens = 8, []
        while m[o] != 0xFF:
            tokens.append(m[o])
            h.expect(8 + h.u16be(m, o + 1) + h.u16be(m, o + 3) <= len(m), "option overruns the packet")
            o += 5
        h.expect(tokens[:1] == [0] and 1 in tokens, f"option tokens {tokens}: VERSION and ENCRYPTION expected")
    return [("PRELOGIN", len(msgs[0]))]


if __name__ == "__main__":
    h.main("tds-tsql", lambda: h.require_program("freetds-bin", "tsql"), "tds", client, check,
           expect_messages=1, client_timeout=4, client_input=b"")
