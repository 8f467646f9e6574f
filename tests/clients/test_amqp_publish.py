"""AMQP 0-9-1 framed from amqp-publish (amqp-tools, rabbitmq-c): the client opens with
the 8-byte protocol header "AMQP" 0 0 9 1 (AMQP 0-9-1 §4.2.2), which the description's
preface delivers as a message of its own; then it waits for Connection.Start, which
sockframe never sends: the harness stops it."""
import harness as h


def client(port):
    return ["amqp-publish", "--server", "127.0.0.1", "--port", str(port), "-r", "key", "-b", "hello"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 message (the protocol header), got {len(msgs)}")
    h.expect(msgs[0] == b"AMQP\x00\x00\x09\x01", f"protocol header {msgs[0]!r}")
    return [("protocol-header", len(msgs[0]))]


if __name__ == "__main__":
    h.main("amqp-publish", lambda: h.require_program("amqp-tools", "amqp-publish"), "amqp-0-9-1", client, check,
           expect_messages=1, client_timeout=5)
