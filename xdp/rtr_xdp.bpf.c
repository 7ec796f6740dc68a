/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-3-Clause)
 * rtrelay XDP pre-filter. Runs per packet on the NIC's RX path, before the
 * dataplane (as net_af_xdp's custom program, xdp_prog=) or before the kernel
 * stack (attached by rtr-xdp). Verdicts and their order: xdp/rtr_xdp.h.
 *
 * Maps: rtr_cfg (one entry), rtr_deny4 / rtr_deny6 (LPM tries), rtr_src_bkt /
 * rtr_pfx_bkt (LRU hashes of token buckets), rtr_ctr (per-CPU counters) and
 * xsks_map (the name net_af_xdp looks for). Updates race benignly: a bucket
 * two CPUs update at once may let one extra packet through.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "rtr_xdp.h"

#define ETH_P_8021Q_BE	bpf_htons(0x8100)
#define ETH_P_8021AD_BE	bpf_htons(0x88a8)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rtr_xdp_cfg);
} rtr_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RTR_XDP_DENY_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rtr_xdp_lpm4);
	__type(value, __u32);		/* rule id, for the operator */
} rtr_deny4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RTR_XDP_DENY_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rtr_xdp_lpm6);
	__type(value, __u32);
} rtr_deny6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RTR_XDP_SRC_MAX);
	__type(key, struct rtr_xdp_src);
	__type(value, struct rtr_xdp_bucket);
} rtr_src_bkt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RTR_XDP_PFX_MAX);
	__type(key, struct rtr_xdp_src);
	__type(value, struct rtr_xdp_bucket);
} rtr_pfx_bkt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RTR_XDP_CTR_MAX);
	__type(key, __u32);
	__type(value, struct rtr_xdp_ctr);
} rtr_ctr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, RTR_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

static __always_inline int
count(__u32 which, __u64 bytes, int verdict)
{
	struct rtr_xdp_ctr *c = bpf_map_lookup_elem(&rtr_ctr, &which);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return verdict;
}

/* GCRA: 1 when the packet conforms (and is charged), 0 when it is over */
static __always_inline int
conforms(void *map, const struct rtr_xdp_src *key, __u64 interval, __u32 burst, __u64 now)
{
	struct rtr_xdp_bucket *b, nb = { 0 };
	__u64 tol, tat;

	if (interval == 0)
		return 1;
	b = bpf_map_lookup_elem(map, key);
	if (!b) {
		nb.tat_ns = now + interval;
		bpf_map_update_elem(map, key, &nb, BPF_ANY);
		return 1;
	}
	tol = (burst > 1 ? (__u64)(burst - 1) : 0) * interval;
	tat = b->tat_ns > now ? b->tat_ns : now;
	if (tat - now > tol) {
		__sync_fetch_and_add(&b->dropped, 1);
		return 0;
	}
	b->tat_ns = tat + interval;
	return 1;
}

