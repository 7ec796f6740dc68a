/* SPDX-License-Identifier: BSD-3-Clause
 * The main lcore's work (slow path): commands from the cmd ring, replies,
 * events from workers, notifications, the idle/expiry sweep.
 */
#include <errno.h>
#include <string.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>

#include "dp.h"

#define CMD_BATCH	256	/* commands per wake-up: 4M MEMBER_ADDs load in seconds */
#define MAX_SYNCS	64
#define NOTIFY_BACKLOG	65536
#define SWEEP_SLICE	16384

static uint32_t cur_session;
static uint32_t expect_seq;

static struct {
	uint32_t context;
	uint32_t seq;
	uint64_t token;
} syncs[MAX_SYNCS];
static unsigned int n_syncs;

static struct rtr_notify backlog[NOTIFY_BACKLOG];
static unsigned int bl_head, bl_n;
static uint32_t sweep_cursor;

/* Commands that failed validation, as opposed to valid ones refused. */
static int
is_invalid(int status)
{
	return status == -EINVAL || status == -ERANGE || status == -EPROTONOSUPPORT ||
	       status == -ENOSYS;
}

static void
reply(struct rtr_dp *dp, uint32_t context, uint16_t msg_id, uint32_t seq, int status,
      const void *body, size_t len)
{
	static struct rtr_reply r;
	struct rtr_main_stats *ms = rtr_stats_mainp(dp->seg->stats);

	/* the whole slot: nothing of an earlier reply travels along */
	memset(&r, 0, sizeof(r));
	r.context = context;
	r.status = status;
	r.msg_id = msg_id;
	r.version = RTR_MSG_VERSION;
	r.seq = seq;
	if (len)
		memcpy(r.body, body, len);
	if (rte_ring_sp_enqueue_elem(dp->seg->reply, &r, sizeof(r)) != 0)
		ms->replies_lost++;
	if (status == 0)
		ms->cmds_ok++;
	else if (is_invalid(status))
		ms->cmds_invalid++;
	else
		ms->cmds_failed++;
}

static int
tx_frame(struct rtr_dp *dp, const struct rtr_msg_tx_frame *f)
{
	struct rtr_main_stats *ms = rtr_stats_mainp(dp->seg->stats);
	const struct rtr_port *port;
	struct rtr_ep ep;
	struct rte_mbuf *m;
	uint16_t hlen;
	uint8_t *d;

	if (f->port_id >= dp->n_ports || f->len < RTR_HDR_LEN || f->len > RTR_TXF_PAYLOAD_MAX ||
	    (f->family != 4 && f->family != 6))
		return -EINVAL;
	port = &dp->ports[f->port_id];
	/* the reply policy: never to low ports, a service port, or ourselves */
	memset(&ep, 0, sizeof(ep));
	ep.family = f->family;
	ep.port_id = f->port_id;
	ep.vlan = f->vlan;
	ep.udp_port = f->dst_port;
	memcpy(ep.mac, f->dst_mac, 6);
	memcpy(ep.ip, f->dst_ip, 16);
	memcpy(ep.local_ip, f->src_ip, 16);	/* must be this port's service address */
	if (!rtr_ep_valid(dp, &ep)) {
		ms->tx_frames_refused++;
		return -EADDRNOTAVAIL;
	}
	if (f->len + 8u + (f->family == 4 ? 20u : 40u) > port->mtu)
		return -EMSGSIZE;
	m = rte_pktmbuf_alloc(dp->pool);
	if (m == NULL)
		return -ENOBUFS;
	hlen = rtr_l2l4_len(f->vlan, f->family);
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hlen + f->len));
	if (d == NULL) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	rtr_build_l2l4(d, port, f->vlan, (const struct rte_ether_addr *)f->dst_mac, f->family,
		       f->dst_ip, rtr_addr_sum(f->family, f->src_ip, f->dst_ip),
		       dp->cfg.udp_port, f->dst_port, f->len,
		       rtr_csum_add(0, f->payload, f->len));
	memcpy(d + hlen, f->payload, f->len);
	m->port = f->port_id;
	if (rte_ring_sp_enqueue(dp->workers[f->port_id % dp->n_workers].txf, m) != 0) {
		rte_pktmbuf_free(m);
		return -EAGAIN;
	}
	ms->tx_frames_queued++;
	return 0;
}

