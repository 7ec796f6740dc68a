/* SPDX-License-Identifier: BSD-3-Clause
 * The worker loop: runs per packet on the worker lcores.
 *
 * No allocation but mbufs, no syscalls, no locks, no logging. Tables are
 * read under rte_rcu_qsbr (one quiescent report per loop); counters go to
 * this worker's own block of the stats segment.
 */
#include <string.h>
#include <rte_ethdev.h>
#include <rte_cycles.h>
#include <rte_prefetch.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_branch_prediction.h>

#include "dp.h"

#define DROP(w, r)	((w)->st->drops[RTR_DROP_##r]++)

static inline void
drop_pkt(struct rtr_worker *w, struct rte_mbuf *m, unsigned int reason)
{
	w->st->drops[reason]++;
	rte_pktmbuf_free(m);
}

static void
tx_flush(struct rtr_worker *w, uint16_t port)
{
	struct rtr_txbuf *b = &w->txb[port];
	uint16_t sent = 0, n = b->n, i;
	uint64_t bytes = 0;
	int tries;

	for (i = 0; i < n; i++)
		bytes += b->m[i]->pkt_len;
	for (tries = 0; tries < RTR_TX_RETRIES && sent < n; tries++)
		sent += rte_eth_tx_burst(port, (uint16_t)w->id, b->m + sent, (uint16_t)(n - sent));
	for (i = sent; i < n; i++) {
		bytes -= b->m[i]->pkt_len;
		rte_pktmbuf_free(b->m[i]);
	}
	w->st->tx_pkts += sent;
	w->st->tx_bytes += bytes;
	w->st->drops[RTR_DROP_TX_FULL] += n - sent;
	b->n = 0;
}

static inline void
tx_enqueue(struct rtr_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct rtr_txbuf *b = &w->txb[port];

	b->m[b->n++] = m;
	if (unlikely(b->n == RTR_TXB_SIZE))
		tx_flush(w, port);
}

static inline int
ep_match(const struct rtr_member *mb, const struct rtr_parsed *p, uint16_t port)
{
	return mb->ep.port_id == port && mb->ep.vlan == p->vlan &&
	       mb->ep.udp_port == p->sport && mb->ep.family == p->family &&
	       memcmp(mb->ep.ip, p->src_ip, p->family == 4 ? 4 : 16) == 0;
}

/* Token bucket refill: credit grows by rate per second, capped at burst. */
static inline uint64_t
refill(uint64_t credit, uint64_t elapsed, uint64_t rate, uint64_t cap)
{
	credit += elapsed * rate;
	return credit > cap ? cap : credit;
}

/* Per-member frames/s and bytes/s, charged after the member is known to
 * be who it claims to be. Returns 0 or a drop reason + 1. */
static inline unsigned int
rate_check(struct rtr_member *mb, const struct rtr_app *app, uint64_t now, uint64_t hz,
	   uint32_t len)
{
	uint32_t fps = mb->fps ? mb->fps : app->member_fps;
	uint64_t bps = mb->bps ? mb->bps : app->member_bps;
	uint64_t elapsed, cf = mb->rl_frames, cb = mb->rl_bytes;

	if (likely(fps == 0 && bps == 0))
		return 0;
	elapsed = mb->rl_tsc == 0 || now - mb->rl_tsc > hz ? hz : now - mb->rl_tsc;
	mb->rl_tsc = now;
	if (fps)
		cf = refill(cf, elapsed, fps, RTE_MAX(fps / 4, 8u) * hz);
	if (bps)
		cb = refill(cb, elapsed >> 10, bps, RTE_MAX(bps / 4, 16384ul) * (hz >> 10));
	mb->rl_frames = cf;
	mb->rl_bytes = cb;
	if (fps && cf < hz)
		return RTR_DROP_RATE_FRAMES + 1;
	if (bps && cb < (uint64_t)len * (hz >> 10))
		return RTR_DROP_RATE_BYTES + 1;
	if (fps)
		mb->rl_frames = cf - hz;
	if (bps)
		mb->rl_bytes = cb - (uint64_t)len * (hz >> 10);
	return 0;
}

/* Per-app egress budget, this worker's share. */
static inline int
egress_ok(struct rtr_worker *w, const struct rtr_app *app, uint32_t app_index,
	  uint64_t now, uint64_t hz, uint64_t bytes)
{
	struct rtr_app_bucket *b = &w->app_tb[app_index];
	uint64_t rate, elapsed, cost;

	if (likely(app->egress_bps == 0))
		return 1;
	rate = app->egress_share;
	elapsed = b->tsc == 0 || now - b->tsc > hz ? hz : now - b->tsc;
	b->tsc = now;
	b->credit = refill(b->credit, elapsed >> 10, rate, RTE_MAX(rate / 4, 65536ul) * (hz >> 10));
	cost = bytes * (hz >> 10);
	if (b->credit < cost)
		return 0;
	b->credit -= cost;
	return 1;
}

/* Look up the sender of a member frame and check it is who it says. An
 * encrypted member's frame may come from elsewhere (*moved): it proves
 * itself by authenticating (enc_open). */
