/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-controld and the dataplane's JOIN guard (dataplane/guard.h): the
 * workers drop JOINs from globally denied sources, and JOINs over the limits
 * per source and per /24 or /64, before they are punted — on every port,
 * vfio-pci NICs included, where no XDP program runs.
 *
 * The whole list of global deny rules goes to the dataplane (DENY_SET, in as
 * many messages as it takes) whenever the rules change and whenever
 * rtr-controld attaches to a dataplane, new or not; the limits (GUARD_CFG)
 * with it. A failed sync is retried every second. Main thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controld.h"

#define GUARD_RETRY_MS	1000

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
ctld_guard_init(struct ctld *d)
{
	struct ctld_guard *g = &d->guard;

	memset(g, 0, sizeof(*g));
	/* generous for one address (a NAT, a test rig joining many users), a
	 * wall for a flood from it; a /24 or /64 may be a whole office */
	g->src_rate = 100;
	g->src_burst = 200;
	g->pfx_rate = 1000;
	g->pfx_burst = 2000;
	g->dirty = 1;
}

int
ctld_guard_set(struct ctld_guard *g, const char *which, const char *val, char *why, size_t len)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno || *val == '\0' || *end || val[0] == '-') {
		snprintf(why, len, "'%s' is not a number", val);
		return -EINVAL;
	}
	if (strcmp(which, "src-rate") == 0 || strcmp(which, "prefix-rate") == 0) {
		if (v > 10000000ULL) {
			snprintf(why, len, "at most 10000000 JOINs/s (0: no limit)");
			return -EINVAL;
		}
		*(which[0] == 's' ? &g->src_rate : &g->pfx_rate) = (uint32_t)v;
	} else {
		if (v == 0 || v > 10000000ULL) {
			snprintf(why, len, "a burst of 1 to 10000000 JOINs");
			return -EINVAL;
		}
		*(which[0] == 's' ? &g->src_burst : &g->pfx_burst) = (uint32_t)v;
	}
	return 0;
}

static int
is_guard_rule(const struct ctld_acl *a)
{
	return a->app_index == 0 && !a->allow;
}

static int
sync_guard(struct ctld *d)
{
	static struct rtr_msg_deny_set m;
	struct ctld_guard *g = &d->guard;
	struct rtr_msg_guard_cfg c;
	struct rtr_reply r;
	unsigned int i, n = 0, total = 0;
	int rc, first = 1;

	for (i = 0; i < d->n_acls; i++)
		total += is_guard_rule(&d->acls[i]);
	g->gen++;
	i = 0;
	do {
		memset(&m, 0, sizeof(m));
		m.gen = g->gen;
		m.total = total;
		while (i < d->n_acls && m.n < RTR_DENY_PER_MSG) {
			const struct ctld_acl *a = &d->acls[i++];

			if (!is_guard_rule(a))
				continue;
			m.r[m.n].family = a->family;
			m.r[m.n].plen = a->plen;
			m.r[m.n].id = a->id;
			memcpy(m.r[m.n].addr, a->addr, sizeof(m.r[m.n].addr));
			m.n++;
		}
		n += m.n;
		m.flags = (first ? RTR_DENY_F_FIRST : 0) | (n == total ? RTR_DENY_F_LAST : 0);
		first = 0;
		rc = ctld_dp_call(d, RTR_MSG_DENY_SET, &m, sizeof(m), &r);
		if (rc == 0)
			rc = r.status;
		if (rc < 0)
			return rc;
	} while (n < total);
	memset(&c, 0, sizeof(c));
	c.src_rate = g->src_rate;
	c.src_burst = g->src_burst;
	c.prefix_rate = g->pfx_rate;
	c.prefix_burst = g->pfx_burst;
	rc = ctld_dp_call(d, RTR_MSG_GUARD_CFG, &c, sizeof(c), &r);
	if (rc == 0)
		rc = r.status;
	if (rc < 0)
		return rc;
	g->rules = total;
	g->syncs++;
	return 0;
}

void
ctld_guard_tick(struct ctld *d)
{
	struct ctld_guard *g = &d->guard;
	uint64_t now;
	int rc;

	if (d->seg == NULL) {
		g->loaded = 0;
		g->dirty = 1;	/* the next dataplane gets the list */
		return;
	}
	if (!g->dirty || (now = now_ms()) < g->next_try_ms)
		return;
	rc = sync_guard(d);
	if (rc < 0) {
		g->sync_errors++;
		g->loaded = 0;
		g->next_try_ms = now + GUARD_RETRY_MS;
		ctld_log(d, "join guard: sync to the dataplane failed: %s", strerror(-rc));
		return;
	}
	g->dirty = 0;
	g->loaded = 1;
	ctld_log(d, "join guard: %u global deny rule(s) in the dataplane (list %u), JOINs per "
		 "source %u/s burst %u, per prefix %u/s burst %u", g->rules, g->gen, g->src_rate,
		 g->src_burst, g->pfx_rate, g->pfx_burst);
}

void
ctld_guard_rules_changed(struct ctld *d)
{
	d->guard.dirty = 1;
	d->guard.next_try_ms = 0;
}

int
ctld_guard_rule_loaded(const struct ctld *d, const struct ctld_acl *a)
{
	return d->seg != NULL && d->guard.loaded && !d->guard.dirty && is_guard_rule(a);
}