static int
dump(struct rtr_dp *dp, const struct rtr_msg_dump *q, struct rtr_reply_dump *r, size_t *len)
{
	uint32_t i = q->cursor, cap;

	r->kind = q->kind;
	r->n = 0;
	r->next_cursor = 0;
	switch (q->kind) {
	case RTR_DUMP_MEMBERS: {
		struct rtr_dump_member *rec = (struct rtr_dump_member *)r->recs;
		uint64_t now = rte_get_tsc_cycles();

		cap = sizeof(r->recs) / sizeof(*rec);
		for (; i < dp->cfg.max_members && r->n < cap; i++) {
			const struct rtr_member *m = &dp->members[i];
			struct rtr_dump_member *o = &rec[r->n];

			if (m->state == RTR_MS_FREE)
				continue;
			memset(o, 0, sizeof(*o));
			o->handle = rtr_handle_make(i, m->gen);
			o->member_id = rtr_mid_make(i, m->gen);
			o->app_index = m->app_index;
			o->channel_hash = m->channel_hash;
			o->ep = m->ep;
			o->privs = m->privs;
			o->state = m->state;
			o->role = m->role;
			o->suite = m->suite;
			o->token_expire = m->token_expire;
			o->idle_ms = (now - m->last_seen_tsc) * 1000 / dp->tsc_hz;
			r->n++;
		}
		if (i < dp->cfg.max_members)
			r->next_cursor = i;
		*len = offsetof(struct rtr_reply_dump, recs) + r->n * sizeof(*rec);
		return 0;
	}
	case RTR_DUMP_APPS: {
		struct rtr_dump_app *rec = (struct rtr_dump_app *)r->recs;

		cap = sizeof(r->recs) / sizeof(*rec);
		for (; i < dp->cfg.max_apps && r->n < cap; i++) {
			const struct rtr_app *a = &dp->apps[i];
			struct rtr_dump_app *o = &rec[r->n];

			if (!a->in_use)
				continue;
			o->app_index = i;
			o->flags = a->flags;
			o->member_fps = a->member_fps;
			o->members = a->members;
			o->member_bps = a->member_bps;
			o->egress_bps = a->egress_bps;
			r->n++;
		}
		if (i < dp->cfg.max_apps)
			r->next_cursor = i;
		*len = offsetof(struct rtr_reply_dump, recs) + r->n * sizeof(*rec);
		return 0;
	}
	case RTR_DUMP_CHANNELS: {
		struct rtr_dump_channel *rec = (struct rtr_dump_channel *)r->recs;

		cap = sizeof(r->recs) / sizeof(*rec);
		for (; i < dp->cfg.max_channels && r->n < cap; i++) {
			const struct rtr_channel *c = &dp->channels[i];
			struct rtr_dump_channel *o = &rec[r->n];

			if (!c->in_use)
				continue;
			o->app_index = c->app_index;
			o->slot = i;
			o->channel_hash = c->channel_hash;
			o->members = c->members;
			o->receivers = c->fo != NULL ? c->fo->n : 0;
			r->n++;
		}
		if (i < dp->cfg.max_channels)
			r->next_cursor = i;
		*len = offsetof(struct rtr_reply_dump, recs) + r->n * sizeof(*rec);
		return 0;
	}
	default:
		return -EINVAL;
	}
}

/* Every body is a fixed-size struct inside the fixed-size element, so no
 * handler reads past the slot; each handler validates every field it uses. */