static inline struct rtr_member *
sender(const struct rtr_parsed *p, uint16_t port, uint8_t *state, unsigned int *why, int *moved,
       uint32_t *enc)
{
	const struct rtr_hdr *h = &p->hdr;
	uint32_t slot = rtr_mid_slot(h->member_id);
	struct rtr_member *mb;

	if (unlikely(slot >= rtr_dp.cfg.max_members)) {
		*why = RTR_DROP_MEMBER_UNKNOWN;
		return NULL;
	}
	mb = &rtr_dp.members[slot];
	*state = __atomic_load_n(&mb->state, __ATOMIC_ACQUIRE);
	if (unlikely(*state == RTR_MS_FREE ||
		     (mb->gen & RTR_MID_GEN_MASK) != rtr_mid_gen(h->member_id))) {
		*why = RTR_DROP_MEMBER_UNKNOWN;
		return NULL;
	}
	if (unlikely(mb->app_index != h->app_index || mb->channel_hash != h->channel_hash)) {
		*why = RTR_DROP_MEMBER_CHANNEL;
		return NULL;
	}
	*moved = !ep_match(mb, p, port);
	/* read once: the main lcore clears it when the member goes (its key
	 * slot itself stays until the grace period is over) */
	*enc = __atomic_load_n(&mb->enc, __ATOMIC_RELAXED);
	if (*enc != 0) {
		if (unlikely(!(h->flags & RTR_F_ENC))) {
			*why = RTR_DROP_ENC_PLAINTEXT;
			return NULL;
		}
		return mb;
	}
	if (unlikely(*moved)) {
		*why = RTR_DROP_MEMBER_ENDPOINT;
		return NULL;
	}
	if (unlikely(h->flags & RTR_F_ENC)) {
		*why = RTR_DROP_ENC_UNSUPPORTED;
		return NULL;
	}
	return mb;
}

static inline void
nonce_of(uint8_t nonce[RTR_AEAD_NONCE_LEN], const uint8_t *hdr)
{
	memset(nonce, 0, 4);
	memcpy(nonce + 4, hdr + RTR_OFF_COUNTER, 8);	/* big-endian, as sent */
}

static inline int
ev_push(struct rtr_worker *w, uint32_t type, uint32_t slot, uint32_t gen, const struct rtr_ep *ep)
{
	struct rtr_ev ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.slot = slot;
	ev.gen = gen;
	if (ep != NULL)
		ev.ep = *ep;
	return rte_ring_sp_enqueue_elem(w->ev, &ev, sizeof(ev));
}

/* The endpoint a frame came from, as a member endpoint. */
static inline void
ep_of(struct rtr_ep *ep, const struct rte_mbuf *m, const struct rtr_parsed *p, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->family = p->family;
	ep->port_id = port;
	ep->vlan = p->vlan;
	ep->udp_port = p->sport;
	memcpy(ep->mac, rte_pktmbuf_mtod_offset(m, const uint8_t *, 6), 6);
	memcpy(ep->ip, p->src_ip, p->family == 4 ? 4 : 16);
}

static inline int
ep_same(const struct rtr_ep *a, const struct rtr_ep *b)
{
	return a->port_id == b->port_id && a->vlan == b->vlan && a->udp_port == b->udp_port &&
	       a->family == b->family && memcmp(a->mac, b->mac, 6) == 0 &&
	       memcmp(a->ip, b->ip, 16) == 0;
}

/* Failed authentications from elsewhere than the member's endpoint: a
 * small budget, so a forged flood with a known member id costs little. */
static inline int
af_credit_ok(struct rtr_member *mb, uint64_t now, uint64_t hz)
{
	uint64_t elapsed = mb->af_tsc == 0 || now - mb->af_tsc > hz ? hz : now - mb->af_tsc;

	mb->af_tsc = now;
	mb->af_credit = refill(mb->af_credit, elapsed, RTR_AUTH_FAIL_RATE,
			       (uint64_t)RTR_AUTH_FAIL_RATE * hz);
	return mb->af_credit >= hz;
}

/*
 * Open an encrypted member's frame in place (protocol.md 16.3): key of the
 * header's phase, replay window checked before and updated after the tag
 * verified. On success the plaintext is at payload + 32, *newest says
 * whether its counter is the highest so far. Returns 0 or a drop reason + 1.
 */
static inline unsigned int
enc_open(struct rtr_worker *w, struct rtr_member *mb, uint32_t enc, struct rte_mbuf *m,
	 const struct rtr_parsed *p, int moved, uint64_t now, int *newest)
{
	struct rtr_dp *dp = &rtr_dp;
	struct rtr_enc *e = &dp->enc[enc - 1];
	unsigned int ph = (p->hdr.flags & RTR_F_KEY_PHASE) ? 1 : 0;
	uint8_t *f = rte_pktmbuf_mtod_offset(m, uint8_t *, p->pl_off);
	uint32_t ct_len;
	uint64_t ctr = p->hdr.counter;
	uint8_t nonce[RTR_AEAD_NONCE_LEN];
	int rc;

	if (unlikely(p->hdr.payload_len < RTR_TAG_LEN))
		return RTR_DROP_ENC_SHORT + 1;
	if (unlikely(!__atomic_load_n(&e->valid[ph], __ATOMIC_ACQUIRE)))
		return RTR_DROP_ENC_NO_KEY + 1;
	if (unlikely(moved && !af_credit_ok(mb, now, dp->tsc_hz)))
		return RTR_DROP_ENC_AUTH_BUDGET + 1;
	/* one core at a time updates the member's uplink state */
	if (unlikely(__atomic_exchange_n(&e->busy, 1, __ATOMIC_ACQUIRE)))
		return RTR_DROP_ENC_BUSY + 1;
	if (unlikely(!rtr_replay_check(&e->win[ph], ctr))) {
		__atomic_store_n(&e->busy, 0, __ATOMIC_RELEASE);
		return RTR_DROP_ENC_REPLAY + 1;
	}
	ct_len = p->hdr.payload_len - RTR_TAG_LEN;
	nonce_of(nonce, f);
	rc = rtr_aead_open(w->imb, &e->rx[ph], nonce, f, RTR_HDR_LEN, f + RTR_HDR_LEN, ct_len,
			   f + RTR_HDR_LEN, f + RTR_HDR_LEN + ct_len);
	if (unlikely(rc != 0)) {
		__atomic_store_n(&e->busy, 0, __ATOMIC_RELEASE);
		/* saturating: two workers may race on it (a frame's worth) */
		if (moved)
			mb->af_credit = mb->af_credit >= dp->tsc_hz ? mb->af_credit - dp->tsc_hz : 0;
		return RTR_DROP_ENC_AUTH + 1;
	}
	*newest = ctr >= e->win[ph].last;
	rtr_replay_update(&e->win[ph], ctr);
	/* the first uplink frame under the newest keys moves the downlink there */
	if (unlikely(ph != e->tx_phase) && ph == __atomic_load_n(&e->newest, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&e->tx_phase, ph, __ATOMIC_RELEASE);
		if (ev_push(w, RTR_EV_PHASE, rtr_mid_slot(p->hdr.member_id), mb->gen, NULL) == 0)
			w->st->rekeys++;
		else
			DROP(w, EVENT_FULL);	/* the old keys then live until the member goes */
	}
	__atomic_store_n(&e->busy, 0, __ATOMIC_RELEASE);
	w->st->enc_opened++;
	return 0;
}

