/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sockframe proxy runtime: the verdict of `sockframe proxy`'s kernel path. A
 * generated proxy file is a generated parser (the protocol's rule, its [route]
 * functions, the batch walk and sf_parser of sockframe_runtime.bpf.h, built with
 * SF_CUSTOM_VERDICT) followed by this header, which supplies sf_verdict.
 *
 * Client sockets and backend sockets share one SOCKHASH (sf_sockets) and so one
 * parser: the description frames both directions. For each whole message (or
 * batch of them) the verdict looks up its socket in sf_px_socks and
 *   - on a backend socket: redirects the reply EGRESS into its client's socket;
 *   - on a client socket: chooses a backend (the key's consistent hash through
 *     the Maglev table sf_px_table, round-robin over sf_px_live, the connection's
 *     backend, or the first message's key through sf_px_values) and redirects
 *     the request EGRESS into the client's connection to that backend.
 * It never redirects into a socket's own ingress (that crashed 6.18:
 * docs/kernel.md). No payload byte reaches the proxy process.
 *
 * Per-message modes (key, round-robin) load with sf_batch_max_msgs = 1, so each
 * verdict sees one message; connection and first-key forward whole batches.
 */
#ifndef SOCKFRAME_PROXY_BPF_H
#define SOCKFRAME_PROXY_BPF_H

#include "sockframe_proxy_abi.h"

SF_CONFIG __u32 sf_px_mode = SF_PX_ROUTE_CONNECTION; /* SF_PX_ROUTE_* */
SF_CONFIG __u32 sf_px_named = 0; /* first-key: backends are named by value (no hashing) */
/* Barrier messages (core/route/barrier.hpp) in per-message modes: a request whose
 * first two bytes are these (memcached binary NOOP: magic 0x80, opcode 0x0a) asks
 * for a reply after everything sent before. One skb has one target, so the
 * verdict can't send it to several backends: it goes to the one backend the
 * client's requests reached since its last barrier, or is dropped and counted
 * when they reached several (the core then closes the client with the reason). */
SF_CONFIG __u32 sf_px_barrier = 0;
SF_CONFIG __u32 sf_px_barrier_magic = 0x80;
SF_CONFIG __u32 sf_px_barrier_opcode = 0x0a;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64); /* socket cookie */
	__type(value, struct sf_px_sock);
} sf_px_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SF_PX_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32); /* backend index, SF_PX_NO_BACKEND when none is live */
} sf_px_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SF_PX_MAX_BACKENDS + 1);
	__type(key, __u32);
	__type(value, __u32);
} sf_px_live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SF_PX_MAX_BACKENDS + 1);
	__type(key, struct sf_px_value);
	__type(value, __u32); /* backend index */
} sf_px_values SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SF_PX_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sf_px_count);
} sf_px_backend_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SF_PX_MAX_RULES);
	__type(key, __u32);
	__type(value, struct sf_px_count);
} sf_px_rule_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SF_PX_G_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} sf_px_global SEC(".maps");

/* Working memory of one verdict call: route decisions and keys are written by
 * the generated functions into map memory (sf_first_message_key requires it). */
struct sf_px_scratch {
	struct sf_route route;
	struct sf_key key;
	struct sf_px_value value;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sf_px_scratch);
} sf_px_scratch_map SEC(".maps");

static __always_inline void sf_px_global_add(__u32 index)
{
	__u64 *v = bpf_map_lookup_elem(&sf_px_global, &index);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* The backend of a key hash: its Maglev slot (hash % table size, as in userspace). */
static __always_inline __u32 sf_px_by_hash(__u64 hash)
{
	__u32 slot = (__u32)(hash % SF_PX_TABLE_SIZE);
	__u32 *b = bpf_map_lookup_elem(&sf_px_table, &slot);

	return b ? *b : SF_PX_NO_BACKEND;
}

static __always_inline __u32 sf_px_round_robin(struct sf_px_sock *px)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&sf_px_live, &zero), i, *b;

	if (!n || !*n || *n > SF_PX_MAX_BACKENDS)
		return SF_PX_NO_BACKEND;
	i = (__u32)(px->rr % *n) + 1;
	px->rr++;
	b = bpf_map_lookup_elem(&sf_px_live, &i);
	return b ? *b : SF_PX_NO_BACKEND;
}

#ifdef SF_HAS_FIRST_KEY
/* first-key: the backend named by the key's exact bytes, else the default (an
 * entry with len 0), else - no named backends at all - the key's hash. */
static __always_inline __u32 sf_px_by_first_key(struct sf_cursor *cur, __u64 len, struct sf_px_scratch *s)
{
	__u32 *b;

	sf_first_message_key(cur, 0, len, &s->key);
	__builtin_memset(&s->value, 0, sizeof(s->value));
	if (s->key.has_key) {
		s->value.len = s->key.len;
		__builtin_memcpy(s->value.bytes, s->key.bytes, SF_PX_VALUE_MAX);
		b = bpf_map_lookup_elem(&sf_px_values, &s->value);
		if (b)
			return *b;
	}
	__builtin_memset(&s->value, 0, sizeof(s->value));
	b = bpf_map_lookup_elem(&sf_px_values, &s->value);
	if (b)
		return *b;
	if (sf_px_named)
		return SF_PX_NO_BACKEND; /* a value nobody serves, and no default */
	return s->key.has_key ? sf_px_by_hash(s->key.hash) : SF_PX_NO_BACKEND;
}
#endif

