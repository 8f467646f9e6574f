/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The send side for delimited messages (included by sockframe_send.bpf.h when the
 * generated file defines SF_FRAMING_DELIMITER): sf_send_delimited scans what a
 * writer sends for the delimiter, the same word-at-a-time test the stream parser
 * uses (sockframe_delim_scan.bpf.h), and
 *  - lets each message through when its delimiter is seen (apply, the program runs
 *    again on the rest of the sendmsg);
 *  - holds a message that starts a sendmsg until its delimiter arrives (a cork of
 *    one more byte at a time: nobody knows the length; positions already ruled out
 *    are remembered in scan_pos, so each byte is tested once);
 *  - drops a message with no delimiter within max_message bytes.
 * Where a cork would stall the socket (after an apply in the same sendmsg, see
 * sockframe_send.bpf.h) the bytes leave as written and the message's last
 * SF_DELIM_LEN - 1 bytes are kept in st->hdr, so a delimiter split over two writes
 * is still found.
 */
#ifndef SOCKFRAME_SEND_DELIM_BPF_H
#define SOCKFRAME_SEND_DELIM_BPF_H

#include "sockframe_delim_scan.bpf.h"

#if SF_DELIM_LEN > 16
#error "a delimiter is at most 16 bytes (the description reader enforces it)"
#endif

/* Copies n (1..SF_WINDOW) bytes of this run, from offset off, to `to`. sk_msg data is
 * a scatterlist: bpf_msg_pull_data makes [off, off + n) linear (copying only when
 * the range spans pages) and points msg->data at off. */
static __always_inline int sf_msg_copy(struct sk_msg_md *msg, __u32 off, void *to, __u32 n)
{
	void *data, *end;

	if (bpf_msg_pull_data(msg, off, off + n, 0))
		return -1;
	data = (void *)(long)msg->data;
	end = (void *)(long)msg->data_end;
	if (data + n > end)
		return -1;
	return bpf_probe_read_kernel(to, n, data) ? -1 : 0;
}

struct sf_send_scan_ctx {
	struct sk_msg_md *msg;
	struct sf_send_conn *st; /* st->scan: the scan's state */
};

/* One bpf_loop step: find the first delimiter in the next window, or move on. */
static long sf_send_scan_step(__u32 i, void *data)
{
	struct sf_send_scan_ctx *ctx = data;
	typeof(ctx->st->scan) *s = &ctx->st->scan;
	__u64 words[SF_WINDOW / 8];
	__u64 want;
	__u32 j;

	(void)i;
	if (s->pos + SF_DELIM_LEN > s->size)
		return 1;
	want = s->size - s->pos;
	if (want > SF_CHUNK + SF_DELIM_LEN - 1)
		want = SF_CHUNK + SF_DELIM_LEN - 1;
	want = ((want - 1) & (SF_WINDOW - 1)) + 1; /* [1, SF_WINDOW] for the verifier */
	if (sf_msg_copy(ctx->msg, (__u32)s->pos, words, (__u32)want)) {
		s->failed = 1;
		return 1;
	}
	if (!sf_find_delim(words, (__u32)(want - SF_DELIM_LEN + 1), &j)) {
		s->pos += j;
		return 0;
	}
	s->at = s->pos + j;
	s->found = 1;
	return 1;
}

#if SF_DELIM_LEN > 1
/* A delimiter that starts in the kept tail (hdr[0, tail_len)) and ends in this run:
 * copies the run's first bytes behind the tail and tests each start in the tail.
 * Returns 1 with *end (bytes of this run up to the delimiter's end), 0, or -1. */
static __always_inline int sf_send_straddle(struct sk_msg_md *msg, struct sf_send_conn *st, __u64 size,
					    __u64 *end)
{
	__u32 tail = st->tail_len & 15, got, j;

	got = size < SF_DELIM_LEN - 1 ? (__u32)size : SF_DELIM_LEN - 1;
	got &= 15;
	if (!tail || !got)
		return 0;
	if (sf_msg_copy(msg, 0, &st->hdr[tail], got))
		return -1;
	for (j = 0; j < SF_DELIM_LEN - 1; j++) {
		if (j >= tail || j + SF_DELIM_LEN > tail + got)
			break;
		if (sf_is_delim(st->hdr, j)) {
			*end = j + SF_DELIM_LEN - tail;
			return 1;
		}
	}
	return 0;
}

