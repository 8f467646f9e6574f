/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sockframe runtime: the part of every generated parser that does not depend on
 * the protocol. A generated file defines the protocol's rule and then includes
 * this header, which supplies:
 *   - the batch walk: each parser call returns the total length of every whole
 *     message already available (up to sf_batch_max_msgs / sf_batch_max_bytes),
 *     because the core splits messages itself; a lone incomplete message returns
 *     its full length so strparser waits for exactly that much;
 *   - sf_parser (sk_skb/stream_parser) and sf_verdict (sk_skb/stream_verdict),
 *     which redirects whole messages to the connection's delivery socket.
 *
 * The generated file defines exactly one of:
 *   SF_FRAMING_LENGTH     + sf_frame_length(cur, pos, room, &total, &value)
 *   SF_FRAMING_DELIMITER  + SF_DELIM_LEN and sf_is_delim(buf, j)
 * and SF_MAX_MESSAGE.
 *
 * Built with -DSOCKFRAME_HOST it compiles as host C (see sockframe_host_shim.h)
 * and exposes sf_host_parse() instead of BPF programs.
 */
#ifndef SOCKFRAME_RUNTIME_BPF_H
#define SOCKFRAME_RUNTIME_BPF_H

#define SF_EBADMSG 74 /* what strparser sees on any framing error; details go to sf_conns */

/* Largest number of messages one parser call may return as one batch (bpf_loop bound). */
#define SF_BATCH_HARD_MAX 4096

#ifdef SOCKFRAME_HOST
#define SF_CONFIG static
#else
/* Set by the core before load (.rodata); the verifier sees them as constants. */
#define SF_CONFIG const volatile
#endif

SF_CONFIG __u32 sf_batch_max_msgs = 256;
SF_CONFIG __u32 sf_batch_max_bytes = 65536;
/* How far the kernel may run ahead of the application (bytes forwarded but not yet
 * read by the core) before the connection is handed to userspace framing; 0 = no limit. */
SF_CONFIG __u64 sf_in_flight_max = 0;

#ifdef SF_HAS_FIRST
/* The first message of the stream (preface or first_length) travels alone. */
static __always_inline long sf_parse_first(struct sf_cursor *cur, __u64 avail, struct sf_conn *st)
{
	__u64 total = 0, value = 0;
	int r = sf_frame_first(cur, 0, avail, &total, &value);

	if (r < 0) {
		st->error = -r;
		st->error_value = value;
		return -SF_EBADMSG;
	}
	if (r == SF_NEED_MORE || total > avail) {
		/* 0, not its length: strparser calls again with more bytes, so all of
		 * it is checked before it is delivered. */
		st->need = r == SF_NEED_MORE ? 0 : total;
		return 0;
	}
	st->phase = 1;
	st->need = 0;
	return (long)total;
}
#define SF_PARSE_FIRST(cur, avail, st)                   \
	do {                                             \
		if (!(st)->phase)                        \
			return sf_parse_first(cur, avail, st); \
	} while (0)
#else
#define SF_PARSE_FIRST(cur, avail, st) do { } while (0)
#endif

/* Working state of one parser call lives in st->scratch (a map value): the
 * verifier tracks stack values exactly, and a loop over them whose body is a
 * complex rule would be verified once per iteration instead of converging. */
struct sf_ctx {
	struct sf_cursor *cur;
	struct sf_conn *st;
};

#ifdef SF_FRAMING_LENGTH
/* ---- length framing: walk over whole messages ---------------------------- */
/* scratch: avail = bytes from the first message's start to the end of the skb;
 * pos = length of the whole messages walked; first = full length of the first
 * message once known; found = whole messages walked; err/value = its error. */

/* Branches only on the callback index i, never on a counter that starts at a
 * constant: the verifier would track such a counter exactly and never converge. */
