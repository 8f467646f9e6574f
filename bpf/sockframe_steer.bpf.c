/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Steering (core/steer/): an sk_lookup program, attached to a network namespace
 * with a bpf_link, that gives every new TCP connection whose local address and
 * port match one of the rules to one of N worker listeners, chosen by a hash of
 * the 4-tuple. It runs before the kernel's own listener lookup, so the listeners
 * need not be bound to those addresses or ports. Anything else passes untouched.
 * Compiled at build time (core/steer/meson.build) and embedded in the library.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "sockframe_steer_abi.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SF_STEER_MAX_RULES);
	__type(key, __u32);
	__type(value, struct sf_steer_rule);
} sf_steer_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sf_steer_config);
} sf_steer_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sf_steer_stats);
} sf_steer_stats SEC(".maps");

/* The worker listeners; max_entries is set to the worker count at load. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sf_steer_socks SEC(".maps");

/* An address of the lookup, as four network-order words (IPv4 in [0]).
 * Every context field is read unconditionally, at a constant offset: with loads
 * under a branch, clang merges them through a modified context pointer, which
 * the verifier refuses. */
struct sf_addr {
	__u32 w[4];
};

/* A volatile read stays where it is written: unconditional. */
#define SF_CTX(field) (*(volatile __u32 *)&ctx->field)

static __always_inline void sf_pick(struct sf_addr *a, int v4, __u32 ip4, __u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	a->w[0] = v4 ? ip4 : w0;
	a->w[1] = v4 ? 0 : w1;
	a->w[2] = v4 ? 0 : w2;
	a->w[3] = v4 ? 0 : w3;
}

static __always_inline int sf_rule_matches(const struct sf_steer_rule *r, __u32 family, __u32 port,
					   const struct sf_addr *a)
{
	if (r->family != family || port < r->port_low || port > r->port_high)
		return 0;
	return (a->w[0] & r->mask[0]) == r->addr[0] && (a->w[1] & r->mask[1]) == r->addr[1] &&
	       (a->w[2] & r->mask[2]) == r->addr[2] && (a->w[3] & r->mask[3]) == r->addr[3];
}

static __always_inline __u32 sf_mix(__u32 h, __u32 v)
{
	h ^= v;
	h *= 0x9e3779b1;
	return h ^ (h >> 16);
}

/* One connection always lands on the same worker (SYN retransmits included). */
static __always_inline __u32 sf_flow_hash(const struct sf_addr *remote, __u32 remote_port,
					  const struct sf_addr *local, __u32 local_port)
{
	__u32 h = 0x811c9dc5;
	h = sf_mix(h, remote->w[0]);
	h = sf_mix(h, remote->w[1]);
	h = sf_mix(h, remote->w[2]);
	h = sf_mix(h, remote->w[3]);
	h = sf_mix(h, local->w[0] ^ local->w[1] ^ local->w[2] ^ local->w[3]);
	h = sf_mix(h, (remote_port << 16) | local_port);
	return h;
}

SEC("sk_lookup")
int sf_steer(struct bpf_sk_lookup *ctx)
{
	__u32 zero = 0;
	if (ctx->protocol != IPPROTO_TCP)
		return SK_PASS;
	struct sf_steer_config *conf = bpf_map_lookup_elem(&sf_steer_conf, &zero);
	if (!conf || conf->workers == 0)
		return SK_PASS;

	__u32 family = ctx->family, port = ctx->local_port, remote_port = ctx->remote_port, n = conf->rules;
	int v4 = family == AF_INET;
	struct sf_addr local, remote;
	sf_pick(&local, v4, SF_CTX(local_ip4), SF_CTX(local_ip6[0]), SF_CTX(local_ip6[1]), SF_CTX(local_ip6[2]),
		SF_CTX(local_ip6[3]));
	sf_pick(&remote, v4, SF_CTX(remote_ip4), SF_CTX(remote_ip6[0]), SF_CTX(remote_ip6[1]),
		SF_CTX(remote_ip6[2]), SF_CTX(remote_ip6[3]));
	int matched = 0;
	for (__u32 i = 0; i < SF_STEER_MAX_RULES && i < n; i++) {
		struct sf_steer_rule *r = bpf_map_lookup_elem(&sf_steer_rules, &i);
		if (r && sf_rule_matches(r, family, port, &local)) {
			matched = 1;
			break;
		}
	}
	if (!matched)
		return SK_PASS; /* not ours: the normal lookup decides */

	struct sf_steer_stats *stats = bpf_map_lookup_elem(&sf_steer_stats, &zero);
	__u32 worker = sf_flow_hash(&remote, remote_port, &local, port) % conf->workers;
	struct bpf_sock *sk = bpf_map_lookup_elem(&sf_steer_socks, &worker);
	if (!sk) {
		/* The worker's listener is gone: refuse rather than fall through to
		 * whatever else may listen on the port. */
		if (stats)
			__sync_fetch_and_add(&stats->no_listener, 1);
		return SK_DROP;
	}
	long err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (stats)
		__sync_fetch_and_add(err ? &stats->assign_failed : &stats->steered, 1);
	return err ? SK_DROP : SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
