"""DNS over TCP: dig +tcp and kdig +tcp -> sockframe proxy (dns, --route key) -> two dnsmasq.

Both dnsmasq answer the same 24 names, server A with 10.1.0.N and server B with 10.2.0.N,
so the answer says which backend a query reached. Through the proxy:
  - each name asked in three letter cases (lower, UPPER, MiXeD; RFC 4343: the key is
    hashed case-insensitively) always reaches the same backend, by dig and by kdig;
  - both backends are used (24 names over two backends);
  - each backend's query log holds exactly the names whose answers came from it."""
import peers as p

NAMES = [f"host{i}.peers.example" for i in range(24)]


def start_dnsmasq(tag, net):
    port = p.free_port()
    argv = [p.require("dnsmasq-base", "dnsmasq"), "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces", "--user=root", "--group=root",
            "--pid-file=", "--log-queries", "--log-facility=-"]
    argv += [f"--address=/{n}/10.{net}.0.{i + 1}" for i, n in enumerate(NAMES)]
    return p.server(argv, f"dnsmasq {tag}", port), port


def cases(name):
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(name))
    return [name, name.upper(), mixed]


def ask(tool, port, name):
    opts = ["+time=5", "+tries=1"] if tool == "dig" else ["+timeout=5", "+retry=0"]
    out = p.run([tool, "+tcp", "+short"] + opts + ["-p", str(port), "@127.0.0.1", name, "A"], what=tool).split()
    p.expect(len(out) == 1, f"{tool} {name}: expected one address, got {out}")
    a = out[0].split(".")
    p.expect(len(a) == 4 and a[0] == "10" and a[1] in ("1", "2"), f"{tool} {name}: answer {out[0]}")
    i = NAMES.index(name.lower())
    p.expect(a[3] == str(i + 1), f"{tool} {name}: answer {out[0]} is another name's")
    return "A" if a[1] == "1" else "B"


state = {}


def requires():
    p.require("dnsmasq-base", "dnsmasq")
    p.require("bind9-dnsutils", "dig")
    p.require("knot-dnsutils", "kdig")
    state["A"], state["portA"] = start_dnsmasq("A", 1)
    state["B"], state["portB"] = start_dnsmasq("B", 2)


def direct():
    for tag in ("A", "B"):
        for tool in ("dig", "kdig"):
            got = ask(tool, state["port" + tag], NAMES[3].upper())
            p.expect(got == tag, f"{tool} straight to dnsmasq {tag} was answered by {got}")


def through(path):
    backends = [f"127.0.0.1:{state['portA']}", f"127.0.0.1:{state['portB']}"]
    logs_before = {t: len(state[t].log().splitlines()) for t in ("A", "B")}
    with p.Proxy("dns", backends, path, route="key") as proxy:
        routed = {}
        for n in NAMES:
            seen = {ask(tool, proxy.port, v) for tool in ("dig", "kdig") for v in cases(n)}
            p.expect(len(seen) == 1, f"{n}: its letter cases and clients reached different backends {seen}\n"
                     + proxy.log())
            routed[n] = seen.pop()
        proxy.stop()
    p.expect(set(routed.values()) == {"A", "B"}, f"only backend(s) {set(routed.values())} used for 24 names")
    for t in ("A", "B"):
        asked = {l.split()[2].lower() for l in state[t].log().splitlines()[logs_before[t]:]
                 if "query[A]" in l}
        mine = {n for n, b in routed.items() if b == t}
        p.expect(asked == mine, f"dnsmasq {t} was asked {sorted(asked)}, answered for {sorted(mine)}")
    return sorted(routed.items())


if __name__ == "__main__":
    p.main("dns-dnsmasq", requires, direct, through)
