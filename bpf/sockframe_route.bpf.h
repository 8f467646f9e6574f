/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sockframe routing: the protocol-independent pieces of a generated routing key
 * (reading integers within a region, hashing a byte range, walking a DNS name,
 * finding a NUL). The generated sf_route_message / sf_first_message_key string
 * them together with the protocol's own steps; core/description/route_eval.cpp
 * is the userspace twin of every function here, step for step.
 *
 * Conventions: `msg` is where the message starts in the cursor (the `pos`
 * argument of sf_route_message); every other offset counts from the message's
 * start; a region [pos, end) never reaches past the message (end <= total).
 * Functions return 0 on success and -1 when the message has no key.
 *
 * Verifier notes: these run inside the runtime's bpf_loop callbacks (the batch
 * walk), so loops are bpf_loop callbacks too, and every counter a callback
 * carries from one iteration to the next is read back through sf_opaque(): the
 * verifier then sees an unknown value and the callback's states converge
 * instead of being explored once per iteration (kernel-facts.md, verifier).
 */
#ifndef SOCKFRAME_ROUTE_BPF_H
#define SOCKFRAME_ROUTE_BPF_H

#include "sockframe_hash.h"

/* Generated routing functions are there for a runtime that may not call them
 * (the receive plane's does not): no unused-function warning for them. */
#define __sf_unused __attribute__((unused))

#define SF_ROUTE_TLV_ENTRIES 64   /* kMaxTlvEntries */
#define SF_ROUTE_SCAN_BYTES 65536 /* kMaxScanBytes */
#define SF_ROUTE_DNS_LABELS 128   /* kMaxDnsLabels */
#define SF_ROUTE_HASH_CHUNK 16

/* The state a loop callback works on; lives on the caller's stack. */
struct sf_route_walk {
	struct sf_cursor *cur;
	__u64 msg;   /* message start in the cursor */
	__u64 pos;   /* the next byte to look at */
	__u64 end;   /* end of the region */
	__u64 start; /* where the current item began */
	__u64 hash;
	__u64 nlen;  /* find_name: bytes of the current name so far */
	__u32 found; /* the loop ended because it found what it looked for */
	__u32 fold;  /* hashing: ASCII case folded */
	__u32 match; /* find_name: the current name matches so far */
	__u32 phase; /* find_name: 1 while skipping a value */
};

/* The width-byte big- or little-endian integer at `at`, within [0, end).
 * width and little are constants at every call (the loads and shifts unroll). */
static __always_inline int sf_route_uint(struct sf_cursor *cur, __u64 msg, __u64 at, __u64 end,
					 __u32 width, int little, __u64 *v)
{
	__u8 b[8];
	__u64 x = 0;
	__u32 i;

	if (at > end || end - at < width)
		return -1;
	if (sf_load(cur, msg + at, b, width) < 0)
		return -1;
	for (i = 0; i < width; i++)
		x = x << 8 | b[little ? width - 1 - i : i];
	*v = x;
	return 0;
}

/* MQTT's variable byte integer (LEB128, at most 4 bytes) at `at`, within [0, end):
 * its value and its size *n. */
static __always_inline int sf_route_varint(struct sf_cursor *cur, __u64 msg, __u64 at, __u64 end,
					   __u64 *v, __u64 *n)
{
	__u64 x = 0;
	__u32 i;
	__u8 b;

	for (i = 0; i < 4; i++) {
		if (at >= end || i >= end - at)
			return -1;
		if (sf_load(cur, msg + at + i, &b, 1) < 0)
			return -1;
		x |= (__u64)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = x;
			/* one verifier state for every width, not one per width */
			*n = sf_opaque(cur, i + 1);
			return 0;
		}
	}
	return -1; /* a fifth byte would be needed */
}

/* ---- hashing a byte range ------------------------------------------------- */
/* One chunk of up to SF_ROUTE_HASH_CHUNK bytes per call: pos..end, into hash. */
static long sf_route_hash_step(__u32 i, void *data)
{
	struct sf_route_walk *w = data;
	__u64 pos = sf_opaque(w->cur, w->pos), h = w->hash, n;
	__u8 buf[SF_ROUTE_HASH_CHUNK];
	__u32 j;

	(void)i;
	if (pos >= w->end)
		return 1;
	n = w->end - pos;
	if (n > SF_ROUTE_HASH_CHUNK)
		n = SF_ROUTE_HASH_CHUNK;
	n = ((n - 1) & (SF_ROUTE_HASH_CHUNK - 1)) + 1; /* [1, 16], provably */
	if (sf_load(w->cur, w->msg + pos, buf, (__u32)n) < 0) {
		w->found = 0;
		return 1;
	}
	for (j = 0; j < SF_ROUTE_HASH_CHUNK; j++) {
		if (j >= n)
			break;
		h = sf_fnv1a_byte(h, w->fold ? sf_fold_ascii(buf[j]) : buf[j]);
	}
	w->hash = h;
	w->pos = pos + n;
	return 0;
}