/* An authenticated, newest frame from a new endpoint: tell the main lcore
 * once per candidate (protocol.md 16.6). */
static inline void
roam_report(struct rtr_worker *w, struct rtr_member *mb, uint32_t enc, struct rte_mbuf *m,
	    const struct rtr_parsed *p, uint16_t port)
{
	struct rtr_enc *e = &rtr_dp.enc[enc - 1];
	struct rtr_ep ep;

	ep_of(&ep, m, p, port);
	if (__atomic_load_n(&e->roam_challenge, __ATOMIC_ACQUIRE) != 0 && ep_same(&ep, &e->roam_ep))
		return;		/* already the candidate */
	if (__atomic_load_n(&e->roam_reported, __ATOMIC_ACQUIRE))
		return;
	if (ev_push(w, RTR_EV_ROAM, rtr_mid_slot(p->hdr.member_id), mb->gen, &ep) != 0) {
		DROP(w, EVENT_FULL);
		return;
	}
	__atomic_store_n(&e->roam_reported, 1, __ATOMIC_RELEASE);
	w->st->roam_candidates++;
}

/* The next downlink counter of this worker for a receiver's key phase. */
static inline uint64_t
dl_counter(struct rtr_worker *w, const struct rtr_enc *e, uint32_t idx, unsigned int ph)
{
	struct rtr_dlseq *ds = &w->dl[idx * 2 + ph];
	uint32_t epoch = __atomic_load_n(&e->epoch[ph], __ATOMIC_ACQUIRE);

	if (unlikely(ds->epoch != epoch)) {
		ds->epoch = epoch;
		ds->seq = 0;
	}
	return ((uint64_t)w->id << RTR_LANE_SHIFT) | (ds->seq++ & ((1ULL << RTR_LANE_SHIFT) - 1));
}

static inline int
emit(struct rtr_worker *w, struct rte_mbuf *m, const uint8_t *pl, const struct rtr_parsed *p,
     const struct rtr_rcv *r, int *adjusted)
{
	struct rtr_dp *dp = &rtr_dp;
	const struct rtr_port *port = &dp->ports[r->port_id];
	uint16_t hlen = rtr_l2l4_len(r->vlan, r->family);
	struct rte_mbuf *o, *c;
	uint8_t *d;

	/* an IPv4 sender's frame grows by 20 bytes on its way to an IPv6 receiver */
	if (unlikely(p->pl_len + 8u + (r->family == 4 ? 20u : 40u) > port->mtu)) {
		DROP(w, RECEIVER_MTU);
		return 0;
	}
	if (port->chain && (dp->cfg.tx_mode == RTR_TX_CHAIN || p->pl_len > dp->cfg.copy_max)) {
		o = rte_pktmbuf_alloc(dp->hdr_pool);
		if (unlikely(o == NULL)) {
			DROP(w, NO_MBUF);
			return 0;
		}
		if (!*adjusted) {
			/* the clone carries exactly the UDP payload: no Ethernet padding */
			rte_pktmbuf_adj(m, p->pl_off);
			rte_pktmbuf_trim(m, (uint16_t)(m->data_len - p->pl_len));
			*adjusted = 1;
		}
		c = rte_pktmbuf_clone(m, dp->clone_pool);
		if (unlikely(c == NULL)) {
			rte_pktmbuf_free(o);
			DROP(w, CLONE_FAILED);
			return 0;
		}
		d = rte_pktmbuf_mtod(o, uint8_t *);
		rtr_build_l2l4(d, port, r->vlan, &r->mac, r->family, r->ip,
			       r->addr_sum, dp->cfg.udp_port, r->udp_port, p->pl_len, p->pl_sum);
		o->data_len = hlen;
		o->pkt_len = hlen;
		if (unlikely(rte_pktmbuf_chain(o, c) != 0)) {
			rte_pktmbuf_free(o);
			rte_pktmbuf_free(c);
			DROP(w, CLONE_FAILED);
			return 0;
		}
	} else {
		o = rte_pktmbuf_alloc(dp->pool);
		if (unlikely(o == NULL)) {
			DROP(w, NO_MBUF);
			return 0;
		}
		d = (uint8_t *)rte_pktmbuf_append(o, (uint16_t)(hlen + p->pl_len));
		if (unlikely(d == NULL)) {
			rte_pktmbuf_free(o);
			DROP(w, NO_MBUF);
			return 0;
		}
		rtr_build_l2l4(d, port, r->vlan, &r->mac, r->family, r->ip,
			       r->addr_sum, dp->cfg.udp_port, r->udp_port, p->pl_len, p->pl_sum);
		rte_memcpy(d + hlen, pl, p->pl_len);
	}
	tx_enqueue(w, r->port_id, o);
	return 1;
}

/*
 * Encrypted fan-out (protocol.md 16.4): one copy per receiver, sealed with
 * its downlink key under the sender's header with this worker's counter.
 * f: the input's UDP payload, already opened in place (plaintext at f + 32).
 * Direct ipsec-mb calls: for AES-GCM they cost less per frame than the job
 * API here (make bench prints both), and the seal writes the ciphertext
 * straight into the copy, so the payload is never copied in clear.
 */
