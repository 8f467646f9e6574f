/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract between sockframe's generated BPF programs and its C++ core:
 * per-connection state layout, error codes and the names of maps and programs.
 * Included by BPF C, by the host build of generated parsers and by C++.
 */
#ifndef SOCKFRAME_ABI_H
#define SOCKFRAME_ABI_H

#include <linux/types.h>

/* Framing errors; the same numbers name the same rules in the userspace framer. */
#define SF_ERR_NONE 0
#define SF_ERR_TOO_LONG 1     /* length field gives a total above max_message */
#define SF_ERR_TOO_SHORT 2    /* length field gives a total below the minimum */
#define SF_ERR_NO_DELIMITER 3 /* no delimiter within max_message bytes */
#define SF_ERR_BAD_MAGIC 4    /* value: offset of the magic bytes in the message */
#define SF_ERR_BAD_TRAILER 5  /* value: the message's length */
#define SF_ERR_BAD_LENGTH_FIELD 6 /* value: offset of the malformed byte in the message */
#define SF_ERR_BAD_PREFACE 7  /* value: offset of the first differing byte */
#define SF_ERR_NO_STATE 100   /* socket has no sf_conns entry (core bug) */

/*
 * Per-connection state, keyed by the socket cookie of the application's socket.
 * The core creates the entry before the socket joins the map; BPF only updates it.
 * Parser and verdict for one socket never run concurrently (strparser serialises them).
 */
struct sf_conn {
	__u64 forwarded;   /* bytes of whole messages the verdict redirected to the core */
	__u64 batches;     /* verdict calls (one per redirected batch of messages) */
	__u64 parser_calls;
	__u64 need;        /* total length of the message being assembled, 0 if unknown */
	__u64 seen;        /* stream bytes the parser has looked at (forwarded + available) */
	__u64 error_value; /* the value that broke the rule (a total length, a limit) */
	__u32 scan_pos;    /* delimiter scan: bytes of the current message already scanned */
	__s32 error;       /* SF_ERR_*, set once; parsing stops after it */
	__u32 phase;       /* 0: the first message (preface / first_length) is pending */
	__u32 held;        /* 1: strparser holds bytes of an incomplete message (not forwarded) */
	__u32 handed_off;  /* SF_HANDOFF_*: the parser stopped so the core frames in userspace */
	__u32 pad;
	/* Parser-private working state of one call. It lives in the map value, not on
	 * the stack, because the verifier tracks stack values exactly and a scan loop
	 * over them never converges; map values are opaque to it. */
	struct {
		__u64 avail, pos, msg_start, first, maxb, value;
		__u64 opaque; /* sf_opaque() */
		__u32 found, single;
		__s32 err;
		__u32 pad;
	} scratch;
};

/*
 * Hand-off to userspace framing. The parser stops by returning -SF_EHANDOFF at a
 * call where strparser holds nothing unforwarded: strparser then leaves that
 * call's bytes, and all later ones, in the socket's TCP receive queue (TCP flow
 * control applies again), and sets SO_ERROR = SF_EHANDOFF on it. The core reads
 * the delivery socket up to `forwarded`, removes the socket from the sockmap and
 * reads it directly from there: no byte lost or duplicated.
 */
#define SF_EHANDOFF 86          /* ESTRPIPE */
#define SF_HANDOFF_BACKLOG 1    /* forwarded - consumed exceeded sf_in_flight_max */
#define SF_HANDOFF_REQUESTED 2  /* the core asked (sf_handoff entry), e.g. a stalled socket */

/*
 * Routing ([route] in the description; generated sf_route_message and
 * sf_first_message_key, see bpf/sockframe_route.bpf.h). Actions and the
 * decision about one whole message:
 */
#define SF_ROUTE_PASS 0
#define SF_ROUTE_DROP 1
#define SF_ROUTE_GROUP 2
#define SF_NO_RULE 0xffffffffu

struct sf_route {
	__u64 key_hash; /* FNV-1a 64 of the key (bpf/sockframe_hash.h), when has_key */
	__u32 action;   /* SF_ROUTE_*: the first matching rule's action; PASS if none */
	__u32 group;    /* action == SF_ROUTE_GROUP: index of the backend group (in order of first appearance) */
	__u32 rule;     /* index of the rule that matched, or SF_NO_RULE */
	__u32 has_key;  /* 1: the message carries a well-formed key */
};

/* The key of a stream's first message (TLS SNI, PostgreSQL database, MQTT client id). */
#define SF_KEY_MAX 256
struct sf_key {
	__u64 hash;    /* FNV-1a 64 of bytes[0, len) */
	__u64 offset;  /* where the key starts in the message */
	__u32 len;     /* 1..SF_KEY_MAX */
	__u32 has_key; /* 1: found and well-formed; otherwise the other fields are 0 */
	__u8 bytes[SF_KEY_MAX]; /* the key (ASCII-folded when the key ignores case), zero-padded */
};

#define SF_MAP_SOCKETS "sf_sockets" /* SOCKHASH cookie -> app socket; parser + verdict */
#define SF_MAP_TARGETS "sf_targets" /* SOCKHASH cookie -> delivery socket; no programs */
#define SF_MAP_CONNS "sf_conns"     /* HASH cookie -> struct sf_conn */
#define SF_MAP_CONSUMED "sf_consumed" /* HASH cookie -> __u64 bytes the core has read (written by the core) */
#define SF_MAP_HANDOFF "sf_handoff"   /* HASH cookie -> __u32 1 = hand off at the next chance (written by the core) */
#define SF_PROG_PARSER "sf_parser"
#define SF_PROG_VERDICT "sf_verdict"

#endif
