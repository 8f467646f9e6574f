/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Included first by every generated parser: types, the byte loader and the
 * result codes a protocol rule uses. The rest of the machinery follows the
 * rule, in sockframe_runtime.bpf.h.
 */
#ifndef SOCKFRAME_PRELUDE_BPF_H
#define SOCKFRAME_PRELUDE_BPF_H

#ifdef SOCKFRAME_HOST
#include "sockframe_host_shim.h"
#elif defined(SOCKFRAME_SEND)
#include "sockframe_send_cursor.bpf.h" /* the send side reads a header window */
#else
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* Where the current message starts inside the skb strparser passes in. */
struct sf_cursor {
	struct __sk_buff *skb;
	__u64 base;
	__u64 *opaque; /* a word in the connection's map value, see sf_opaque() */
};

/* Returns x, but through map memory, whose contents the verifier does not
 * track: paths that differ only in x's exact value then share one state.
 * Strparser runs one parser call per socket at a time, so the word is private. */
static __always_inline __u64 sf_opaque(const struct sf_cursor *cur, __u64 x)
{
	*cur->opaque = x;
	return *(volatile __u64 *)cur->opaque;
}

/* bpf_skb_load_bytes only: direct packet access sees no data on loopback. */
static __always_inline long sf_load(const struct sf_cursor *cur, __u64 pos, void *to, __u32 n)
{
	return bpf_skb_load_bytes(cur->skb, (__u32)(cur->base + pos), to, n);
}
#endif

#include "sockframe_abi.h"

/* What a protocol rule answers about the message starting at `pos`. */
#define SF_NEED_MORE 0    /* not enough bytes yet to know the length */
#define SF_LENGTH_KNOWN 1 /* *total holds the message's full length */
/* or -SF_ERR_*, with *value holding the offending number */

/* sf_total(), sf_digit(): the same functions the userspace framer calls. */
#include "sockframe_primitives.h"

#endif
