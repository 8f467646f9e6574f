"""Git pkt-line framed from a whole `git clone git://...` (git) against a real
`git upload-pack`, which reply_front.py runs the way git daemon does; every byte the
client sends is forwarded unchanged to sockframe. With protocol v2 the client must send
exactly: the git:// request, then the ls-refs command and the fetch command, each as
capability lines, a delim-pkt "0001", argument lines and a flush-pkt "0000" — the 4-byte
special packets the description's special_values cover (gitprotocol-v2(5); pkt-line
format in gitprotocol-common(5))."""
import os
import re
import subprocess
import tempfile

import harness as h

TMP = tempfile.mkdtemp(prefix="sockframe-git-")
REPO = os.path.join(TMP, "repo.git")


def make_repo():
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", GIT_AUTHOR_DATE="2000-01-01T00:00:00Z",
               GIT_COMMITTER_DATE="2000-01-01T00:00:00Z", GIT_CONFIG_NOSYSTEM="1", HOME=TMP)
    src = os.path.join(TMP, "src")
    for argv in (["git", "init", "-q", "-b", "main", src], ["git", "-C", src, "commit", "-q", "--allow-empty", "-m", "x"],
                 ["git", "clone", "-q", "--bare", src, REPO]):
        subprocess.run(argv, check=True, env=env, capture_output=True, timeout=20)
    return subprocess.run(["git", "-C", REPO, "rev-parse", "main"], check=True, capture_output=True, env=env,
                          text=True, timeout=20).stdout.strip()


def client(port):
    return [h.SYSTEM_PYTHON, os.path.join(h.HERE, "reply_front.py"), "git", str(port), "--",
            "git", "-c", "protocol.version=2", "clone", "-q", "git://127.0.0.1:{front}/repo.git",
            os.path.join(TMP, f"clone-{port}")]


def check(run):
    run.check_stream_integrity(conns=1)
    pkts = run.payloads()
    for p in pkts:
        n = int(p[:4], 16)
        h.expect(n == len(p) or (n in (0, 1, 2) and len(p) == 4), f"pkt-line {p!r}: length disagrees with {len(p)}")
    text = [p[4:].decode() if len(p) > 4 else p.decode() for p in pkts]
    # host= names reply_front.py's port
    h.expect(re.fullmatch("git-upload-pack /repo.git\0host=127.0.0.1:[0-9]+\0\0version=2\0", text[0]),
             f"request {text[0]!r}")
    norm = [re.sub(r"^agent=git/\S+$", "agent=git/*", t).replace(OID, "OID") for t in text[1:]]
    want = ["command=ls-refs\n", "agent=git/*", "object-format=sha1", "0001", "peel\n", "symrefs\n", "unborn\n",
            "ref-prefix HEAD\n", "ref-prefix refs/heads/\n", "ref-prefix refs/tags/\n", "0000",
            "command=fetch", "agent=git/*", "object-format=sha1", "0001", "thin-pack", "no-progress", "ofs-delta",
            "want OID\n", "want OID\n", "done\n", "0000"]
    h.expect(norm == want, f"packets {norm}")
    h.expect(run.client_rc == 0, f"git clone exited {run.client_rc}")
    return ["git-upload-pack request"] + norm


if __name__ == "__main__":
    try:
        OID = make_repo() if h.shutil.which("git") else ""
        h.main("git-clone", lambda: h.require_program("git", "git"), "git-pkt-line", client, check,
               client_timeout=10, client_env={"SOCKFRAME_GIT_REPO": REPO})
    finally:
        h.shutil.rmtree(TMP, ignore_errors=True)
