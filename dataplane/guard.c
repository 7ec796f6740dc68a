/* SPDX-License-Identifier: BSD-3-Clause
 * The JOIN guard's tables (guard.h for what it checks): the global deny list
 * in an rte_lpm (IPv4, changed in place: rte_lpm reads are safe against one
 * writer, and its tbl8 groups are reclaimed under the workers' RCU) and an
 * rte_lpm6 (IPv6: no RCU support, so a new trie is built for every new list,
 * published with one pointer store, and the old one freed once every worker
 * has passed a quiescent state). Main lcore only, but the inline check.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "dp.h"

#define LOG(l, ...) rte_log(RTE_LOG_##l, rtr_logtype, "rtr-dataplane: " __VA_ARGS__)

static int
rule_valid(const struct rtr_deny_rule *r)
{
	unsigned int n, i, bits;

	if (r->family != 4 && r->family != 6)
		return 0;
	n = r->family == 4 ? 4 : 16;
	if (r->plen > n * 8)
		return 0;
	/* no bits beyond the prefix, nothing after an IPv4 address */
	for (i = 0; i < 16; i++) {
		bits = i >= n ? 0 : i * 8 >= r->plen ? 0 : r->plen - i * 8 >= 8 ? 8 : r->plen - i * 8;
		if (r->addr[i] & (uint8_t)~(0xff00u >> bits))
			return 0;
	}
	return 1;
}

static int
rule_eq(const struct rtr_deny_rule *a, const struct rtr_deny_rule *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       memcmp(a->addr, b->addr, 16) == 0;
}

static int
rule_in(const struct rtr_deny_rule *r, const struct rtr_deny_rule *set, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (rule_eq(r, &set[i]))
			return 1;
	return 0;
}

static uint32_t
ip4_of(const struct rtr_deny_rule *r)
{
	return (uint32_t)r->addr[0] << 24 | (uint32_t)r->addr[1] << 16 |
	       (uint32_t)r->addr[2] << 8 | r->addr[3];
}

static void
stats(struct rtr_dp *dp)
{
	struct rtr_main_stats *ms = rtr_stats_mainp(dp->seg->stats);
	const struct rtr_guard *g = &dp->guard;
	uint32_t i, n4 = 0;

	for (i = 0; i < g->n_cur; i++)
		n4 += g->cur[i].family == 4;
	ms->deny_rules4 = n4;
	ms->deny_rules6 = g->n_cur - n4;
	ms->deny_gen = g->gen;
	ms->deny_swaps6 = g->swaps6;
	ms->guard_src_rate = g->src_rate;
	ms->guard_prefix_rate = g->prefix_rate;
}

int
rtr_guard_init(struct rtr_dp *dp)
{
	struct rtr_guard *g = &dp->guard;
	struct rte_lpm_config lc = { .max_rules = RTR_GUARD_MAX_RULES, .number_tbl8s = 1024 };
	struct rte_lpm_rcu_config rc = { .v = dp->qs, .mode = RTE_LPM_QSBR_MODE_DQ };
	char name[RTE_LPM_NAMESIZE];
	unsigned int w, k;

	memset(g, 0, sizeof(*g));
	g->seed = rte_rand();
	g->cur = rte_zmalloc("rtr_deny_cur", RTR_GUARD_MAX_RULES * 2 * sizeof(*g->cur), 0);
	g->stage = rte_zmalloc("rtr_deny_stage", RTR_GUARD_MAX_RULES * 2 * sizeof(*g->stage), 0);
	if (g->cur == NULL || g->stage == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "rtr_deny4_%d", (int)getpid());
	g->deny4 = rte_lpm_create(name, (int)rte_socket_id(), &lc);
	if (g->deny4 == NULL)
		return -rte_errno;
	if (rte_lpm_rcu_qsbr_add(g->deny4, &rc) != 0)
		return -rte_errno;
	for (w = 0; w < dp->n_workers; w++)
		for (k = 0; k < RTR_GUARD_CACHES; k++) {
			dp->workers[w].gc[k] = rte_zmalloc_socket("rtr_guard_cache",
				sizeof(struct rtr_guard_cache), RTE_CACHE_LINE_SIZE,
				(int)rte_lcore_to_socket_id(dp->workers[w].lcore));
			if (dp->workers[w].gc[k] == NULL)
				return -ENOMEM;
		}
	stats(dp);
	return 0;
}