static uint32_t
fanout_enc(struct rtr_worker *w, const struct rtr_fanout *fo, uint32_t n, uint32_t self,
	   const uint8_t *f, uint16_t pl_len, uint64_t now_s)
{
	struct rtr_dp *dp = &rtr_dp;
	uint16_t pt_len = (uint16_t)(pl_len - RTR_HDR_LEN - RTR_TAG_LEN);
	uint16_t flags = (uint16_t)(rtr_get16(f + RTR_OFF_FLAGS) &
				    ~(RTR_F_KEY_PHASE | RTR_F_REKEY_REQUESTED));
	uint8_t nonce[RTR_AEAD_NONCE_LEN];
	uint32_t i, out = 0;

	for (i = 0; i < n; i++) {
		const struct rtr_rcv *r = &fo->r[i];
		const struct rtr_enc *e;
		struct rte_mbuf *o;
		unsigned int ph;
		uint8_t *d, *rh;
		uint16_t hlen;

		if (i + 1 < n)
			rte_prefetch0(&fo->r[i + 1]);
		if (r->slot == self)
			continue;
		if (unlikely(r->expire != 0 && now_s >= r->expire)) {
			DROP(w, RECEIVER_EXPIRED);
			continue;
		}
		if (unlikely(r->enc == 0)) {
			DROP(w, ENC_MIXED);	/* never: a channel does not mix modes */
			continue;
		}
		if (unlikely(pl_len + 8u + (r->family == 4 ? 20u : 40u) > dp->ports[r->port_id].mtu)) {
			DROP(w, RECEIVER_MTU);
			continue;
		}
		e = &dp->enc[r->enc - 1];
		ph = __atomic_load_n(&e->tx_phase, __ATOMIC_ACQUIRE);
		if (unlikely(!__atomic_load_n(&e->valid[ph], __ATOMIC_ACQUIRE))) {
			DROP(w, ENC_NO_KEY);
			continue;
		}
		o = rte_pktmbuf_alloc(dp->pool);
		if (unlikely(o == NULL)) {
			DROP(w, NO_MBUF);
			continue;
		}
		hlen = rtr_l2l4_len(r->vlan, r->family);
		d = (uint8_t *)rte_pktmbuf_append(o, (uint16_t)(hlen + pl_len));
		if (unlikely(d == NULL)) {
			rte_pktmbuf_free(o);
			DROP(w, NO_MBUF);
			continue;
		}
		rh = d + hlen;
		memcpy(rh, f, RTR_HDR_LEN);
		rtr_put16(rh + RTR_OFF_FLAGS, (uint16_t)(flags | (ph ? RTR_F_KEY_PHASE : 0)));
		rtr_put64(rh + RTR_OFF_COUNTER, dl_counter(w, e, r->enc - 1, ph));
		nonce_of(nonce, rh);
		if (unlikely(rtr_aead_seal(w->imb, &e->tx[ph], nonce, rh, RTR_HDR_LEN,
					   f + RTR_HDR_LEN, pt_len, rh + RTR_HDR_LEN,
					   rh + RTR_HDR_LEN + pt_len) != 0)) {
			rte_pktmbuf_free(o);
			DROP(w, ENC_SEAL);
			continue;
		}
		/* each copy has its own ciphertext: its own payload sum */
		rtr_build_l2l4(d, &dp->ports[r->port_id], r->vlan, &r->mac, r->family, r->ip,
			       r->addr_sum, dp->cfg.udp_port, r->udp_port, pl_len,
			       rtr_csum_add(0, rh, pl_len));
		tx_enqueue(w, r->port_id, o);
		out++;
	}
	w->st->enc_sealed += out;
	return out;
}

/* A PENDING member proved its path: ask the main lcore to activate it. */
static inline void
activate(struct rtr_worker *w, struct rtr_member *mb, uint32_t slot)
{
	if (mb->ev_pending)
		return;
	if (ev_push(w, RTR_EV_ACTIVATE, slot, mb->gen, NULL) == 0) {
		mb->ev_pending = 1;
		w->st->activations++;
	} else {
		DROP(w, EVENT_FULL);	/* the next frame tries again */
	}
}

