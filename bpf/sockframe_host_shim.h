/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lets a generated parser compile as ordinary host C, so tests can run the exact
 * framing code that the kernel runs against sockframe's userspace framer.
 * Only what sockframe_runtime.bpf.h uses is provided.
 */
#ifndef SOCKFRAME_HOST_SHIM_H
#define SOCKFRAME_HOST_SHIM_H

#include <linux/types.h>
#include <string.h>

#undef __always_inline /* glibc has its own */
#define __always_inline inline __attribute__((always_inline))

/* The host cursor is a plain byte range; loads past its end fail like bpf_skb_load_bytes. */
struct sf_cursor {
	const unsigned char *data;
	__u64 len;
	__u64 base; /* strparser's message offset */
};

static __always_inline long sf_load(const struct sf_cursor *cur, __u64 pos, void *to, __u32 n)
{
	if (cur->base + pos > cur->len || n > cur->len - cur->base - pos)
		return -14; /* -EFAULT, as bpf_skb_load_bytes */
	memcpy(to, cur->data + cur->base + pos, n);
	return 0;
}

static __always_inline __u64 sf_opaque(const struct sf_cursor *cur, __u64 x)
{
	(void)cur;
	return x;
}

static inline long bpf_loop(__u32 nr_loops, long (*callback)(__u32, void *), void *ctx, __u64 flags)
{
	(void)flags;
	for (__u32 i = 0; i < nr_loops; i++)
		if (callback(i, ctx))
			return i + 1;
	return nr_loops;
}

#endif