static void
dispatch(struct rtr_dp *dp, struct rtr_msg *m)
{
	static struct rtr_reply_dump dr;
	struct rtr_reply_member_add ar;
	struct rtr_reply_ping pr;
	size_t len = 0;
	int rc;

	switch (m->msg_id) {
	case RTR_MSG_PING:
		memset(&pr, 0, sizeof(pr));
		pr.generation = dp->seg->generation;
		pr.n_workers = dp->n_workers;
		pr.n_ports = dp->n_ports;
		pr.max_members = dp->cfg.max_members;
		pr.max_channels = dp->cfg.max_channels;
		pr.max_apps = dp->cfg.max_apps;
		pr.rx_hold = !dp->rx_enabled;
		pr.max_enc_members = dp->cfg.max_enc_members;
		reply(dp, m->context, m->msg_id, m->seq, 0, &pr, sizeof(pr));
		return;
	case RTR_MSG_APP_SET:
		rc = rtr_app_set(dp, (const struct rtr_msg_app_set *)m->body);
		break;
	case RTR_MSG_APP_DEL:
		rc = rtr_app_del(dp, ((const struct rtr_msg_app_del *)m->body)->app_index);
		break;
	case RTR_MSG_MEMBER_ADD:
		memset(&ar, 0, sizeof(ar));
		rc = rtr_member_add(dp, (const struct rtr_msg_member_add *)m->body, &ar);
		if (rc == 0) {
			reply(dp, m->context, m->msg_id, m->seq, 0, &ar, sizeof(ar));
			return;
		}
		break;
	case RTR_MSG_MEMBER_DEL:
		rc = rtr_member_del(dp, ((const struct rtr_msg_member_del *)m->body)->handle);
		break;
	case RTR_MSG_MEMBER_UPDATE:
		rc = rtr_member_update(dp, (const struct rtr_msg_member_update *)m->body);
		break;
	case RTR_MSG_MEMBER_REKEY:
		rc = rtr_member_rekey(dp, (const struct rtr_msg_member_rekey *)m->body);
		break;
	case RTR_MSG_TX_FRAME:
		rc = tx_frame(dp, (const struct rtr_msg_tx_frame *)m->body);
		break;
	case RTR_MSG_DENY_SET:
		rc = rtr_guard_deny_set(dp, (const struct rtr_msg_deny_set *)m->body);
		break;
	case RTR_MSG_GUARD_CFG:
		rc = rtr_guard_cfg(dp, (const struct rtr_msg_guard_cfg *)m->body);
		break;
	case RTR_MSG_DUMP:
		rc = dump(dp, (const struct rtr_msg_dump *)m->body, &dr, &len);
		if (rc == 0) {
			reply(dp, m->context, m->msg_id, m->seq, 0, &dr, len);
			return;
		}
		break;
	case RTR_MSG_SYNC:
		if (n_syncs == MAX_SYNCS) {
			rc = -EBUSY;
			break;
		}
		syncs[n_syncs].context = m->context;
		syncs[n_syncs].seq = m->seq;
		syncs[n_syncs].token = rte_rcu_qsbr_start(dp->qs);
		n_syncs++;
		return;
	case RTR_MSG_RESUME:
		dp->rx_enabled = 1;
		dp->seg->ctl->rx_hold = 0;
		rc = 0;
		break;
	default:
		rc = -ENOSYS;	/* unknown message: -ENOTSUP is "valid but not here" */
		break;
	}
	reply(dp, m->context, m->msg_id, m->seq, rc, NULL, 0);
}

static void
process_syncs(struct rtr_dp *dp)
{
	unsigned int i = 0;

	while (i < n_syncs) {
		if (rte_rcu_qsbr_check(dp->qs, syncs[i].token, false) == 1) {
			reply(dp, syncs[i].context, RTR_MSG_SYNC, syncs[i].seq, 0, NULL, 0);
			syncs[i] = syncs[--n_syncs];
		} else {
			i++;
		}
	}
}

static void
drain_events(struct rtr_dp *dp)
{
	struct rtr_main_stats *ms = rtr_stats_mainp(dp->seg->stats);
	struct rtr_ev ev[64];
	unsigned int w, i, n;

	for (w = 0; w < dp->n_workers; w++) {
		n = rte_ring_sc_dequeue_burst_elem(dp->workers[w].ev, ev, sizeof(ev[0]), 64, NULL);
		for (i = 0; i < n; i++) {
			struct rtr_member *m;

			if (ev[i].slot >= dp->cfg.max_members)
				continue;
			m = &dp->members[ev[i].slot];
			if (ev[i].type == RTR_EV_ACTIVATE) {
				int rc = rtr_member_activate(dp, ev[i].slot, ev[i].gen);

				if (rc == 0)
					rtr_notify(dp, RTR_NOTIFY_MEMBER_ACTIVE, 0, ev[i].slot);
				else if (rc != -ENOENT)
					m->ev_pending = 0;	/* let the next KEEPALIVE retry */
			} else if (ev[i].type == RTR_EV_LEAVE) {
				if (m->state == RTR_MS_FREE || m->gen != ev[i].gen)
					continue;
				rtr_notify(dp, RTR_NOTIFY_MEMBER_LEFT, 0, ev[i].slot);
				rtr_member_del_slot(dp, ev[i].slot);
				ms->members_left++;
			} else if (ev[i].type == RTR_EV_ROAM) {
				rtr_member_roam(dp, ev[i].slot, ev[i].gen, &ev[i].ep);
			} else if (ev[i].type == RTR_EV_ROAM_OK) {
				if (rtr_member_roam_ok(dp, ev[i].slot, ev[i].gen) == 0)
					rtr_notify(dp, RTR_NOTIFY_ROAM, 0, ev[i].slot);
			} else if (ev[i].type == RTR_EV_PHASE) {
				rtr_member_phase(dp, ev[i].slot, ev[i].gen);
				if (m->state != RTR_MS_FREE && m->gen == ev[i].gen)
					rtr_notify(dp, RTR_NOTIFY_REKEYED, 0, ev[i].slot);
			}
		}
	}
}

