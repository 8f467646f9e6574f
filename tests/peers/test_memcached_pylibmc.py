"""memcached binary protocol: python3-pylibmc (binary=True) -> sockframe proxy
(memcached-binary, --route key) -> two real memcached.

Through the proxy:
  - 60 keys are set with distinct values and read back intact, one get at a time;
  - asked directly afterwards, every key is on exactly one of the two servers, with its
    value, and both servers hold keys (the key hash spreads them);
  - get_multi (libmemcached sends quiet GETKQ requests, one per key, then a NOOP and reads
    until the NOOP's reply): the keys sit on different backends, so this only works if the
    proxy answers every quiet get before the NOOP's reply.
      userspace path: the NOOP goes to every backend the quiet gets reached and one
        reply, the last, is forwarded: get_multi must return every key and value;
      kernel path: a verdict sends a message to one backend only, so the proxy drops
        such a NOOP, delivers the replies on their way and closes the client, logging
        the NOOP problem: get_multi returns every key (libmemcached reads to the end)
        or pylibmc raises.
    A missing key or a wrong value fails on either path."""
import peers as p

KEYS = [f"peers:key:{i:03d}" for i in range(60)]


def value(k):
    return (k * 7 + "|").encode() + bytes(range(256)) * (1 + len(k) % 3)


state = {}


def start_memcached(tag):
    port = p.free_port()
    argv = [p.require("memcached", "memcached"), "-u", "root", "-l", "127.0.0.1", "-p", str(port), "-U", "0",
            "-B", "binary", "-m", "16", "-t", "1"]
    return p.server(argv, f"memcached {tag}", port), port


def client(port):
    import pylibmc
    return pylibmc.Client([f"127.0.0.1:{port}"], binary=True, behaviors={"connect_timeout": 3000,
                                                                          "receive_timeout": 3000000,
                                                                          "send_timeout": 3000000})


def requires():
    p.require("memcached", "memcached")
    p.require_module("python3-pylibmc", "pylibmc")
    state["A"], state["portA"] = start_memcached("A")
    state["B"], state["portB"] = start_memcached("B")


def direct():
    for tag in ("A", "B"):
        c = client(state["port" + tag])
        c.flush_all()
        c.set("probe", tag.encode())
        p.expect(c.get("probe") == tag.encode(), f"memcached {tag} did not keep a value")
        multi = c.get_multi(["probe", "absent"])
        p.expect(multi == {"probe": tag.encode()}, f"get_multi straight to memcached {tag}: {multi}")
        c.flush_all()


def through(path):
    for tag in ("A", "B"):
        client(state["port" + tag]).flush_all()
    backends = [f"127.0.0.1:{state['portA']}", f"127.0.0.1:{state['portB']}"]
    with p.Proxy("memcached-binary", backends, path, route="key") as proxy:
        c = client(proxy.port)
        try:
            for k in KEYS:
                p.expect(c.set(k, value(k)), f"set {k} through the proxy failed")
            for k in KEYS:
                got = c.get(k)
                p.expect(got == value(k), f"get {k} through the proxy: {got!r:.60}")
        except Exception as e:
            raise AssertionError(f"{type(e).__name__}: {e}\n{proxy.log()}")
        multi_outcome = get_multi(c, proxy)
        proxy.stop()
    where = {}
    direct_a, direct_b = client(state["portA"]), client(state["portB"])
    for k in KEYS:
        a, b = direct_a.get(k), direct_b.get(k)
        p.expect((a is None) != (b is None), f"{k}: on {'both servers' if a else 'neither server'}")
        p.expect((a or b) == value(k), f"{k}: the server holds another value")
        where[k] = "A" if a is not None else "B"
    counts = {t: sum(1 for w in where.values() if w == t) for t in ("A", "B")}
    p.expect(min(counts.values()) > 0, f"one server got no keys: {counts}")
    print(f"  get_multi: {multi_outcome}")
    return {"placement": sorted(where.items())}


def get_multi(c, proxy):
    import pylibmc
    try:
        got = c.get_multi(KEYS)
    except pylibmc.Error as e:
        p.expect(proxy.path == "kernel", f"get_multi failed on the {proxy.path} path: {type(e).__name__}: {e}\n"
                 + proxy.log())
        log = proxy.log()
        clear = any(w in log.lower() for w in ("noop", "quiet", "getkq", "get_multi"))
        p.expect(clear, f"get_multi failed ({type(e).__name__}: {e}) and the proxy said nothing clear:\n{log}")
        print(f"  get_multi refused: {type(e).__name__}: {e}")
        return "refused"
    wrong = [k for k in got if k not in KEYS or got[k] != value(k)]
    p.expect(not wrong, f"get_multi returned wrong data for {len(wrong)} keys (first {wrong[:3]})\n{proxy.log()}")
    missing = [k for k in KEYS if k not in got]
    p.expect(not missing, f"get_multi missed {len(missing)} of {len(KEYS)} keys on the {proxy.path} path "
             f"(the NOOP's reply overtook a backend's quiet gets)\n{proxy.log()}")
    return "works"


if __name__ == "__main__":
    p.main("memcached-pylibmc", requires, direct, through)