static void
do_media(struct rtr_worker *w, struct rte_mbuf *m, const struct rtr_parsed *p, uint16_t port,
	 uint64_t now, uint64_t now_s)
{
	struct rtr_dp *dp = &rtr_dp;
	const struct rtr_hdr *h = &p->hdr;
	const uint8_t *pl = rte_pktmbuf_mtod_offset(m, const uint8_t *, p->pl_off);
	const struct rtr_fanout *fo;
	const struct rtr_channel *c;
	const struct rtr_app *app;
	struct rtr_app_stats *ast;
	struct rtr_member *mb;
	unsigned int why = 0, kind, priv;
	uint32_t slot, i, n, copies, out = 0;
	uint64_t te, pe;
	uint8_t state;
	int adjusted = 0, moved = 0, newest = 0;
	uint32_t enc = 0;

	mb = sender(p, port, &state, &why, &moved, &enc);
	if (unlikely(mb == NULL))
		goto out_drop;
	if (enc != 0) {
		why = enc_open(w, mb, enc, m, p, moved, now, &newest);
		if (unlikely(why != 0)) {
			why--;
			goto out_drop;
		}
		if (unlikely(moved && newest))
			roam_report(w, mb, enc, m, p, port);
		/* with ENC, an authenticated frame from the JOIN's endpoint
		 * validates the path */
		if (unlikely(state != RTR_MS_ACTIVE) && !moved)
			activate(w, mb, rtr_mid_slot(h->member_id));
	}
	/* a PENDING member whose path a worker has just validated may send
	 * already: only the main lcore's bookkeeping (the receiver list) is
	 * still to come, so its first frames are not lost to that race */
	if (unlikely(state != RTR_MS_ACTIVE) &&
	    !(state == RTR_MS_PENDING && __atomic_load_n(&mb->ev_pending, __ATOMIC_RELAXED))) {
		why = RTR_DROP_MEMBER_PENDING;
		goto out_drop;
	}
	kind = (h->flags & RTR_F_KIND_MASK) >> RTR_F_KIND_SHIFT;
	priv = rtr_kind_priv(kind);
	if (unlikely(!(__atomic_load_n(&mb->privs, __ATOMIC_RELAXED) & RTR_PRIV_BIT(priv)))) {
		why = RTR_DROP_PRIVILEGE;
		goto out_drop_app;
	}
	te = __atomic_load_n(&mb->token_expire, __ATOMIC_RELAXED);
	if (unlikely(te != 0 && now_s >= te)) {
		why = RTR_DROP_TOKEN_EXPIRED;
		goto out_drop_app;
	}
	pe = __atomic_load_n(&mb->priv_expire[priv - 1], __ATOMIC_RELAXED);
	if (unlikely(pe != 0 && now_s >= pe)) {
		why = RTR_DROP_PRIV_EXPIRED;
		goto out_drop_app;
	}
	app = &dp->apps[h->app_index];
	if (unlikely(!(__atomic_load_n(&app->flags, __ATOMIC_ACQUIRE) & RTR_APP_F_ENABLED))) {
		why = RTR_DROP_APP_DISABLED;
		goto out_drop_app;
	}
	why = rate_check(mb, app, now, dp->tsc_hz, p->pl_len);
	if (unlikely(why != 0)) {
		why--;
		goto out_drop_app;
	}
	mb->last_seen_tsc = now;

	c = &dp->channels[mb->chan_slot];
	if (unlikely(!__atomic_load_n(&c->in_use, __ATOMIC_ACQUIRE) ||
		     c->app_index != h->app_index || c->channel_hash != h->channel_hash)) {
		why = RTR_DROP_MEMBER_CHANNEL;
		goto out_drop_app;
	}
	fo = __atomic_load_n(&c->fo, __ATOMIC_ACQUIRE);
	n = fo != NULL ? fo->n : 0;
	slot = rtr_mid_slot(h->member_id);
	/* the sender is in the list unless it is still PENDING */
	copies = n - (state == RTR_MS_ACTIVE && n > 0 ? 1 : 0);
	if (unlikely(copies == 0)) {
		why = RTR_DROP_NO_RECEIVERS;
		goto out_drop_app;
	}
	if (unlikely(!egress_ok(w, app, h->app_index, now, dp->tsc_hz,
				(uint64_t)copies * (p->pl_len + 66u)))) {
		why = RTR_DROP_APP_EGRESS;
		goto out_drop_app;
	}
	if (enc != 0) {
		out = fanout_enc(w, fo, n, slot, pl, p->pl_len, now_s);
	} else {
		for (i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(&fo->r[i + 1]);
			if (fo->r[i].slot == slot)
				continue;
			if (unlikely(fo->r[i].expire != 0 && now_s >= fo->r[i].expire)) {
				DROP(w, RECEIVER_EXPIRED);	/* until the sweep removes it */
				continue;
			}
			if (unlikely(fo->r[i].enc != 0)) {
				DROP(w, ENC_MIXED);	/* never in clear to an encrypted member */
				continue;
			}
			out += emit(w, m, pl, p, &fo->r[i], &adjusted);
		}
	}
	w->st->media_in++;
	w->st->media_out += out;
	ast = &w->app_st[h->app_index];
	ast->in_pkts++;
	ast->in_bytes += p->pl_len;
	ast->out_pkts += out;
	ast->out_bytes += (uint64_t)out * p->pl_len;
	rte_pktmbuf_free(m);
	return;

out_drop_app:
	w->app_st[h->app_index].drops++;
out_drop:
	drop_pkt(w, m, why);
}

/* Turn a request around in place: swap addresses, same size, same port. */
static void
echo(struct rtr_worker *w, struct rte_mbuf *m, const struct rtr_parsed *p, uint16_t port)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip = d + p->l3_off, *udp = d + p->l4_off, tmp[16];

	memcpy(d, d + 6, 6);
	memcpy(d + 6, &rtr_dp.ports[port].mac, 6);
	if (p->family == 4) {
		memcpy(tmp, ip + 12, 4);
		memcpy(ip + 12, ip + 16, 4);
		memcpy(ip + 16, tmp, 4);
		ip[8] = 64;
		ip[10] = ip[11] = 0;
		{
			uint16_t c = htons((uint16_t)~rtr_csum_fold(rtr_csum_add(0, ip, (ip[0] & 0xf) * 4u)));

			memcpy(ip + 10, &c, 2);
		}
	} else {
		memcpy(tmp, ip + 8, 16);
		memcpy(ip + 8, ip + 24, 16);
		memcpy(ip + 24, tmp, 16);
		ip[7] = 64;
	}
	/* swapping addresses and ports leaves the UDP checksum as it was */
	memcpy(tmp, udp, 2);
	memcpy(udp, udp + 2, 2);
	memcpy(udp + 2, tmp, 2);
	m->ol_flags = 0;
	tx_enqueue(w, port, m);
}

/*
 * A KEEPALIVE's payload (the plaintext, for an encrypted member): at least
 * min bytes, the member's path token first, within the member's rates;
 * then the member was seen. Returns 0 or a drop reason + 1.
 */
static inline unsigned int
ka_check(struct rtr_member *mb, const uint8_t *pl, uint32_t len, uint32_t min, uint32_t udp_pl,
	 uint64_t now)
{
	struct rtr_dp *dp = &rtr_dp;
	unsigned int why;

	if (unlikely(len < min))
		return RTR_DROP_KA_LENGTH + 1;
	if (unlikely(rtr_get64(pl) != mb->path_token))
		return RTR_DROP_KA_PATH_TOKEN + 1;
	why = rate_check(mb, &dp->apps[mb->app_index], now, dp->tsc_hz, udp_pl);
	if (unlikely(why != 0))
		return why;
	mb->last_seen_tsc = now;
	return 0;
}

/* Does the member's current key want replacing (protocol.md 16.7)? Not
 * while a rekey is under way (new keys installed but unused, or the old
 * ones in their overlap). */