/* Free the retired IPv6 trie once no worker can still be reading it;
 * `wait`: block until then. */
static void
reap6(struct rtr_dp *dp, bool wait)
{
	struct rtr_guard *g = &dp->guard;

	if (g->retired6 == NULL)
		return;
	if (rte_rcu_qsbr_check(dp->qs, g->retire_token, wait) != 1)
		return;
	rte_lpm6_free(g->retired6);
	g->retired6 = NULL;
}

void
rtr_guard_poll(struct rtr_dp *dp)
{
	reap6(dp, false);
}

void
rtr_guard_free(struct rtr_dp *dp)
{
	struct rtr_guard *g = &dp->guard;
	unsigned int w, k;

	/* the workers have stopped */
	if (g->retired6 != NULL)
		rte_lpm6_free(g->retired6);
	if (g->deny6 != NULL)
		rte_lpm6_free(g->deny6);
	if (g->deny4 != NULL)
		rte_lpm_free(g->deny4);
	rte_free(g->cur);
	rte_free(g->stage);
	for (w = 0; w < dp->n_workers; w++)
		for (k = 0; k < RTR_GUARD_CACHES; k++) {
			rte_free(dp->workers[w].gc[k]);
			dp->workers[w].gc[k] = NULL;
		}
	memset(g, 0, sizeof(*g));
}

/* The staged list takes effect. */
static int
commit(struct rtr_dp *dp)
{
	struct rtr_guard *g = &dp->guard;
	struct rte_lpm6_config lc6;
	struct rte_lpm6 *n6 = NULL, *old6;
	uint32_t i, n6rules = 0, old6rules = 0;
	int changed6 = 0, rc;
	char name[RTE_LPM6_NAMESIZE];

	for (i = 0; i < g->n_stage; i++)
		n6rules += g->stage[i].family == 6;
	for (i = 0; i < g->n_cur; i++)
		old6rules += g->cur[i].family == 6;
	if (n6rules > RTR_GUARD_MAX_RULES || g->n_stage - n6rules > RTR_GUARD_MAX_RULES)
		return -ENOSPC;
	/* IPv6: a new trie if the IPv6 rules differ at all */
	changed6 = n6rules != old6rules;
	for (i = 0; i < g->n_stage && !changed6; i++)
		if (g->stage[i].family == 6 && !rule_in(&g->stage[i], g->cur, g->n_cur))
			changed6 = 1;
	if (changed6 && n6rules > 0) {
		memset(&lc6, 0, sizeof(lc6));
		lc6.max_rules = n6rules;
		lc6.number_tbl8s = RTE_MAX(n6rules * 16, 256u);
		snprintf(name, sizeof(name), "rtr_deny6_%d_%u", (int)getpid(), ++g->seq6);
		n6 = rte_lpm6_create(name, (int)rte_socket_id(), &lc6);
		if (n6 == NULL)
			return -ENOMEM;
		for (i = 0; i < g->n_stage; i++)
			if (g->stage[i].family == 6 &&
			    rte_lpm6_add(n6, g->stage[i].addr, g->stage[i].plen, g->stage[i].id) != 0) {
				rte_lpm6_free(n6);
				return -ENOSPC;
			}
	}
	/* IPv4 in place: new rules first, then the ones that went */
	for (i = 0; i < g->n_stage; i++)
		if (g->stage[i].family == 4 && !rule_in(&g->stage[i], g->cur, g->n_cur)) {
			rc = rte_lpm_add(g->deny4, ip4_of(&g->stage[i]), g->stage[i].plen,
					 g->stage[i].id & 0xffffff);
			if (rc != 0) {
				LOG(ERR, "deny list: IPv4 rule %u: %s\n", g->stage[i].id, strerror(-rc));
				if (n6 != NULL)
					rte_lpm6_free(n6);
				/* what was added stays until the next list: deny wins */
				return -ENOSPC;
			}
		}
	for (i = 0; i < g->n_cur; i++)
		if (g->cur[i].family == 4 && !rule_in(&g->cur[i], g->stage, g->n_stage))
			rte_lpm_delete(g->deny4, ip4_of(&g->cur[i]), g->cur[i].plen);
	if (changed6) {
		/* one retired trie at a time: wait out the previous one's grace */
		reap6(dp, true);
		old6 = g->deny6;
		__atomic_store_n(&g->deny6, n6, __ATOMIC_RELEASE);
		if (old6 != NULL) {
			g->retired6 = old6;
			g->retire_token = rte_rcu_qsbr_start(dp->qs);
		}
		g->swaps6++;
	}
	memcpy(g->cur, g->stage, g->n_stage * sizeof(*g->cur));
	g->n_cur = g->n_stage;
	__atomic_store_n(&g->n4, g->n_cur - n6rules, __ATOMIC_RELEASE);
	g->gen = g->stage_gen;
	g->staging = 0;
	stats(dp);
	LOG(INFO, "deny list %u: %u IPv4 and %u IPv6 rule(s)\n", g->gen, g->n_cur - n6rules,
	    n6rules);
	return 0;
}

