"""Gearman framed from the gearman command line tool (gearman-tools): a worker sends
CAN_DO "reverse" then GRAB_JOB_ALL; a client sends SUBMIT_JOB reverse/<unique>/workload.
Neither waits for the server before these; both are then stopped."""
import harness as h


def client(port):
    g = f"gearman -h 127.0.0.1 -p {port}"
    return ["bash", "-c", f"timeout 1.5 {g} -w -f reverse -- rev; timeout 1.5 {g} -f reverse 'hello gearman'; true"]


def packet(m):
    h.expect(m[:4] == b"\0REQ", f"magic {m[:4]!r}")
    h.expect(len(m) == 12 + h.u32be(m, 8), "size disagrees with the framed length")
    return h.u32be(m, 4), m[12:].split(b"\0")


def check(run):
    run.check_stream_integrity(conns=2)
    worker = [packet(m) for m in run.payloads(run.conns()[0])]
    client_ = [packet(m) for m in run.payloads(run.conns()[1])]
    h.expect([t for t, _ in worker] == [1, 39], f"worker packet types {[t for t, _ in worker]}: CAN_DO, GRAB_JOB_ALL")
    h.expect(worker[0][1] == [b"reverse"], "CAN_DO argument")
    h.expect(len(client_) == 1 and client_[0][0] == 7, "client sends one SUBMIT_JOB (7)")
    fn, unique, workload = client_[0][1]
    h.expect(fn == b"reverse" and len(unique) == 36 and workload == b"hello gearman", f"SUBMIT_JOB {client_[0][1]}")
    return [("CAN_DO", "GRAB_JOB_ALL"), ("SUBMIT_JOB", len(workload))]


if __name__ == "__main__":
    h.main("gearman-cli", lambda: h.require_program("gearman-tools", "gearman"), "gearman", client, check,
           client_timeout=6)