static inline int
rekey_due(const struct rtr_worker *w, const struct rtr_enc *e, uint32_t idx, uint64_t now_s)
{
	const struct rtr_cfg *c = &rtr_dp.cfg;
	unsigned int ph = e->tx_phase;

	/* asked only when MEMBER_REKEY would be accepted: the other phase's
	 * keys retired and wiped */
	if (__atomic_load_n(&e->newest, __ATOMIC_ACQUIRE) != ph ||
	    __atomic_load_n(&e->retire_at_s, __ATOMIC_RELAXED) != 0 ||
	    __atomic_load_n(&e->valid[ph ^ 1], __ATOMIC_RELAXED) != 0 ||
	    e->rx[ph ^ 1].key_len != 0)
		return 0;
	return e->win[ph].last >= c->rekey_frames || w->dl[idx * 2 + ph].seq >= c->rekey_frames ||
	       now_s >= e->phase_since_s[ph] + c->rekey_seconds;
}

/*
 * An encrypted KEEPALIVE, opened in place: check it, then turn it into its
 * echo (protocol.md 16.5): same size, the roam challenge in bytes 8..15 of
 * the plaintext, resealed under this worker's downlink counter.
 */
static void
ka_enc(struct rtr_worker *w, struct rte_mbuf *m, const struct rtr_parsed *p, uint16_t port,
       struct rtr_member *mb, uint32_t enc, uint8_t state, int moved, int newest, uint64_t now,
       uint64_t now_s)
{
	struct rtr_dp *dp = &rtr_dp;
	uint32_t slot = rtr_mid_slot(p->hdr.member_id), idx = enc - 1;
	struct rtr_enc *e = &dp->enc[idx];
	uint8_t *f = rte_pktmbuf_mtod_offset(m, uint8_t *, p->pl_off);
	uint8_t *pt = f + RTR_HDR_LEN, *udp;
	uint16_t pt_len = (uint16_t)(p->hdr.payload_len - RTR_TAG_LEN), flags, c;
	uint64_t ch, echo_ch = 0;
	uint8_t nonce[RTR_AEAD_NONCE_LEN];
	unsigned int why, ph;

	why = ka_check(mb, pt, pt_len, RTR_KA_ENC_MIN, p->pl_len, now);
	if (unlikely(why != 0)) {
		drop_pkt(w, m, why - 1);
		return;
	}
	if (unlikely(moved)) {
		struct rtr_ep ep;

		ep_of(&ep, m, p, port);
		ch = __atomic_load_n(&e->roam_challenge, __ATOMIC_ACQUIRE);
		if (ch != 0 && ep_same(&ep, &e->roam_ep)) {
			echo_ch = ch;	/* the candidate learns it from this echo */
			if (rtr_get64(pt + 8) == ch &&
			    ev_push(w, RTR_EV_ROAM_OK, slot, mb->gen, NULL) != 0)
				DROP(w, EVENT_FULL);
		} else if (newest) {
			roam_report(w, mb, enc, m, p, port);
		}
	} else if (state == RTR_MS_PENDING) {
		activate(w, mb, slot);
	}
	rtr_put64(pt + 8, echo_ch);
	ph = __atomic_load_n(&e->tx_phase, __ATOMIC_ACQUIRE);
	if (unlikely(!__atomic_load_n(&e->valid[ph], __ATOMIC_ACQUIRE))) {
		drop_pkt(w, m, RTR_DROP_ENC_NO_KEY);
		return;
	}
	flags = (uint16_t)((p->hdr.flags & ~(RTR_F_KEY_PHASE | RTR_F_REKEY_REQUESTED)) |
			   (ph ? RTR_F_KEY_PHASE : 0) |
			   (rekey_due(w, e, idx, now_s) ? RTR_F_REKEY_REQUESTED : 0));
	rtr_put16(f + RTR_OFF_FLAGS, flags);
	rtr_put64(f + RTR_OFF_COUNTER, dl_counter(w, e, idx, ph));
	nonce_of(nonce, f);
	if (unlikely(rtr_aead_seal(w->imb, &e->tx[ph], nonce, f, RTR_HDR_LEN, pt, pt_len, pt,
				   pt + pt_len) != 0)) {
		drop_pkt(w, m, RTR_DROP_ENC_SEAL);
		return;
	}
	w->st->enc_sealed++;
	/* new bytes: a new UDP checksum (swapping the addresses and ports
	 * afterwards does not change it) */
	udp = rte_pktmbuf_mtod_offset(m, uint8_t *, p->l4_off);
	c = rtr_udp_csum_sums(rtr_addr_sum(p->family, p->src_ip, p->dst_ip), p->sport, p->dport,
			      (uint16_t)(p->pl_len + 8), rtr_csum_add(0, f, p->pl_len));
	rtr_put16(udp + 6, c);
	w->st->ka_echoed++;
	echo(w, m, p, port);
}

static void
do_member_ctl(struct rtr_worker *w, struct rte_mbuf *m, const struct rtr_parsed *p,
	      uint16_t port, uint64_t now, uint64_t now_s)
{
	const struct rtr_hdr *h = &p->hdr;
	struct rtr_member *mb;
	unsigned int why = 0;
	uint32_t slot = rtr_mid_slot(h->member_id);
	uint8_t state;
	int moved = 0, newest = 0;
	uint32_t enc = 0;

	mb = sender(p, port, &state, &why, &moved, &enc);
	if (unlikely(mb == NULL)) {
		drop_pkt(w, m, why);
		return;
	}
	if (enc != 0) {
		/* with ENC, authentication stands in for the endpoint check */
		why = enc_open(w, mb, enc, m, p, moved, now, &newest);
		if (unlikely(why != 0)) {
			drop_pkt(w, m, why - 1);
			return;
		}
	}
	if (h->type == RTR_T_LEAVE) {
		if (ev_push(w, RTR_EV_LEAVE, slot, mb->gen, NULL) != 0) {
			drop_pkt(w, m, RTR_DROP_EVENT_FULL);
			return;
		}
		w->st->leaves++;
		rte_pktmbuf_free(m);
		return;
	}
	if (enc != 0) {
		ka_enc(w, m, p, port, mb, enc, state, moved, newest, now, now_s);
		return;
	}
	/* KEEPALIVE: the first 8 payload bytes echo the JOIN_ACK's path token */
	why = ka_check(mb, rte_pktmbuf_mtod_offset(m, const uint8_t *, p->pl_off + RTR_HDR_LEN),
		       h->payload_len, RTR_PATH_TOKEN_LEN, p->pl_len, now);
	if (unlikely(why != 0)) {
		drop_pkt(w, m, why - 1);
		return;
	}
	if (state == RTR_MS_PENDING)
		activate(w, mb, slot);
	w->st->ka_echoed++;
	echo(w, m, p, port);
}

