/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for the main-lcore tables (dataplane/tables.c): apps, members,
 * channels, fan-out lists and delayed slot reuse.
 *
 * The tables run on a real EAL (one lcore, no hugepages, no PCI, no shared
 * config files: EAL refuses --in-memory with --no-huge, "Option
 * --legacy-mem is not compatible with --in-memory") with a real stats
 * segment, so rte_malloc, rte_hash and the RCU defer queue are the ones
 * the dataplane uses. No worker registers with the QSBR variable,
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
#include <inttypes.h>
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
int rtr_logtype;

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

#define ENC_SLOTS	4
static IMB_MGR *test_imb;	/* the main lcore's key-expanding manager */

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
	dp->cfg.max_enc_members = ENC_SLOTS;
	test_imb = rtr_aead_mgr_new();
	if (test_imb == NULL)
		return -1;
	dp->imb = test_imb;
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
	rtr_aead_mgr_free(test_imb);
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
	dp->imb = test_imb;
	memset(ms(), 0, sizeof(struct rtr_main_stats));
	dp->n_ports = 1;
	memset(&dp->cfg.ip[1], 0, sizeof(dp->cfg.ip[1]));
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

/* RFC 1071 sum of the source and destination addresses, folded to 16
 * bits: the per-receiver part of the IPv4 and pseudo-header checksums. */
static uint16_t
ref_addr_sum(uint8_t family, const uint8_t *src, const uint8_t *dst)
{
	unsigned int i, alen = family == 4 ? 4 : 16;
	uint64_t acc = 0;

	for (i = 0; i < alen; i += 2)
		acc += ((uint32_t)src[i] << 8 | src[i + 1]) + ((uint32_t)dst[i] << 8 | dst[i + 1]);
	while (acc > 0xffff)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static uint16_t
fold32(uint32_t v)
{
	v = (v & 0xffff) + (v >> 16);
	v = (v & 0xffff) + (v >> 16);
	return (uint16_t)v;
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
		assert_int_equal(r->port_id, m->ep.port_id);
		assert_int_equal(r->vlan, m->ep.vlan);
		assert_int_equal(r->udp_port, m->ep.udp_port);
		assert_int_equal(r->family, m->ep.family);
		assert_memory_equal(&r->mac, m->ep.mac, 6);
		assert_memory_equal(r->ip, m->ep.ip, 16);
		assert_int_equal(r->enc, m->enc);
		assert_int_equal(r->expire, m->token_expire);
		assert_int_equal(fold32(r->addr_sum),
				 ref_addr_sum(r->family, m->ep.local_ip, r->ip));
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
	for (i = 1; i < RTR_N_PRIV_EXPIRE; i++)
		a.priv_expire[i] = 1600000000 + i;	/* the join privilege's: none */
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
	ep_init(&ep, 1); SET4(&ep, 0, 1, 2, 3);
	expect_ep_refused(&ep, "0.1.2.3 (this network)");
	ep_init(&ep, 1); SET4(&ep, 169, 254, 1, 1);
	expect_ep_refused(&ep, "169.254.1.1 (link-local)");
	ep_init(&ep, 1); SET4(&ep, 169, 253, 255, 255);
	expect_ep_accepted(&ep, "169.253.255.255");

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
	{
		static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 };
		static const uint8_t ll[16] = { 0xfe, 0x80, [15] = 1 };
		static const uint8_t ll_edge[16] = { 0xfe, 0xbf, [15] = 1 };
		static const uint8_t not_ll[16] = { 0xfe, 0xc0, [15] = 1 };

		ep_init6(&ep, 1); memcpy(ep.ip, mapped, 16);
		expect_ep_refused(&ep, "::ffff:10.0.0.1 (IPv4-mapped)");
		ep_init6(&ep, 1); memcpy(ep.ip, ll, 16);
		expect_ep_refused(&ep, "fe80::1 (link-local)");
		ep_init6(&ep, 1); memcpy(ep.ip, ll_edge, 16);
		expect_ep_refused(&ep, "febf::1 (link-local)");
		ep_init6(&ep, 1); memcpy(ep.ip, not_ll, 16);
		expect_ep_accepted(&ep, "fec0::1");
	}

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

/* The address copies to the member are sent from: a service address of
 * the port the member is reached through, of the member's family. */
static void
test_member_add_local_ip(void **state)
{
	static const uint8_t port1_ip4[4] = { 10, 0, 1, 1 };
	struct rtr_ep ep;

	(void)state;
	app_ok(APP1);
	ep_init(&ep, 1);
	memset(ep.local_ip, 0, sizeof(ep.local_ip));
	expect_ep_refused(&ep, "local_ip 0.0.0.0");
	ep.local_ip[0] = 192;
	ep.local_ip[1] = 0;
	ep.local_ip[2] = 2;
	ep.local_ip[3] = 99;
	expect_ep_refused(&ep, "local_ip 192.0.2.99 (not a service address)");
	ep_init(&ep, 1);
	memcpy(ep.local_ip, svc_ip6, 16);
	expect_ep_refused(&ep, "IPv4 member, local_ip 2001:db8::1");
	ep_init6(&ep, 1);
	memset(ep.local_ip, 0, sizeof(ep.local_ip));
	memcpy(ep.local_ip, svc_ip4, 4);
	expect_ep_refused(&ep, "IPv6 member, local_ip 10.0.0.1");
	ep_init6(&ep, 1);
	ep.local_ip[15] = 2;
	expect_ep_refused(&ep, "local_ip 2001:db8::2 (not a service address)");

	/* a second port with an IPv4 address only (reset after the test) */
	rtr_dp.n_ports = 2;
	rtr_dp.cfg.ip[1].has_ip4 = 1;
	memcpy(rtr_dp.cfg.ip[1].ip4, port1_ip4, 4);
	ep_init(&ep, 1);
	ep.port_id = 1;
	expect_ep_refused(&ep, "port 1, local_ip 10.0.0.1 (port 0's)");
	memcpy(ep.local_ip, port1_ip4, 4);
	expect_ep_accepted(&ep, "port 1, local_ip 10.0.1.1");
	ep.port_id = 0;
	expect_ep_refused(&ep, "port 0, local_ip 10.0.1.1 (port 1's)");
	ep_init6(&ep, 1);
	ep.port_id = 1;
	expect_ep_refused(&ep, "IPv6 member on port 1 (no IPv6 address)");
	/* and port 1's address is ours as a destination too */
	ep_init(&ep, 1);
	memcpy(ep.ip, port1_ip4, 4);
	expect_ep_refused(&ep, "10.0.1.1 (ours, port 1)");
	ep_init(&ep, 1);
	expect_ep_accepted(&ep, "port 0, local_ip 10.0.0.1");
	check_counts(0, 0, 0);
}

/* A member lasts until its token or its join privilege expires, whichever
 * comes first; the receiver list carries the same instant. */
static void
test_membership_expiry(void **state)
{
	static const struct {
		uint64_t token, join, want;
	} cases[] = {
		{ 0, 0, 0 },
		{ 1700000000, 0, 1700000000 },
		{ 0, 1650000000, 1650000000 },
		{ 1700000000, 1650000000, 1650000000 },
		{ 1700000000, 1800000000, 1700000000 },
		{ 1700000000, 1700000000, 1700000000 },
	};
	struct rtr_msg_member_update u;
	struct rtr_msg_member_add a;
	struct rtr_reply_member_add r, k;
	const struct rtr_member *m;
	unsigned int i;

	(void)state;
	app_ok(APP1);
	for (i = 0; i < RTE_DIM(cases); i++) {
		member_msg(&a, APP1, CHAN_A, 1 + i, true);
		a.token_expire = cases[i].token;
		a.priv_expire[0] = cases[i].join;
		a.priv_expire[1] = 1;		/* publishing audio: not membership */
		assert_int_equal(add(&a, &r), 0);
		m = &rtr_dp.members[rtr_mid_slot(r.member_id)];
		if (m->token_expire != cases[i].want)
			fail_msg("add, token %" PRIu64 ", join %" PRIu64 ": expiry %" PRIu64
				 ", expected %" PRIu64, cases[i].token, cases[i].join,
				 m->token_expire, cases[i].want);
		assert_memory_equal(m->priv_expire, a.priv_expire, sizeof(a.priv_expire));
		EXPECT_FO(0, rtr_mid_slot(r.member_id));
		assert_int_equal(rtr_member_del(&rtr_dp, r.handle), 0);
		rtr_tables_reclaim(&rtr_dp);
	}

	k = add_ok(APP1, CHAN_A, 50, true);
	m = &rtr_dp.members[rtr_mid_slot(k.member_id)];
	for (i = 0; i < RTE_DIM(cases); i++) {
		upd_init(&u, k.handle, RTR_UPD_EXPIRY);
		u.token_expire = cases[i].token;
		u.priv_expire[0] = cases[i].join;
		u.priv_expire[2] = 2;
		assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
		if (m->token_expire != cases[i].want)
			fail_msg("update, token %" PRIu64 ", join %" PRIu64 ": expiry %" PRIu64
				 ", expected %" PRIu64, cases[i].token, cases[i].join,
				 m->token_expire, cases[i].want);
		assert_memory_equal(m->priv_expire, u.priv_expire, sizeof(u.priv_expire));
		EXPECT_FO(0, rtr_mid_slot(k.member_id));
	}
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
	a.suite = 3;
	assert_int_equal(add(&a, &r), -EINVAL);
	/* encrypted members are never installed ACTIVE (no handshake); the key
	 * pool is tested in test_enc_members */
	a.suite = 1;
	a.flags = RTR_MEMBER_F_ACTIVE;
	assert_int_equal(add(&a, &r), -EPERM);
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
	a.bps = BPS_MAX;
	a.fps = FPS_MAX;
	assert_int_equal(add(&a, &r), 0);
	expect_member(&r, 0, 1);
	assert_int_equal(r.channel_slot, 0);
	assert_int_equal(rtr_dp.members[0].privs, RTR_PRIV_ALL);
	assert_int_equal(rtr_dp.members[0].bps, BPS_MAX);
	assert_int_equal(rtr_dp.members[0].fps, FPS_MAX);
	check_counts(1, 0, 1);

	/* a subscriber publishes nothing, whatever it was granted */
	member_msg(&a, APP1, CHAN_A, 2, true);
	a.privs = RTR_PRIV_ALL;
	a.role = RTR_ROLE_SUBSCRIBER;
	assert_int_equal(add(&a, &r), 0);
	expect_member(&r, 1, 1);
	assert_int_equal(rtr_dp.members[1].role, RTR_ROLE_SUBSCRIBER);
	assert_int_equal(rtr_dp.members[1].privs, P_JOIN);
	check_counts(2, 0, 1);
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
	struct rtr_msg_member_add a;
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
	/* no re-install into the slot until its grace period is over ... */
	assert_int_equal(want(rtr_handle_make(5, 0x200), false, &x, 2), -EBUSY);
	rtr_tables_reclaim(&rtr_dp);
	/* ... and never with a generation that is not newer */
	assert_int_equal(want(rtr_handle_make(5, 0x123), false, &x, 2), -ESTALE);
	assert_int_equal(want(rtr_handle_make(5, 0x101), false, &x, 2), -ESTALE);
	assert_int_equal(want(rtr_handle_make(5, 0x124), false, &x, 2), 0);
	assert_int_equal(rtr_member_del(&rtr_dp, rtr_handle_make(5, 0x124)), 0);
	rtr_tables_reclaim(&rtr_dp);

	/* a refused re-install has no side effect */
	member_msg(&a, APP1, CHAN_A, 4, true);
	a.want_handle = rtr_handle_make(41, 1);
	a.suite = 1;	/* keys are never installed into a slot again */
	assert_int_equal(add(&a, &x), -EPERM);
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

/* Re-installs leave stale entries on the free FIFO; when they fill it, it
 * is compacted, and the order of the free slots must survive that. */
static void
test_free_fifo_compaction(void **state)
{
	uint32_t order[MAX_MEMBERS], n = MAX_MEMBERS, i, j, slot, lcg = 12345;
	uint32_t prev_n = rtr_dp.mfree_n, compactions = 0;
	struct rtr_reply_member_add r;
	uint64_t h;

	(void)state;
	app_ok(APP1);
	for (i = 0; i < MAX_MEMBERS; i++)
		order[i] = i;
	for (i = 0; i < 5 * MAX_MEMBERS; i++) {
		/* any free slot: it moves to the back of the queue */
		lcg = lcg * 1103515245u + 12345u;
		j = (lcg >> 16) % n;
		slot = order[j];
		memmove(&order[j], &order[j + 1], (n - j - 1) * sizeof(order[0]));
		order[n - 1] = slot;
		h = rtr_handle_make(slot, 1 + 2 * i);
		assert_int_equal(want(h, i & 1, &r, 1 + i), 0);
		assert_int_equal(r.handle, h);
		assert_int_equal(rtr_member_del(&rtr_dp, h), 0);
		rtr_tables_reclaim(&rtr_dp);
		assert_true(rtr_dp.mfree_n <= rtr_dp.mfree_cap);
		compactions += rtr_dp.mfree_n < prev_n;
		prev_n = rtr_dp.mfree_n;
	}
	assert_true(compactions > 0);
	check_counts(0, 0, 0);
	for (i = 0; i < MAX_MEMBERS; i++) {
		r = add_ok(APP1, CHAN_A, 1000 + i, true);
		if (rtr_mid_slot(r.member_id) != order[i])
			fail_msg("add #%u got slot %u, expected %u", i, rtr_mid_slot(r.member_id),
				 order[i]);
	}
	assert_int_equal(add_rc(APP1, CHAN_A, 2000, true), -ENOSPC);
	check_counts(MAX_MEMBERS, 0, 1);
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
	static const uint64_t pexp[RTR_N_PRIV_EXPIRE] = { 0, 12, 13, 14 };
	struct rtr_reply_member_add a, p, sub;
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

	/* expiry: the receiver list carries it; it is patched in place */
	fo = rtr_dp.channels[0].fo;
	upd_init(&u, a.handle, RTR_UPD_EXPIRY);
	u.token_expire = 2000;
	memcpy(u.priv_expire, pexp, sizeof(pexp));
	assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
	assert_int_equal(m->token_expire, 2000);
	assert_memory_equal(m->priv_expire, pexp, sizeof(pexp));
	assert_int_equal(m->privs, P_JOIN | P_VIDEO | P_DATA);
	assert_ptr_equal(rtr_dp.channels[0].fo, fo);
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

	/* a subscriber's update cannot grant publishing */
	member_msg(&msg, APP1, CHAN_A, 3, false);
	msg.role = RTR_ROLE_SUBSCRIBER;
	msg.privs = P_JOIN;
	assert_int_equal(add(&msg, &sub), 0);
	expect_member(&sub, 2, 1);
	upd_init(&u, sub.handle, RTR_UPD_PRIVS);
	u.privs = RTR_PRIV_ALL;
	assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
	assert_int_equal(rtr_dp.members[2].privs, P_JOIN);
	assert_int_equal(rtr_member_del(&rtr_dp, sub.handle), 0);

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

/* ------------------------------------------------------------------ */
/* Random operations against a reference model.                       */

/*
 * The model states the contract: member slots come off one FIFO, freed
 * slots join its tail only at reclaim (in the order they were freed), a
 * re-installed slot leaves the FIFO; channel slots come off a stack,
 * lowest first, freed ones pushed back at reclaim. Slot, generation and
 * channel of every add are predicted exactly, and after every operation
 * every table entry, receiver list, counter and gauge is compared.
 *
 * One case is kept out: a re-installed member deleted and its slot handed
 * out again before a reclaim (test_want_handle_freed_slot_waits covers
 * it), so such deletes are followed by a reclaim at once.
 */
#define R_OPS		20000
#define R_APPS		3
#define R_CHANS		5
#define R_DEFER_MAX	(4 * (MAX_MEMBERS + MAX_CHANNELS))

enum { D_MEMBER = 1, D_CHANNEL = 2 };

struct r_member {
	uint8_t state;
	bool grace;		/* freed, waiting for reclaim */
	bool reinstalled;	/* installed with want_handle */
	uint32_t gen;
	uint32_t app;
	uint32_t cslot;
	uint64_t handle;
};

struct r_channel {
	bool in_use;
	uint32_t app;
	uint64_t hash;
	uint32_t members;
};

static struct {
	struct r_member m[MAX_MEMBERS];
	struct r_channel c[MAX_CHANNELS];
	bool app[MAX_APPS];
	uint32_t fifo[MAX_MEMBERS], fifo_n;
	uint32_t cstack[MAX_CHANNELS], cstack_n;
	struct { uint32_t kind, idx; } dq[R_DEFER_MAX];
	uint32_t dq_n;
	uint32_t n_members, n_pending, n_channels;
	bool reclaim_now;
	uint64_t rnd;
	/* coverage: how often each outcome was seen */
	uint32_t n_ok, n_full, n_chan_full, n_reinstall;
} md;

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64* */
	md.rnd ^= md.rnd >> 12;
	md.rnd ^= md.rnd << 25;
	md.rnd ^= md.rnd >> 27;
	return (uint32_t)((md.rnd * 2685821657736338717ull) >> 32) % n;
}

static uint64_t
r_hash(uint32_t i)
{
	return 0xc0ffee0000000000ull | i;
}

static void
r_fifo_remove(uint32_t slot)
{
	uint32_t i;

	for (i = 0; i < md.fifo_n; i++)
		if (md.fifo[i] == slot) {
			memmove(&md.fifo[i], &md.fifo[i + 1], (md.fifo_n - i - 1) * sizeof(uint32_t));
			md.fifo_n--;
			return;
		}
}

static void
r_defer(uint32_t kind, uint32_t idx)
{
	assert_true(md.dq_n < R_DEFER_MAX);
	md.dq[md.dq_n].kind = kind;
	md.dq[md.dq_n].idx = idx;
	md.dq_n++;
}

static void
r_reclaim(void)
{
	uint32_t i;

	rtr_tables_reclaim(&rtr_dp);
	for (i = 0; i < md.dq_n; i++) {
		uint32_t idx = md.dq[i].idx;

		if (md.dq[i].kind == D_MEMBER) {
			md.m[idx].grace = false;
			md.fifo[md.fifo_n++] = idx;
		} else {
			md.cstack[md.cstack_n++] = idx;
		}
	}
	md.dq_n = 0;
	md.reclaim_now = false;
}

static int
r_find_channel(uint32_t app, uint64_t hash)
{
	uint32_t i;

	for (i = 0; i < MAX_CHANNELS; i++)
		if (md.c[i].in_use && md.c[i].app == app && md.c[i].hash == hash)
			return (int)i;
	return -1;
}

static void
r_delete(uint32_t slot)
{
	struct r_member *m = &md.m[slot];
	struct r_channel *c = &md.c[m->cslot];

	if (m->state == RTR_MS_PENDING)
		md.n_pending--;
	m->state = RTR_MS_FREE;
	m->grace = true;
	md.n_members--;
	if (--c->members == 0) {
		c->in_use = false;
		md.n_channels--;
		r_defer(D_CHANNEL, m->cslot);
	}
	r_defer(D_MEMBER, slot);
	if (m->reinstalled) {
		m->reinstalled = false;
		md.reclaim_now = true;
	}
}

/* The add the model expects; returns the expected status. */
static int
r_add(uint32_t app, uint64_t hash, bool active, uint64_t want_handle,
      const struct rtr_reply_member_add *got, int rc)
{
	uint32_t slot, gen, cslot;
	int ch, exp;

	if (!md.app[app]) {
		exp = -ENOENT;
		goto out;
	}
	if (want_handle != 0) {
		slot = (uint32_t)want_handle;
		gen = (uint32_t)(want_handle >> 32);
		if (md.m[slot].state != RTR_MS_FREE) {
			exp = -EEXIST;
			goto out;
		}
		/* its last member may still be seen by a worker */
		if (md.m[slot].grace) {
			exp = -EBUSY;
			goto out;
		}
		/* generations never go back */
		if (gen <= md.m[slot].gen) {
			exp = -ESTALE;
			goto out;
		}
	} else {
		if (md.fifo_n == 0) {
			md.n_full++;
			exp = -ENOSPC;
			goto out;
		}
		slot = md.fifo[0];
		gen = md.m[slot].gen + 1;
		if ((gen & RTR_MID_GEN_MASK) == 0)
			gen++;
	}
	ch = r_find_channel(app, hash);
	if (ch < 0 && md.cstack_n == 0) {
		md.n_chan_full++;
		/* the popped slot goes to the back */
		if (want_handle == 0) {
			r_fifo_remove(slot);
			md.fifo[md.fifo_n++] = slot;
		}
		exp = -ENOSPC;
		goto out;
	}
	if (ch < 0) {
		cslot = md.cstack[--md.cstack_n];
		md.c[cslot].in_use = true;
		md.c[cslot].app = app;
		md.c[cslot].hash = hash;
		md.c[cslot].members = 0;
		md.n_channels++;
	} else {
		cslot = (uint32_t)ch;
	}
	r_fifo_remove(slot);
	md.m[slot].state = active ? RTR_MS_ACTIVE : RTR_MS_PENDING;
	md.m[slot].gen = gen;
	md.m[slot].app = app;
	md.m[slot].cslot = cslot;
	md.m[slot].handle = rtr_handle_make(slot, gen);
	md.m[slot].reinstalled = want_handle != 0;
	md.c[cslot].members++;
	md.n_members++;
	md.n_pending += !active;
	md.n_ok++;
	md.n_reinstall += want_handle != 0;
	if (rc != 0)
		fail_msg("add (app %u, want 0x%" PRIx64 "): %d, expected slot %u gen 0x%x",
			 app, want_handle, rc, slot, gen);
	expect_member(got, slot, gen);
	assert_int_equal(got->channel_slot, cslot);
	return 0;
out:
	if (rc != exp)
		fail_msg("add (app %u, want 0x%" PRIx64 "): %d, expected %d",
			 app, want_handle, rc, exp);
	return exp;
}

static void
r_check(void)
{
	uint32_t rcv[MAX_MEMBERS], apps[MAX_APPS] = { 0 };
	uint32_t i, j, n;

	check_counts(md.n_members, md.n_pending, md.n_channels);
	for (i = 0; i < MAX_MEMBERS; i++) {
		const struct rtr_member *m = &rtr_dp.members[i];

		assert_int_equal(m->state, md.m[i].state);
		if (md.m[i].state == RTR_MS_FREE)
			continue;
		assert_int_equal(m->gen, md.m[i].gen);
		assert_int_equal(m->app_index, md.m[i].app);
		assert_int_equal(m->chan_slot, md.m[i].cslot);
		assert_int_equal(m->channel_hash, md.c[md.m[i].cslot].hash);
		apps[md.m[i].app]++;
	}
	for (i = 1; i < MAX_APPS; i++) {
		assert_int_equal(rtr_dp.apps[i].in_use, md.app[i]);
		assert_int_equal(rtr_dp.apps[i].members, apps[i]);
	}
	for (i = 0; i < MAX_CHANNELS; i++) {
		if (!md.c[i].in_use) {
			expect_channel_free(i);
			continue;
		}
		expect_channel(i, md.c[i].app, md.c[i].hash, md.c[i].members);
		for (j = 0, n = 0; j < MAX_MEMBERS; j++)
			if (md.m[j].state == RTR_MS_ACTIVE && md.m[j].cslot == i)
				rcv[n++] = j;
		expect_fanout(i, rcv, n);
	}
}

static uint32_t
r_pick(uint8_t state)
{
	uint32_t i, s = rnd(MAX_MEMBERS);

	for (i = 0; i < MAX_MEMBERS; i++, s = (s + 1) % MAX_MEMBERS)
		if (state == RTR_MS_FREE ? md.m[s].state == RTR_MS_FREE :
		    state == 0xff ? md.m[s].state != RTR_MS_FREE : md.m[s].state == state)
			return s;
	return UINT32_MAX;
}

static void
test_random_ops(void **state)
{
	struct rtr_reply_member_add r;
	struct rtr_msg_member_add a;
	struct rtr_msg_member_update u;
	struct rtr_msg_app_set as;
	uint32_t op, i, k, slot, gen;
	int rc;

	(void)state;
	memset(&md, 0, sizeof(md));
	md.rnd = 0x9e3779b97f4a7c15ull;
	for (i = 0; i < MAX_MEMBERS; i++)
		md.fifo[i] = i;
	md.fifo_n = MAX_MEMBERS;
	for (i = 0; i < MAX_CHANNELS; i++)
		md.cstack[i] = MAX_CHANNELS - 1 - i;
	md.cstack_n = MAX_CHANNELS;
	for (i = 1; i <= R_APPS - 1; i++) {
		app_ok(i);
		md.app[i] = true;
	}

	for (op = 0; op < R_OPS; op++) {
		k = rnd(100);
		/* alternate phases: grow until the table is full, then shrink */
		if ((op / 1000) % 2 == 0 && k >= 45 && k < 65 && rnd(5) != 0)
			k = 0;
		if (k < 35) {
			uint32_t app = 1 + rnd(R_APPS);
			bool active = rnd(2);

			member_msg(&a, app, r_hash(rnd(R_CHANS)), 1 + rnd(200), active);
			rc = add(&a, &r);
			r_add(app, a.channel_hash, active, 0, &r, rc);
		} else if (k < 40) {
			/* re-install at a free slot: refused during its grace period
			 * and with a generation that is not newer */
			slot = r_pick(RTR_MS_FREE);
			if (slot == UINT32_MAX)
				continue;
			gen = (uint32_t)rnd(1u << 31) * 2 + 1;
			member_msg(&a, 1 + rnd(R_APPS), r_hash(rnd(R_CHANS)), 1 + rnd(200),
				   rnd(2));
			a.want_handle = rtr_handle_make(slot, gen);
			rc = add(&a, &r);
			r_add(a.app_index, a.channel_hash, a.flags & RTR_MEMBER_F_ACTIVE,
			      a.want_handle, &r, rc);
		} else if (k < 45) {
			/* re-install over a live member */
			slot = r_pick(0xff);
			if (slot == UINT32_MAX)
				continue;
			member_msg(&a, 1, r_hash(0), 1, true);
			a.want_handle = rtr_handle_make(slot, 1);
			assert_int_equal(add(&a, &r), md.app[1] ? -EEXIST : -ENOENT);
		} else if (k < 65) {
			slot = r_pick(0xff);
			if (slot == UINT32_MAX)
				continue;
			if (rnd(4) == 0) {
				assert_int_equal(rtr_member_del_slot(&rtr_dp, slot), 0);
			} else {
				/* a stale generation first */
				assert_int_equal(rtr_member_del(&rtr_dp, md.m[slot].handle +
								(1ull << 32)), -ENOENT);
				assert_int_equal(rtr_member_del(&rtr_dp, md.m[slot].handle), 0);
			}
			r_delete(slot);
		} else if (k < 75) {
			slot = r_pick(RTR_MS_PENDING);
			if (slot == UINT32_MAX)
				continue;
			assert_int_equal(rtr_member_activate(&rtr_dp, slot, md.m[slot].gen + 1),
					 -ENOENT);
			assert_int_equal(rtr_member_activate(&rtr_dp, slot, md.m[slot].gen), 0);
			md.m[slot].state = RTR_MS_ACTIVE;
			md.n_pending--;
		} else if (k < 83) {
			slot = r_pick(0xff);
			if (slot == UINT32_MAX)
				continue;
			upd_init(&u, md.m[slot].handle, rnd(8));
			u.privs = P_JOIN | (rnd(2) ? P_VIDEO : 0);
			u.token_expire = rnd(3) ? 0 : 1700000000 + rnd(1000);
			u.fps = rnd(1000);
			u.bps = rnd(100000);
			assert_int_equal(rtr_member_update(&rtr_dp, &u), 0);
			if (u.what & RTR_UPD_EXPIRY)
				assert_int_equal(rtr_dp.members[slot].token_expire, u.token_expire);
			if (u.what & RTR_UPD_RATE)
				assert_int_equal(rtr_dp.members[slot].fps, u.fps);
		} else if (k < 93) {
			r_reclaim();
		} else if (k < 96) {
			/* delete an app: ascending slots, as rtr_app_del walks them */
			uint32_t app = 1 + rnd(R_APPS);

			assert_int_equal(rtr_app_del(&rtr_dp, app), md.app[app] ? 0 : -ENOENT);
			if (md.app[app])
				for (i = 0; i < MAX_MEMBERS; i++)
					if (md.m[i].state != RTR_MS_FREE && md.m[i].app == app)
						r_delete(i);
			md.app[app] = false;
		} else {
			uint32_t app = 1 + rnd(R_APPS);

			app_msg(&as, app, rnd(2));
			assert_int_equal(rtr_app_set(&rtr_dp, &as), 0);
			md.app[app] = true;
		}
		if (md.reclaim_now || md.dq_n > R_DEFER_MAX / 2)
			r_reclaim();
		r_check();
	}
	print_message("%u adds (%u re-installs), %u refused full, %u refused for channels\n",
		      md.n_ok, md.n_reinstall, md.n_full, md.n_chan_full);
	assert_true(md.n_ok > R_OPS / 5);
	assert_true(md.n_reinstall > 100);
	assert_true(md.n_full > 100);
	assert_true(md.n_chan_full > 100);
	/* everything went somewhere: delete all, reclaim, fill up */
	for (i = 0; i < MAX_MEMBERS; i++)
		if (md.m[i].state != RTR_MS_FREE) {
			assert_int_equal(rtr_member_del(&rtr_dp, md.m[i].handle), 0);
			r_delete(i);
		}
	r_reclaim();
	r_check();
	assert_int_equal(md.fifo_n, MAX_MEMBERS);
	assert_int_equal(md.cstack_n, MAX_CHANNELS);
	app_ok(APP1);
	md.app[APP1] = true;
	for (i = 0; i < MAX_MEMBERS; i++) {
		member_msg(&a, APP1, CHAN_A, 1 + i, true);
		rc = add(&a, &r);
		r_add(APP1, CHAN_A, true, 0, &r, rc);
	}
	assert_int_equal(add_rc(APP1, CHAN_A, 300, true), -ENOSPC);
	r_check();
}

/* The key a slot holds is the key it was given: a frame sealed with the
 * raw key by OpenSSL opens with the installed (ipsec-mb expanded) one. */
static void
expect_key(const struct rtr_aead_key *k, const uint8_t *raw, unsigned int len)
{
	static const uint8_t nonce[12] = { 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t pt[40], ct[40], tag[16], out[40];

	memset(pt, 0x5a, sizeof(pt));
	assert_int_equal(k->key_len, len);
	assert_int_equal(rtr_aead_seal_ref(raw, len, nonce, pt, 8, pt, sizeof(pt), ct, tag), 0);
	assert_int_equal(rtr_aead_open(test_imb, k, nonce, pt, 8, ct, sizeof(ct), out, tag), 0);
	assert_memory_equal(out, pt, sizeof(pt));
}

static bool
key_wiped(const struct rtr_aead_key *k)
{
	const uint8_t *b = (const uint8_t *)k;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void
enc_msg(struct rtr_msg_member_add *a, uint32_t app, uint64_t chan, unsigned int host,
	uint8_t suite, uint8_t seed)
{
	member_msg(a, app, chan, host, false);
	a->suite = suite;
	memset(a->rx_key, seed, sizeof(a->rx_key));
	memset(a->tx_key, seed ^ 0xff, sizeof(a->tx_key));
}

/*
 * Encrypted members: keys installed as given into a pool slot, channels that
 * never mix modes, a bounded pool, rekey into the idle phase only, the old
 * phase retired after the overlap, and every key wiped once a member has
 * gone and the grace period is over.
 */
static void
test_enc_members(void **state)
{
	struct rtr_dp *dp = &rtr_dp;
	struct rtr_msg_member_add a;
	struct rtr_msg_member_rekey k;
	struct rtr_reply_member_add r, r2, rp;
	struct rtr_enc *e;
	uint8_t rx[32], tx[32];
	uint32_t slot, i;

	(void)state;
	app_ok(APP1);
	enc_msg(&a, APP1, CHAN_A, 1, RTR_SUITE_AES128GCM, 0x11);
	assert_int_equal(add(&a, &r), 0);
	slot = rtr_mid_slot(r.member_id);
	assert_int_not_equal(dp->members[slot].enc, 0);
	e = &dp->enc[dp->members[slot].enc - 1];
	memset(rx, 0x11, 32);
	memset(tx, 0xee, 32);
	expect_key(&e->rx[0], rx, 16);
	expect_key(&e->tx[0], tx, 16);
	assert_int_equal(e->valid[0], 1);
	assert_int_equal(e->valid[1], 0);
	assert_int_equal(ms()->enc_members, 1);
	/* suite 2: 32-byte keys */
	enc_msg(&a, APP1, CHAN_A, 2, RTR_SUITE_AES256GCM, 0x22);
	assert_int_equal(add(&a, &r2), 0);
	memset(rx, 0x22, 32);
	expect_key(&dp->enc[dp->members[rtr_mid_slot(r2.member_id)].enc - 1].rx[0], rx, 32);

	/* a channel's mode is its first member's */
	member_msg(&a, APP1, CHAN_A, 3, false);
	assert_int_equal(add(&a, &r2), -EPROTOTYPE);
	rp = add_ok(APP1, CHAN_B, 4, true);
	enc_msg(&a, APP1, CHAN_B, 5, RTR_SUITE_AES128GCM, 0x33);
	assert_int_equal(add(&a, &r2), -EPROTOTYPE);
	assert_int_equal(ms()->enc_members, 2);

	/* the pool is bounded: ENC_SLOTS keys, then -ENOSPC with no side effect */
	for (i = 0; i < ENC_SLOTS - 2; i++) {
		enc_msg(&a, APP1, CHAN_A, 10 + i, RTR_SUITE_AES128GCM, (uint8_t)(0x40 + i));
		assert_int_equal(add(&a, &r2), 0);
	}
	enc_msg(&a, APP1, CHAN_A, 20, RTR_SUITE_AES128GCM, 0x50);
	assert_int_equal(add(&a, &r2), -ENOSPC);
	check_counts(1 + ENC_SLOTS, ENC_SLOTS, 2);

	/* rekey: only into the phase the downlink does not use */
	memset(&k, 0, sizeof(k));
	k.handle = r.handle;
	memset(k.rx_key, 0x61, 32);
	memset(k.tx_key, 0x62, 32);
	k.phase = 2;
	assert_int_equal(rtr_member_rekey(dp, &k), -EINVAL);
	k.phase = 0;
	assert_int_equal(rtr_member_rekey(dp, &k), -EBUSY);
	k.phase = 1;
	assert_int_equal(rtr_member_rekey(dp, &k), 0);
	memset(rx, 0x61, 32);
	expect_key(&e->rx[1], rx, 16);
	assert_int_equal(e->newest, 1);
	assert_int_equal(rtr_member_rekey(dp, &k), -EBUSY);	/* not twice */
	k.handle = rtr_handle_make(slot, dp->members[slot].gen + 1);
	assert_int_equal(rtr_member_rekey(dp, &k), -ENOENT);
	/* a worker saw the first uplink under phase 1: the old keys go after
	 * the overlap, and only then (a grace period later) are wiped */
	e->tx_phase = 1;
	dp->now_s = 1000;
	rtr_enc_sweep(dp, slot);
	assert_int_equal(e->valid[0], 1);
	assert_int_equal(e->retire_at_s, 1000 + RTR_REKEY_OVERLAP_S);
	dp->now_s = 1000 + RTR_REKEY_OVERLAP_S;
	rtr_enc_sweep(dp, slot);
	assert_int_equal(e->valid[0], 0);
	assert_int_equal(e->retire_at_s, 0);
	rte_rcu_qsbr_synchronize(dp->qs, RTE_QSBR_THRID_INVALID);
	rtr_tables_reclaim(dp);
	assert_true(key_wiped(&e->rx[0]) && key_wiped(&e->tx[0]));
	expect_key(&e->rx[1], rx, 16);

	/* a plaintext member has no keys to replace */
	k.handle = rp.handle;
	k.phase = 1;
	assert_int_equal(rtr_member_rekey(dp, &k), -EPERM);

	/* a member goes: its keys stop at once, are wiped after the grace period
	 * and the slot serves the next member */
	assert_int_equal(rtr_member_del(dp, r.handle), 0);
	assert_int_equal(e->valid[1], 0);
	assert_int_equal(ms()->enc_members, ENC_SLOTS);
	rte_rcu_qsbr_synchronize(dp->qs, RTE_QSBR_THRID_INVALID);
	rtr_tables_reclaim(dp);
	assert_true(key_wiped(&e->rx[0]) && key_wiped(&e->rx[1]) &&
		    key_wiped(&e->tx[0]) && key_wiped(&e->tx[1]));
	assert_int_equal(ms()->enc_members, ENC_SLOTS - 1);
	enc_msg(&a, APP1, CHAN_A, 20, RTR_SUITE_AES128GCM, 0x50);
	assert_int_equal(add(&a, &r2), 0);
}

/* A roaming candidate must pass the endpoint rules; once it echoes its
 * challenge the member's endpoint (and its receiver entry) move. */
static void
test_enc_roam(void **state)
{
	struct rtr_dp *dp = &rtr_dp;
	struct rtr_msg_member_add a;
	struct rtr_reply_member_add r;
	struct rtr_ep ep;
	struct rtr_enc *e;
	uint32_t slot, gen, cslot;

	(void)state;
	app_ok(APP1);
	enc_msg(&a, APP1, CHAN_A, 1, RTR_SUITE_AES128GCM, 0x11);
	assert_int_equal(add(&a, &r), 0);
	enc_msg(&a, APP1, CHAN_A, 2, RTR_SUITE_AES128GCM, 0x12);
	assert_int_equal(add(&a, &r), 0);
	slot = rtr_mid_slot(r.member_id);
	gen = dp->members[slot].gen;
	cslot = r.channel_slot;
	assert_int_equal(rtr_member_activate(dp, slot, gen), 0);
	e = &dp->enc[dp->members[slot].enc - 1];
	ep = dp->members[slot].ep;
	ep.udp_port = 80;		/* a well-known port: never a member's */
	assert_int_equal(rtr_member_roam(dp, slot, gen, &ep), -EADDRNOTAVAIL);
	assert_int_equal(e->roam_state, 0);
	assert_int_equal(rtr_member_roam_ok(dp, slot, gen), -ENOENT);
	ep.udp_port = 50123;
	assert_int_equal(rtr_member_roam(dp, slot, gen + 1, &ep), -ENOENT);
	assert_int_equal(rtr_member_roam(dp, slot, gen, &ep), 0);
	assert_int_equal(e->roam_state, 1);
	assert_int_not_equal(e->roam_challenge, 0);
	/* not moved yet */
	assert_int_not_equal(dp->members[slot].ep.udp_port, 50123);
	assert_int_equal(rtr_member_roam_ok(dp, slot, gen), 0);
	assert_int_equal(dp->members[slot].ep.udp_port, 50123);
	assert_int_equal(e->roam_challenge, 0);
	assert_int_equal(ms()->roams, 1);
	{
		const struct rtr_fanout *fo = dp->channels[cslot].fo;
		uint32_t i, found = 0;

		for (i = 0; fo != NULL && i < fo->n; i++)
			if (fo->r[i].slot == slot)
				found = fo->r[i].udp_port;
		assert_int_equal(found, 50123);
	}
	/* a candidate that never validates is dropped after the timeout */
	ep.udp_port = 50124;
	dp->now_s = 2000;
	assert_int_equal(rtr_member_roam(dp, slot, gen, &ep), 0);
	dp->now_s = 2000 + RTR_ROAM_TIMEOUT_S;
	rtr_enc_sweep(dp, slot);
	assert_int_equal(e->roam_state, 0);
	assert_int_equal(e->roam_challenge, 0);
	assert_int_equal(rtr_member_roam_ok(dp, slot, gen), -ENOENT);
	assert_int_equal(dp->members[slot].ep.udp_port, 50123);
	/* a move onto the global deny list is refused before any copy goes there */
	{
		static struct rtr_msg_deny_set d;

		assert_int_equal(rtr_guard_init(dp), 0);
		memset(&d, 0, sizeof(d));
		d.gen = 1;
		d.flags = RTR_DENY_F_FIRST | RTR_DENY_F_LAST;
		d.n = d.total = 1;
		d.r[0].family = ep.family;
		d.r[0].plen = ep.family == 4 ? 32 : 128;
		memcpy(d.r[0].addr, ep.ip, ep.family == 4 ? 4 : 16);
		assert_int_equal(rtr_guard_deny_set(dp, &d), 0);
		assert_int_equal(rtr_guard_denied(dp, ep.family, ep.ip), 1);
		ep.udp_port = 50125;
		assert_int_equal(rtr_member_roam(dp, slot, gen, &ep), -EACCES);
		assert_int_equal(e->roam_state, 0);
		assert_int_equal(e->roam_challenge, 0);
		assert_int_equal(ms()->roams_denied, 1);
		assert_int_equal(dp->members[slot].ep.udp_port, 50123);
		/* the list emptied: the same move is a candidate again */
		d.gen = 2;
		d.n = d.total = 0;
		assert_int_equal(rtr_guard_deny_set(dp, &d), 0);
		assert_int_equal(rtr_member_roam(dp, slot, gen, &ep), 0);
		assert_int_equal(e->roam_state, 1);
		rtr_guard_free(dp);
	}
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
		cmocka_unit_test_teardown(test_membership_expiry, tables_reset),
		cmocka_unit_test_teardown(test_channels_fanout, tables_reset),
		cmocka_unit_test_teardown(test_slot_reuse_generation, tables_reset),
		cmocka_unit_test_teardown(test_slot_fifo_order, tables_reset),
		cmocka_unit_test_teardown(test_generation_wrap, tables_reset),
		cmocka_unit_test_teardown(test_want_handle, tables_reset),
		cmocka_unit_test_teardown(test_want_handle_freed_slot_waits, tables_reset),
		cmocka_unit_test_teardown(test_want_handle_freed_slot_queues_last, tables_reset),
		cmocka_unit_test_teardown(test_free_fifo_compaction, tables_reset),
		cmocka_unit_test_teardown(test_members_full, tables_reset),
		cmocka_unit_test_teardown(test_channels_full, tables_reset),
		cmocka_unit_test_teardown(test_member_update, tables_reset),
		cmocka_unit_test_teardown(test_random_ops, tables_reset),
		cmocka_unit_test_teardown(test_enc_members, tables_reset),
		cmocka_unit_test_teardown(test_enc_roam, tables_reset),
	};

	return cmocka_run_group_tests_name("rtr_tables", tests, group_setup, group_teardown)
	       ? 1 : 0;
}
