/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sockframe send-side runtime: the part of every generated SK_MSG program that does
 * not depend on the protocol. The generated file defines SOCKFRAME_SEND, the
 * protocol's sf_frame_length() (the same rule the stream parser uses) or its
 * delimiter (SF_FRAMING_DELIMITER, sf_is_delim: sockframe_send_delim.bpf.h) and
 * SF_MAX_MESSAGE, then includes this header, which supplies sf_send: the msg verdict
 * on sf_send_sockets that lets only well-formed messages leave the socket.
 *
 * Two behaviours of the kernel (6.18, ../docs/send.md) shape it:
 *  - Corking the rest of a sendmsg after an apply within the same sendmsg stalls
 *    the socket, and the kernel keeps a cork request in the sk_msg from one run of
 *    the program to the next (so an earlier cork of the same sk_msg counts). So sf_send corks only at a run that starts a sendmsg (st->rerun
 *    clear, nothing of the message let through yet); after an apply in the same
 *    sendmsg the rest of the message is let through as it comes, its framing kept
 *    by st->left, never corked.
 *  - An SK_DROP is final: every later send on the socket fails with EACCES without
 *    the program running. So a malformed message is recorded (rule, value, stream
 *    offset) in the socket's state for the core to report, and dropped.
 * apply_bytes is never larger than the current run: a verdict cached across
 * sendmsgs would hide where the next message starts from this program.
 */
#ifndef SOCKFRAME_SEND_BPF_H
#define SOCKFRAME_SEND_BPF_H

char LICENSE[] SEC("license") = "GPL"; /* bpf_probe_read_kernel */

/* Largest message held back until whole (set by the core before load). Larger ones
 * leave as they are written, still framed and checked. */
const volatile __u64 sf_cork_max = 65536;

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} sf_send_sockets SEC(".maps");

/* Socket-local: created by the core (key: the socket's fd) before the socket joins
 * sf_send_sockets, gone with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sf_send_conn);
} sf_send_conns SEC(".maps");

#ifndef SF_FRAMING_DELIMITER
/* Copies this run's first bytes behind the held ones into the header window.
 * Returns the bytes in the window. */
static __always_inline __u32 sf_fill_window(struct sk_msg_md *msg, struct sf_send_conn *st)
{
	__u32 held = st->held & (SF_SEND_WINDOW - 1); /* held < SF_SEND_WINDOW always */
	__u32 want = SF_SEND_WINDOW - held;
	void *data, *end;

	if (want > msg->size)
		want = msg->size;
	if (!want)
		return held;
	data = (void *)(long)msg->data;
	end = (void *)(long)msg->data_end;
	if (data + want > end) {
		/* not linear (sendfile, several pages): make the first bytes so */
		if (bpf_msg_pull_data(msg, 0, want, 0))
			return held;
		data = (void *)(long)msg->data;
		end = (void *)(long)msg->data_end;
		if (data + want > end)
			return held;
	}
	want &= 2 * SF_SEND_WINDOW - 1; /* proves held + want <= sizeof(st->hdr) */
	if (bpf_probe_read_kernel(&st->hdr[held], want, data))
		return held;
	return held + want;
}
#endif

/* Records why the message starting at the held bytes is malformed, and drops it. */
static __always_inline int sf_send_reject(struct sf_send_conn *st, int rule, __u64 value)
{
	st->error = rule;
	st->error_value = value;
	st->error_offset = st->offset - st->held;
	return SK_DROP;
}

/* Lets `n` bytes of this run through (n <= msg->size). */
static __always_inline int sf_send_pass(struct sk_msg_md *msg, struct sf_send_conn *st, __u64 n)
{
	if (n < msg->size)
		st->rerun = 1; /* the program runs again on the rest of this sendmsg */
	st->offset += n;
	/* The kernel keeps a cork request in the sk_msg across runs of the program on
	 * it: a message corked earlier in this sk_msg would cork the rest after this
	 * apply, and a cork after an apply stalls the socket. Clear it every time. */
	bpf_msg_cork_bytes(msg, 0);
	bpf_msg_apply_bytes(msg, (__u32)n);
	return SK_PASS;
}

#ifdef SF_FRAMING_DELIMITER
#include "sockframe_send_delim.bpf.h" /* sf_send_delimited */
#else
/* One run under a length rule: the rest of a message of known length, or the
 * length read from the header window. */
static __always_inline int sf_send_length(struct sk_msg_md *msg, struct sf_send_conn *st, __u32 rerun)
{
	struct sf_cursor cur;
	__u64 total = 0, value = 0, need, size = msg->size;
	__u32 room;
	int r;

	if (st->left) { /* the rest of a message whose length is known */
		need = st->left < size ? st->left : size;
		st->left -= need;
		if (!st->left)
			st->messages++;
		return sf_send_pass(msg, st, need);
	}

	room = sf_fill_window(msg, st);
	cur.hdr = st->hdr;
	cur.room = room;
	cur.opaque = &st->opaque;
	r = sf_frame_length(&cur, 0, room, &total, &value);
	if (r < 0)
		return sf_send_reject(st, -r, value);
	if (r == SF_NEED_MORE) {
		if (room >= SF_SEND_WINDOW)
			return sf_send_reject(st, SF_ERR_SEND_HEADER, room);
		if (!rerun && !st->held) {
			/* a sendmsg starts here: wait for one more byte */
			bpf_msg_apply_bytes(msg, 0);
			bpf_msg_cork_bytes(msg, (__u32)size + 1);
			return SK_PASS;
		}
		/* Not at the start of a sendmsg, where a cork would stall the socket:
		 * the header bytes leave, the window keeps them for the next run. */
		st->held = room;
		return sf_send_pass(msg, st, size);
	}
	need = total - st->held; /* held < total: the length was unknown with held bytes */
	if (need <= size) {
		st->held = 0;
		st->messages++;
		st->bytes += total;
		return sf_send_pass(msg, st, need);
	}
	if (!rerun && !st->held && total <= sf_cork_max) {
		/* a sendmsg starts with this message: hold it until it is whole */
		st->corks++;
		bpf_msg_apply_bytes(msg, 0);
		bpf_msg_cork_bytes(msg, (__u32)total);
		return SK_PASS;
	}
	st->uncorked++;
	st->held = 0;
	st->bytes += total;
	st->left = need - size;
	return sf_send_pass(msg, st, size);
}
#endif

SEC("sk_msg")
int sf_send(struct sk_msg_md *msg)
{
	struct sf_send_conn *st;
	__u32 rerun;

	if (!msg->sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&sf_send_conns, msg->sk, 0, 0);
	if (!st)
		return SK_PASS; /* not registered by the core: not ours to judge */
	st->calls++;
	if (st->error)
		return SK_DROP;
	rerun = st->rerun;
	st->rerun = 0;
#ifdef SF_FRAMING_DELIMITER
	return sf_send_delimited(msg, st, rerun);
#else
	return sf_send_length(msg, st, rerun);
#endif
}

#endif /* SOCKFRAME_SEND_BPF_H */