/* The backend for the client's message at cur (len bytes): a backend index,
 * SF_PX_NO_BACKEND, or (dropped by a rule) SF_PX_NO_BACKEND - 1. */
#define SF_PX_DROPPED (SF_PX_NO_BACKEND - 1)
static __always_inline __u32 sf_px_choose(struct sf_cursor *cur, __u64 len, struct sf_px_sock *px)
{
	__u32 zero = 0;
	struct sf_px_scratch *s = bpf_map_lookup_elem(&sf_px_scratch_map, &zero);

	if (!s)
		return SF_PX_NO_BACKEND;
	if (sf_px_mode == SF_PX_ROUTE_CONNECTION)
		return px->chosen ? px->chosen - 1 : SF_PX_NO_BACKEND;
#ifdef SF_HAS_FIRST_KEY
	if (sf_px_mode == SF_PX_ROUTE_FIRST_KEY) {
		__u32 b;

		if (px->chosen == SF_PX_CHOSEN_REFUSED)
			return SF_PX_NO_BACKEND;
		if (px->chosen)
			return px->chosen - 1;
		/* The first message (or the batch starting with it) decides for good. */
		b = sf_px_by_first_key(cur, len, s);
		px->chosen = b == SF_PX_NO_BACKEND ? SF_PX_CHOSEN_REFUSED : b + 1;
		return b;
	}
#endif
#ifdef SF_HAS_ROUTE
	sf_route_message(cur, 0, len, &s->route);
	if (s->route.rule < SF_PX_MAX_RULES) {
		__u32 rule = s->route.rule;
		struct sf_px_count *c = bpf_map_lookup_elem(&sf_px_rule_counts, &rule);

		if (c) {
			__sync_fetch_and_add(&c->messages, 1);
			__sync_fetch_and_add(&c->bytes, len);
		}
	}
	if (s->route.action == SF_ROUTE_DROP)
		return SF_PX_DROPPED;
	if (sf_px_mode == SF_PX_ROUTE_KEY)
		return s->route.has_key ? sf_px_by_hash(s->route.key_hash)
					: (px->chosen ? px->chosen - 1 : SF_PX_NO_BACKEND);
#endif
	return sf_px_round_robin(px);
}

SEC("sk_skb/stream_verdict")
int sf_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct sf_conn *st = bpf_map_lookup_elem(&sf_conns, &cookie);
	struct sf_px_sock *px = bpf_map_lookup_elem(&sf_px_socks, &cookie);
	struct sf_cursor cur = {skb, 0, 0};
	struct sf_px_count *c;
	__u32 len, b;
	__u64 to;
	long r;

	if (!st || !px) {
		sf_px_global_add(SF_PX_G_NO_STATE);
		return SK_DROP;
	}
	len = (__u32)BPF_CORE_READ(sf_skb_cb(skb), strp.strp.full_len);
	cur.base = (__u32)BPF_CORE_READ(sf_skb_cb(skb), strp.strp.offset);
	cur.opaque = &st->scratch.opaque;
	st->forwarded += len;
	st->batches++;
	st->held = 0; /* what follows starts a new message in strparser */
	px->messages++;
	px->bytes += len;

	if (px->slot) {
		/* A whole reply (or batch of them) from backend slot - 1: to its client. */
		b = px->slot - 1;
		c = bpf_map_lookup_elem(&sf_px_backend_counts, &b);
		if (c) {
			__sync_fetch_and_add(&c->replies, 1);
			__sync_fetch_and_add(&c->reply_bytes, len);
		}
		to = SF_PX_KEY(px->client, 0);
		r = bpf_sk_redirect_hash(skb, &sf_sockets, &to, 0);
		if (r != SK_PASS)
			px->errors++;
		return (int)r;
	}

	b = sf_px_choose(&cur, len, px);
	if (sf_px_barrier && b < SF_PX_MAX_BACKENDS) {
		__u8 head[2] = {0, 0};

		if (bpf_skb_load_bytes(skb, cur.base, head, 2) == 0 && head[0] == sf_px_barrier_magic &&
		    head[1] == sf_px_barrier_opcode) {
			__u32 many = px->many_backends, last = px->last_backend;

			px->many_backends = 0;
			px->last_backend = 0;
			if (many) {
				px->barriers_refused++;
				sf_px_global_add(SF_PX_G_BARRIERS_REFUSED);
				return SK_DROP;
			}
			if (last && last <= SF_PX_MAX_BACKENDS)
				b = last - 1;
		} else {
			if (px->last_backend && px->last_backend != b + 1)
				px->many_backends = 1;
			px->last_backend = b + 1;
		}
	}
	if (b == SF_PX_DROPPED) {
		sf_px_global_add(SF_PX_G_DROPS);
		return SK_DROP;
	}
	if (b >= SF_PX_MAX_BACKENDS) {
		sf_px_global_add(SF_PX_G_NO_BACKEND);
		return SK_DROP;
	}
	c = bpf_map_lookup_elem(&sf_px_backend_counts, &b);
	to = SF_PX_KEY(px->client, b + 1);
	r = bpf_sk_redirect_hash(skb, &sf_sockets, &to, 0);
	if (c) {
		if (r == SK_PASS) {
			__sync_fetch_and_add(&c->messages, 1);
			__sync_fetch_and_add(&c->bytes, len);
		} else {
			__sync_fetch_and_add(&c->errors, 1);
		}
	}
	if (r != SK_PASS)
		px->errors++;
	return (int)r;
}

#endif /* SOCKFRAME_PROXY_BPF_H */
