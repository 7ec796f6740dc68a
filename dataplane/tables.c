/* SPDX-License-Identifier: BSD-3-Clause
 * Apps, channels and members (main lcore only; slow path).
 *
 * Members live in a slot array; the wire member_id is slot + 10 bits of the
 * slot's generation, the control plane's handle is slot + the full 32-bit
 * generation. Freed slots go back on a FIFO only after an RCU grace period,
 * so a slot is reused as late as possible and never while a worker can
 * still be looking at it. Channels are reached by workers through the
 * sender's member entry; the rte_hash keyed by (app_index, channel_hash)
 * is how the main lcore finds them. A channel's receivers are an array
 * rebuilt whole and published with a release store; the old array is freed
 * after a grace period.
 *
 * Encrypted members hold a slot of the key pool (--max-enc-members): two
 * key phases of uplink and downlink keys, expanded once when installed,
 * and wiped only after a grace period, when no worker can still use them.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_log.h>

#include "dp.h"

#define NONE UINT32_MAX

enum rtr_dq_kind {
	DQ_FANOUT = 1,
	DQ_MEMBER_SLOT = 2,
	DQ_CHANNEL_SLOT = 3,
	DQ_ENC_SLOT = 4,	/* a gone member's keys: wipe, slot back to the pool */
	DQ_ENC_PHASE = 5,	/* a retired key phase: wipe (idx = slot * 2 + phase) */
};

struct rtr_dq_ent {
	uint32_t kind;
	uint32_t idx;
	void *ptr;
};

struct chan_key {
	uint32_t app_index;
	uint32_t pad;
	uint64_t channel_hash;
};

/* Drop stale entries when the FIFO is full: at most max_members are current. */
static void
mfree_compact(struct rtr_dp *dp)
{
	uint32_t i, n = 0;
	struct rtr_free_ent *f = dp->mfree;

	for (i = 0; i < dp->mfree_n; i++) {
		struct rtr_free_ent e = f[(dp->mfree_head + i) % dp->mfree_cap];
		const struct rtr_member *m = &dp->members[e.slot];

		if (m->state == RTR_MS_FREE && m->free_epoch == e.epoch)
			f[(dp->mfree_head + n++) % dp->mfree_cap] = e;
	}
	dp->mfree_n = n;
}

/* Queue a freed slot at the tail: it is reused after every slot freed before it. */
static void
mfree_push(struct rtr_dp *dp, uint32_t slot)
{
	struct rtr_member *m = &dp->members[slot];
	struct rtr_free_ent e = { .slot = slot, .epoch = ++m->free_epoch };

	if (dp->mfree_n == dp->mfree_cap)
		mfree_compact(dp);
	dp->mfree[(dp->mfree_head + dp->mfree_n) % dp->mfree_cap] = e;
	dp->mfree_n++;
}

/* Oldest free slot. Entries made stale by a re-install (want_handle) and a
 * later free are skipped: only the newest entry of a slot counts. */
static int
mfree_pop(struct rtr_dp *dp, uint32_t *slot)
{
	while (dp->mfree_n > 0) {
		struct rtr_free_ent e = dp->mfree[dp->mfree_head];
		const struct rtr_member *m = &dp->members[e.slot];

		dp->mfree_head = (dp->mfree_head + 1) % dp->mfree_cap;
		dp->mfree_n--;
		if (m->state == RTR_MS_FREE && m->free_epoch == e.epoch) {
			*slot = e.slot;
			return 0;
		}
	}
	return -ENOSPC;
}

static void
enc_wipe(struct rtr_enc *e)
{
	rtr_aead_key_wipe(&e->rx[0]);
	rtr_aead_key_wipe(&e->rx[1]);
	rtr_aead_key_wipe(&e->tx[0]);
	rtr_aead_key_wipe(&e->tx[1]);
	/* the rest (windows, challenge, candidate) is not secret, but a new
	 * member starts from zero */
	memset((uint8_t *)e + offsetof(struct rtr_enc, win), 0,
	       sizeof(*e) - offsetof(struct rtr_enc, win));
}

static void
fanout_free(struct rtr_dp *dp, struct rtr_fanout *fo)
{
	if (fo == NULL)
		return;
	if (fo->pooled)
		rte_mempool_put(dp->fo_pool, fo);
	else
		rte_free(fo);
}

static void
dq_free(void *p, void *e, unsigned int n)
{
	struct rtr_dp *dp = p;
	struct rtr_dq_ent *ent = e;
	unsigned int i;

	for (i = 0; i < n; i++) {
		switch (ent[i].kind) {
		case DQ_FANOUT:
			fanout_free(dp, ent[i].ptr);
			break;
		case DQ_MEMBER_SLOT:
			dp->members[ent[i].idx].reclaim_pending = 0;
			mfree_push(dp, ent[i].idx);
			break;
		case DQ_CHANNEL_SLOT:
			dp->cfree[dp->cfree_n++] = ent[i].idx;
			break;
		case DQ_ENC_SLOT:
			enc_wipe(&dp->enc[ent[i].idx]);
			dp->efree[dp->efree_n++] = ent[i].idx;
			rtr_stats_mainp(dp->seg->stats)->enc_members--;
			break;
		case DQ_ENC_PHASE:
			rtr_aead_key_wipe(&dp->enc[ent[i].idx / 2].rx[ent[i].idx % 2]);
			rtr_aead_key_wipe(&dp->enc[ent[i].idx / 2].tx[ent[i].idx % 2]);
			break;
		}
	}
}