/* FNV-1a 64 of the len bytes at off (len <= the key's max_length, at most 65536). */
static __always_inline int sf_route_hash(struct sf_route_walk *w, __u64 off, __u64 len, __u32 fold,
					 __u64 *hash)
{
	w->pos = off;
	w->end = off + len;
	w->hash = SF_FNV_OFFSET;
	w->fold = fold;
	w->found = 1;
	bpf_loop((__u32)((len + SF_ROUTE_HASH_CHUNK - 1) / SF_ROUTE_HASH_CHUNK), sf_route_hash_step, w, 0);
	if (!w->found || w->pos != off + len)
		return -1;
	*hash = w->hash;
	return 0;
}

/* ---- take = "dns-name" ---------------------------------------------------- */
/* One label per call: a length octet 1-63 and its bytes, or the root label (0). */
static long sf_route_dns_step(__u32 i, void *data)
{
	struct sf_route_walk *w = data;
	__u64 pos = sf_opaque(w->cur, w->pos);
	__u8 l;

	(void)i;
	if (pos >= w->end || sf_load(w->cur, w->msg + pos, &l, 1) < 0)
		return 1;
	if (l == 0) {
		w->pos = pos + 1;
		w->found = 1;
		return 1;
	}
	if (l > 63)
		return 1; /* not a label length: compression pointers are not followed */
	pos += 1 + (__u64)l;
	if (pos - w->start > 254)
		return 1; /* with the root label the name would exceed 255 bytes */
	w->pos = pos;
	return 0;
}

/* The DNS name in wire form at pos: its length through the root label in *len. */
static __always_inline int sf_route_dns_name(struct sf_route_walk *w, __u64 pos, __u64 end, __u64 *len)
{
	w->start = pos;
	w->pos = pos;
	w->end = end;
	w->found = 0;
	bpf_loop(SF_ROUTE_DNS_LABELS, sf_route_dns_step, w, 0);
	if (!w->found)
		return -1;
	*len = w->pos - pos;
	return 0;
}

/* ---- take = "cstring" ----------------------------------------------------- */
static long sf_route_nul_step(__u32 i, void *data)
{
	struct sf_route_walk *w = data;
	__u64 pos = sf_opaque(w->cur, w->pos);
	__u8 b;

	(void)i;
	if (pos >= w->end || sf_load(w->cur, w->msg + pos, &b, 1) < 0)
		return 1;
	if (b == 0) {
		w->pos = pos;
		w->found = 1;
		return 1;
	}
	w->pos = pos + 1;
	return 0;
}

/* The bytes from pos up to the next NUL, looking at most max + 1 bytes: *len. */
static __always_inline int sf_route_cstring(struct sf_route_walk *w, __u64 pos, __u64 end, __u32 max,
					    __u64 *len)
{
	w->pos = pos;
	w->end = end;
	w->found = 0;
	bpf_loop(max + 1, sf_route_nul_step, w, 0);
	if (!w->found)
		return -1;
	*len = w->pos - pos;
	return 0;
}

/* ---- first-message keys: the bytes themselves ---------------------------- */
/* bpf_loop's context must be on the stack: it carries the map value's address. */
struct sf_route_fold {
	struct sf_key *k;
};

static long sf_route_fold_step(__u32 i, void *data)
{
	struct sf_key *k = ((struct sf_route_fold *)data)->k;

	if (i >= k->len)
		return 1;
	k->bytes[i & (SF_KEY_MAX - 1)] = sf_fold_ascii(k->bytes[i & (SF_KEY_MAX - 1)]);
	return 0;
}

/* Copies the key (1..SF_KEY_MAX bytes at off) into out->bytes, folded if asked,
 * zero-padded. out must be map memory: it is larger than a BPF stack allows. */
static __always_inline int sf_route_copy_key(struct sf_cursor *cur, __u64 msg, __u64 off, __u64 len,
					     __u32 fold, struct sf_key *out)
{
	if (len < 1 || len > SF_KEY_MAX)
		return -1;
	if (sf_load(cur, msg + off, out->bytes, (__u32)(((len - 1) & (SF_KEY_MAX - 1)) + 1)) < 0)
		return -1;
	out->len = (__u32)len;
	if (fold) {
		struct sf_route_fold f = {out};

		bpf_loop(SF_KEY_MAX, sf_route_fold_step, &f, 0);
	}
	return 0;
}

#endif /* SOCKFRAME_ROUTE_BPF_H */
