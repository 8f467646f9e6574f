/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The cursor a generated rule reads through on the send side (included by
 * sockframe_prelude.bpf.h when SOCKFRAME_SEND is defined). The SK_MSG program copies
 * a message's first bytes into the socket's header window (a map value: sk_msg data
 * may span pages and is only linear after bpf_msg_pull_data), and the rule reads
 * from there with the same sf_load() calls it makes on an skb.
 */
#ifndef SOCKFRAME_SEND_CURSOR_BPF_H
#define SOCKFRAME_SEND_CURSOR_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sockframe_send_abi.h"

struct sf_cursor {
	const __u8 *hdr; /* SF_SEND_WINDOW valid bytes at most, 2 * SF_SEND_WINDOW addressable */
	__u64 room;      /* bytes of hdr that hold message bytes */
	__u64 *opaque;
};

static __always_inline __u64 sf_opaque(const struct sf_cursor *cur, __u64 x)
{
	*cur->opaque = x;
	return *(volatile __u64 *)cur->opaque;
}

/* Fails like bpf_skb_load_bytes past the bytes seen. n is a constant at every call site. */
static __always_inline long sf_load(const struct sf_cursor *cur, __u64 pos, void *to, __u32 n)
{
	__u32 i;

	if (pos + n > cur->room || n > SF_SEND_WINDOW)
		return -14;
	pos &= SF_SEND_WINDOW - 1;
	for (i = 0; i < n && i < SF_SEND_WINDOW; i++)
		((__u8 *)to)[i] = cur->hdr[pos + i];
	return 0;
}

#endif