static long sf_walk_step(__u32 i, void *data)
{
	struct sf_ctx *ctx = data;
	typeof(ctx->st->scratch) *w = &ctx->st->scratch;
	__u64 total = 0, value = 0;
	int r;

	if (w->pos > w->avail)
		return 1;
	r = sf_frame_length(ctx->cur, w->pos, w->avail - w->pos, &total, &value);
	if (r < 0) {
		if (i == 0) {
			w->err = -r;
			w->value = value;
		}
		return 1; /* a bad message after good ones is reported when it comes first */
	}
	if (r == SF_NEED_MORE)
		return 1;
	if (i == 0)
		w->first = total;
	if (total > w->avail - w->pos)
		return 1;
#ifdef SF_TRAILER_LEN
	if (sf_check_trailer(ctx->cur, w->pos, total) < 0) {
		if (i == 0) {
			w->err = SF_ERR_BAD_TRAILER;
			w->value = total;
		}
		return 1;
	}
#endif
	if (i > 0 && w->pos + total > w->maxb)
		return 1;
	w->pos += total;
	w->found = i + 1;
	return 0;
}

static __always_inline long sf_parse(struct sf_cursor *cur, __u64 avail, struct sf_conn *st)
{
	struct sf_ctx ctx = {cur, st};
	__u32 maxn = sf_batch_max_msgs;

	SF_PARSE_FIRST(cur, avail, st);
	if (maxn > SF_BATCH_HARD_MAX)
		maxn = SF_BATCH_HARD_MAX;
	if (maxn < 1)
		maxn = 1;
	st->scratch.avail = avail;
	st->scratch.pos = 0;
	st->scratch.first = 0;
	st->scratch.value = 0;
	st->scratch.maxb = sf_batch_max_bytes;
	st->scratch.found = 0;
	st->scratch.err = 0;
	bpf_loop(maxn, sf_walk_step, &ctx, 0);
	if (st->scratch.found) {
		st->need = 0;
		return (long)st->scratch.pos;
	}
	if (st->scratch.err) {
		st->error = st->scratch.err;
		st->error_value = st->scratch.value;
		return -SF_EBADMSG;
	}
	st->need = st->scratch.first;
#ifdef SF_TRAILER_LEN
	return 0; /* re-parsed as bytes arrive: the trailer is checked before delivery */
#else
	return (long)st->scratch.first; /* 0 while the first header is incomplete */
#endif
}
#endif /* SF_FRAMING_LENGTH */

#ifdef SF_FRAMING_DELIMITER
/* ---- delimiter framing: word-at-a-time scan, resumable across calls ------ */
#include "sockframe_delim_scan.bpf.h"

/* Scan state (in st->scratch): pos = next position where a delimiter may start;
 * msg_start = start of the message being scanned = end of the whole ones;
 * found = whole messages found, capped by single (sf_batch_max_msgs clamped to
 * [1, SF_BATCH_HARD_MAX]) and by sf_batch_max_bytes. */

/* One step: find the first delimiter in the next window, or move one chunk on. */
static long sf_scan_step(__u32 i, void *data)
{
	struct sf_ctx *ctx = data;
	struct sf_cursor *cur = ctx->cur;
	typeof(ctx->st->scratch) *s = &ctx->st->scratch;
	__u64 words[SF_WINDOW / 8];
	__u64 want, checked, end;
	__u32 j;

	(void)i;
	/* Every position that could end a message within SF_MAX_MESSAGE was tested.
	 * Checked before the end of data: the scan may stop exactly there. */
	if (s->pos - s->msg_start > SF_MAX_MESSAGE - SF_DELIM_LEN) {
		if (!s->found)
			s->err = SF_ERR_NO_DELIMITER;
		return 1;
	}
	if (s->pos >= s->avail)
		return 1;
	want = s->avail - s->pos;
	if (want > SF_CHUNK + SF_DELIM_LEN - 1)
		want = SF_CHUNK + SF_DELIM_LEN - 1;
	if (want < SF_DELIM_LEN)
		return 1; /* not one whole candidate yet */
	/* ((n - 1) & mask) + 1 keeps a range the verifier can prove: [1, SF_WINDOW] */
	want = ((want - 1) & (SF_WINDOW - 1)) + 1;
	if (sf_load(cur, s->pos, words, want) < 0)
		return 1;
	checked = want - SF_DELIM_LEN + 1;
	if (!sf_find_delim(words, (__u32)checked, &j)) {
		s->pos += j;
		return 0;
	}
	end = s->pos + j + SF_DELIM_LEN;
	if (end - s->msg_start > SF_MAX_MESSAGE) {
		if (!s->found)
			s->err = SF_ERR_NO_DELIMITER;
		return 1;
	}
	if (s->found && end > s->maxb)
		return 1; /* byte cap: the first message is always allowed */
	s->found++;
	s->msg_start = end;
	s->pos = end;
	/* message cap; the counter lives in map memory, so the verifier does not unroll it */
	return s->found >= s->single ? 1 : 0;
}