int
rtr_guard_denied(const struct rtr_dp *dp, uint8_t family, const uint8_t *ip)
{
	const struct rtr_guard *g = &dp->guard;
	uint32_t nh;

	if (family == 4)
		return g->n4 != 0 && rte_lpm_lookup(g->deny4, (uint32_t)ip[0] << 24 |
			(uint32_t)ip[1] << 16 | (uint32_t)ip[2] << 8 | ip[3], &nh) == 0;
	return g->deny6 != NULL && rte_lpm6_lookup(g->deny6, ip, &nh) == 0;
}

int
rtr_guard_deny_set(struct rtr_dp *dp, const struct rtr_msg_deny_set *m)
{
	struct rtr_guard *g = &dp->guard;
	uint16_t i;

	if (m->n > RTR_DENY_PER_MSG || m->total > 2 * RTR_GUARD_MAX_RULES ||
	    (m->flags & ~(RTR_DENY_F_FIRST | RTR_DENY_F_LAST)))
		return -EINVAL;
	if (m->flags & RTR_DENY_F_FIRST) {
		g->staging = 1;
		g->stage_gen = m->gen;
		g->n_stage = 0;
	} else if (!g->staging || m->gen != g->stage_gen) {
		g->staging = 0;
		return -ESTALE;		/* a chunk of a list that was not started */
	}
	if (g->n_stage + m->n > m->total) {
		g->staging = 0;
		return -EPROTO;
	}
	for (i = 0; i < m->n; i++) {
		if (!rule_valid(&m->r[i]) || rule_in(&m->r[i], g->stage, g->n_stage)) {
			g->staging = 0;
			return -EINVAL;
		}
		g->stage[g->n_stage] = m->r[i];
		g->stage[g->n_stage].pad = 0;
		g->n_stage++;
	}
	if (!(m->flags & RTR_DENY_F_LAST))
		return 0;
	if (g->n_stage != m->total) {
		g->staging = 0;
		return -EPROTO;
	}
	return commit(dp);
}

int
rtr_guard_cfg(struct rtr_dp *dp, const struct rtr_msg_guard_cfg *c)
{
	struct rtr_guard *g = &dp->guard;
	unsigned int next;

	if ((c->src_rate && c->src_burst == 0) || (c->prefix_rate && c->prefix_burst == 0) ||
	    c->src_rate > 10000000 || c->prefix_rate > 10000000)
		return -EINVAL;
	/* the workers read the other slot until the flip */
	next = g->lim_idx ^ 1;
	rtr_guard_limit_set(&g->lim[next][0], dp->tsc_hz, c->src_rate, c->src_burst);
	rtr_guard_limit_set(&g->lim[next][1], dp->tsc_hz, c->prefix_rate, c->prefix_burst);
	__atomic_store_n(&g->lim_idx, next, __ATOMIC_RELEASE);
	g->src_rate = c->src_rate;
	g->prefix_rate = c->prefix_rate;
	stats(dp);
	return 0;
}