/*
 * The JOIN guard (guard.h): the deny list, then the source's and its
 * prefix's buckets. Returns the drop reason, or -1 to go on.
 */
static inline int
guard_join(struct rtr_worker *w, const struct rtr_parsed *p, uint64_t now)
{
	struct rtr_guard *g = &rtr_dp.guard;
	const struct rtr_guard_limit *lim;
	unsigned int f = p->family == 4 ? 0 : 1;
	uint64_t k0, k1;
	uint32_t nh;

	if (f == 0) {
		uint32_t a;

		memcpy(&a, p->src_ip, 4);
		if (__atomic_load_n(&g->n4, __ATOMIC_ACQUIRE) != 0 &&
		    rte_lpm_lookup(g->deny4, rte_be_to_cpu_32(a), &nh) == 0)
			return RTR_DROP_JOIN_DENIED;
	} else {
		struct rte_lpm6 *l6 = __atomic_load_n(&g->deny6, __ATOMIC_ACQUIRE);

		if (l6 != NULL && rte_lpm6_lookup(l6, p->src_ip, &nh) == 0)
			return RTR_DROP_JOIN_DENIED;
	}
	lim = g->lim[__atomic_load_n(&g->lim_idx, __ATOMIC_ACQUIRE)];
	rtr_guard_key(p->family, p->src_ip, f ? 128 : 32, &k0, &k1);
	if (!rtr_guard_charge(w->gc[f], &lim[0], g->seed, k0, k1, now))
		return RTR_DROP_JOIN_SRC_RATE;
	rtr_guard_key(p->family, p->src_ip, f ? 64 : 24, &k0, &k1);
	if (!rtr_guard_charge(w->gc[2 + f], &lim[1], g->seed, k0, k1, now))
		return RTR_DROP_JOIN_PREFIX_RATE;
	return -1;
}

static void
do_join(struct rtr_worker *w, struct rte_mbuf *m, const struct rtr_parsed *p, uint16_t port,
	uint64_t now)
{
	struct rtr_dp *dp = &rtr_dp;
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint64_t hz = dp->tsc_hz, elapsed;
	struct rtr_punt pu;
	int why;

	/* denied sources and flooding sources and prefixes go first, so that
	 * they cannot use up the worker's budget */
	why = guard_join(w, p, now);
	if (why >= 0) {
		drop_pkt(w, m, (unsigned int)why);
		return;
	}
	/* a per-worker budget keeps a JOIN flood off the control plane */
	elapsed = w->punt_tsc == 0 || now - w->punt_tsc > hz ? hz : now - w->punt_tsc;
	w->punt_tsc = now;
	w->punt_credit = refill(w->punt_credit, elapsed, dp->cfg.punt_rate,
				RTE_MAX(dp->cfg.punt_rate / 4, 16u) * hz);
	if (w->punt_credit < hz) {
		drop_pkt(w, m, RTR_DROP_PUNT_RATE);
		return;
	}
	w->punt_credit -= hz;
	if (unlikely(p->pl_len > RTR_PUNT_FRAME_MAX)) {
		drop_pkt(w, m, RTR_DROP_JOIN_FIELDS);
		return;
	}
	/* every byte of the slot is set: nothing of this stack crosses over */
	memset(&pu, 0, offsetof(struct rtr_punt, frame));
	memset(pu.frame + p->pl_len, 0, sizeof(pu.frame) - p->pl_len);
	pu.arrival_ns = dp->unix_ns_at_tsc0 +
			(uint64_t)((double)(now - dp->tsc0) * 1e9 / (double)hz);
	pu.port_id = port;
	pu.vlan = p->vlan;
	pu.len = p->pl_len;
	pu.family = p->family;
	memcpy(pu.src_mac, d + 6, 6);
	pu.src_port = p->sport;
	pu.dst_port = p->dport;
	memcpy(pu.src_ip, p->src_ip, p->family == 4 ? 4 : 16);
	memcpy(pu.dst_ip, p->dst_ip, p->family == 4 ? 4 : 16);
	memcpy(pu.frame, d + p->pl_off, p->pl_len);
	if (rte_ring_mp_enqueue_elem(dp->seg->punt, &pu, sizeof(pu)) != 0)
		DROP(w, PUNT_FULL);
	else
		w->st->punted++;
	/* the copy holds a token */
	memset(pu.frame, 0, p->pl_len);
	__asm__ __volatile__("" : : "r"(&pu) : "memory");
	rte_pktmbuf_free(m);
}

static void
do_arp(struct rtr_worker *w, struct rte_mbuf *m, const struct rtr_parsed *p, uint16_t port)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *a = d + p->l3_off;
	const struct rtr_port *pt = &rtr_dp.ports[port];

	memcpy(d, a + 8, 6);			/* to the requester */
	memcpy(d + 6, &pt->mac, 6);
	a[6] = 0;
	a[7] = 2;				/* reply */
	memcpy(a + 18, a + 8, 10);		/* target := sender hw + ip */
	memcpy(a + 8, &pt->mac, 6);
	memcpy(a + 14, pt->pcfg.ip4, 4);
	w->st->arp_replies++;
	tx_enqueue(w, port, m);
}

