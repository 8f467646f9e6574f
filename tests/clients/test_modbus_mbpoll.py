"""Modbus/TCP framed from mbpoll: one Read Holding Registers request (function 3) for
registers 10-12 (0-based address 9, quantity 3) of unit 17."""
import harness as h


def client(port):
    return ["mbpoll", "-m", "tcp", "-p", str(port), "-a", "17", "-r", "10", "-c", "3", "-t", "4", "-1", "-o", "1",
            "127.0.0.1"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 ADU, got {len(msgs)}")
    m = msgs[0]
    tid, proto, length, unit, fc = h.u16be(m, 0), h.u16be(m, 2), h.u16be(m, 4), m[6], m[7]
    h.expect(proto == 0 and length == len(m) - 6, f"MBAP protocol {proto} length {length}")
    h.expect((unit, fc, h.u16be(m, 8), h.u16be(m, 10)) == (17, 3, 9, 3), f"request {m.hex()}")
    return [("read-holding-registers", unit, len(m))]


if __name__ == "__main__":
    h.main("modbus-mbpoll", lambda: h.require_program("mbpoll", "mbpoll"), "modbus-tcp", client, check,
           expect_messages=1, client_timeout=5)