/* Hand something to the RCU defer queue; when it is full, wait for a grace
 * period (workers pass a quiescent state every loop) and free at once. */
static void
defer(struct rtr_dp *dp, uint32_t kind, uint32_t idx, void *ptr)
{
	struct rtr_dq_ent ent = { .kind = kind, .idx = idx, .ptr = ptr };

	if (rte_rcu_qsbr_dq_enqueue(dp->dq, &ent) == 0)
		return;
	rte_rcu_qsbr_synchronize(dp->qs, RTE_QSBR_THRID_INVALID);
	dq_free(dp, &ent, 1);
}

void
rtr_tables_reclaim(struct rtr_dp *dp)
{
	unsigned int freed = 0, pending = 0, avail = 0;

	rte_rcu_qsbr_dq_reclaim(dp->dq, 4096, &freed, &pending, &avail);
	rtr_stats_mainp(dp->seg->stats)->rcu_pending = pending;
}

int
rtr_tables_init(struct rtr_dp *dp)
{
	struct rtr_cfg *c = &dp->cfg;
	struct rte_rcu_qsbr_dq_parameters dqp;
	struct rte_hash_rcu_config hrc;
	struct rte_hash_parameters hp;
	size_t sz;
	uint32_t i;

	dp->apps = rte_zmalloc("rtr_apps", sizeof(struct rtr_app) * c->max_apps,
			       RTE_CACHE_LINE_SIZE);
	dp->channels = rte_zmalloc("rtr_channels", sizeof(struct rtr_channel) * c->max_channels,
				   RTE_CACHE_LINE_SIZE);
	dp->members = rte_zmalloc("rtr_members", sizeof(struct rtr_member) * c->max_members,
				  RTE_CACHE_LINE_SIZE);
	dp->mfree_cap = 2 * c->max_members;
	dp->mfree = rte_malloc("rtr_mfree", sizeof(*dp->mfree) * dp->mfree_cap, 0);
	dp->cfree = rte_malloc("rtr_cfree", sizeof(uint32_t) * c->max_channels, 0);
	if (!dp->apps || !dp->channels || !dp->members || !dp->mfree || !dp->cfree)
		return -ENOMEM;
	if (c->max_enc_members > 0) {
		dp->enc = rte_zmalloc("rtr_enc", sizeof(struct rtr_enc) * c->max_enc_members,
				      RTR_AEAD_KEY_ALIGN);
		dp->efree = rte_malloc("rtr_efree", sizeof(uint32_t) * c->max_enc_members, 0);
		if (dp->enc == NULL || dp->efree == NULL)
			return -ENOMEM;
		for (i = 0; i < c->max_enc_members; i++)
			dp->efree[i] = c->max_enc_members - 1 - i;
		dp->efree_n = c->max_enc_members;
	}
	for (i = 0; i < c->max_members; i++) {
		dp->members[i].state = RTR_MS_FREE;
		mfree_push(dp, i);
	}
	/* lowest channel slots first */
	for (i = 0; i < c->max_channels; i++)
		dp->cfree[i] = c->max_channels - 1 - i;
	dp->cfree_n = c->max_channels;

	sz = rte_rcu_qsbr_get_memsize(dp->n_workers);
	dp->qs = rte_zmalloc("rtr_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (dp->qs == NULL || rte_rcu_qsbr_init(dp->qs, dp->n_workers) != 0)
		return -ENOMEM;

	memset(&dqp, 0, sizeof(dqp));
	dqp.name = "rtr_dq";
	dqp.size = 65536;
	dqp.esize = sizeof(struct rtr_dq_ent);
	dqp.trigger_reclaim_limit = 1024;
	dqp.max_reclaim_size = 4096;
	dqp.free_fn = dq_free;
	dqp.p = dp;
	dqp.v = dp->qs;
	dp->dq = rte_rcu_qsbr_dq_create(&dqp);
	if (dp->dq == NULL)
		return -ENOMEM;

	memset(&hp, 0, sizeof(hp));
	hp.name = "rtr_chan_hash";
	hp.entries = RTE_MAX(c->max_channels * 2, 1024u);
	hp.key_len = sizeof(struct chan_key);
	hp.hash_func = rte_jhash;
	hp.socket_id = (int)rte_socket_id();
	hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
	dp->chan_hash = rte_hash_create(&hp);
	if (dp->chan_hash == NULL)
		return -ENOMEM;
	memset(&hrc, 0, sizeof(hrc));
	hrc.v = dp->qs;
	hrc.mode = RTE_HASH_QSBR_MODE_DQ;
	if (rte_hash_rcu_qsbr_add(dp->chan_hash, &hrc) != 0)
		return -ENOMEM;
	/* every channel's small list, and some waiting for a grace period;
	 * beyond that, lists come from rte_malloc */
	dp->fo_pool = rte_mempool_create("rtr_fo_pool", c->max_channels + 1024,
					 sizeof(struct rtr_fanout) +
					 RTR_FO_POOLED_MAX * sizeof(struct rtr_rcv), 0, 0,
					 NULL, NULL, NULL, NULL, (int)rte_socket_id(),
					 RTE_MEMPOOL_F_SP_PUT | RTE_MEMPOOL_F_SC_GET);
	if (dp->fo_pool == NULL)
		return -ENOMEM;
	return 0;
}

void
rtr_tables_free(struct rtr_dp *dp)
{
	uint32_t i;

	if (dp->channels != NULL)
		for (i = 0; i < dp->cfg.max_channels; i++)
			fanout_free(dp, dp->channels[i].fo);
	if (dp->dq != NULL)
		rte_rcu_qsbr_dq_delete(dp->dq);	/* frees what waits in it, to the pool too */
	rte_mempool_free(dp->fo_pool);
	dp->fo_pool = NULL;
	rte_hash_free(dp->chan_hash);
	rte_free(dp->qs);
	if (dp->enc != NULL) {
		for (i = 0; i < dp->cfg.max_enc_members; i++)
			enc_wipe(&dp->enc[i]);
		rte_free(dp->enc);
	}
	rte_free(dp->efree);
	rte_free(dp->cfree);
	rte_free(dp->mfree);
	rte_free(dp->members);
	rte_free(dp->channels);
	rte_free(dp->apps);
}

int
rtr_addr_is_ours(const struct rtr_dp *dp, uint8_t family, const uint8_t *ip)
{
	unsigned int i;

	for (i = 0; i < RTR_MAX_PORTS; i++) {
		if (family == 4 && dp->cfg.ip[i].has_ip4 && memcmp(ip, dp->cfg.ip[i].ip4, 4) == 0)
			return 1;
		if (family == 6 && dp->cfg.ip[i].has_ip6 && memcmp(ip, dp->cfg.ip[i].ip6, 16) == 0)
			return 1;
	}
	return 0;
}

/* A member's address must be a unicast host we may send to. */
int
rtr_ep_valid(const struct rtr_dp *dp, const struct rtr_ep *ep)
{
	static const uint8_t zero[16];

	if (ep->port_id >= dp->n_ports || ep->vlan > 4094)
		return 0;
	/* never send to well-known ports or to a relay's service port */
	if (ep->udp_port < 1024 || ep->udp_port == dp->cfg.udp_port)
		return 0;
	if (rte_is_zero_ether_addr((const struct rte_ether_addr *)ep->mac) ||
	    !rte_is_unicast_ether_addr((const struct rte_ether_addr *)ep->mac))
		return 0;
	/* the source of every copy to it: one of this port's service addresses */
	if (ep->family == 4 ? !dp->cfg.ip[ep->port_id].has_ip4 ||
			      memcmp(ep->local_ip, dp->cfg.ip[ep->port_id].ip4, 4) != 0
			    : ep->family != 6 || !dp->cfg.ip[ep->port_id].has_ip6 ||
			      memcmp(ep->local_ip, dp->cfg.ip[ep->port_id].ip6, 16) != 0)
		return 0;
	if (ep->family == 4) {
		/* this network, loopback, link-local, multicast, reserved, broadcast */
		if (ep->ip[0] == 0 || ep->ip[0] == 127 || ep->ip[0] >= 224 ||
		    (ep->ip[0] == 169 && ep->ip[1] == 254))
			return 0;
	} else if (ep->family == 6) {
		static const uint8_t lo[16] = { [15] = 1 };
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

		/* unspecified, loopback, IPv4-mapped, link-local, multicast */
		if (memcmp(ep->ip, zero, 16) == 0 || memcmp(ep->ip, lo, 16) == 0 ||
		    memcmp(ep->ip, mapped, 12) == 0 || ep->ip[0] == 0xff ||
		    (ep->ip[0] == 0xfe && (ep->ip[1] & 0xc0) == 0x80))
			return 0;
	} else {
		return 0;
	}
	return !rtr_addr_is_ours(dp, ep->family, ep->ip);
}

int
rtr_app_set(struct rtr_dp *dp, const struct rtr_msg_app_set *a)
{
	struct rtr_app *app;

	if (a->app_index == 0 || a->app_index >= dp->cfg.max_apps)
		return -EINVAL;
	if (a->flags & ~RTR_APP_F_ENABLED)
		return -EINVAL;
	if (a->member_bps > (4ULL << 30) || a->egress_bps > (16ULL << 30) ||
	    a->member_fps > 10000000)
		return -ERANGE;
	app = &dp->apps[a->app_index];
	if (!app->in_use)
		rtr_stats_mainp(dp->seg->stats)->apps++;
	app->member_fps = a->member_fps;
	app->member_bps = a->member_bps;
	app->egress_bps = a->egress_bps;
	app->egress_share = a->egress_bps / dp->n_workers;
	__atomic_store_n(&app->flags, a->flags, __ATOMIC_RELEASE);
	app->in_use = 1;
	return 0;
}

int
rtr_app_del(struct rtr_dp *dp, uint32_t app_index)
{
	struct rtr_app *app;
	uint32_t i;

	if (app_index == 0 || app_index >= dp->cfg.max_apps)
		return -EINVAL;
	app = &dp->apps[app_index];
	if (!app->in_use)
		return -ENOENT;
	/* stop forwarding first, then take its members out */
	__atomic_store_n(&app->flags, 0, __ATOMIC_RELEASE);
	for (i = 0; i < dp->cfg.max_members && app->members > 0; i++)
		if (dp->members[i].state != RTR_MS_FREE && dp->members[i].app_index == app_index)
			rtr_member_del_slot(dp, i);
	memset(app, 0, sizeof(*app));
	rtr_stats_mainp(dp->seg->stats)->apps--;
	return 0;
}

/* Rebuild a channel's receiver array from its ACTIVE members, and `also`
 * (a member being activated; NONE for none). */
static int
fanout_rebuild(struct rtr_dp *dp, struct rtr_channel *c, uint32_t also)
{
	struct rtr_fanout *fo = NULL, *old;
	uint32_t s, n = 0;

	for (s = c->head; s != NONE; s = dp->members[s].next)
		n += dp->members[s].state == RTR_MS_ACTIVE || s == also;
	if (n > 0) {
		void *p = NULL;

		if (n <= RTR_FO_POOLED_MAX && dp->fo_pool != NULL &&
		    rte_mempool_get(dp->fo_pool, &p) == 0) {
			fo = p;
			fo->pooled = 1;
		} else {
			fo = rte_malloc("rtr_fanout", sizeof(*fo) + (size_t)n * sizeof(struct rtr_rcv),
					RTE_CACHE_LINE_SIZE);
			if (fo == NULL)
				return -ENOMEM;
			fo->pooled = 0;
		}
		fo->n = 0;
		for (s = c->head; s != NONE; s = dp->members[s].next) {
			const struct rtr_member *m = &dp->members[s];
			struct rtr_rcv *r;

			if (m->state != RTR_MS_ACTIVE && s != also)
				continue;
			r = &fo->r[fo->n++];
			memset(r, 0, sizeof(*r));
			r->slot = s;
			r->port_id = m->ep.port_id;
			r->vlan = m->ep.vlan;
			r->udp_port = m->ep.udp_port;
			r->family = m->ep.family;
			memcpy(&r->mac, m->ep.mac, 6);
			memcpy(r->ip, m->ep.ip, 16);
			r->enc = m->enc;
			r->expire = m->token_expire;
			r->addr_sum = rtr_addr_sum(r->family, m->ep.local_ip, r->ip);
		}
	}
	old = c->fo;
	__atomic_store_n(&c->fo, fo, __ATOMIC_RELEASE);
	if (old != NULL)
		defer(dp, DQ_FANOUT, 0, old);
	return 0;
}

/* Set one receiver's expiry in place: a single 8-byte store, which a
 * worker reading the entry sees either before or after. */
static void
fanout_set_expire(struct rtr_channel *c, uint32_t slot, uint64_t expire)
{
	struct rtr_fanout *fo = c->fo;
	uint32_t i;

	for (i = 0; fo != NULL && i < fo->n; i++)
		if (fo->r[i].slot == slot)
			__atomic_store_n(&fo->r[i].expire, expire, __ATOMIC_RELEASE);
}

static void
fanout_expire_entry(struct rtr_channel *c, uint32_t slot)
{
	fanout_set_expire(c, slot, 1);	/* 1970: always past */
}

static void
member_counts(struct rtr_dp *dp)
{
	struct rtr_main_stats *ms = rtr_stats_mainp(dp->seg->stats);

	ms->members = dp->n_members;
	ms->members_pending = dp->n_pending;
	ms->members_active = dp->n_members - dp->n_pending;
	ms->channels = dp->n_channels;
}

/* A member lasts until its token or its join privilege expires. */
static uint64_t
membership_expiry(uint64_t token_expire, uint64_t join_expire)
{
	if (join_expire != 0 && (token_expire == 0 || join_expire < token_expire))
		return join_expire;
	return token_expire;
}

/* The last member went: the channel goes (its slot after a grace period). */
static void
channel_release(struct rtr_dp *dp, struct rtr_channel *c, uint32_t cslot)
{
	struct chan_key key = { .app_index = c->app_index, .channel_hash = c->channel_hash };
	struct rtr_fanout *old = c->fo;

	rte_hash_del_key(dp->chan_hash, &key);
	__atomic_store_n(&c->in_use, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&c->fo, NULL, __ATOMIC_RELEASE);
	if (old != NULL)
		defer(dp, DQ_FANOUT, 0, old);
	defer(dp, DQ_CHANNEL_SLOT, cslot, NULL);
	dp->n_channels--;
}

static unsigned int
suite_key_len(uint8_t suite)
{
	return suite == RTR_SUITE_AES128GCM ? RTR_AEAD_KEY_128 : RTR_AEAD_KEY_256;
}

/* Phase p of e: expand both keys, then open it for workers. */
static int
enc_set_phase(struct rtr_dp *dp, struct rtr_enc *e, unsigned int p, const uint8_t *rx,
	      const uint8_t *tx)
{
	unsigned int kl = suite_key_len(e->suite);

	rtr_replay_init(&e->win[p]);
	if (rtr_aead_key_init(dp->imb, &e->rx[p], rx, kl) != 0 ||
	    rtr_aead_key_init(dp->imb, &e->tx[p], tx, kl) != 0) {
		rtr_aead_key_wipe(&e->rx[p]);
		rtr_aead_key_wipe(&e->tx[p]);
		return -EINVAL;
	}
	e->phase_since_s[p] = dp->now_s;
	__atomic_store_n(&e->epoch[p], e->epoch[p] + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&e->valid[p], 1, __ATOMIC_RELEASE);
	return 0;
}

static int
enc_install(struct rtr_dp *dp, const struct rtr_msg_member_add *a, uint32_t slot)
{
	uint32_t idx;
	struct rtr_enc *e;
	int rc;

	if (dp->efree_n == 0)
		return -ENOSPC;
	idx = dp->efree[--dp->efree_n];
	e = &dp->enc[idx];
	e->suite = a->suite;
	e->member = slot;
	e->tx_phase = 0;
	e->newest = 0;
	rc = enc_set_phase(dp, e, 0, a->rx_key, a->tx_key);
	if (rc < 0) {
		enc_wipe(e);
		dp->efree[dp->efree_n++] = idx;
		return rc;
	}
	__atomic_store_n(&dp->members[slot].enc, idx + 1, __ATOMIC_RELAXED);
	rtr_stats_mainp(dp->seg->stats)->enc_members++;
	return 0;
}

int
rtr_member_add(struct rtr_dp *dp, const struct rtr_msg_member_add *a,
	       struct rtr_reply_member_add *r)
{
	struct chan_key key = { .app_index = a->app_index, .channel_hash = a->channel_hash };
	struct rtr_channel *c;
	struct rtr_member *m;
	uint32_t slot, gen, cslot;
	void *data;
	int rc;

	if (a->app_index == 0 || a->app_index >= dp->cfg.max_apps)
		return -EINVAL;
	if (!dp->apps[a->app_index].in_use)
		return -ENOENT;
	if (!rtr_ep_valid(dp, &a->ep))
		return -EADDRNOTAVAIL;
	if ((a->privs & ~RTR_PRIV_ALL) || !(a->privs & RTR_PRIV_BIT(RTR_PRIV_JOIN)))
		return -EINVAL;
	if (a->role != RTR_ROLE_PUBLISHER && a->role != RTR_ROLE_SUBSCRIBER)
		return -EINVAL;
	if (a->flags & ~RTR_MEMBER_F_ACTIVE)
		return -EINVAL;
	if (a->suite > RTR_SUITE_AES256GCM)
		return -EINVAL;
	/* keys never outlive their dataplane: no encrypted member is re-installed
	 * with an old handle, nor installed ACTIVE without a handshake */
	if (a->suite != 0 && (a->want_handle != 0 || (a->flags & RTR_MEMBER_F_ACTIVE)))
		return -EPERM;
	if (a->suite != 0 && dp->efree_n == 0)
		return -ENOSPC;
	if (a->bps > (4ULL << 30) || a->fps > 10000000)
		return -ERANGE;

	if (a->want_handle != 0) {
		slot = (uint32_t)a->want_handle;
		gen = (uint32_t)(a->want_handle >> 32);
		if (slot >= dp->cfg.max_members || (gen & RTR_MID_GEN_MASK) == 0)
			return -EINVAL;
		if (dp->members[slot].state != RTR_MS_FREE)
			return -EEXIST;
		/* a worker may still see the slot's last member */
		if (dp->members[slot].reclaim_pending)
			return -EBUSY;
		/* generations only move forward: an old handle never comes back */
		if (gen <= dp->members[slot].gen)
			return -ESTALE;
	} else {
		if (dp->n_members >= dp->cfg.max_members || mfree_pop(dp, &slot) < 0)
			return -ENOSPC;
		gen = dp->members[slot].gen + 1;
		if ((gen & RTR_MID_GEN_MASK) == 0)
			gen++;
	}

	if (rte_hash_lookup_data(dp->chan_hash, &key, &data) >= 0) {
		cslot = (uint32_t)(uintptr_t)data;
		/* a channel never mixes plaintext and encrypted members */
		if (dp->channels[cslot].enc != (a->suite != 0)) {
			rc = -EPROTOTYPE;
			goto out_slot;
		}
	} else {
		if (dp->cfree_n == 0) {
			rc = -ENOSPC;
			goto out_slot;
		}
		cslot = dp->cfree[--dp->cfree_n];
		if (rte_hash_add_key_data(dp->chan_hash, &key, (void *)(uintptr_t)cslot) < 0) {
			dp->cfree[dp->cfree_n++] = cslot;
			rc = -ENOSPC;
			goto out_slot;
		}
		c = &dp->channels[cslot];
		c->app_index = a->app_index;
		c->channel_hash = a->channel_hash;
		c->members = 0;
		c->head = NONE;
		c->fo = NULL;
		c->enc = a->suite != 0;
		__atomic_store_n(&c->in_use, 1, __ATOMIC_RELEASE);
		dp->n_channels++;
	}
	c = &dp->channels[cslot];

	m = &dp->members[slot];
	/* a re-installed slot's queued free-list entry is no longer current */
	if (a->want_handle != 0)
		m->free_epoch++;
	m->gen = gen;
	m->role = a->role;
	m->suite = a->suite;
	m->app_index = a->app_index;
	m->chan_slot = cslot;
	m->channel_hash = a->channel_hash;
	/* a subscriber publishes nothing, whatever privileges it was given */
	m->privs = a->role == RTR_ROLE_SUBSCRIBER ? RTR_PRIV_BIT(RTR_PRIV_JOIN) : a->privs;
	m->fps = a->fps;
	m->bps = a->bps;
	m->token_expire = membership_expiry(a->token_expire, a->priv_expire[0]);
	memcpy(m->priv_expire, a->priv_expire, sizeof(m->priv_expire));
	m->path_token = a->path_token;
	m->ep = a->ep;
	__atomic_store_n(&m->enc, 0, __ATOMIC_RELAXED);
	if (a->suite != 0) {
		rc = enc_install(dp, a, slot);
		if (rc < 0) {
			if (c->members == 0)
				channel_release(dp, c, cslot);
			goto out_slot;
		}
	}
	m->af_tsc = 0;
	m->af_credit = 0;
	m->last_seen_tsc = rte_get_tsc_cycles();
	m->rl_tsc = 0;		/* full buckets at the first frame */
	m->ev_pending = 0;
	m->prev = NONE;
	m->next = c->head;
	if (c->head != NONE)
		dp->members[c->head].prev = slot;
	c->head = slot;
	c->members++;
	dp->apps[a->app_index].members++;
	dp->n_members++;
	if (a->flags & RTR_MEMBER_F_ACTIVE) {
		__atomic_store_n(&m->state, RTR_MS_ACTIVE, __ATOMIC_RELEASE);
		rc = fanout_rebuild(dp, c, NONE);
		if (rc < 0) {
			rtr_member_del_slot(dp, slot);
			return rc;
		}
	} else {
		__atomic_store_n(&m->state, RTR_MS_PENDING, __ATOMIC_RELEASE);
		dp->n_pending++;
	}
	member_counts(dp);
	r->handle = rtr_handle_make(slot, gen);
	r->member_id = rtr_mid_make(slot, gen);
	r->channel_slot = cslot;
	return 0;

out_slot:
	if (a->want_handle == 0)
		mfree_push(dp, slot);
	return rc;
}

int
rtr_member_del_slot(struct rtr_dp *dp, uint32_t slot)
{
	struct rtr_member *m = &dp->members[slot];
	struct rtr_channel *c = &dp->channels[m->chan_slot];
	uint8_t was = m->state;

	if (was == RTR_MS_FREE)
		return -ENOENT;
	__atomic_store_n(&m->state, RTR_MS_FREE, __ATOMIC_RELEASE);
	if (m->prev != NONE)
		dp->members[m->prev].next = m->next;
	else
		c->head = m->next;
	if (m->next != NONE)
		dp->members[m->next].prev = m->prev;
	c->members--;
	dp->apps[m->app_index].members--;
	dp->n_members--;
	if (was == RTR_MS_PENDING)
		dp->n_pending--;
	if (c->members == 0) {
		channel_release(dp, c, m->chan_slot);
	} else if (was == RTR_MS_ACTIVE && fanout_rebuild(dp, c, NONE) < 0) {
		/* no memory for a new list: in the old one, mark the member's
		 * entry expired (one atomic store a worker sees whole), so no
		 * copy goes to it while the list lives on */
		fanout_expire_entry(c, slot);
	}
	if (m->enc != 0) {
		/* no worker uses the keys once the grace period is over */
		__atomic_store_n(&dp->enc[m->enc - 1].valid[0], 0, __ATOMIC_RELEASE);
		__atomic_store_n(&dp->enc[m->enc - 1].valid[1], 0, __ATOMIC_RELEASE);
		defer(dp, DQ_ENC_SLOT, m->enc - 1, NULL);
		__atomic_store_n(&m->enc, 0, __ATOMIC_RELAXED);	/* workers read it once */
	}
	m->reclaim_pending = 1;
	defer(dp, DQ_MEMBER_SLOT, slot, NULL);
	member_counts(dp);
	return 0;
}

static struct rtr_member *
by_handle(struct rtr_dp *dp, uint64_t handle, uint32_t *slot)
{
	uint32_t s = (uint32_t)handle, gen = (uint32_t)(handle >> 32);

	if (s >= dp->cfg.max_members)
		return NULL;
	if (dp->members[s].state == RTR_MS_FREE || dp->members[s].gen != gen)
		return NULL;
	*slot = s;
	return &dp->members[s];
}

int
rtr_member_del(struct rtr_dp *dp, uint64_t handle)
{
	uint32_t slot;

	if (by_handle(dp, handle, &slot) == NULL)
		return -ENOENT;
	return rtr_member_del_slot(dp, slot);
}

int
rtr_member_update(struct rtr_dp *dp, const struct rtr_msg_member_update *u)
{
	struct rtr_member *m;
	uint32_t slot;

	if (u->what & ~(RTR_UPD_PRIVS | RTR_UPD_EXPIRY | RTR_UPD_RATE))
		return -EINVAL;
	m = by_handle(dp, u->handle, &slot);
	if (m == NULL)
		return -ENOENT;
	if ((u->what & RTR_UPD_PRIVS) &&
	    ((u->privs & ~RTR_PRIV_ALL) || !(u->privs & RTR_PRIV_BIT(RTR_PRIV_JOIN))))
		return -EINVAL;
	if ((u->what & RTR_UPD_RATE) && (u->bps > (4ULL << 30) || u->fps > 10000000))
		return -ERANGE;
	/* single words: a worker sees the old or the new value of each */
	if (u->what & RTR_UPD_PRIVS)
		__atomic_store_n(&m->privs, m->role == RTR_ROLE_SUBSCRIBER ?
				 RTR_PRIV_BIT(RTR_PRIV_JOIN) : u->privs, __ATOMIC_RELEASE);
	if (u->what & RTR_UPD_EXPIRY) {
		unsigned int i;

		__atomic_store_n(&m->token_expire,
				 membership_expiry(u->token_expire, u->priv_expire[0]),
				 __ATOMIC_RELEASE);
		for (i = 0; i < RTR_N_PRIV_EXPIRE; i++)
			__atomic_store_n(&m->priv_expire[i], u->priv_expire[i], __ATOMIC_RELEASE);
		/* receivers carry their expiry in the fan-out list: patch it there */
		if (m->state == RTR_MS_ACTIVE)
			fanout_set_expire(&dp->channels[m->chan_slot], slot, m->token_expire);
	}
	if (u->what & RTR_UPD_RATE) {
		__atomic_store_n(&m->fps, u->fps, __ATOMIC_RELEASE);
		__atomic_store_n(&m->bps, u->bps, __ATOMIC_RELEASE);
	}
	return 0;
}

/* A worker saw the member's path token echoed from its endpoint. */
int
rtr_member_activate(struct rtr_dp *dp, uint32_t slot, uint32_t gen)
{
	struct rtr_member *m;

	if (slot >= dp->cfg.max_members)
		return -EINVAL;
	m = &dp->members[slot];
	if (m->state != RTR_MS_PENDING || m->gen != gen)
		return -ENOENT;	/* deleted or already active meanwhile */
	/* the new list first: until it is published the member stays PENDING,
	 * and on failure it simply stays so (its next KEEPALIVE tries again) */
	if (fanout_rebuild(dp, &dp->channels[m->chan_slot], slot) < 0)
		return -ENOMEM;
	__atomic_store_n(&m->state, RTR_MS_ACTIVE, __ATOMIC_RELEASE);
	dp->n_pending--;
	member_counts(dp);
	return 0;
}

/* New keys for an encrypted member's idle phase (rtr-controld, rekey JOIN). */
int
rtr_member_rekey(struct rtr_dp *dp, const struct rtr_msg_member_rekey *k)
{
	struct rtr_member *m;
	struct rtr_enc *e;
	uint32_t slot;
	int rc;

	if (k->phase > 1)
		return -EINVAL;
	m = by_handle(dp, k->handle, &slot);
	if (m == NULL)
		return -ENOENT;
	if (m->enc == 0)
		return -EPERM;
	e = &dp->enc[m->enc - 1];
	/* only the phase the downlink is not using, once its old keys are gone */
	if (k->phase == e->tx_phase || e->valid[k->phase] || e->retire_at_s != 0)
		return -EBUSY;
	if (e->rx[k->phase].key_len != 0)
		return -EBUSY;	/* still being wiped after a grace period */
	rc = enc_set_phase(dp, e, k->phase, k->rx_key, k->tx_key);
	if (rc == 0) {
		__atomic_store_n(&e->newest, k->phase, __ATOMIC_RELEASE);
		rtr_stats_mainp(dp->seg->stats)->rekeys++;
	}
	return rc;
}

/* A worker saw the member's downlink switch to a new phase: retire the
 * other one after the overlap. */
void
rtr_member_phase(struct rtr_dp *dp, uint32_t slot, uint32_t gen)
{
	struct rtr_member *m = &dp->members[slot];

	if (m->state == RTR_MS_FREE || m->gen != gen || m->enc == 0)
		return;
	dp->enc[m->enc - 1].retire_at_s = dp->now_s + RTR_REKEY_OVERLAP_S;
}

/* An authenticated, newest frame of the member came from ep: a candidate
 * for a move (protocol.md 16.6). */
int
rtr_member_roam(struct rtr_dp *dp, uint32_t slot, uint32_t gen, const struct rtr_ep *ep)
{
	struct rtr_member *m = &dp->members[slot];
	struct rtr_enc *e;
	struct rtr_ep cand = *ep;
	uint64_t ch;

	if (m->state == RTR_MS_FREE || m->gen != gen || m->enc == 0)
		return -ENOENT;
	e = &dp->enc[m->enc - 1];
	/* the same rules as for a member's first endpoint; the service address
	 * it talks to stays the one of its port and family */
	memset(cand.local_ip, 0, sizeof(cand.local_ip));
	if (cand.port_id < dp->n_ports)
		memcpy(cand.local_ip, cand.family == 4 ? dp->cfg.ip[cand.port_id].ip4 :
		       dp->cfg.ip[cand.port_id].ip6, cand.family == 4 ? 4 : 16);
	if (!rtr_ep_valid(dp, &cand)) {
		__atomic_store_n(&e->roam_reported, 0, __ATOMIC_RELEASE);
		return -EADDRNOTAVAIL;
	}
	/* a move onto the global deny list is refused here, before any copy
	 * goes there: the member stays where it is (per-app rules are
	 * rtr-controld's, after the move) */
	if (rtr_guard_denied(dp, cand.family, cand.ip)) {
		rtr_stats_mainp(dp->seg->stats)->roams_denied++;
		__atomic_store_n(&e->roam_reported, 0, __ATOMIC_RELEASE);
		return -EACCES;
	}
	/* unpredictable: only the endpoint that receives the echo learns it */
	do {
		if (getrandom(&ch, sizeof(ch), 0) != sizeof(ch))
			return -EIO;
	} while (ch == 0);
	e->roam_ep = cand;
	e->roam_since_s = dp->now_s;
	__atomic_store_n(&e->roam_challenge, ch, __ATOMIC_RELEASE);
	e->roam_state = 1;
	/* workers may report a newer candidate again */
	__atomic_store_n(&e->roam_reported, 0, __ATOMIC_RELEASE);
	return 0;
}

/* The candidate echoed its challenge: the member moves there. */
int
rtr_member_roam_ok(struct rtr_dp *dp, uint32_t slot, uint32_t gen)
{
	struct rtr_member *m = &dp->members[slot];
	struct rtr_enc *e;
	struct rtr_ep old;
	int rc;

	if (m->state == RTR_MS_FREE || m->gen != gen || m->enc == 0)
		return -ENOENT;
	e = &dp->enc[m->enc - 1];
	if (e->roam_state != 1)
		return -ENOENT;
	old = m->ep;
	/* workers compare the endpoint field by field: they may see a mix for
	 * a moment, which only drops a frame or two as member_wrong_endpoint
	 * (and the frames authenticate, so they count as candidates) */
	m->ep = e->roam_ep;
	if (m->state == RTR_MS_ACTIVE) {
		rc = fanout_rebuild(dp, &dp->channels[m->chan_slot], NONE);
		if (rc < 0) {
			m->ep = old;
			return rc;
		}
	}
	e->roam_state = 0;
	__atomic_store_n(&e->roam_challenge, 0, __ATOMIC_RELEASE);
	rtr_stats_mainp(dp->seg->stats)->roams++;
	return 0;
}

/* Per member, from the sweep: candidates that did not validate, key
 * phases whose overlap is over. */
void
rtr_enc_sweep(struct rtr_dp *dp, uint32_t slot)
{
	struct rtr_member *m = &dp->members[slot];
	struct rtr_enc *e;
	unsigned int old;

	if (m->enc == 0)
		return;
	e = &dp->enc[m->enc - 1];
	if (e->roam_state == 1 && dp->now_s >= e->roam_since_s + RTR_ROAM_TIMEOUT_S) {
		e->roam_state = 0;
		__atomic_store_n(&e->roam_challenge, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&e->roam_reported, 0, __ATOMIC_RELEASE);
	}
	/* the downlink is on the newest keys and the other phase still has keys:
	 * retire them after the overlap (also if the worker's event was lost) */
	if (e->retire_at_s == 0 && e->tx_phase == e->newest && e->valid[e->tx_phase ^ 1])
		e->retire_at_s = dp->now_s + RTR_REKEY_OVERLAP_S;
	if (e->retire_at_s != 0 && dp->now_s >= e->retire_at_s) {
		old = e->tx_phase ^ 1;
		__atomic_store_n(&e->valid[old], 0, __ATOMIC_RELEASE);
		defer(dp, DQ_ENC_PHASE, (m->enc - 1) * 2 + old, NULL);
		e->retire_at_s = 0;
	}
}
