"""Git pkt-line framed from `git ls-remote git://...` (git): the client's first pkt-line is
the git:// request "git-upload-pack /repo.git\\0host=127.0.0.1:PORT\\0", with the extra
parameter "\\0version=2\\0" asking for protocol v2 (gitprotocol-pack(5), "Git Transport";
gitprotocol-v2(5)). The four hex digits count themselves. git then waits for the server's
capability advertisement: the harness stops it."""
import harness as h


def client(port):
    return ["git", "-c", "protocol.version=2", "ls-remote", f"git://127.0.0.1:{port}/repo.git"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 pkt-line (the git:// request), got {len(msgs)}")
    m = msgs[0]
    h.expect(int(m[:4], 16) == len(m), f"pkt-line length {m[:4]!r} disagrees with the framed length {len(m)}")
    want = f"git-upload-pack /repo.git\0host=127.0.0.1:{run.port}\0\0version=2\0".encode()
    h.expect(m[4:] == want, f"request {m[4:]!r}, expected {want!r}")
    return [("pkt-line", "git-upload-pack /repo.git", len(m) - len(str(run.port)))]


if __name__ == "__main__":
    h.main("git-ls-remote", lambda: h.require_program("git", "git"), "git-pkt-line", client, check,
           expect_messages=1, client_timeout=5)