static __always_inline long sf_parse(struct sf_cursor *cur, __u64 avail, struct sf_conn *st)
{
	struct sf_ctx ctx = {cur, st};
	__u64 start = st->scan_pos, steps;
	__u32 maxn = sf_batch_max_msgs;

	SF_PARSE_FIRST(cur, avail, st);
	/* the same bounds as length batches */
	if (maxn > SF_BATCH_HARD_MAX)
		maxn = SF_BATCH_HARD_MAX;
	if (maxn < 1)
		maxn = 1;
	st->scratch.single = maxn;
	st->scratch.avail = avail;
	st->scratch.pos = 0;
	st->scratch.msg_start = 0;
	st->scratch.maxb = sf_batch_max_bytes;
	st->scratch.found = 0;
	st->scratch.err = 0;
	/* Resume: bytes before scan_pos were scanned by an earlier call and hold no delimiter. */
	if (start <= avail)
		st->scratch.pos = start;
	/* A step moves at least one word on (a whole window when it holds no first
	 * byte of the delimiter), or ends a message: one step per word plus one per
	 * message the batch may hold. Steps past the end of data return at once. */
	steps = avail - st->scratch.pos;
	steps = steps / 8 + (steps < maxn ? steps : maxn) + 4;
	if (steps > (1 << 23))
		steps = 1 << 23; /* bpf_loop's limit; a later call resumes */
	bpf_loop((__u32)steps, sf_scan_step, &ctx, 0);
	if (st->scratch.found) {
		st->scan_pos = 0;
		return (long)st->scratch.msg_start;
	}
	if (st->scratch.err) {
		st->error = st->scratch.err;
		st->error_value = SF_MAX_MESSAGE;
		return -SF_EBADMSG;
	}
	st->scan_pos = (__u32)st->scratch.pos;
	return 0;
}
#endif /* SF_FRAMING_DELIMITER */

#ifdef SOCKFRAME_HOST
/* Host entry: the parser's answer for a message starting at data[base]. */
long sf_host_parse(const unsigned char *data, __u64 len, __u64 base, struct sf_conn *st,
		   __u32 batch_max_msgs, __u32 batch_max_bytes);
long sf_host_parse(const unsigned char *data, __u64 len, __u64 base, struct sf_conn *st,
		   __u32 batch_max_msgs, __u32 batch_max_bytes)
{
	struct sf_cursor cur = {data, len, base};

	sf_batch_max_msgs = batch_max_msgs;
	sf_batch_max_bytes = batch_max_bytes;
	st->parser_calls++;
	return sf_parse(&cur, len > base ? len - base : 0, st);
}
#else
/* ---- kernel programs ------------------------------------------------------ */
char LICENSE[] SEC("license") = "GPL"; /* bpf_probe_read_kernel and sockmap helpers */

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} sf_sockets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} sf_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct sf_conn);
} sf_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} sf_consumed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u32);
} sf_handoff SEC(".maps");

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/*
 * strparser hands the parser the skb where the current message starts at
 * strp.offset, not at 0 (several messages can share one skb). Minimal CO-RE
 * mirrors of the kernel types: libbpf relocates the field offsets against
 * /sys/kernel/btf/vmlinux ("___sf" is ignored when matching names).
 */
