/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for the main-lcore tables (dataplane/tables.c): apps, members,
 * channels, fan-out lists and delayed slot reuse.
 *
 * The tables run on a real EAL (no hugepages, no PCI, no shared config
 * files: --in-memory is refused with --no-huge, which implies legacy
 * memory; one lcore) with a real stats segment, so rte_malloc, rte_hash and the RCU defer queue are
 * the ones the dataplane uses. No worker registers with the QSBR variable,
 * so every grace period has ended by the time rtr_tables_reclaim() looks:
 * a deferred slot comes back exactly when the test calls it, which makes
 * delayed reuse deterministic.
 *
 * Every test starts from freshly initialised tables (the per-test teardown
 * frees them, checks that the rte_malloc heap is back where it was before
 * rtr_tables_init, and initialises them again), so slot and channel
 * numbers are exact: member slots come off the free FIFO as 0, 1, 2 ...
 * and channel slots lowest first.
 *
 * Links with tables.o, tx.o and librtrseg.a; worker.c is not linked, so
 * the dataplane's global lives here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dp.h"

struct rtr_dp rtr_dp;

#define SVC_PORT	7700
#define MAX_MEMBERS	64
#define MAX_CHANNELS	8
#define MAX_APPS	16

#define APP1		1u
#define APP2		2u
#define APP3		3u
#define CHAN_A		0x1112131415161718ull
#define CHAN_B		0x2122232425262728ull

#define P_JOIN		RTR_PRIV_BIT(RTR_PRIV_JOIN)
#define P_AUDIO		RTR_PRIV_BIT(RTR_PRIV_PUB_AUDIO)
#define P_VIDEO		RTR_PRIV_BIT(RTR_PRIV_PUB_VIDEO)
#define P_DATA		RTR_PRIV_BIT(RTR_PRIV_PUB_DATA)

#define BPS_MAX		(4ull << 30)
#define EGRESS_MAX	(16ull << 30)
#define FPS_MAX		10000000u

/* The service's own addresses (port 0). */
static const uint8_t svc_ip4[4] = { 10, 0, 0, 1 };
static const uint8_t svc_ip6[16] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };

static char instance[RTR_INSTANCE_MAX + 1];
static size_t heap_base;	/* rte_malloc bytes in use without tables */

/* ------------------------------------------------------------------ */
/* Fixture.                                                           */

static struct rtr_main_stats *
ms(void)
{
	return rtr_stats_mainp(rtr_dp.seg->stats);
}

static size_t
heap_bytes(void)
{
	struct rte_malloc_socket_stats st;
	unsigned int i;
	size_t n = 0;

	for (i = 0; i < rte_socket_count(); i++)
		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &st) == 0)
			n += st.heap_allocsz_bytes;
	return n;
}