SEC("xdp")
int
rtr_xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 bytes = (__u64)(end - data), now;
	struct rtr_xdp_src key = { 0 };
	const struct rtr_xdp_cfg *cfg;
	struct ethhdr *eth = data;
	struct udphdr *udp;
	__u32 zero = 0, q;
	__u16 proto, port;
	void *l3;

	cfg = bpf_map_lookup_elem(&rtr_cfg, &zero);
	if (!cfg)
		return count(RTR_XDP_PASS_NOT_SERVICE, bytes, XDP_PASS);
	/* unconfigured (net_af_xdp loaded it, nobody wrote the config yet): the
	 * default service port, no limits */
	port = bpf_htons(cfg->port ? cfg->port : RTR_XDP_DEFAULT_PORT);
	if ((void *)(eth + 1) > end)
		return count(RTR_XDP_PASS_NOT_IP, bytes, XDP_PASS);
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == ETH_P_8021Q_BE || proto == ETH_P_8021AD_BE) {
		__u16 *tag = l3;

		if ((void *)(tag + 2) > end)
			return count(RTR_XDP_PASS_NOT_IP, bytes, XDP_PASS);
		proto = tag[1];
		l3 = tag + 2;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		struct rtr_xdp_lpm4 k4 = { .prefixlen = 32 };

		if ((void *)(ip + 1) > end)
			return count(RTR_XDP_PASS_NOT_IP, bytes, XDP_PASS);
		if (ip->protocol != IPPROTO_UDP)
			return count(RTR_XDP_PASS_NOT_SERVICE, bytes, XDP_PASS);
		if (ip->ihl < 5)
			return count(RTR_XDP_DROP_MALFORMED, bytes, XDP_DROP);
		/* a fragment after the first carries no port: the kernel's */
		if (ip->frag_off & bpf_htons(0x1fff))
			return count(RTR_XDP_PASS_NOT_SERVICE, bytes, XDP_PASS);
		udp = (void *)ip + ip->ihl * 4;
		if ((void *)(udp + 1) > end)
			return count(RTR_XDP_PASS_NOT_SERVICE, bytes, XDP_PASS);
		if (udp->dest != port)
			return count(RTR_XDP_PASS_NOT_SERVICE, bytes, XDP_PASS);
		if (ip->frag_off & bpf_htons(0x2000))		/* MF: a first fragment */
			return count(RTR_XDP_DROP_FRAGMENT, bytes, XDP_DROP);
		if (bpf_ntohs(udp->len) < sizeof(*udp) ||
		    (void *)udp + bpf_ntohs(udp->len) > end)
			return count(RTR_XDP_DROP_MALFORMED, bytes, XDP_DROP);
		__builtin_memcpy(k4.addr, &ip->saddr, 4);
		if (bpf_map_lookup_elem(&rtr_deny4, &k4))
			return count(RTR_XDP_DROP_DENY, bytes, XDP_DROP);
		key.family = 4;
		key.plen = 32;
		__builtin_memcpy(key.addr, &ip->saddr, 4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		struct rtr_xdp_lpm6 k6 = { .prefixlen = 128 };

		if ((void *)(ip6 + 1) > end)
			return count(RTR_XDP_PASS_NOT_IP, bytes, XDP_PASS);
		if (ip6->nexthdr != IPPROTO_UDP) {
			/* the dataplane refuses extension headers; the port behind
			 * them is not looked for here */
			if (ip6->nexthdr == IPPROTO_TCP || ip6->nexthdr == IPPROTO_ICMPV6)
				return count(RTR_XDP_PASS_NOT_SERVICE, bytes, XDP_PASS);
			return count(RTR_XDP_PASS_IP6_EXT, bytes, XDP_PASS);
		}
		udp = (void *)(ip6 + 1);
		if ((void *)(udp + 1) > end)
			return count(RTR_XDP_PASS_NOT_SERVICE, bytes, XDP_PASS);
		if (udp->dest != port)
			return count(RTR_XDP_PASS_NOT_SERVICE, bytes, XDP_PASS);
		if (bpf_ntohs(udp->len) < sizeof(*udp) ||
		    (void *)udp + bpf_ntohs(udp->len) > end)
			return count(RTR_XDP_DROP_MALFORMED, bytes, XDP_DROP);
		__builtin_memcpy(k6.addr, &ip6->saddr, 16);
		if (bpf_map_lookup_elem(&rtr_deny6, &k6))
			return count(RTR_XDP_DROP_DENY, bytes, XDP_DROP);
		key.family = 6;
		key.plen = 128;
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
	} else {
		return count(RTR_XDP_PASS_NOT_IP, bytes, XDP_PASS);
	}

	now = bpf_ktime_get_ns();
	if (!conforms(&rtr_src_bkt, &key, cfg->src_interval_ns, cfg->src_burst, now))
		return count(RTR_XDP_DROP_SRC_RATE, bytes, XDP_DROP);
	/* the source's prefix: /24 for IPv4, /64 for IPv6 */
	if (key.family == 4) {
		key.plen = 24;
		key.addr[3] = 0;
	} else {
		key.plen = 64;
		__builtin_memset(key.addr + 8, 0, 8);
	}
	if (!conforms(&rtr_pfx_bkt, &key, cfg->pfx_interval_ns, cfg->pfx_burst, now))
		return count(RTR_XDP_DROP_PFX_RATE, bytes, XDP_DROP);

	if (cfg->flags & RTR_XDP_F_PASS_SERVICE)
		return count(RTR_XDP_PASS_SERVICE, bytes, XDP_PASS);
	/* no socket on this queue: XDP_PASS, counted as such */
	q = ctx->rx_queue_index;
	if (bpf_map_lookup_elem(&xsks_map, &q))
		return count(RTR_XDP_REDIRECT, bytes, bpf_redirect_map(&xsks_map, q, XDP_PASS));
	return count(RTR_XDP_PASS_SERVICE, bytes, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