static void
do_ns(struct rtr_worker *w, struct rte_mbuf *m, const struct rtr_parsed *p, uint16_t port)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	static const uint8_t unspec[16];
	const struct rtr_port *pt = &rtr_dp.ports[port];
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip = d + p->l3_off, *icmp = d + p->l4_off;
	uint32_t icmp_len = m->data_len - p->l4_off, s;
	/* the target link-layer option only if the NS left room for it: an
	 * answer is never larger than what it answers */
	uint32_t na_len = icmp_len >= 32 ? 32 : 24;
	uint32_t want = p->l4_off + na_len;
	uint16_t c;

	if (want < m->data_len)
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - want));
	memcpy(d, d + 6, 6);
	memcpy(d + 6, &pt->mac, 6);
	/* an address being checked for duplicates (from ::) is told via all-nodes */
	if (memcmp(ip + 8, unspec, 16) == 0) {
		memcpy(ip + 24, all_nodes, 16);
		d[0] = 0x33; d[1] = 0x33; d[2] = 0; d[3] = 0; d[4] = 0; d[5] = 1;
	} else {
		memcpy(ip + 24, ip + 8, 16);
	}
	memcpy(ip + 8, pt->pcfg.ip6, 16);
	ip[4] = 0;
	ip[5] = (uint8_t)na_len;
	ip[7] = 255;
	icmp[0] = 136;
	icmp[1] = 0;
	icmp[2] = icmp[3] = 0;
	icmp[4] = memcmp(ip + 24, all_nodes, 16) == 0 ? 0x20 : 0x60;	/* S|O */
	icmp[5] = icmp[6] = icmp[7] = 0;
	memcpy(icmp + 8, pt->pcfg.ip6, 16);
	if (na_len == 32) {
		icmp[24] = 2;			/* target link-layer address */
		icmp[25] = 1;
		memcpy(icmp + 26, &pt->mac, 6);
	}
	s = rtr_csum_add(0, ip + 8, 32);
	s += 58 + na_len;
	s = rtr_csum_add(s, icmp, na_len);
	c = htons((uint16_t)~rtr_csum_fold(s));
	memcpy(icmp + 2, &c, 2);
	w->st->nd_replies++;
	tx_enqueue(w, port, m);
}

static inline void
handle(struct rtr_worker *w, struct rte_mbuf *m, uint16_t port, uint64_t now, uint64_t now_s)
{
	struct rtr_parsed p;
	unsigned int kind;

	if (unlikely(m->nb_segs != 1)) {
		drop_pkt(w, m, RTR_DROP_HDR_SEGMENTED);
		return;
	}
	kind = rtr_parse(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len,
			 &rtr_dp.ports[port].pcfg, &p);
	switch (kind) {
	case RTR_PK_RELAY:
		switch (p.hdr.type) {
		case RTR_T_MEDIA:
			do_media(w, m, &p, port, now, now_s);
			return;
		case RTR_T_KEEPALIVE:
		case RTR_T_LEAVE:
			do_member_ctl(w, m, &p, port, now, now_s);
			return;
		case RTR_T_JOIN:
			do_join(w, m, &p, port, now);
			return;
		default:
			drop_pkt(w, m, RTR_DROP_RELAY_TYPE);
			return;
		}
	case RTR_PK_ARP_REQ:
		do_arp(w, m, &p, port);
		return;
	case RTR_PK_ND_NS:
		do_ns(w, m, &p, port);
		return;
	default:
		drop_pkt(w, m, p.drop);
		return;
	}
}

/* One received burst of a port: parse, act, queue the outputs. */
void
rtr_worker_burst(struct rtr_worker *w, struct rte_mbuf **pkts, uint16_t nb, uint16_t port,
		 uint64_t now, uint64_t now_s)
{
	uint16_t i;

	w->st->rx_pkts += nb;
	for (i = 0; i < nb && i < 4; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < nb; i++) {
		if (i + 4 < nb)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void *));
		w->st->rx_bytes += pkts[i]->pkt_len;
		handle(w, pkts[i], port, now, now_s);
	}
}

/* Send what the worker's TX buffers hold. */
void
rtr_worker_flush(struct rtr_worker *w)
{
	uint16_t port;

	for (port = 0; port < rtr_dp.n_ports; port++)
		if (w->txb[port].n)
			tx_flush(w, port);
}

int
rtr_worker_main(void *arg)
{
	struct rtr_worker *w = arg;
	struct rtr_dp *dp = &rtr_dp;
	struct rte_mbuf *pkts[RTR_BURST];
	uint16_t q, i, nb, port;

	rte_rcu_qsbr_thread_register(dp->qs, w->id);
	rte_rcu_qsbr_thread_online(dp->qs, w->id);

	while (!dp->quit) {
		uint64_t start = rte_rdtsc(), now_s = dp->now_s;
		unsigned int work = 0;

		if (likely(dp->rx_enabled)) {
			for (q = 0; q < w->n_rxq; q++) {
				port = w->rxq[q].port;
				nb = rte_eth_rx_burst(port, w->rxq[q].queue, pkts, RTR_BURST);
				if (nb == 0)
					continue;
				work += nb;
				rtr_worker_burst(w, pkts, nb, port, start, now_s);
			}
		}
		/* frames from the control plane go out of this worker's queues */
		nb = (uint16_t)rte_ring_sc_dequeue_burst(w->txf, (void **)pkts, RTR_BURST, NULL);
		for (i = 0; i < nb; i++) {
			w->st->tx_frames++;
			tx_enqueue(w, pkts[i]->port, pkts[i]);
		}
		work += nb;
		rtr_worker_flush(w);
		rte_rcu_qsbr_quiescent(dp->qs, w->id);
		w->st->loops++;
		if (work) {
			w->st->busy_cycles += rte_rdtsc() - start;
		} else if (dp->cfg.idle_sleep_us) {
			rte_delay_us_sleep(dp->cfg.idle_sleep_us);
		}
	}
	rte_rcu_qsbr_thread_offline(dp->qs, w->id);
	rte_rcu_qsbr_thread_unregister(dp->qs, w->id);
	return 0;
}