/* After a run that leaves without ending its message: keep the message's last
 * min(SF_DELIM_LEN - 1, bytes so far) bytes in hdr[0, tail_len). When the message
 * continued (held), sf_send_straddle already copied this run's first bytes behind
 * the old tail. */
static __always_inline int sf_send_keep_tail(struct sk_msg_md *msg, struct sf_send_conn *st, __u64 size)
{
	const __u32 keep = SF_DELIM_LEN - 1;
	__u32 have, shift, i;

	if (size >= keep) {
		if (sf_msg_copy(msg, (__u32)(size - keep), st->hdr, keep))
			return -1;
		st->tail_len = keep;
		return 0;
	}
	if (!st->held) { /* the message starts in this short run */
		__u32 n = (__u32)size & 15;

		if (n && sf_msg_copy(msg, 0, st->hdr, n))
			return -1;
		st->tail_len = n;
		return 0;
	}
	have = (st->tail_len & 15) + ((__u32)size & 15);
	shift = have > keep ? have - keep : 0;
	for (i = 0; i < SF_DELIM_LEN - 1; i++) {
		if (i + shift >= have)
			break;
		st->hdr[i] = st->hdr[(i + shift) & 31];
	}
	st->tail_len = have - shift;
	return 0;
}
#endif

static __always_inline int sf_send_delimited(struct sk_msg_md *msg, struct sf_send_conn *st, __u32 rerun)
{
	struct sf_send_scan_ctx ctx = {msg, st};
	__u64 size = msg->size, end = 0, total, steps;
	int found = 0;

	st->scan.pos = 0;
#if SF_DELIM_LEN > 1
	if (st->held) {
		found = sf_send_straddle(msg, st, size, &end);
		if (found < 0)
			return sf_send_reject(st, SF_ERR_SEND_READ, 0);
	}
#endif
	if (!found) {
		st->scan.size = size;
		st->scan.found = 0;
		st->scan.failed = 0;
		/* a held-back message comes back whole: resume where the last run stopped */
		if (!rerun && !st->held && st->scan_pos <= size)
			st->scan.pos = st->scan_pos;
		/* a step moves at least a word on, or ends the scan */
		steps = (size - st->scan.pos) / 8 + 4;
		if (steps > (1 << 23))
			steps = 1 << 23; /* bpf_loop's limit */
		bpf_loop((__u32)steps, sf_send_scan_step, &ctx, 0);
		if (st->scan.failed || (!st->scan.found && st->scan.pos + SF_DELIM_LEN <= size))
			return sf_send_reject(st, SF_ERR_SEND_READ, st->scan.pos);
		if (st->scan.found) {
			found = 1;
			end = st->scan.at + SF_DELIM_LEN;
		}
	}
	if (found) {
		total = st->held + end;
		if (total > SF_MAX_MESSAGE)
			return sf_send_reject(st, SF_ERR_NO_DELIMITER, SF_MAX_MESSAGE);
		st->messages++;
		st->bytes += total;
		st->held = 0;
		st->scan_pos = 0;
		st->tail_len = 0;
		st->corking = 0;
		return sf_send_pass(msg, st, end);
	}
	/* No end in this run. Every end still possible lies beyond held + size bytes. */
	if (st->held + size >= SF_MAX_MESSAGE)
		return sf_send_reject(st, SF_ERR_NO_DELIMITER, SF_MAX_MESSAGE);
	if (!rerun && !st->held && size < sf_cork_max) {
		/* a sendmsg starts with this message: hold it until one more byte comes */
		if (!st->corking)
			st->corks++;
		st->corking = 1;
		st->scan_pos = (__u32)st->scan.pos;
		bpf_msg_apply_bytes(msg, 0);
		bpf_msg_cork_bytes(msg, (__u32)size + 1);
		return SK_PASS;
	}
	/* Let it through as written (a cork here could stall the socket, or the message
	 * is above the cork limit); the tail keeps a split delimiter findable. */
	if (!st->held)
		st->uncorked++;
#if SF_DELIM_LEN > 1
	if (sf_send_keep_tail(msg, st, size))
		return sf_send_reject(st, SF_ERR_SEND_READ, 0);
#endif
	st->held += (__u32)size;
	st->scan_pos = 0;
	st->corking = 0;
	return sf_send_pass(msg, st, size);
}

#endif /* SOCKFRAME_SEND_DELIM_BPF_H */