struct sk_buff___sf {
	char cb[48];
} __attribute__((preserve_access_index));
struct strp_msg___sf {
	int full_len;
	int offset;
} __attribute__((preserve_access_index));
struct _strp_msg___sf {
	struct strp_msg___sf strp;
} __attribute__((preserve_access_index));
struct sk_skb_cb___sf {
	struct _strp_msg___sf strp;
} __attribute__((preserve_access_index));

static __always_inline struct sk_skb_cb___sf *sf_skb_cb(struct __sk_buff *skb)
{
	struct sk_buff___sf *k = bpf_cast_to_kern_ctx(skb);

	return (struct sk_skb_cb___sf *)k->cb;
}

/* Why this connection should leave the kernel path now (SF_HANDOFF_*), or 0. */
static __always_inline __u32 sf_handoff_reason(__u64 cookie, const struct sf_conn *st)
{
	__u32 *requested = bpf_map_lookup_elem(&sf_handoff, &cookie);
	__u64 *consumed;

	if (requested && *requested)
		return SF_HANDOFF_REQUESTED;
	if (!sf_in_flight_max)
		return 0;
	consumed = bpf_map_lookup_elem(&sf_consumed, &cookie);
	if (consumed && st->forwarded > *consumed && st->forwarded - *consumed > sf_in_flight_max)
		return SF_HANDOFF_BACKLOG;
	return 0;
}

SEC("sk_skb/stream_parser")
int sf_parser(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct sf_conn *st = bpf_map_lookup_elem(&sf_conns, &cookie);
	struct sf_cursor cur = {skb, 0, 0};
	__u32 len = skb->len, reason;
	__u64 avail;
	long ret;

	if (!st)
		return -SF_EBADMSG; /* never frame a socket the core did not register */
	cur.opaque = &st->scratch.opaque;
	st->parser_calls++;
	cur.base = BPF_CORE_READ(sf_skb_cb(skb), strp.strp.offset);
	if (st->error)
		return -SF_EBADMSG;
	if (cur.base > len)
		return 0;
	avail = len - cur.base;
	/* The message starts right after what the verdict forwarded: the core uses this
	 * to know when strparser has looked at every byte the peer sent. */
	st->seen = st->forwarded + avail;
	reason = sf_handoff_reason(cookie, st);
	if (reason) {
		if (!st->held) {
			/* strparser holds nothing older than this call, and an error leaves this
			 * call's bytes in the TCP queue: stop here, losing nothing. */
			st->handed_off = reason;
			return -SF_EHANDOFF;
		}
		if (reason == SF_HANDOFF_REQUESTED) {
			/* Flush the incomplete message it holds (the core frames the stream
			 * itself); the next call then starts with nothing held and stops. */
			st->need = 0;
			return (long)avail;
		}
		/* Backlog: let the message in progress complete (at most max_message). */
	}
	ret = sf_parse(&cur, avail, st);
	st->held = ret == 0 || ret > (long)avail;
	return ret;
}

#ifndef SF_CUSTOM_VERDICT /* the proxy (sockframe_proxy.bpf.h) brings its own */
/* Redirect whole messages to the connection's delivery socket (egress, never
 * the source socket itself: ingress-to-self crashed the kernel on 6.18). */
SEC("sk_skb/stream_verdict")
int sf_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct sf_conn *st = bpf_map_lookup_elem(&sf_conns, &cookie);

	if (st) {
		st->forwarded += (__u32)BPF_CORE_READ(sf_skb_cb(skb), strp.strp.full_len);
		st->batches++;
		st->held = 0; /* what follows starts a new message in strparser */
	}
	return bpf_sk_redirect_hash(skb, &sf_targets, &cookie, 0);
}
#endif /* SF_CUSTOM_VERDICT */
#endif /* SOCKFRAME_HOST */

#endif /* SOCKFRAME_RUNTIME_BPF_H */
