/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The word-at-a-time delimiter test both sides use: the stream parser on what a
 * socket receives (sockframe_runtime.bpf.h) and the send program on what it sends
 * (sockframe_send_delim.bpf.h). Needs the generated SF_DELIM_LEN, SF_DELIM_FIRST and
 * sf_is_delim(buf, j).
 */
#ifndef SOCKFRAME_DELIM_SCAN_BPF_H
#define SOCKFRAME_DELIM_SCAN_BPF_H

/* Each step copies one window of the stream onto the stack (bpf_skb_load_bytes,
 * or bpf_msg_pull_data and a copy on the send side): the helper call and its walk
 * over the fragments cost more than testing the bytes, so the window is as large
 * as the 512-byte BPF stack allows beside the caller's own frame.
 * SF_CHUNK candidate positions (a multiple of 8) are tested per window, which
 * holds SF_CHUNK + SF_DELIM_LEN - 1 bytes. */
#define SF_WINDOW 256 /* power of two >= SF_CHUNK + SF_DELIM_LEN - 1 */
#define SF_CHUNK (SF_WINDOW - ((SF_DELIM_LEN + 7) & ~7))

/* Zero-byte test on 8 bytes at once ("SWAR"): nonzero iff some byte of w equals b.
 * Exact about whether there is one; which byte is found by testing the 8 bytes. */
#define SF_ONES 0x0101010101010101ULL
#define SF_HIGHS 0x8080808080808080ULL
static __always_inline int sf_word_has_byte(__u64 w, __u8 b)
{
	__u64 x = w ^ (SF_ONES * b);

	return ((x - SF_ONES) & ~x & SF_HIGHS) != 0;
}

/* Tests candidate positions in buf[0, checked) and returns 1 with *at = the first
 * delimiter's position, or 0 with *at = the positions ruled out. A whole word
 * without the delimiter's first byte starts no delimiter and is skipped; the
 * first word with it (or the last, partial word) is tested byte by byte and ends
 * the search either way: the next step resumes after it. That keeps the paths the
 * verifier walks linear in the number of words, and every index a constant on
 * each of them. Reads only loaded bytes. */
static __always_inline int sf_find_delim(const __u64 *words, __u32 checked, __u32 *at)
{
	const __u8 *buf = (const __u8 *)words;
	__u32 w, j;

	for (w = 0; w < SF_CHUNK / 8; w++) {
		if (w * 8 >= checked)
			break;
		if (w * 8 + 8 <= checked && !sf_word_has_byte(words[w], SF_DELIM_FIRST))
			continue;
		for (j = w * 8; j < w * 8 + 8; j++) {
			if (j >= checked)
				break;
			if (sf_is_delim(buf, j)) {
				*at = j;
				return 1;
			}
		}
		*at = j; /* a multi-byte delimiter's first byte alone, or the end */
		return 0;
	}
	*at = checked;
	return 0;
}

#endif /* SOCKFRAME_DELIM_SCAN_BPF_H */
