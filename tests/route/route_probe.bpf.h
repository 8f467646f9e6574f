/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Test-only runtime for the generated routing functions (tests/route): it
 * replaces sockframe_runtime.bpf.h in a generated parser so that
 *   - probe_parser (sk_skb/stream_parser) calls sf_route_message for every whole
 *     message from a bpf_loop callback, the way a proxy's batch walk does, and
 *     sf_first_message_key for the first: the verifier must accept that;
 *   - probe_filter (socket filter, runnable with BPF_PROG_TEST_RUN) runs the same
 *     callback over one message given as the packet, so the kernel's answers can
 *     be compared with the userspace evaluator.
 * Results go to the one entry of the probe_state array.
 */
#ifndef SOCKFRAME_ROUTE_PROBE_BPF_H
#define SOCKFRAME_ROUTE_PROBE_BPF_H

char LICENSE[] SEC("license") = "GPL";

struct probe_state {
	__u64 opaque; /* sf_opaque() */
	__u64 avail, pos, count;
	__u64 whole;     /* set by the test: the packet is one message (no framing) */
	__u64 first_key; /* set by the test: also look for the first message's key */
	struct sf_route route; /* the last message's decision */
	struct sf_key key;     /* the first message's key */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_state);
} probe SEC(".maps");

struct probe_ctx {
	struct sf_cursor *cur;
	struct probe_state *s;
};

/* One whole message per call, starting at s->pos (the batch walk's shape). */
static long probe_step(__u32 i, void *data)
{
	struct probe_ctx *c = data;
	struct probe_state *s = c->s;
	__u64 total = 0, value = 0, room;
	int r;

	if (s->pos >= s->avail)
		return 1;
	room = s->avail - s->pos;
	if (s->whole) {
		total = room;
		goto decide;
	}
#ifdef SF_FRAMING_LENGTH
#ifdef SF_HAS_FIRST
	if (i == 0)
		r = sf_frame_first(c->cur, s->pos, room, &total, &value);
	else
#endif
		r = sf_frame_length(c->cur, s->pos, room, &total, &value);
	if (r != SF_LENGTH_KNOWN || total > room || total == 0)
		return 1;
#else
	(void)r;
	(void)value;
	total = room; /* the whole packet is one message */
#endif
decide:
	sf_route_message(c->cur, s->pos, total, &s->route);
#ifdef SF_HAS_FIRST_KEY
	if (i == 0 && s->first_key)
		sf_first_message_key(c->cur, s->pos, total, &s->key);
#endif
	s->pos += total;
	s->count = i + 1;
	return 0;
}

static __always_inline long probe_walk(struct __sk_buff *skb, __u32 most)
{
	__u32 zero = 0;
	struct probe_state *s = bpf_map_lookup_elem(&probe, &zero);
	struct sf_cursor cur = {skb, 0, 0};
	struct probe_ctx c = {&cur, s};

	if (!s)
		return 0;
	cur.opaque = &s->opaque;
	s->avail = skb->len;
	s->pos = 0;
	s->count = 0;
	bpf_loop(most, probe_step, &c, 0);
	return (long)s->pos;
}

SEC("sk_skb/stream_parser")
int probe_parser(struct __sk_buff *skb)
{
	return probe_walk(skb, 256);
}

SEC("sk_skb/stream_verdict")
int probe_verdict(struct __sk_buff *skb)
{
	(void)skb;
	return SK_DROP;
}

SEC("socket")
int probe_filter(struct __sk_buff *skb)
{
	probe_walk(skb, 1);
	return 0;
}

#endif
