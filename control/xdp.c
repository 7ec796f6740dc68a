/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-controld and the XDP pre-filter: when the instance has one pinned
 * (rtr-xdp attach, or rtr-xdp adopt of net_af_xdp's program), its deny tries
 * hold exactly the global deny rules of the isolation rules, and its config
 * the service port and the flood limits of rtr-controld's --xdp-* settings.
 *
 * Synced when the rules change, when the maps appear or are replaced (a new
 * map id), and every XDP_FULL_MS (an operator's hand edit is undone). Per-app
 * and allow rules need the app and the token: they stay at JOIN. The
 * counters are read every tick for the API and the metrics. Main thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "controld.h"

#define XDP_TICK_MS	1000
#define XDP_FULL_MS	10000

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
ctld_xdp_init(struct ctld *d)
{
	struct ctld_xdp *x = &d->xdp;

	memset(x, 0, sizeof(*x));
	x->m.cfg = x->m.deny4 = x->m.deny6 = x->m.src_bkt = x->m.pfx_bkt = x->m.ctr = -1;
	x->port = RTR_DEFAULT_PORT;
	/* a member sends a few thousand frames a second at most; a /24 may be
	 * an office or a carrier NAT */
	x->src_pps = 10000;
	x->src_burst = 20000;
	x->pfx_pps = 100000;
	x->pfx_burst = 200000;
	x->dirty = 1;
}

int
ctld_xdp_set(struct ctld_xdp *x, const char *which, const char *val, char *why, size_t len)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno || *val == '\0' || *end || val[0] == '-') {
		snprintf(why, len, "'%s' is not a number", val);
		return -EINVAL;
	}
	if (strcmp(which, "port") == 0) {
		if (v == 0 || v > 65535) {
			snprintf(why, len, "a UDP port from 1 to 65535");
			return -EINVAL;
		}
		x->port = (uint16_t)v;
	} else if (strcmp(which, "src-pps") == 0 || strcmp(which, "prefix-pps") == 0) {
		if (v > 1000000000ULL) {
			snprintf(why, len, "at most 1000000000 packets/s (0: no limit)");
			return -EINVAL;
		}
		*(which[0] == 's' ? &x->src_pps : &x->pfx_pps) = v;
	} else {
		if (v == 0 || v > (1u << 24)) {
			snprintf(why, len, "a burst of 1 to 16777216 packets");
			return -EINVAL;
		}
		*(which[0] == 's' ? &x->src_burst : &x->pfx_burst) = (uint32_t)v;
	}
	return 0;
}

static uint32_t
map_id(int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

static int
is_xdp_rule(const struct ctld_acl *a)
{
	return a->app_index == 0 && !a->allow;
}

static int
sync_maps(struct ctld *d)
{
	struct ctld_xdp *x = &d->xdp;
	struct rtr_xdp_deny *want;
	struct rtr_xdp_cfg c;
	unsigned int i, n = 0, changed = 0;
	int rc;

	want = calloc(CTLD_MAX_ACLS, sizeof(*want));
	if (want == NULL)
		return -ENOMEM;
	for (i = 0; i < d->n_acls; i++) {
		const struct ctld_acl *a = &d->acls[i];

		if (!is_xdp_rule(a))
			continue;
		want[n].family = a->family;
		want[n].plen = a->plen;
		memcpy(want[n].addr, a->addr, sizeof(want[n].addr));
		want[n].id = a->id;
		n++;
	}
	rc = rtr_xdp_deny_sync(&x->m, want, n, &changed);
	free(want);
	if (rc == 0)
		rc = rtr_xdp_cfg_get(&x->m, &c);
	if (rc == 0) {
		struct rtr_xdp_cfg old = c;

		c.port = x->port;
		c.src_interval_ns = rtr_xdp_interval_ns(x->src_pps);
		c.src_burst = x->src_burst;
		c.pfx_interval_ns = rtr_xdp_interval_ns(x->pfx_pps);
		c.pfx_burst = x->pfx_burst;
		/* the flags (where accepted traffic goes) belong to whoever attached */
		if (memcmp(&old, &c, sizeof(c)) != 0 || old.abi != RTR_XDP_ABI) {
			rc = rtr_xdp_cfg_set(&x->m, &c);
			changed++;
		}
	}
	if (rc < 0) {
		x->sync_errors++;
		return rc;
	}
	x->rules = n;
	x->syncs++;
	if (changed)
		ctld_log(d, "xdp pre-filter: %u global deny rule(s), port %u, per source %llu/s "
			 "burst %u, per prefix %llu/s burst %u (%u change(s))", n, x->port,
			 (unsigned long long)x->src_pps, x->src_burst,
			 (unsigned long long)x->pfx_pps, x->pfx_burst, changed);
	return 0;
}

void
ctld_xdp_tick(struct ctld *d)
{
	struct ctld_xdp *x = &d->xdp;
	uint64_t now = now_ms();
	uint32_t id;
	int rc;

	if (now < x->next_tick_ms)
		return;
	x->next_tick_ms = now + XDP_TICK_MS;
	/* reopened every tick: a re-attach or re-adopt pins new maps */
	rtr_xdp_close(&x->m);
	rc = rtr_xdp_open(d->instance, &x->m);
	if (rc < 0) {
		if (x->present)
			ctld_log(d, "xdp pre-filter: gone (%s)", strerror(-rc));
		x->present = 0;
		return;
	}
	id = map_id(x->m.cfg);
	if (!x->present || id != x->cfg_map_id) {
		ctld_log(d, "xdp pre-filter: found under %s/%s", RTR_XDP_PIN_ROOT, d->instance);
		x->cfg_map_id = id;
		x->dirty = 1;
	}
	x->present = 1;
	if (x->dirty || now >= x->next_full_ms) {
		rc = sync_maps(d);
		if (rc < 0)
			ctld_log(d, "xdp pre-filter: sync failed: %s", strerror(-rc));
		else
			x->dirty = 0;
		x->next_full_ms = now + XDP_FULL_MS;
	}
	if (rtr_xdp_counters(&x->m, x->ctr) < 0)
		memset(x->ctr, 0, sizeof(x->ctr));
}

/* the rules changed: sync at the next loop */
void
ctld_xdp_rules_changed(struct ctld *d)
{
	d->xdp.dirty = 1;
	d->xdp.next_tick_ms = 0;
}

int
ctld_xdp_rule_loaded(const struct ctld *d, const struct ctld_acl *a)
{
	return d->xdp.present && !d->xdp.dirty && is_xdp_rule(a);
}

void
ctld_xdp_close(struct ctld *d)
{
	rtr_xdp_close(&d->xdp.m);
	d->xdp.present = 0;
}
