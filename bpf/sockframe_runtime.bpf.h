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

/* total = header + value * scale, saturating instead of wrapping. */
static __always_inline __u64 sf_total(__u64 value, __u64 scale, __u64 header)
{
	if (scale && value > (~0ULL - header) / scale)
		return ~0ULL;
	return header + value * scale;
}

#ifdef SF_FRAMING_LENGTH
/* ---- length framing: walk over whole messages ---------------------------- */
struct sf_walk {
	struct sf_cursor *cur;
	__u64 avail;  /* bytes from the first message's start to the end of the skb */
	__u64 pos;    /* total length of the whole messages walked so far */
	__u64 first;  /* total length of the first message once known */
	__u64 value;  /* error value */
	__u64 maxb;
	__u32 n;      /* whole messages walked */
	__s32 err;
};

/* Branches only on the callback index i, never on a counter that starts at a
 * constant: the verifier would track such a counter exactly and never converge. */
static long sf_walk_step(__u32 i, void *data)
{
	struct sf_walk *w = data;
	__u64 total = 0, value = 0;
	int r;

	if (w->pos > w->avail)
		return 1;
	r = sf_frame_length(w->cur, w->pos, w->avail - w->pos, &total, &value);
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
	if (i > 0 && w->pos + total > w->maxb)
		return 1;
	w->pos += total;
	w->n = i + 1;
	return 0;
}

static __always_inline long sf_parse(struct sf_cursor *cur, __u64 avail, struct sf_conn *st)
{
	struct sf_walk w = {};
	__u32 maxn = sf_batch_max_msgs;

	if (maxn > SF_BATCH_HARD_MAX)
		maxn = SF_BATCH_HARD_MAX;
	if (maxn < 1)
		maxn = 1;
	w.cur = cur;
	w.avail = avail;
	w.maxb = sf_batch_max_bytes;
	bpf_loop(maxn, sf_walk_step, &w, 0);
	if (w.n) {
		st->need = 0;
		return (long)w.pos;
	}
	if (w.err) {
		st->error = w.err;
		st->error_value = w.value;
		return -SF_EBADMSG;
	}
	st->need = w.first;
	return (long)w.first; /* 0 while the first header is incomplete */
}
#endif /* SF_FRAMING_LENGTH */

#ifdef SF_FRAMING_DELIMITER
/* ---- delimiter framing: chunked scan, resumable across calls ------------- */
#define SF_CHUNK 64
#define SF_WINDOW 128 /* power of two >= SF_CHUNK + SF_DELIM_LEN - 1 */

/* Scan state (in st->scratch): pos = next position where a delimiter may start;
 * msg_start = start of the message being scanned = end of the whole ones;
 * found = at least one whole message; single = per-message framing. */
struct sf_scan_ctx {
	struct sf_cursor *cur;
	struct sf_conn *st;
};

/* One step: find the first delimiter in the next window, or move one chunk on.
 * The inner loop only looks for the delimiter, which keeps verification cheap. */
static long sf_scan_step(__u32 i, void *data)
{
	struct sf_scan_ctx *ctx = data;
	struct sf_cursor *cur = ctx->cur;
	typeof(ctx->st->scratch) *s = &ctx->st->scratch;
	__u8 buf[SF_WINDOW];
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
	if (sf_load(cur, s->pos, buf, want) < 0)
		return 1;
	checked = want - SF_DELIM_LEN + 1;
	for (j = 0; j < SF_CHUNK; j++) {
		if (j >= checked || sf_is_delim(buf, j))
			break;
	}
	if (j >= checked) {
		s->pos += checked;
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
	s->found = 1;
	s->msg_start = end;
	s->pos = end;
	return s->single ? 1 : 0;
}

static __always_inline long sf_parse(struct sf_cursor *cur, __u64 avail, struct sf_conn *st)
{
	struct sf_scan_ctx ctx = {cur, st};
	__u64 start = st->scan_pos, steps;

	st->scratch.avail = avail;
	st->scratch.pos = 0;
	st->scratch.msg_start = 0;
	st->scratch.maxb = sf_batch_max_bytes;
	st->scratch.found = 0;
	st->scratch.single = sf_batch_max_msgs <= 1;
	st->scratch.err = 0;
	/* Resume: bytes before scan_pos were scanned by an earlier call and hold no delimiter. */
	if (start <= avail)
		st->scratch.pos = start;
	/* enough steps for every chunk plus one per message found */
	steps = (avail - st->scratch.pos) / SF_CHUNK * 2 + 4;
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

SEC("sk_skb/stream_parser")
int sf_parser(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct sf_conn *st = bpf_map_lookup_elem(&sf_conns, &cookie);
	struct sf_cursor cur = {skb, 0};
	__u32 len = skb->len;

	if (!st)
		return -SF_EBADMSG; /* never frame a socket the core did not register */
	st->parser_calls++;
	cur.base = BPF_CORE_READ(sf_skb_cb(skb), strp.strp.offset);
	if (st->error)
		return -SF_EBADMSG;
	if (cur.base > len)
		return 0;
	return sf_parse(&cur, len - cur.base, st);
}

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
	}
	return bpf_sk_redirect_hash(skb, &sf_targets, &cookie, 0);
}
#endif /* SOCKFRAME_HOST */

#endif /* SOCKFRAME_RUNTIME_BPF_H */
