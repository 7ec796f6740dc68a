/* SPDX-License-Identifier: BSD-3-Clause
 * The JOIN guard: what a worker checks before it punts a JOIN to the control
 * plane, so that a flood costs the control plane nothing (security.md, 8):
 *
 *   1. the source is on the global deny list (rte_lpm for IPv4, updated in
 *      place under RCU; rte_lpm6 for IPv6, rebuilt and swapped under RCU,
 *      since it has none) -> join_denied;
 *   2. the source address over its token bucket -> join_src_rate;
 *   3. its /24 (IPv4) or /64 (IPv6) over its bucket -> join_prefix_rate;
 *   4. the worker's --punt-rate budget, then the ring (worker.c).
 *
 * This is the same deny list and the same kind of limiter the XDP
 * pre-filter runs in front of an AF_XDP port; here it runs for every port,
 * vfio-pci NICs included, and limits JOINs, not all traffic.
 *
 * The buckets are per worker (no sharing, no locks): for each family, one
 * cache for sources and one for prefixes, each a set-associative cache of
 * GCRA states keyed by address, RTR_GUARD_SETS sets of RTR_GUARD_WAYS,
 * the oldest way of a set evicted for a new key. An attacker cycling through
 * addresses evicts buckets, which then start full again: memory is bounded,
 * and a source is never limited more than its bucket says. With RSS a source
 * always lands on the same worker; the sources of one prefix may not, so a
 * prefix gets up to its rate on each worker.
 *
 * This header holds the bucket cache only, with no DPDK in it, so the unit
 * tests exercise the very code the workers run.
 */
#ifndef RTR_GUARD_H
#define RTR_GUARD_H

#include <stdint.h>
#include <string.h>

#define RTR_GUARD_SETS		1024	/* power of two */
#define RTR_GUARD_WAYS		4
#define RTR_GUARD_MAX_RULES	4096	/* per family */
#define RTR_GUARD_CACHES	4	/* per worker: IPv4 sources, IPv6 sources, /24s, /64s */

/* One bucket: the key (up to 16 address bytes, zero-padded; a cache holds
 * one family and one prefix length) and its GCRA theoretical arrival time,
 * in TSC cycles. */
struct rtr_guard_bkt {
	uint64_t k0, k1;
	uint64_t tat;
	uint64_t used;		/* TSC of the last packet: the oldest way goes */
};

struct rtr_guard_cache {
	struct rtr_guard_bkt b[RTR_GUARD_SETS][RTR_GUARD_WAYS];
	uint64_t evictions;
};

/* A limit: one packet per `interval` cycles, `burst` at once; interval 0: off. */
struct rtr_guard_limit {
	uint64_t interval;
	uint64_t tolerance;	/* (burst - 1) x interval */
};

static inline void
rtr_guard_limit_set(struct rtr_guard_limit *l, uint64_t hz, uint32_t per_s, uint32_t burst)
{
	if (per_s == 0) {
		l->interval = 0;
		l->tolerance = 0;
		return;
	}
	l->interval = hz / per_s ? hz / per_s : 1;
	l->tolerance = (uint64_t)(burst ? burst - 1 : 0) * l->interval;
}

/* The key of an address (family 4: 4 bytes, 6: 16), cut to `plen` bits. */
static inline void
rtr_guard_key(uint8_t family, const uint8_t *ip, unsigned int plen, uint64_t *k0, uint64_t *k1)
{
	uint8_t a[16];
	unsigned int n = family == 4 ? 4 : 16, i;

	memset(a, 0, sizeof(a));
	memcpy(a, ip, n);
	if (plen > n * 8)
		plen = n * 8;
	for (i = plen / 8; i < n; i++)
		a[i] = i == plen / 8 ? (uint8_t)(a[i] & (0xff00u >> (plen % 8))) : 0;
	memcpy(k0, a, 8);
	memcpy(k1, a + 8, 8);
}

static inline uint32_t
rtr_guard_set_of(uint64_t k0, uint64_t k1, uint64_t seed)
{
	uint64_t h = (k0 ^ seed) * 0x9e3779b97f4a7c15ULL;

	h ^= (k1 + (h >> 29)) * 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 31;
	return (uint32_t)(h & (RTR_GUARD_SETS - 1));
}

/*
 * Charges one packet of key (k0, k1) at time `now` against limit `l`:
 * 1 if it conforms, 0 if it is over. A key not in the cache gets a full
 * bucket in the oldest way of its set.
 */
static inline int
rtr_guard_charge(struct rtr_guard_cache *c, const struct rtr_guard_limit *l, uint64_t seed,
		 uint64_t k0, uint64_t k1, uint64_t now)
{
	struct rtr_guard_bkt *set, *b = NULL;
	unsigned int i;
	uint64_t tat;

	if (l->interval == 0)
		return 1;
	set = c->b[rtr_guard_set_of(k0, k1, seed)];
	for (i = 0; i < RTR_GUARD_WAYS; i++)
		if (set[i].k0 == k0 && set[i].k1 == k1 && set[i].used != 0) {
			b = &set[i];
			break;
		}
	if (b == NULL) {
		b = &set[0];
		for (i = 1; i < RTR_GUARD_WAYS; i++)
			if (set[i].used < b->used)
				b = &set[i];
		if (b->used != 0)
			c->evictions++;
		b->k0 = k0;
		b->k1 = k1;
		b->tat = now;
	}
	b->used = now ? now : 1;
	tat = b->tat > now ? b->tat : now;
	if (tat - now > l->tolerance)
		return 0;	/* over: the packet is not charged */
	b->tat = tat + l->interval;
	return 1;
}

#endif /* RTR_GUARD_H */