static int
group_setup(void **state)
{
	static char *eal_argv[] = {
		"test_tables", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
		"--no-telemetry", "--lcores", "0@0", "--log-level", "*:error", NULL
	};
	struct rtr_dp *dp = &rtr_dp;
	struct rtr_seg_params sp;
	int rc;

	(void)state;
	if (rte_eal_init((int)RTE_DIM(eal_argv) - 1, eal_argv) < 0) {
		fprintf(stderr, "test_tables: EAL init failed: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	snprintf(instance, sizeof(instance), "t_tab_%d", (int)getpid());
	memset(&sp, 0, sizeof(sp));
	sp.instance = instance;
	sp.n_workers = 1;
	sp.n_ports = 1;
	sp.max_apps = MAX_APPS;
	sp.udp_port = SVC_PORT;
	rc = rtr_seg_create(&sp, &dp->seg);
	if (rc < 0) {
		fprintf(stderr, "test_tables: rtr_seg_create(%s): %s\n", instance,
			rtr_seg_strerror(rc));
		rte_eal_cleanup();
		return -1;
	}

	snprintf(dp->cfg.instance, sizeof(dp->cfg.instance), "%s", instance);
	dp->cfg.udp_port = SVC_PORT;
	dp->cfg.max_members = MAX_MEMBERS;
	dp->cfg.max_channels = MAX_CHANNELS;
	dp->cfg.max_apps = MAX_APPS;
	dp->cfg.ip[0].has_ip4 = 1;
	memcpy(dp->cfg.ip[0].ip4, svc_ip4, 4);
	dp->cfg.ip[0].has_ip6 = 1;
	memcpy(dp->cfg.ip[0].ip6, svc_ip6, 16);
	dp->n_workers = 1;
	dp->n_ports = 1;
	dp->tsc_hz = rte_get_tsc_hz();

	heap_base = heap_bytes();
	rc = rtr_tables_init(dp);
	if (rc != 0) {
		fprintf(stderr, "test_tables: rtr_tables_init: %d\n", rc);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	rtr_tables_free(&rtr_dp);
	rtr_seg_destroy(rtr_dp.seg);
	rtr_dp.seg = NULL;
	rte_eal_cleanup();
	return 0;
}

/* After each test: free the tables (this also drains the defer queue),
 * check nothing stayed allocated, and start the next test afresh. */
static int
tables_reset(void **state)
{
	struct rtr_dp *dp = &rtr_dp;
	size_t now;
	int rc;

	(void)state;
	rtr_tables_free(dp);
	now = heap_bytes();
	/* rtr_tables_init expects a zeroed dp: clear everything it owns */
	memset(&dp->qs, 0, offsetof(struct rtr_dp, now_s) - offsetof(struct rtr_dp, qs));
	memset(ms(), 0, sizeof(struct rtr_main_stats));
	rc = rtr_tables_init(dp);
	if (now != heap_base) {
		fprintf(stderr, "test_tables: %zd bytes of rte_malloc heap still in use "
			"after rtr_tables_free\n", (ssize_t)(now - heap_base));
		return -1;
	}
	if (rc != 0) {
		fprintf(stderr, "test_tables: rtr_tables_init: %d\n", rc);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers.                                                           */

static void
app_msg(struct rtr_msg_app_set *a, uint32_t idx, uint32_t flags)
{
	memset(a, 0, sizeof(*a));
	a->app_index = idx;
	a->flags = flags;
}

static void
app_ok(uint32_t idx)
{
	struct rtr_msg_app_set a;

	app_msg(&a, idx, RTR_APP_F_ENABLED);
	assert_int_equal(rtr_app_set(&rtr_dp, &a), 0);
}

/* A distinct, valid IPv4 endpoint per host number. */
static void
ep_init(struct rtr_ep *ep, unsigned int host)
{
	memset(ep, 0, sizeof(*ep));
	ep->family = 4;
	ep->port_id = 0;
	ep->vlan = 0;
	ep->udp_port = (uint16_t)(40000 + host);
	ep->mac[0] = 0x02;
	ep->mac[4] = (uint8_t)(host >> 8);
	ep->mac[5] = (uint8_t)host;
	ep->ip[0] = 198;
	ep->ip[1] = 18;
	ep->ip[2] = (uint8_t)(host >> 8);
	ep->ip[3] = (uint8_t)host;
	memcpy(ep->local_ip, svc_ip4, 4);
}

/* The same for IPv6: 2001:db8:1::<host>. */
static void
ep_init6(struct rtr_ep *ep, unsigned int host)
{
	static const uint8_t net[6] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01 };

	ep_init(ep, host);
	ep->family = 6;
	memset(ep->ip, 0, sizeof(ep->ip));
	memcpy(ep->ip, net, sizeof(net));
	ep->ip[14] = (uint8_t)(host >> 8);
	ep->ip[15] = (uint8_t)host;
	memcpy(ep->local_ip, svc_ip6, 16);
}

static void
member_msg(struct rtr_msg_member_add *a, uint32_t app, uint64_t chan, unsigned int host,
	   bool active)
{
	memset(a, 0, sizeof(*a));
	a->app_index = app;
	a->channel_hash = chan;
	a->privs = P_JOIN | P_AUDIO;
	a->role = RTR_ROLE_PUBLISHER;
	a->flags = active ? RTR_MEMBER_F_ACTIVE : 0;
	ep_init(&a->ep, host);
	a->path_token = 0x0102030405060708ull ^ host;
}

static int
add(const struct rtr_msg_member_add *a, struct rtr_reply_member_add *r)
{
	memset(r, 0, sizeof(*r));
	return rtr_member_add(&rtr_dp, a, r);
}

static struct rtr_reply_member_add
add_ok(uint32_t app, uint64_t chan, unsigned int host, bool active)
{
	struct rtr_msg_member_add a;
	struct rtr_reply_member_add r;

	member_msg(&a, app, chan, host, active);
	assert_int_equal(add(&a, &r), 0);
	return r;
}

static int
add_rc(uint32_t app, uint64_t chan, unsigned int host, bool active)
{
	struct rtr_msg_member_add a;
	struct rtr_reply_member_add r;

	member_msg(&a, app, chan, host, active);
	return add(&a, &r);
}

/* The reply names exactly (slot, gen) and the slot holds that member. */
static void
expect_member(const struct rtr_reply_member_add *r, uint32_t slot, uint32_t gen)
{
	assert_int_equal(r->handle, rtr_handle_make(slot, gen));
	assert_int_equal(r->member_id, rtr_mid_make(slot, gen));
	assert_int_equal(rtr_mid_slot(r->member_id), slot);
	assert_int_not_equal(rtr_mid_gen(r->member_id), 0);
	assert_int_equal(rtr_dp.members[slot].gen, gen);
	assert_int_not_equal(rtr_dp.members[slot].state, RTR_MS_FREE);
}

/* Table counters and the stats segment gauges agree with the expectation. */
static void
check_counts(uint32_t members, uint32_t pending, uint32_t channels)
{
	const struct rtr_main_stats *s = ms();

	assert_int_equal(rtr_dp.n_members, members);
	assert_int_equal(rtr_dp.n_pending, pending);
	assert_int_equal(rtr_dp.n_channels, channels);
	assert_int_equal(s->members, members);
	assert_int_equal(s->members_pending, pending);
	assert_int_equal(s->members_active, members - pending);
	assert_int_equal(s->channels, channels);
}

/* The channel's receiver list holds exactly these member slots, each
 * receiver a faithful copy of its ACTIVE member. */
static void
expect_fanout(uint32_t cslot, const uint32_t *slots, uint32_t n)
{
	const struct rtr_fanout *fo = rtr_dp.channels[cslot].fo;
	uint32_t i, j;

	if (n == 0) {
		assert_null(fo);
		return;
	}
	assert_non_null(fo);
	assert_int_equal(fo->n, n);
	for (i = 0; i < n; i++) {
		const struct rtr_rcv *r = &fo->r[i];
		const struct rtr_member *m;
		bool listed = false;

		for (j = 0; j < n; j++)
			listed |= slots[j] == r->slot;
		if (!listed)
			fail_msg("channel %u: receiver slot %u not expected", cslot, r->slot);
		for (j = 0; j < i; j++)
			assert_int_not_equal(fo->r[j].slot, r->slot);
		assert_in_range(r->slot, 0, MAX_MEMBERS - 1);
		m = &rtr_dp.members[r->slot];
		assert_int_equal(m->state, RTR_MS_ACTIVE);
		assert_int_equal(m->chan_slot, cslot);
		assert_int_equal(r->member_id, rtr_mid_make(r->slot, m->gen));
		assert_int_equal(r->port_id, m->ep.port_id);
		assert_int_equal(r->vlan, m->ep.vlan);
		assert_int_equal(r->udp_port, m->ep.udp_port);
		assert_int_equal(r->family, m->ep.family);
		assert_memory_equal(&r->mac, m->ep.mac, 6);
		assert_memory_equal(r->ip, m->ep.ip, 16);
		assert_memory_equal(r->local_ip, m->ep.local_ip, 16);
		assert_int_equal(r->expire, m->token_expire);
	}
}

#define EXPECT_FO(cslot, ...)						\
	expect_fanout((cslot), (const uint32_t[]){ __VA_ARGS__ },	\
		      sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))

static void
expect_channel(uint32_t cslot, uint32_t app, uint64_t chan, uint32_t members)
{
	const struct rtr_channel *c = &rtr_dp.channels[cslot];

	assert_int_equal(c->in_use, 1);
	assert_int_equal(c->app_index, app);
	assert_int_equal(c->channel_hash, chan);
	assert_int_equal(c->members, members);
}

static void
expect_channel_free(uint32_t cslot)
{
	const struct rtr_channel *c = &rtr_dp.channels[cslot];

	assert_int_equal(c->in_use, 0);
	assert_null(c->fo);
	assert_int_equal(c->members, 0);
}

static void
upd_init(struct rtr_msg_member_update *u, uint64_t handle, uint32_t what)
{
	memset(u, 0, sizeof(*u));
	u->handle = handle;
	u->what = what;
}

/* ------------------------------------------------------------------ */
/* Apps.                                                              */

static void
test_app_set_validation(void **state)
{
	struct rtr_msg_app_set a;
	uint32_t i;

	(void)state;
	app_msg(&a, 0, RTR_APP_F_ENABLED);
	assert_int_equal(rtr_app_set(&rtr_dp, &a), -EINVAL);
	a.app_index = MAX_APPS;
	assert_int_equal(rtr_app_set(&rtr_dp, &a), -EINVAL);
	a.app_index = UINT32_MAX;
	assert_int_equal(rtr_app_set(&rtr_dp, &a), -EINVAL);

	app_msg(&a, APP1, RTR_APP_F_ENABLED | (1u << 1));
	assert_int_equal(rtr_app_set(&rtr_dp, &a), -EINVAL);
	a.flags = 1u << 31;
	assert_int_equal(rtr_app_set(&rtr_dp, &a), -EINVAL);

	app_msg(&a, APP1, RTR_APP_F_ENABLED);
	a.member_bps = BPS_MAX + 1;
	assert_int_equal(rtr_app_set(&rtr_dp, &a), -ERANGE);
	app_msg(&a, APP1, RTR_APP_F_ENABLED);
	a.egress_bps = EGRESS_MAX + 1;
	assert_int_equal(rtr_app_set(&rtr_dp, &a), -ERANGE);
	app_msg(&a, APP1, RTR_APP_F_ENABLED);
	a.member_fps = FPS_MAX + 1;
	assert_int_equal(rtr_app_set(&rtr_dp, &a), -ERANGE);

	/* nothing refused left a trace */
	for (i = 0; i < MAX_APPS; i++)
		assert_int_equal(rtr_dp.apps[i].in_use, 0);
	assert_int_equal(ms()->apps, 0);

	/* the limits themselves are accepted */
	app_msg(&a, APP1, RTR_APP_F_ENABLED);
	a.member_bps = BPS_MAX;
	a.egress_bps = EGRESS_MAX;
	a.member_fps = FPS_MAX;
	assert_int_equal(rtr_app_set(&rtr_dp, &a), 0);
	assert_int_equal(rtr_dp.apps[APP1].in_use, 1);
	assert_int_equal(rtr_dp.apps[APP1].flags, RTR_APP_F_ENABLED);
	assert_int_equal(rtr_dp.apps[APP1].member_bps, BPS_MAX);
	assert_int_equal(rtr_dp.apps[APP1].egress_bps, EGRESS_MAX);
	assert_int_equal(rtr_dp.apps[APP1].member_fps, FPS_MAX);
	assert_int_equal(ms()->apps, 1);

	/* the highest index, disabled */
	app_msg(&a, MAX_APPS - 1, 0);
	assert_int_equal(rtr_app_set(&rtr_dp, &a), 0);
	assert_int_equal(rtr_dp.apps[MAX_APPS - 1].in_use, 1);
	assert_int_equal(rtr_dp.apps[MAX_APPS - 1].flags, 0);
	assert_int_equal(ms()->apps, 2);

	/* update in place: new values, not counted twice */
	app_msg(&a, APP1, 0);
	a.member_fps = 50;
	a.member_bps = 1000;
	a.egress_bps = 2000;
	assert_int_equal(rtr_app_set(&rtr_dp, &a), 0);
	assert_int_equal(rtr_dp.apps[APP1].in_use, 1);
	assert_int_equal(rtr_dp.apps[APP1].flags, 0);
	assert_int_equal(rtr_dp.apps[APP1].member_fps, 50);
	assert_int_equal(rtr_dp.apps[APP1].member_bps, 1000);
	assert_int_equal(rtr_dp.apps[APP1].egress_bps, 2000);
	assert_int_equal(rtr_dp.apps[APP1].members, 0);
	assert_int_equal(ms()->apps, 2);

	/* a refused update leaves the app as it was */
	a.member_fps = FPS_MAX + 1;
	assert_int_equal(rtr_app_set(&rtr_dp, &a), -ERANGE);
	assert_int_equal(rtr_dp.apps[APP1].member_fps, 50);
	assert_int_equal(ms()->apps, 2);
}

static void
test_app_del(void **state)
{
	struct rtr_reply_member_add r[7];
	struct rtr_msg_member_update u;
	uint32_t i;

	(void)state;
	assert_int_equal(rtr_app_del(&rtr_dp, 0), -EINVAL);
	assert_int_equal(rtr_app_del(&rtr_dp, MAX_APPS), -EINVAL);
	assert_int_equal(rtr_app_del(&rtr_dp, APP3), -ENOENT);

	app_ok(APP1);
	app_ok(APP2);
	r[0] = add_ok(APP1, CHAN_A, 1, true);
	r[1] = add_ok(APP1, CHAN_A, 2, false);
	r[2] = add_ok(APP1, CHAN_A, 3, true);
	r[3] = add_ok(APP1, CHAN_B, 4, true);
	r[4] = add_ok(APP1, CHAN_B, 5, false);
	r[5] = add_ok(APP2, CHAN_A, 6, true);
	r[6] = add_ok(APP2, CHAN_A, 7, false);
	for (i = 0; i < 7; i++)
		expect_member(&r[i], i, 1);
	assert_int_equal(r[0].channel_slot, 0);
	assert_int_equal(r[3].channel_slot, 1);
	assert_int_equal(r[5].channel_slot, 2);
	check_counts(7, 3, 3);
	assert_int_equal(rtr_dp.apps[APP1].members, 5);
	assert_int_equal(rtr_dp.apps[APP2].members, 2);
	assert_int_equal(ms()->apps, 2);

	assert_int_equal(rtr_app_del(&rtr_dp, APP1), 0);
	check_counts(2, 1, 1);
	assert_int_equal(ms()->apps, 1);
	assert_int_equal(rtr_dp.apps[APP1].in_use, 0);
	assert_int_equal(rtr_dp.apps[APP1].flags, 0);
	assert_int_equal(rtr_dp.apps[APP1].members, 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(rtr_dp.members[i].state, RTR_MS_FREE);
		assert_int_equal(rtr_member_del(&rtr_dp, r[i].handle), -ENOENT);
		upd_init(&u, r[i].handle, RTR_UPD_RATE);
		assert_int_equal(rtr_member_update(&rtr_dp, &u), -ENOENT);
	}
	expect_channel_free(0);
	expect_channel_free(1);
	/* the other app's channel of the same hash is untouched */
	expect_channel(2, APP2, CHAN_A, 2);
	EXPECT_FO(2, 5);
	assert_int_equal(rtr_dp.apps[APP2].members, 2);

	/* gone: deleting again, adding to it */
	assert_int_equal(rtr_app_del(&rtr_dp, APP1), -ENOENT);
	assert_int_equal(add_rc(APP1, CHAN_A, 8, true), -ENOENT);
	check_counts(2, 1, 1);

	/* an app without members */
	app_ok(APP3);
	assert_int_equal(ms()->apps, 2);
	assert_int_equal(rtr_app_del(&rtr_dp, APP3), 0);
	assert_int_equal(ms()->apps, 1);
	check_counts(2, 1, 1);

	/* the survivors still answer to their handles */
	assert_int_equal(rtr_member_del(&rtr_dp, r[5].handle), 0);
	assert_int_equal(rtr_member_del(&rtr_dp, r[6].handle), 0);
	check_counts(0, 0, 0);
	expect_channel_free(2);
	assert_int_equal(rtr_dp.apps[APP2].members, 0);
	assert_int_equal(rtr_dp.apps[APP2].in_use, 1);
}

/* ------------------------------------------------------------------ */
/* Member add.                                                        */

static void
test_member_add(void **state)
{
	struct rtr_msg_member_add a;
	struct rtr_reply_member_add r, r2, r3;
	const struct rtr_member *m;
	uint32_t i;

	(void)state;
	assert_int_equal(add_rc(APP1, CHAN_A, 1, false), -ENOENT);	/* not set yet */
	app_ok(APP1);
	assert_int_equal(add_rc(APP2, CHAN_A, 1, false), -ENOENT);
	assert_int_equal(add_rc(0, CHAN_A, 1, false), -EINVAL);
	assert_int_equal(add_rc(MAX_APPS, CHAN_A, 1, false), -EINVAL);
	check_counts(0, 0, 0);

	/* PENDING by default; the ids are written out in full once */
	member_msg(&a, APP1, CHAN_A, 1, false);
	a.token_expire = 1700000000;
	for (i = 0; i < RTR_N_PRIV_EXPIRE; i++)
		a.priv_expire[i] = 1600000000 + i;
	a.fps = 321;
	a.bps = 654321;
	assert_int_equal(add(&a, &r), 0);
	assert_int_equal(r.handle, 0x0000000100000000ull);
	assert_int_equal(r.member_id, 0x00400000u);
	assert_int_equal(r.channel_slot, 0);
	expect_member(&r, 0, 1);
	m = &rtr_dp.members[0];
	assert_int_equal(m->state, RTR_MS_PENDING);
	assert_int_equal(m->app_index, APP1);
	assert_int_equal(m->chan_slot, 0);
	assert_int_equal(m->channel_hash, CHAN_A);
	assert_int_equal(m->privs, P_JOIN | P_AUDIO);
	assert_int_equal(m->role, RTR_ROLE_PUBLISHER);
	assert_int_equal(m->suite, 0);
	assert_int_equal(m->fps, 321);
	assert_int_equal(m->bps, 654321);
	assert_int_equal(m->token_expire, 1700000000);
	assert_memory_equal(m->priv_expire, a.priv_expire, sizeof(a.priv_expire));
	assert_int_equal(m->path_token, a.path_token);
	assert_memory_equal(&m->ep, &a.ep, sizeof(a.ep));
	expect_channel(0, APP1, CHAN_A, 1);
	EXPECT_FO(0);		/* PENDING receives nothing */
	check_counts(1, 1, 1);
	assert_int_equal(rtr_dp.apps[APP1].members, 1);

	/* ACTIVE with the flag: straight into the receiver list */
	r2 = add_ok(APP1, CHAN_A, 2, true);
	assert_int_equal(r2.handle, 0x0000000100000001ull);
	assert_int_equal(r2.member_id, 0x00400001u);
	assert_int_equal(r2.channel_slot, 0);
	expect_member(&r2, 1, 1);
	assert_int_equal(rtr_dp.members[1].state, RTR_MS_ACTIVE);
	EXPECT_FO(0, 1);
	check_counts(2, 1, 1);

	/* an IPv6 subscriber in another channel */
	member_msg(&a, APP1, CHAN_B, 3, true);
	ep_init6(&a.ep, 3);
	a.ep.vlan = 4094;
	a.role = RTR_ROLE_SUBSCRIBER;
	a.privs = P_JOIN;
	assert_int_equal(add(&a, &r3), 0);
	expect_member(&r3, 2, 1);
	assert_int_equal(r3.channel_slot, 1);
	assert_int_equal(rtr_dp.members[2].role, RTR_ROLE_SUBSCRIBER);
	expect_channel(1, APP1, CHAN_B, 1);
	EXPECT_FO(1, 2);
	assert_int_equal(rtr_dp.channels[1].fo->r[0].family, 6);
	assert_int_equal(rtr_dp.channels[1].fo->r[0].vlan, 4094);
	check_counts(3, 1, 2);

	/* delete: once */
	assert_int_equal(rtr_member_del(&rtr_dp, r.handle), 0);
	assert_int_equal(rtr_member_del(&rtr_dp, r.handle), -ENOENT);
	assert_int_equal(rtr_member_del_slot(&rtr_dp, 0), -ENOENT);
	assert_int_equal(rtr_member_del(&rtr_dp, rtr_handle_make(MAX_MEMBERS, 1)), -ENOENT);
	assert_int_equal(rtr_member_del(&rtr_dp, 0), -ENOENT);
	check_counts(2, 0, 2);
	assert_int_equal(rtr_dp.apps[APP1].members, 2);
	assert_int_equal(rtr_member_del_slot(&rtr_dp, 1), 0);
	assert_int_equal(rtr_member_del(&rtr_dp, r2.handle), -ENOENT);
	assert_int_equal(rtr_member_del(&rtr_dp, r3.handle), 0);
	check_counts(0, 0, 0);
	assert_int_equal(rtr_dp.apps[APP1].members, 0);
}

static void
expect_ep_refused(const struct rtr_ep *ep, const char *what)
{
	struct rtr_msg_member_add a;
	struct rtr_reply_member_add r;
	int rc;

	member_msg(&a, APP1, CHAN_A, 1, true);
	a.ep = *ep;
	rc = add(&a, &r);
	if (rc != -EADDRNOTAVAIL)
		fail_msg("endpoint %s: rtr_member_add returned %d, expected -EADDRNOTAVAIL (%d)",
			 what, rc, -EADDRNOTAVAIL);
	assert_int_equal(rtr_ep_valid(&rtr_dp, ep), 0);
	check_counts(0, 0, 0);
}

static void
expect_ep_accepted(const struct rtr_ep *ep, const char *what)
{
	struct rtr_msg_member_add a;
	struct rtr_reply_member_add r;
	int rc;

	member_msg(&a, APP1, CHAN_A, 1, true);
	a.ep = *ep;
	rc = add(&a, &r);
	if (rc != 0)
		fail_msg("endpoint %s: rtr_member_add returned %d, expected 0", what, rc);
	assert_memory_equal(&rtr_dp.members[rtr_mid_slot(r.member_id)].ep, ep, sizeof(*ep));
	assert_int_equal(rtr_member_del(&rtr_dp, r.handle), 0);
	/* each add makes and frees a channel: give its slot back */
	rtr_tables_reclaim(&rtr_dp);
}

#define SET4(ep, a, b, c, d) do {					\
		memset((ep)->ip, 0, 16);				\
		(ep)->ip[0] = (a); (ep)->ip[1] = (b);			\
		(ep)->ip[2] = (c); (ep)->ip[3] = (d);			\
	} while (0)

static void
test_member_add_endpoint(void **state)
{
	static const uint8_t v6_any[16];
	static const uint8_t v6_lo[16] = { [15] = 1 };
	static const uint8_t v6_all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	static const uint8_t v6_site_mc[16] = { 0xff, 0x05, [13] = 1, [15] = 3 };
	static const uint8_t mac_zero[6];
	static const uint8_t mac_v4mc[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	static const uint8_t mac_v6mc[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t mac_la_group[6] = { 0x03, 0x00, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t mac_global[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55 };
	struct rtr_ep ep;

	(void)state;
	app_ok(APP1);

	/* UDP ports: well-known and the relay's own */
	ep_init(&ep, 1); ep.udp_port = 0;
	expect_ep_refused(&ep, "udp 0");
	ep_init(&ep, 1); ep.udp_port = 1023;
	expect_ep_refused(&ep, "udp 1023");
	ep_init(&ep, 1); ep.udp_port = SVC_PORT;
	expect_ep_refused(&ep, "udp 7700");

	/* IPv4 */
	ep_init(&ep, 1); memcpy(ep.ip, svc_ip4, 4);
	expect_ep_refused(&ep, "10.0.0.1 (ours)");
	ep_init(&ep, 1); SET4(&ep, 0, 0, 0, 0);
	expect_ep_refused(&ep, "0.0.0.0");
	ep_init(&ep, 1); SET4(&ep, 127, 0, 0, 1);
	expect_ep_refused(&ep, "127.0.0.1");
	ep_init(&ep, 1); SET4(&ep, 127, 255, 255, 254);
	expect_ep_refused(&ep, "127.255.255.254");
	ep_init(&ep, 1); SET4(&ep, 224, 0, 0, 1);
	expect_ep_refused(&ep, "224.0.0.1");
	ep_init(&ep, 1); SET4(&ep, 239, 255, 255, 250);
	expect_ep_refused(&ep, "239.255.255.250");
	ep_init(&ep, 1); SET4(&ep, 240, 0, 0, 1);
	expect_ep_refused(&ep, "240.0.0.1");
	ep_init(&ep, 1); SET4(&ep, 255, 255, 255, 255);
	expect_ep_refused(&ep, "255.255.255.255");

	/* MACs: zero, multicast, broadcast */
	ep_init(&ep, 1); memcpy(ep.mac, mac_zero, 6);
	expect_ep_refused(&ep, "mac zero");
	ep_init(&ep, 1); memcpy(ep.mac, mac_v4mc, 6);
	expect_ep_refused(&ep, "mac 01:00:5e:00:00:01");
	ep_init(&ep, 1); memcpy(ep.mac, mac_v6mc, 6);
	expect_ep_refused(&ep, "mac 33:33:00:00:00:01");
	ep_init(&ep, 1); memcpy(ep.mac, mac_bcast, 6);
	expect_ep_refused(&ep, "mac broadcast");
	ep_init(&ep, 1); memcpy(ep.mac, mac_la_group, 6);
	expect_ep_refused(&ep, "mac 03:00:00:00:00:01");

	/* port and VLAN */
	ep_init(&ep, 1); ep.port_id = 1;
	expect_ep_refused(&ep, "port_id 1 (n_ports 1)");
	ep_init(&ep, 1); ep.port_id = UINT16_MAX;
	expect_ep_refused(&ep, "port_id 65535");
	ep_init(&ep, 1); ep.vlan = 4095;
	expect_ep_refused(&ep, "vlan 4095");
	ep_init(&ep, 1); ep.vlan = UINT16_MAX;
	expect_ep_refused(&ep, "vlan 65535");

	/* family */
	ep_init(&ep, 1); ep.family = 0;
	expect_ep_refused(&ep, "family 0");
	ep_init(&ep, 1); ep.family = 5;
	expect_ep_refused(&ep, "family 5");
	ep_init(&ep, 1); ep.family = 10;	/* AF_INET6, not 6 */
	expect_ep_refused(&ep, "family 10");

	/* IPv6 */
	ep_init6(&ep, 1); memcpy(ep.ip, v6_any, 16);
	expect_ep_refused(&ep, "::");
	ep_init6(&ep, 1); memcpy(ep.ip, v6_lo, 16);
	expect_ep_refused(&ep, "::1");
	ep_init6(&ep, 1); memcpy(ep.ip, v6_all_nodes, 16);
	expect_ep_refused(&ep, "ff02::1");
	ep_init6(&ep, 1); memcpy(ep.ip, v6_site_mc, 16);
	expect_ep_refused(&ep, "ff05::1:3");
	ep_init6(&ep, 1); memcpy(ep.ip, svc_ip6, 16);
	expect_ep_refused(&ep, "2001:db8::1 (ours)");

	/* the edges just inside */
	ep_init(&ep, 1); ep.udp_port = 1024;
	expect_ep_accepted(&ep, "udp 1024");
	ep_init(&ep, 1); ep.udp_port = SVC_PORT - 1;
	expect_ep_accepted(&ep, "udp 7699");
	ep_init(&ep, 1); ep.udp_port = SVC_PORT + 1;
	expect_ep_accepted(&ep, "udp 7701");
	ep_init(&ep, 1); ep.udp_port = UINT16_MAX;
	expect_ep_accepted(&ep, "udp 65535");
	ep_init(&ep, 1); ep.vlan = 1;
	expect_ep_accepted(&ep, "vlan 1");
	ep_init(&ep, 1); ep.vlan = 4094;
	expect_ep_accepted(&ep, "vlan 4094");
	ep_init(&ep, 1); SET4(&ep, 10, 0, 0, 2);
	expect_ep_accepted(&ep, "10.0.0.2");
	ep_init(&ep, 1); SET4(&ep, 126, 255, 255, 255);
	expect_ep_accepted(&ep, "126.255.255.255");
	ep_init(&ep, 1); SET4(&ep, 128, 0, 0, 1);
	expect_ep_accepted(&ep, "128.0.0.1");
	ep_init(&ep, 1); SET4(&ep, 223, 255, 255, 254);
	expect_ep_accepted(&ep, "223.255.255.254");
	ep_init(&ep, 1); memcpy(ep.mac, mac_global, 6);
	expect_ep_accepted(&ep, "mac 00:11:22:33:44:55");
	ep_init6(&ep, 1);
	expect_ep_accepted(&ep, "2001:db8:1::1");
	check_counts(0, 0, 0);
}

/* The address frames to the member are sent from must be one of ours. */
static void
test_member_add_local_ip(void **state)
{
	struct rtr_ep ep;

	(void)state;
	app_ok(APP1);
	ep_init(&ep, 1);
	memset(ep.local_ip, 0, sizeof(ep.local_ip));
	ep.local_ip[0] = 192;
	ep.local_ip[1] = 0;
	ep.local_ip[2] = 2;
	ep.local_ip[3] = 99;
	expect_ep_refused(&ep, "local_ip 192.0.2.99 (not a service address)");
}

static void
test_member_add_params(void **state)
{
	static const uint32_t bad_privs[] = {
		0, P_AUDIO, P_AUDIO | P_VIDEO | P_DATA, P_JOIN | 1u, P_JOIN | (1u << 5),
		P_JOIN | (1u << 31), RTR_PRIV_ALL | (1u << 5),
	};
	static const uint8_t bad_roles[] = { 0, 3, 0xff };
	static const uint16_t bad_flags[] = { 1u << 1, RTR_MEMBER_F_ACTIVE | (1u << 15) };
	struct rtr_msg_member_add a;
	struct rtr_reply_member_add r;
	unsigned int i;

	(void)state;
	app_ok(APP1);
	for (i = 0; i < RTE_DIM(bad_privs); i++) {
		member_msg(&a, APP1, CHAN_A, 1, true);
		a.privs = bad_privs[i];
		if (add(&a, &r) != -EINVAL)
			fail_msg("privs 0x%x not refused with -EINVAL", bad_privs[i]);
	}
	for (i = 0; i < RTE_DIM(bad_roles); i++) {
		member_msg(&a, APP1, CHAN_A, 1, true);
		a.role = bad_roles[i];
		assert_int_equal(add(&a, &r), -EINVAL);
	}
	for (i = 0; i < RTE_DIM(bad_flags); i++) {
		member_msg(&a, APP1, CHAN_A, 1, true);
		a.flags = bad_flags[i];
		assert_int_equal(add(&a, &r), -EINVAL);
	}
	member_msg(&a, APP1, CHAN_A, 1, true);
	a.suite = 1;
	assert_int_equal(add(&a, &r), -ENOTSUP);
	a.suite = 2;
	assert_int_equal(add(&a, &r), -ENOTSUP);
	member_msg(&a, APP1, CHAN_A, 1, true);
	a.bps = BPS_MAX + 1;
	assert_int_equal(add(&a, &r), -ERANGE);
	member_msg(&a, APP1, CHAN_A, 1, true);
	a.fps = FPS_MAX + 1;
	assert_int_equal(add(&a, &r), -ERANGE);

	/* nothing taken: no member, no channel, the first slot still first */
	check_counts(0, 0, 0);
	for (i = 0; i < MAX_CHANNELS; i++)
		assert_int_equal(rtr_dp.channels[i].in_use, 0);
	assert_int_equal(rtr_dp.apps[APP1].members, 0);

	member_msg(&a, APP1, CHAN_A, 1, true);
	a.privs = RTR_PRIV_ALL;
	a.role = RTR_ROLE_SUBSCRIBER;
	a.bps = BPS_MAX;
	a.fps = FPS_MAX;
	assert_int_equal(add(&a, &r), 0);
	expect_member(&r, 0, 1);
	assert_int_equal(r.channel_slot, 0);
	assert_int_equal(rtr_dp.members[0].privs, RTR_PRIV_ALL);
	assert_int_equal(rtr_dp.members[0].bps, BPS_MAX);
	assert_int_equal(rtr_dp.members[0].fps, FPS_MAX);
	check_counts(1, 0, 1);
}

/* ------------------------------------------------------------------ */
/* Channels and fan-out lists.                                        */

static void
test_channels_fanout(void **state)
{
	struct rtr_reply_member_add r[5], x;
	const struct rtr_fanout *old;
	uint32_t i;

	(void)state;
	app_ok(APP1);
	app_ok(APP2);
	r[0] = add_ok(APP1, CHAN_A, 1, true);
	r[1] = add_ok(APP1, CHAN_A, 2, false);
	r[2] = add_ok(APP1, CHAN_A, 3, true);
	r[3] = add_ok(APP2, CHAN_A, 4, true);	/* same hash, other app */
	r[4] = add_ok(APP1, CHAN_B, 5, false);
	for (i = 0; i < 5; i++)
		expect_member(&r[i], i, 1);
	assert_int_equal(r[0].channel_slot, 0);
	assert_int_equal(r[1].channel_slot, 0);
	assert_int_equal(r[2].channel_slot, 0);
	assert_int_equal(r[3].channel_slot, 1);
	assert_int_equal(r[4].channel_slot, 2);
	for (i = 0; i < 5; i++)
		assert_int_equal(rtr_dp.members[i].chan_slot, r[i].channel_slot);
	expect_channel(0, APP1, CHAN_A, 3);
	expect_channel(1, APP2, CHAN_A, 1);
	expect_channel(2, APP1, CHAN_B, 1);
	check_counts(5, 2, 3);

	/* exactly the ACTIVE members receive */
	EXPECT_FO(0, 0, 2);
	EXPECT_FO(1, 3);
	EXPECT_FO(2);

	/* activation */
	assert_int_equal(rtr_member_activate(&rtr_dp, 1, 2), -ENOENT);	/* wrong gen */
	assert_int_equal(rtr_member_activate(&rtr_dp, 1, 1 + 0x400), -ENOENT);
	assert_int_equal(rtr_member_activate(&rtr_dp, MAX_MEMBERS, 1), -EINVAL);
	assert_int_equal(rtr_member_activate(&rtr_dp, 0, 1), -ENOENT);	/* already ACTIVE */
	assert_int_equal(rtr_member_activate(&rtr_dp, 10, 0), -ENOENT);	/* free slot */
	EXPECT_FO(0, 0, 2);
	check_counts(5, 2, 3);
	old = rtr_dp.channels[0].fo;
	assert_int_equal(rtr_member_activate(&rtr_dp, 1, 1), 0);
	assert_int_equal(rtr_dp.members[1].state, RTR_MS_ACTIVE);
	assert_ptr_not_equal(rtr_dp.channels[0].fo, old);	/* replaced, not edited */
	EXPECT_FO(0, 0, 1, 2);
	check_counts(5, 1, 3);
	assert_int_equal(rtr_member_activate(&rtr_dp, 1, 1), -ENOENT);
	check_counts(5, 1, 3);
	assert_int_equal(rtr_member_activate(&rtr_dp, 4, 1), 0);
	EXPECT_FO(2, 4);
	check_counts(5, 0, 3);

	/* deletes shrink the list; the last one frees the channel */
	assert_int_equal(rtr_member_del(&rtr_dp, r[0].handle), 0);
	EXPECT_FO(0, 1, 2);
	expect_channel(0, APP1, CHAN_A, 2);
	assert_int_equal(rtr_member_del(&rtr_dp, r[1].handle), 0);
	EXPECT_FO(0, 2);
	check_counts(3, 0, 3);
	assert_int_equal(rtr_member_del(&rtr_dp, r[2].handle), 0);
	expect_channel_free(0);
	check_counts(2, 0, 2);
	assert_int_equal(rtr_dp.channels[0].head, UINT32_MAX);
	/* the others are untouched */
	expect_channel(1, APP2, CHAN_A, 1);
	EXPECT_FO(1, 3);
	expect_channel(2, APP1, CHAN_B, 1);
	EXPECT_FO(2, 4);

	/* the freed channel slot waits for a grace period */
	x = add_ok(APP1, CHAN_A, 6, true);
	expect_member(&x, 5, 1);
	assert_int_equal(x.channel_slot, 3);
	expect_channel(3, APP1, CHAN_A, 1);
	EXPECT_FO(3, 5);
	expect_channel_free(0);
	check_counts(3, 0, 3);
	rtr_tables_reclaim(&rtr_dp);
	assert_int_equal(ms()->rcu_pending, 0);
	x = add_ok(APP2, CHAN_B, 7, false);
	expect_member(&x, 6, 1);
	assert_int_equal(x.channel_slot, 0);	/* lowest free slot again */
	expect_channel(0, APP2, CHAN_B, 1);
	EXPECT_FO(0);
	check_counts(4, 1, 4);

	/* a PENDING member's delete leaves the list alone */
	old = rtr_dp.channels[3].fo;
	x = add_ok(APP1, CHAN_A, 8, false);
	assert_int_equal(x.channel_slot, 3);
	assert_ptr_equal(rtr_dp.channels[3].fo, old);
	assert_int_equal(rtr_member_del(&rtr_dp, x.handle), 0);
	assert_ptr_equal(rtr_dp.channels[3].fo, old);
	EXPECT_FO(3, 5);
	check_counts(4, 1, 4);
}

/* ------------------------------------------------------------------ */
/* Slot reuse, generations, FIFO order.                               */

static void
test_slot_reuse_generation(void **state)
{
	struct rtr_reply_member_add a, b, c;
	struct rtr_msg_member_update u;
	uint32_t i;

	(void)state;
	app_ok(APP1);
	a = add_ok(APP1, CHAN_A, 1, true);
	expect_member(&a, 0, 1);
	assert_int_equal(rtr_member_del(&rtr_dp, a.handle), 0);
	assert_int_equal(rtr_dp.members[0].state, RTR_MS_FREE);

	/* no grace period yet: slot 0 is not handed out */
	b = add_ok(APP1, CHAN_A, 2, true);
	expect_member(&b, 1, 1);
	for (i = 2; i < MAX_MEMBERS; i++) {
		c = add_ok(APP1, CHAN_A, 2 + i, false);
		expect_member(&c, i, 1);
	}
	check_counts(MAX_MEMBERS - 1, MAX_MEMBERS - 2, 1);
	assert_int_equal(add_rc(APP1, CHAN_A, 100, true), -ENOSPC);
	assert_int_equal(add_rc(APP1, CHAN_B, 100, true), -ENOSPC);
	check_counts(MAX_MEMBERS - 1, MAX_MEMBERS - 2, 1);

	rtr_tables_reclaim(&rtr_dp);
	assert_int_equal(ms()->rcu_pending, 0);
	c = add_ok(APP1, CHAN_A, 101, true);
	expect_member(&c, 0, 2);
	assert_int_equal(c.handle, 0x0000000200000000ull);
	assert_int_equal(c.member_id, 0x00800000u);
	assert_int_not_equal(c.member_id, a.member_id);
	assert_int_not_equal(c.handle, a.handle);
	check_counts(MAX_MEMBERS, MAX_MEMBERS - 2, 1);

	/* the stale handle reaches nothing; the new one works */
	assert_int_equal(rtr_member_del(&rtr_dp, a.handle), -ENOENT);
	upd_init(&u, a.handle, RTR_UPD_RATE);
	u.fps = 5;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ENOENT);
	assert_int_equal(rtr_dp.members[0].fps, 0);
	assert_int_equal(rtr_member_activate(&rtr_dp, 0, 1), -ENOENT);
	assert_int_equal(rtr_dp.members[0].state, RTR_MS_ACTIVE);
	assert_int_equal(rtr_dp.members[0].gen, 2);
	check_counts(MAX_MEMBERS, MAX_MEMBERS - 2, 1);
	u.handle = c.handle;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
	assert_int_equal(rtr_dp.members[0].fps, 5);
	assert_int_equal(rtr_member_del(&rtr_dp, c.handle), 0);
	assert_int_equal(rtr_member_del(&rtr_dp, c.handle), -ENOENT);
	check_counts(MAX_MEMBERS - 1, MAX_MEMBERS - 2, 1);
}

/* Freed slots queue behind every slot that was free before them. */
static void
test_slot_fifo_order(void **state)
{
	static const uint32_t order[] = { 61, 62, 63, 10, 5 };
	static const uint32_t gens[] = { 1, 1, 1, 2, 2 };
	struct rtr_reply_member_add r[MAX_MEMBERS], x;
	uint32_t i;

	(void)state;
	app_ok(APP1);
	for (i = 0; i < MAX_MEMBERS - 3; i++) {
		r[i] = add_ok(APP1, CHAN_A, 1 + i, true);
		expect_member(&r[i], i, 1);
	}
	/* free 10, then 5: a stack would hand out 5 first, lowest-first 5 too */
	assert_int_equal(rtr_member_del(&rtr_dp, r[10].handle), 0);
	assert_int_equal(rtr_member_del(&rtr_dp, r[5].handle), 0);
	rtr_tables_reclaim(&rtr_dp);
	for (i = 0; i < RTE_DIM(order); i++) {
		x = add_ok(APP1, CHAN_A, 100 + i, true);
		expect_member(&x, order[i], gens[i]);
	}
	assert_int_equal(add_rc(APP1, CHAN_A, 200, true), -ENOSPC);
	check_counts(MAX_MEMBERS, 0, 1);
	EXPECT_FO(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
		  20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
		  39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
		  58, 59, 60, 61, 62, 63);
}

/* Re-add at slot 7 after forcing its generation counter. */
static struct rtr_reply_member_add
readd_with_gen(uint64_t *handle, uint32_t forced_gen, unsigned int host)
{
	assert_int_equal(rtr_member_del(&rtr_dp, *handle), 0);
	rtr_tables_reclaim(&rtr_dp);
	rtr_dp.members[7].gen = forced_gen;
	return add_ok(APP1, CHAN_A, host, true);
}

static void
test_generation_wrap(void **state)
{
	struct rtr_reply_member_add r;
	uint64_t h = 0;
	uint32_t i;

	(void)state;
	app_ok(APP1);
	for (i = 0; i < MAX_MEMBERS; i++) {
		r = add_ok(APP1, CHAN_A, 1 + i, true);
		if (i == 7)
			h = r.handle;
	}
	/* the table is full: the freed slot is the only one to come back */
	r = readd_with_gen(&h, 0x3fe, 100);
	expect_member(&r, 7, 0x3ff);
	assert_int_equal(rtr_mid_gen(r.member_id), 0x3ff);

	h = r.handle;
	r = readd_with_gen(&h, 0x3ff, 101);
	expect_member(&r, 7, 0x401);
	assert_int_equal(r.handle, 0x0000040100000007ull);
	assert_int_equal(r.member_id, 0x00400007u);
	assert_int_equal(rtr_mid_gen(r.member_id), 1);

	h = r.handle;
	r = readd_with_gen(&h, 0x7ff, 102);
	expect_member(&r, 7, 0x801);
	assert_int_equal(rtr_mid_gen(r.member_id), 1);

	/* the 32-bit counter itself wraps past 0 */
	h = r.handle;
	r = readd_with_gen(&h, UINT32_MAX, 103);
	expect_member(&r, 7, 1);
	assert_int_equal(r.member_id, 0x00400007u);

	EXPECT_FO(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
		  20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
		  39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
		  58, 59, 60, 61, 62, 63);
	check_counts(MAX_MEMBERS, 0, 1);
}

/* ------------------------------------------------------------------ */
/* Re-install at a given handle.                                      */

static int
want(uint64_t handle, bool active, struct rtr_reply_member_add *r, unsigned int host)
{
	struct rtr_msg_member_add a;

	member_msg(&a, APP1, CHAN_A, host, active);
	a.want_handle = handle;
	return add(&a, r);
}

static void
test_want_handle(void **state)
{
	static const uint32_t normal[] = { 0, 1, 2, 3, 4, 6, 7, 8 };
	const uint64_t h5 = rtr_handle_make(5, 0x123);
	struct rtr_reply_member_add r, x;
	struct rtr_msg_member_update u;
	uint32_t i;

	(void)state;
	app_ok(APP1);
	assert_int_equal(want(h5, false, &r, 1), 0);
	assert_int_equal(r.handle, h5);
	assert_int_equal(r.member_id, 0x48c00005u);
	assert_int_equal(r.channel_slot, 0);
	expect_member(&r, 5, 0x123);
	assert_int_equal(rtr_dp.members[5].state, RTR_MS_PENDING);
	check_counts(1, 1, 1);

	/* occupied */
	assert_int_equal(want(h5, false, &x, 2), -EEXIST);
	assert_int_equal(want(rtr_handle_make(5, 0x124), false, &x, 2), -EEXIST);
	/* generation bits that would put 0 on the wire, slots out of range */
	assert_int_equal(want(rtr_handle_make(6, 0), false, &x, 2), -EINVAL);
	assert_int_equal(want(rtr_handle_make(6, 0x400), false, &x, 2), -EINVAL);
	assert_int_equal(want(rtr_handle_make(6, 0xfffffc00u), false, &x, 2), -EINVAL);
	assert_int_equal(want(rtr_handle_make(MAX_MEMBERS, 1), false, &x, 2), -EINVAL);
	assert_int_equal(want(rtr_handle_make(UINT32_MAX, 1), false, &x, 2), -EINVAL);
	check_counts(1, 1, 1);
	assert_int_equal(rtr_dp.members[6].state, RTR_MS_FREE);
	assert_int_equal(rtr_dp.members[6].gen, 0);

	/* normal adds go around the taken slot */
	for (i = 0; i < RTE_DIM(normal); i++) {
		x = add_ok(APP1, CHAN_A, 10 + i, true);
		expect_member(&x, normal[i], 1);
	}
	check_counts(1 + RTE_DIM(normal), 1, 1);
	assert_int_equal(want(rtr_handle_make(6, 7), false, &x, 2), -EEXIST);
	EXPECT_FO(0, 0, 1, 2, 3, 4, 6, 7, 8);

	/* an ACTIVE re-install joins the receivers at once */
	assert_int_equal(want(rtr_handle_make(40, 0x3ff), true, &x, 3), 0);
	expect_member(&x, 40, 0x3ff);
	assert_int_equal(x.member_id, 0xffc00028u);
	EXPECT_FO(0, 0, 1, 2, 3, 4, 6, 7, 8, 40);
	check_counts(2 + RTE_DIM(normal), 1, 1);

	/* the re-installed member answers to its handle, only to it */
	upd_init(&u, rtr_handle_make(5, 0x124), RTR_UPD_RATE);
	u.fps = 9;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ENOENT);
	u.handle = h5;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
	assert_int_equal(rtr_dp.members[5].fps, 9);
	assert_int_equal(rtr_member_activate(&rtr_dp, 5, 0x123), 0);
	EXPECT_FO(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 40);
	assert_int_equal(rtr_member_del(&rtr_dp, rtr_handle_make(5, 0x124)), -ENOENT);
	assert_int_equal(rtr_member_del(&rtr_dp, h5), 0);
	assert_int_equal(rtr_member_del(&rtr_dp, h5), -ENOENT);
	check_counts(1 + RTE_DIM(normal), 0, 1);

	/* a refused re-install has no side effect */
	{
		struct rtr_msg_member_add a;

		member_msg(&a, APP1, CHAN_A, 4, true);
		a.want_handle = rtr_handle_make(41, 1);
		a.suite = 1;
		assert_int_equal(add(&a, &x), -ENOTSUP);
	}
	assert_int_equal(rtr_dp.members[41].state, RTR_MS_FREE);
	assert_int_equal(rtr_dp.members[41].gen, 0);
	check_counts(1 + RTE_DIM(normal), 0, 1);
}

/* A slot taken by a re-install and then freed must wait for a grace
 * period like any other before a normal add hands it out again. */
static void
test_want_handle_freed_slot_waits(void **state)
{
	struct rtr_reply_member_add r, x;

	(void)state;
	app_ok(APP1);
	assert_int_equal(want(rtr_handle_make(0, 1), true, &r, 1), 0);
	expect_member(&r, 0, 1);
	assert_int_equal(rtr_member_del(&rtr_dp, r.handle), 0);
	/* no reclaim: slot 0 may still be seen by a worker */
	x = add_ok(APP1, CHAN_A, 2, true);
	if (rtr_mid_slot(x.member_id) == 0)
		fail_msg("slot 0 was reused (gen %u) before its grace period ended",
			 rtr_dp.members[0].gen);
	expect_member(&x, 1, 1);
}

/* ... and then queue behind the slots that were already free. */
static void
test_want_handle_freed_slot_queues_last(void **state)
{
	struct rtr_reply_member_add r, x;
	uint32_t i;

	(void)state;
	app_ok(APP1);
	assert_int_equal(want(rtr_handle_make(5, 1), true, &r, 1), 0);
	assert_int_equal(rtr_member_del(&rtr_dp, r.handle), 0);
	rtr_tables_reclaim(&rtr_dp);
	for (i = 0; i < MAX_MEMBERS - 1; i++) {
		x = add_ok(APP1, CHAN_A, 10 + i, true);
		if (rtr_mid_slot(x.member_id) == 5)
			fail_msg("freed slot 5 handed out by add #%u, before %u never-used slots",
				 i + 1, MAX_MEMBERS - 1 - i);
	}
	x = add_ok(APP1, CHAN_A, 100, true);
	expect_member(&x, 5, 2);
}

/* ------------------------------------------------------------------ */
/* Full tables.                                                       */

static void
test_members_full(void **state)
{
	struct rtr_reply_member_add r[MAX_MEMBERS], x;
	uint32_t i;

	(void)state;
	app_ok(APP1);
	for (i = 0; i < MAX_MEMBERS; i++) {
		r[i] = add_ok(APP1, (i & 1) ? CHAN_B : CHAN_A, 1 + i, (i % 3) != 0);
		expect_member(&r[i], i, 1);
	}
	check_counts(MAX_MEMBERS, 22, 2);
	assert_int_equal(add_rc(APP1, CHAN_A, 100, true), -ENOSPC);
	assert_int_equal(add_rc(APP1, CHAN_B, 100, false), -ENOSPC);
	assert_int_equal(add_rc(APP1, 0x99, 100, true), -ENOSPC);	/* new channel */
	assert_int_equal(want(rtr_handle_make(3, 9), true, &x, 100), -EEXIST);
	check_counts(MAX_MEMBERS, 22, 2);
	assert_int_equal(rtr_dp.channels[2].in_use, 0);
	for (i = 0; i < MAX_MEMBERS; i++)
		expect_member(&r[i], i, 1);

	/* every handle still deletes its member, once */
	for (i = MAX_MEMBERS; i-- > 0;) {
		assert_int_equal(rtr_member_del(&rtr_dp, r[i].handle), 0);
		assert_int_equal(rtr_member_del(&rtr_dp, r[i].handle), -ENOENT);
	}
	check_counts(0, 0, 0);
	expect_channel_free(0);
	expect_channel_free(1);
	assert_int_equal(rtr_dp.apps[APP1].members, 0);
	assert_int_equal(add_rc(APP1, CHAN_A, 100, true), -ENOSPC);	/* all in grace */

	/* and the table fills again, in the order the slots were freed */
	rtr_tables_reclaim(&rtr_dp);
	for (i = 0; i < MAX_MEMBERS; i++) {
		x = add_ok(APP1, CHAN_A, 200 + i, true);
		expect_member(&x, MAX_MEMBERS - 1 - i, 2);
		assert_int_not_equal(x.member_id, r[MAX_MEMBERS - 1 - i].member_id);
	}
	assert_int_equal(add_rc(APP1, CHAN_A, 100, true), -ENOSPC);
	check_counts(MAX_MEMBERS, 0, 1);
}

static void
test_channels_full(void **state)
{
	struct rtr_reply_member_add r[MAX_CHANNELS], x;
	uint32_t i, n;
	int rc;

	(void)state;
	app_ok(APP1);
	app_ok(APP2);
	for (i = 0; i < MAX_CHANNELS; i++) {
		r[i] = add_ok(APP1, 0x100 + i, 1 + i, true);
		expect_member(&r[i], i, 1);
		assert_int_equal(r[i].channel_slot, i);
	}
	check_counts(MAX_CHANNELS, 0, MAX_CHANNELS);
	assert_int_equal(add_rc(APP1, 0x200, 50, true), -ENOSPC);
	assert_int_equal(add_rc(APP2, 0x100, 50, true), -ENOSPC);	/* other app's key */
	assert_int_equal(want(rtr_handle_make(20, 1), true, &x, 50), -ENOSPC);
	assert_int_equal(rtr_dp.members[20].state, RTR_MS_FREE);
	check_counts(MAX_CHANNELS, 0, MAX_CHANNELS);
	assert_int_equal(rtr_dp.apps[APP1].members, MAX_CHANNELS);
	assert_int_equal(rtr_dp.apps[APP2].members, 0);

	/* an existing channel still takes members */
	x = add_ok(APP1, 0x103, 51, false);
	assert_int_equal(x.channel_slot, 3);
	expect_channel(3, APP1, 0x103, 2);
	EXPECT_FO(3, 3);
	check_counts(MAX_CHANNELS + 1, 1, MAX_CHANNELS);

	/* freeing a channel gives its slot back only after a grace period */
	assert_int_equal(rtr_member_del(&rtr_dp, r[0].handle), 0);
	expect_channel_free(0);
	check_counts(MAX_CHANNELS, 1, MAX_CHANNELS - 1);
	assert_int_equal(add_rc(APP1, 0x200, 52, true), -ENOSPC);
	rtr_tables_reclaim(&rtr_dp);
	x = add_ok(APP1, 0x200, 53, true);
	assert_int_equal(x.channel_slot, 0);
	expect_channel(0, APP1, 0x200, 1);
	check_counts(MAX_CHANNELS + 1, 1, MAX_CHANNELS);
	/* the old key is gone from the lookup */
	assert_int_equal(add_rc(APP1, 0x100, 54, true), -ENOSPC);

	/* no member slot was lost to the refused adds: the table fills up */
	n = rtr_dp.n_members;
	for (i = 0; i < 2 * MAX_MEMBERS; i++) {
		rc = add_rc(APP1, 0x101, 300 + i, true);
		if (rc != 0)
			break;
		n++;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(n, MAX_MEMBERS);
	check_counts(MAX_MEMBERS, 1, MAX_CHANNELS);
	for (i = 0; i < MAX_MEMBERS; i++) {
		assert_int_not_equal(rtr_dp.members[i].state, RTR_MS_FREE);
		assert_int_equal(rtr_dp.members[i].gen, i == 0 ? 2 : 1);
	}
}

/* ------------------------------------------------------------------ */
/* Member update.                                                     */

static void
test_member_update(void **state)
{
	static const uint64_t pexp[RTR_N_PRIV_EXPIRE] = { 11, 12, 13, 14 };
	struct rtr_reply_member_add a, p;
	struct rtr_msg_member_add msg;
	struct rtr_msg_member_update u;
	const struct rtr_fanout *fo;
	struct rtr_member *m;

	(void)state;
	app_ok(APP1);
	member_msg(&msg, APP1, CHAN_A, 1, true);
	msg.token_expire = 1000;
	assert_int_equal(add(&msg, &a), 0);
	expect_member(&a, 0, 1);
	p = add_ok(APP1, CHAN_A, 2, false);
	expect_member(&p, 1, 1);
	m = &rtr_dp.members[0];
	EXPECT_FO(0, 0);
	assert_int_equal(rtr_dp.channels[0].fo->r[0].expire, 1000);

	/* privileges */
	upd_init(&u, a.handle, RTR_UPD_PRIVS);
	u.privs = P_JOIN | P_VIDEO | P_DATA;
	u.token_expire = 5;		/* not asked for: ignored */
	u.fps = 5;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
	assert_int_equal(m->privs, P_JOIN | P_VIDEO | P_DATA);
	assert_int_equal(m->token_expire, 1000);
	assert_int_equal(m->fps, 0);

	/* expiry: the receiver list carries it, so it is rebuilt */
	fo = rtr_dp.channels[0].fo;
	upd_init(&u, a.handle, RTR_UPD_EXPIRY);
	u.token_expire = 2000;
	memcpy(u.priv_expire, pexp, sizeof(pexp));
	assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
	assert_int_equal(m->token_expire, 2000);
	assert_memory_equal(m->priv_expire, pexp, sizeof(pexp));
	assert_int_equal(m->privs, P_JOIN | P_VIDEO | P_DATA);
	assert_ptr_not_equal(rtr_dp.channels[0].fo, fo);
	EXPECT_FO(0, 0);
	assert_int_equal(rtr_dp.channels[0].fo->r[0].expire, 2000);

	/* rates, at their limits */
	upd_init(&u, a.handle, RTR_UPD_RATE);
	u.fps = FPS_MAX;
	u.bps = BPS_MAX;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
	assert_int_equal(m->fps, FPS_MAX);
	assert_int_equal(m->bps, BPS_MAX);

	/* all at once */
	upd_init(&u, a.handle, RTR_UPD_PRIVS | RTR_UPD_EXPIRY | RTR_UPD_RATE);
	u.privs = RTR_PRIV_ALL;
	u.token_expire = 0;
	u.fps = 100;
	u.bps = 1u << 20;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
	assert_int_equal(m->privs, RTR_PRIV_ALL);
	assert_int_equal(m->token_expire, 0);
	assert_memory_equal(m->priv_expire, (uint64_t[RTR_N_PRIV_EXPIRE]){ 0 },
			    sizeof(m->priv_expire));
	assert_int_equal(m->fps, 100);
	assert_int_equal(m->bps, 1u << 20);
	EXPECT_FO(0, 0);

	/* a PENDING member: its fields change, the list does not */
	fo = rtr_dp.channels[0].fo;
	upd_init(&u, p.handle, RTR_UPD_EXPIRY | RTR_UPD_PRIVS);
	u.token_expire = 3000;
	u.privs = P_JOIN;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
	assert_int_equal(rtr_dp.members[1].token_expire, 3000);
	assert_int_equal(rtr_dp.members[1].privs, P_JOIN);
	assert_int_equal(rtr_dp.members[1].state, RTR_MS_PENDING);
	assert_ptr_equal(rtr_dp.channels[0].fo, fo);
	EXPECT_FO(0, 0);

	/* refused, and nothing applied */
	upd_init(&u, a.handle, 1u << 3);
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -EINVAL);
	upd_init(&u, a.handle, RTR_UPD_RATE | (1u << 31));
	u.fps = 1;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -EINVAL);
	upd_init(&u, a.handle, RTR_UPD_PRIVS);
	u.privs = P_AUDIO;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -EINVAL);
	u.privs = 0;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -EINVAL);
	u.privs = P_JOIN | (1u << 5);
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -EINVAL);
	u.privs = P_JOIN | 1u;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -EINVAL);
	upd_init(&u, a.handle, RTR_UPD_RATE);
	u.bps = BPS_MAX + 1;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ERANGE);
	upd_init(&u, a.handle, RTR_UPD_RATE);
	u.fps = FPS_MAX + 1;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ERANGE);
	/* one bad part refuses the whole update */
	upd_init(&u, a.handle, RTR_UPD_PRIVS | RTR_UPD_RATE);
	u.privs = P_JOIN;
	u.fps = FPS_MAX + 1;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ERANGE);
	upd_init(&u, a.handle, RTR_UPD_PRIVS | RTR_UPD_EXPIRY);
	u.privs = P_AUDIO;
	u.token_expire = 4000;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -EINVAL);
	assert_int_equal(m->privs, RTR_PRIV_ALL);
	assert_int_equal(m->token_expire, 0);
	assert_int_equal(m->fps, 100);
	assert_int_equal(m->bps, 1u << 20);
	assert_ptr_equal(rtr_dp.channels[0].fo, fo);

	/* unknown handles */
	upd_init(&u, rtr_handle_make(3, 1), RTR_UPD_RATE);	/* free slot */
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ENOENT);
	u.handle = rtr_handle_make(0, 2);			/* wrong generation */
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ENOENT);
	u.handle = rtr_handle_make(0, 1 + 0x400);		/* same wire bits */
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ENOENT);
	u.handle = rtr_handle_make(MAX_MEMBERS, 1);
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ENOENT);
	u.handle = rtr_handle_make(UINT32_MAX, 1);
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ENOENT);
	u.handle = 0;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), -ENOENT);
	assert_int_equal(m->fps, 100);
	check_counts(2, 1, 1);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_app_set_validation, tables_reset),
		cmocka_unit_test_teardown(test_app_del, tables_reset),
		cmocka_unit_test_teardown(test_member_add, tables_reset),
		cmocka_unit_test_teardown(test_member_add_endpoint, tables_reset),
		cmocka_unit_test_teardown(test_member_add_local_ip, tables_reset),
		cmocka_unit_test_teardown(test_member_add_params, tables_reset),
		cmocka_unit_test_teardown(test_channels_fanout, tables_reset),
		cmocka_unit_test_teardown(test_slot_reuse_generation, tables_reset),
		cmocka_unit_test_teardown(test_slot_fifo_order, tables_reset),
		cmocka_unit_test_teardown(test_generation_wrap, tables_reset),
		cmocka_unit_test_teardown(test_want_handle, tables_reset),
		cmocka_unit_test_teardown(test_want_handle_freed_slot_waits, tables_reset),
		cmocka_unit_test_teardown(test_want_handle_freed_slot_queues_last, tables_reset),
		cmocka_unit_test_teardown(test_members_full, tables_reset),
		cmocka_unit_test_teardown(test_channels_full, tables_reset),
		cmocka_unit_test_teardown(test_member_update, tables_reset),
	};

	return cmocka_run_group_tests_name("rtr_tables", tests, group_setup, group_teardown)
	       ? 1 : 0;
}