void
rtr_notify(struct rtr_dp *dp, uint16_t type, uint16_t reason, uint32_t slot)
{
	struct rtr_main_stats *ms = rtr_stats_mainp(dp->seg->stats);
	const struct rtr_member *m = &dp->members[slot];
	struct rtr_notify n;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(&n, 0, sizeof(n));
	n.type = type;
	n.reason = reason;
	n.member_id = rtr_mid_make(slot, m->gen);
	n.handle = rtr_handle_make(slot, m->gen);
	n.time_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	n.app_index = m->app_index;
	n.channel_hash = m->channel_hash;
	n.ep = m->ep;
	/* lossless: keep it here until the ring has room, in order */
	if (bl_n == 0 && rte_ring_sp_enqueue_elem(dp->seg->notify, &n, sizeof(n)) == 0) {
		ms->notify_sent++;
		return;
	}
	if (bl_n == NOTIFY_BACKLOG) {
		ms->notify_lost++;	/* the controller reconciles with DUMP */
		return;
	}
	backlog[(bl_head + bl_n) % NOTIFY_BACKLOG] = n;
	bl_n++;
	ms->notify_backlog = bl_n;
}

void
rtr_notify_flush(struct rtr_dp *dp)
{
	struct rtr_main_stats *ms = rtr_stats_mainp(dp->seg->stats);

	while (bl_n > 0 &&
	       rte_ring_sp_enqueue_elem(dp->seg->notify, &backlog[bl_head], sizeof(backlog[0])) == 0) {
		bl_head = (bl_head + 1) % NOTIFY_BACKLOG;
		bl_n--;
		ms->notify_sent++;
	}
	ms->notify_backlog = bl_n;
}

void
rtr_sweep(struct rtr_dp *dp)
{
	struct rtr_main_stats *ms = rtr_stats_mainp(dp->seg->stats);
	uint64_t now = rte_get_tsc_cycles(), now_s = dp->now_s;
	uint64_t idle = (uint64_t)dp->cfg.idle_timeout_s * dp->tsc_hz;
	unsigned int k;

	for (k = 0; k < SWEEP_SLICE && k < dp->cfg.max_members; k++) {
		uint32_t slot = sweep_cursor;
		const struct rtr_member *m = &dp->members[slot];

		sweep_cursor = (sweep_cursor + 1) % dp->cfg.max_members;
		if (m->state == RTR_MS_FREE)
			continue;
		rtr_enc_sweep(dp, slot);
		if (m->token_expire != 0 && now_s >= m->token_expire) {
			rtr_notify(dp, RTR_NOTIFY_MEMBER_EXPIRED, 0, slot);
			rtr_member_del_slot(dp, slot);
			ms->members_removed_expired++;
		} else if (idle != 0 && now > m->last_seen_tsc && now - m->last_seen_tsc > idle) {
			rtr_notify(dp, RTR_NOTIFY_MEMBER_IDLE, 0, slot);
			rtr_member_del_slot(dp, slot);
			ms->members_removed_idle++;
		}
	}
}

void
rtr_cmd_poll(struct rtr_dp *dp)
{
	static struct rtr_msg msgs[CMD_BATCH];
	struct rtr_main_stats *ms = rtr_stats_mainp(dp->seg->stats);
	unsigned int i, n;
	uint32_t session;

	drain_events(dp);
	n = rtr_seg_cmd_take(dp->seg, msgs, CMD_BATCH);
	session = __atomic_load_n(&dp->seg->ctl->ctl_session, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		struct rtr_msg *m = &msgs[i];

		/* only the current controller's commands, strictly in order */
		if (session == 0 || m->session != session) {
			ms->cmds_stale++;
			goto next;
		}
		if (session != cur_session) {
			cur_session = session;
			expect_seq = 1;
		}
		if (m->seq != expect_seq) {
			ms->cmds_stale++;
			goto next;
		}
		expect_seq++;
		if (m->version != RTR_MSG_VERSION || m->msg_id == 0 || m->msg_id > RTR_MSG_MAX) {
			reply(dp, m->context, m->msg_id, m->seq, -EPROTONOSUPPORT, NULL, 0);
			goto next;
		}
		dispatch(dp, m);
next:
		memset(m, 0, sizeof(*m));	/* may hold key material */
	}
	process_syncs(dp);
	rtr_notify_flush(dp);
}
