/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the steering program (sockframe_steer.bpf.c) and the core
 * (core/steer/) share: the layout of its maps. Included by BPF C and C++.
 */
#ifndef SOCKFRAME_STEER_ABI_H
#define SOCKFRAME_STEER_ABI_H

#include <linux/types.h>

/* Rules are scanned in order; the loop bound the verifier sees. */
#define SF_STEER_MAX_RULES 64

/* One (address prefix, port range) entry. addr is already masked, so a
 * connection matches when (local address & mask) == addr, word by word. */
struct sf_steer_rule {
	__u32 family;    /* AF_INET (2) or AF_INET6 (10) */
	__u16 port_low;  /* host byte order, inclusive */
	__u16 port_high; /* host byte order, inclusive */
	__u32 addr[4];   /* network byte order; IPv4 uses addr[0] */
	__u32 mask[4];   /* network byte order */
};

/* Key 0 of sf_steer_conf. Written before the link is attached. */
struct sf_steer_config {
	__u32 rules;     /* how many entries of sf_steer_rules are in use */
	__u32 workers;   /* listeners in sf_steer_socks, keys 0 .. workers-1 */
	__u32 owner_pid; /* the process that attached it: named by a second instance */
	__u32 reserved;
};

/* Key 0 of sf_steer_stats. */
struct sf_steer_stats {
	__u64 steered;     /* connections assigned to a worker's listener */
	__u64 no_listener; /* matched, but the worker's slot was empty: dropped */
	__u64 assign_failed;
};

#endif
