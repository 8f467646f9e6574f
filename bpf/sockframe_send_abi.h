/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract between the generated send-side program (SK_MSG, bpf/sockframe_send.bpf.h)
 * and the core's send plane (core/send/): per-socket state, map and program names.
 * Included by BPF C and by C++.
 */
#ifndef SOCKFRAME_SEND_ABI_H
#define SOCKFRAME_SEND_ABI_H

#include <linux/types.h>

/* Header bytes the send program can look at before it knows a message's length:
 * descriptions whose length needs more are enforced in userspace only. */
#define SF_SEND_WINDOW 64

/*
 * Per-socket send state, keyed by the socket cookie. The core creates it before the
 * socket joins sf_send_sockets; the program only updates it. The kernel runs one
 * msg verdict per socket at a time (under the socket lock), so the entry is private.
 */
struct sf_send_conn {
	/* counters */
	__u64 messages;    /* whole messages let through */
	__u64 bytes;       /* their bytes */
	__u64 calls;       /* program runs */
	__u64 corks;       /* messages held back (bpf_msg_cork_bytes) until whole */
	__u64 uncorked;    /* messages whose first bytes left before the rest was written */
	/* framing state */
	__u64 offset;      /* stream bytes let through so far */
	__u64 left;        /* bytes of the current message still to come (0: at a message start) */
	__u64 error_offset; /* stream offset of the malformed message */
	__u64 error_value;  /* the value that broke the rule */
	__s32 error;       /* SF_ERR_* once a message was dropped; the kernel refuses every later send */
	__u32 rerun;       /* 1: the next run continues the same sendmsg after an apply: never cork there */
	__u32 held;        /* bytes of the current message already let through: header bytes whose length
	                    * is not known yet (length rules), every byte so far (delimiters) */
	__u32 scan_pos;    /* delimiter: positions of a held-back message already ruled out */
	__u32 tail_len;    /* delimiter: the message's last bytes kept in hdr[] for a delimiter that
	                    * straddles two writes */
	__u32 corking;     /* delimiter: the current message is held back (counted in corks once) */
	/* The header window: held bytes, then what this run sees. Twice the window so a
	 * masked index plus a field width always stays inside. Delimiters keep the tail here. */
	__u8 hdr[2 * SF_SEND_WINDOW];
	__u64 opaque;      /* sf_opaque() */
	/* delimiter: one run's scan (map memory: the verifier does not track these values
	 * from step to step of the bpf_loop, so one verification of a step covers all) */
	struct {
		__u64 pos;  /* next position a delimiter may start at */
		__u64 size; /* bytes in this run */
		__u64 at;   /* the delimiter's position, once found */
		__u32 found;
		__u32 failed;
	} scan;
};

/* Rule numbers beyond the receive side's SF_ERR_*: */
#define SF_ERR_SEND_HEADER 50 /* the length was not known within SF_SEND_WINDOW bytes */
#define SF_ERR_SEND_READ 51   /* the program could not read the bytes it had to scan (bpf_msg_pull_data) */

#define SF_MAP_SEND_SOCKETS "sf_send_sockets" /* SOCKHASH cookie -> socket; sf_send attached */
#define SF_MAP_SEND_CONNS "sf_send_conns"     /* HASH cookie -> struct sf_send_conn */
#define SF_PROG_SEND "sf_send"

#endif
