/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The hash of a routing key, written once for BPF C, host C and C++:
 * FNV-1a 64 over the key's bytes in message order, after ASCII case folding when
 * the key says ignore_case (DNS names, RFC 4343: A-Z -> a-z; a DNS name is hashed
 * as its wire bytes, length octets included, which are below 64 and never fold).
 * Consistent hashing (the proxy's backend choice) starts from this value.
 */
#ifndef SOCKFRAME_HASH_H
#define SOCKFRAME_HASH_H

#include <linux/types.h>

#define SF_FNV_OFFSET 0xcbf29ce484222325ULL
#define SF_FNV_PRIME 0x100000001b3ULL

static inline __u64 sf_fnv1a_byte(__u64 h, __u8 b)
{
	return (h ^ b) * SF_FNV_PRIME;
}

/* ASCII A-Z -> a-z; every other byte unchanged. */
static inline __u8 sf_fold_ascii(__u8 b)
{
	return (__u8)(b - 'A') < 26 ? (__u8)(b + ('a' - 'A')) : b;
}

#endif
