/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract between the proxy's BPF verdict (sockframe_proxy.bpf.h) and the
 * C++ proxy (core/route/kernel_proxy.cpp): map names, values and slots.
 *
 * Every socket of the proxy sits in sf_sockets (SOCKHASH) under
 *   SF_PX_KEY(client, slot):  slot 0 = the client's socket,
 *                             slot b + 1 = the client's connection to backend b,
 * so a verdict finds the other end of a message from its own socket's entry in
 * sf_px_socks, and every redirect is EGRESS into a different socket.
 */
#ifndef SOCKFRAME_PROXY_ABI_H
#define SOCKFRAME_PROXY_ABI_H

#include <linux/types.h>

#define SF_PX_KEY(client, slot) (((__u64)(client) << 8) | (__u64)(slot))
#define SF_PX_TABLE_SIZE 65537   /* Maglev table (kMaglevSize): slot -> backend */
#define SF_PX_MAX_BACKENDS 255   /* slots 1..255 of a client's key */
#define SF_PX_MAX_RULES 64       /* rules with counters of their own */
#define SF_PX_NO_BACKEND 0xffffffffu
#define SF_PX_VALUE_MAX 256      /* SF_KEY_MAX: a first-message key value */

/* Route modes (sf_px_mode, set before load). */
#define SF_PX_ROUTE_KEY 0
#define SF_PX_ROUTE_ROUND_ROBIN 1
#define SF_PX_ROUTE_CONNECTION 2
#define SF_PX_ROUTE_FIRST_KEY 3

/* sf_px_sock.chosen besides backend + 1: */
#define SF_PX_CHOSEN_NONE 0             /* not chosen yet (first-key) */
#define SF_PX_CHOSEN_REFUSED 0xffffffffu /* first-key: no backend for the key; the core closes it */

/* One socket of the proxy (HASH sf_px_socks, keyed by socket cookie), written by
 * the core before the socket joins sf_sockets; the verdict updates it. */
struct sf_px_sock {
	__u64 client;   /* the client id */
	__u32 slot;     /* 0: the client socket; b + 1: its connection to backend b */
	__u32 chosen;   /* client: backend + 1 for connection mode, keyless messages, first-key */
	__u64 rr;       /* client: round-robin counter */
	__u64 messages; /* verdict calls on this socket (messages, or batches of them) */
	__u64 bytes;
	__u64 errors;   /* redirects that failed (the other end is gone) */
	/* client, barriers (sf_px_barrier): the backend + 1 of the last request since
	 * the last barrier, whether requests since then went to more than one backend,
	 * and barriers refused because they did (the core closes such a client). */
	__u32 last_backend;
	__u32 many_backends;
	__u64 barriers_refused;
};

/* Counters of one backend (ARRAY sf_px_backend_counts) or one rule (sf_px_rule_counts). */
struct sf_px_count {
	__u64 messages, bytes;       /* requests to the backend / messages that matched the rule */
	__u64 replies, reply_bytes;  /* replies from the backend */
	__u64 errors;                /* requests that could not be redirected to it */
};

/* Global counters (ARRAY sf_px_global), by index: */
#define SF_PX_G_DROPS 0      /* messages a drop rule discarded */
#define SF_PX_G_NO_BACKEND 1 /* messages or first messages with no backend to go to */
#define SF_PX_G_NO_STATE 2   /* verdict on a socket the core did not register (a bug) */
#define SF_PX_G_BARRIERS_REFUSED 3 /* barriers after requests to several backends (kernel path: one target) */
#define SF_PX_G_COUNT 4

/* First-key backends named by value (HASH sf_px_values): the exact key bytes. */
struct sf_px_value {
	__u32 len;
	__u8 bytes[SF_PX_VALUE_MAX];
};

/* Live backends for round-robin (ARRAY sf_px_live): [0] = how many, [1..n] = indexes. */

#define SF_MAP_PX_SOCKS "sf_px_socks"
#define SF_MAP_PX_TABLE "sf_px_table"
#define SF_MAP_PX_LIVE "sf_px_live"
#define SF_MAP_PX_VALUES "sf_px_values"
#define SF_MAP_PX_BACKEND_COUNTS "sf_px_backend_counts"
#define SF_MAP_PX_RULE_COUNTS "sf_px_rule_counts"
#define SF_MAP_PX_GLOBAL "sf_px_global"

#endif
