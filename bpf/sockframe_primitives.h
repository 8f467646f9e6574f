/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The small framing steps that the BPF side and the C++ side both take, written
 * once. Included by sockframe_prelude.bpf.h (so by every generated parser, in the
 * kernel and in the host harness of tests/differential) and by the C++ userspace
 * framer (core/description/length_rule.cpp). Plain C without helpers or globals:
 * clang -target bpf, the host C compiler and C++ all take it.
 *
 * Sharing them means a bug here would be the same on both sides, where the
 * differential tests cannot see it: tests/unit/test_primitives.cpp holds them to
 * their definitions directly.
 */
#ifndef SOCKFRAME_PRIMITIVES_H
#define SOCKFRAME_PRIMITIVES_H

#include <linux/types.h>

/* total = base + value * scale + adjust, saturating at UINT64_MAX and at 0. */
static __always_inline __u64 sf_total(__u64 value, __u64 scale, __u64 base, __s64 adjust)
{
	__u64 t = (scale && value > (~0ULL - base) / scale) ? ~0ULL : base + value * scale;

	if (adjust >= 0)
		return t > ~0ULL - (__u64)adjust ? ~0ULL : t + (__u64)adjust;
	return t < (__u64)-adjust ? 0 : t - (__u64)-adjust;
}

/* Value of an ASCII digit (with hex: also a-f and A-F), or -1. */
static __always_inline int sf_digit(__u8 c, int hex)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (hex && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (hex && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The first `width` bytes of p (at most 8) as one big-endian (big != 0) or
 * little-endian integer. Generated parsers spell this out per field instead
 * ("(__u64)f[0] << 8 | (__u64)f[1]", core/codegen), so the rule reads as the
 * description states it; both follow this definition.
 */
static __always_inline __u64 sf_uint(const __u8 *p, __u32 width, int big)
{
	__u64 v = 0;
	__u32 i;

	for (i = 0; i < width; i++)
		v = v << 8 | p[big ? i : width - 1 - i];
	return v;
}

#endif
