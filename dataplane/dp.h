/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-dataplane internals shared by its files: configuration, tables and
 * per-lcore state. Tables are written by the main lcore only; workers read
 * them under rte_rcu_qsbr and write nothing but their own counters and the
 * per-member uplink state (last seen, rate buckets).
 */
#ifndef RTR_DP_H
#define RTR_DP_H

#include <stdint.h>
#include <stdbool.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_rcu_qsbr.h>
#include <rte_hash.h>

#include "rtr_abi.h"
#include "rtr_wire.h"
#include "rtr_seg.h"
#include "parse.h"
#include "aead.h"
#include "replay.h"
#include "guard.h"

#define RTR_MAX_PORTS		8
#define RTR_MAX_WORKERS		16
#define RTR_BURST		32
#define RTR_TXB_SIZE		64	/* per worker, per port TX buffer */
#define RTR_TX_RETRIES		4
#define RTR_EV_RING_SIZE	4096
#define RTR_TXF_RING_SIZE	256
#define RTR_HDR_MBUF_ROOM	(RTE_PKTMBUF_HEADROOM + 128)

enum rtr_tx_mode {
	RTR_TX_AUTO = 0,
	RTR_TX_CHAIN = 1,
	RTR_TX_COPY = 2,
};

struct rtr_cfg {
	char instance[RTR_INSTANCE_MAX + 1];
	uint16_t udp_port;
	uint32_t max_channels;
	uint32_t max_members;
	uint32_t max_apps;
	uint32_t mbufs;
	uint32_t max_fanout;	/* sizes the pools, not a limit */
	uint32_t idle_timeout_s;
	uint32_t copy_max;	/* auto mode: payloads up to this are copied */
	uint32_t punt_rate;	/* JOINs/s per worker */
	uint32_t idle_sleep_us;
	uint32_t max_enc_members;
	uint64_t rekey_frames;	/* ask for a rekey after this many frames under a key */
	uint32_t rekey_seconds;	/* ... or this much time */
	uint16_t rxd;
	uint16_t txd;
	enum rtr_tx_mode tx_mode;
	bool rx_hold;
	struct {
		uint8_t has_ip4;
		uint8_t has_ip6;
		uint8_t ip4[4];
		uint8_t ip6[16];
	} ip[RTR_MAX_PORTS];
};

struct rtr_app {
	uint32_t in_use;
	uint32_t flags;
	uint32_t member_fps;
	uint32_t members;
	uint64_t member_bps;
	uint64_t egress_bps;
	uint64_t egress_share;		/* egress_bps / workers: each worker's budget */
};

/* One fan-out target, copied from its member when the list is built. */
struct rtr_rcv {
	uint32_t slot;
	uint32_t addr_sum;	/* ones'-complement sum of local_ip + ip: the part of the
				 * IPv4 header and UDP pseudo-header sums fixed per receiver */
	uint16_t port_id;
	uint16_t vlan;
	uint16_t udp_port;
	uint8_t family;
	uint8_t pad;
	struct rte_ether_addr mac;
	uint8_t pad2[2];
	uint8_t ip[16];
	uint32_t enc;		/* key slot + 1; 0: plaintext receiver */
	uint8_t pad3[12];
	uint64_t expire;	/* token expiry, unix s; 0: none */
};

_Static_assert(sizeof(struct rtr_rcv) == 64, "one receiver per cache line");

/* Receivers of a channel: replaced whole under RCU, never edited. */
struct rtr_fanout {
	uint32_t n;
	uint32_t pooled;	/* from fo_pool (small lists), else rte_malloc */
	uint32_t pad[14];
	struct rtr_rcv r[];
};

/* Receiver lists of up to this many come from a mempool: O(1) however many
 * channels there are (the rte_malloc heap slows down with millions of
 * small elements). */
#define RTR_FO_POOLED_MAX	4

struct rtr_channel {
	uint64_t channel_hash;
	uint32_t app_index;
	uint32_t in_use;
	struct rtr_fanout *fo;		/* RCU-published */
	uint8_t enc;			/* mode fixed by the first member: 1 encrypted */
	uint32_t members;		/* main lcore only from here */
	uint32_t head;			/* first member slot, UINT32_MAX: none */
};

struct rtr_member {
	/* written by the main lcore */
	uint32_t gen;			/* full generation; low 10 bits on the wire */
	uint8_t state;			/* enum rtr_member_state */
	uint8_t role;
	uint8_t suite;
	uint8_t reclaim_pending;	/* main: freed, grace period not over yet */
	uint32_t app_index;
	uint32_t chan_slot;
	uint64_t channel_hash;
	uint32_t privs;
	uint32_t fps;
	uint64_t bps;
	uint64_t token_expire;
	uint64_t priv_expire[RTR_N_PRIV_EXPIRE];
	uint64_t path_token;
	struct rtr_ep ep;
	uint32_t next;			/* channel list, main lcore only */
	uint32_t prev;
	uint32_t free_epoch;		/* main: which free-FIFO entry is current */
	/* written by the worker that receives the member's frames */
	uint64_t last_seen_tsc;
	uint64_t rl_tsc;
	uint64_t rl_frames;		/* credit, in frames x tsc_hz */
	uint64_t rl_bytes;		/* credit, in bytes x tsc_hz / 1024 */
	uint8_t ev_pending;		/* activation already reported */
	uint8_t pad[3];
	uint32_t enc;			/* main: key slot + 1; 0: plaintext member */
	uint64_t af_tsc;		/* failed-authentication budget (16.3) */
	uint64_t af_credit;
} __rte_cache_aligned;

#define RTR_AUTH_FAIL_RATE	64	/* per member per second, from other endpoints */
#define RTR_REKEY_OVERLAP_S	2	/* old keys live on after the switch */
#define RTR_ROAM_TIMEOUT_S	10

/*
 * Key state of an encrypted member (a slot of the --max-enc-members pool).
 * Written by the main lcore: keys, valid[], roam candidate and challenge.
 * Written by the worker that takes the member's uplink (one at a time,
 * `busy`): the replay windows, tx_phase, the roam report flag.
 */
struct rtr_enc {
	struct rtr_aead_key rx[2];	/* uplink key per phase */
	struct rtr_aead_key tx[2];	/* downlink key per phase */
	uint32_t epoch[2];		/* main: +1 at each install of the phase */
	struct rtr_replay win[2];	/* uplink window per phase */
	uint8_t valid[2];		/* main: the phase's keys may be used */
	uint8_t tx_phase;		/* downlink phase (worker, at the first uplink under it) */
	uint8_t busy;			/* a worker is updating the uplink state */
	uint8_t roam_reported;		/* worker: candidate sent to main */
	uint8_t roam_state;		/* main: 0 none, 1 candidate */
	uint8_t suite;
	uint8_t newest;			/* main: the phase installed last */
	uint32_t member;		/* slot of the member holding it */
	uint64_t roam_challenge;	/* main: echoed to the candidate */
	uint64_t roam_since_s;
	uint64_t phase_since_s[2];	/* main: install time of each phase */
	uint64_t retire_at_s;		/* main: wipe the idle phase then (0: none) */
	struct rtr_ep roam_ep;		/* main: the candidate endpoint */
} __rte_cache_aligned;

/* A freed member slot on the FIFO; stale when the slot was freed again
 * (or re-installed) after this entry was queued. */
struct rtr_free_ent {
	uint32_t slot;
	uint32_t epoch;
};

enum rtr_ev_type {
	RTR_EV_ACTIVATE = 1,
	RTR_EV_LEAVE = 2,
	RTR_EV_ROAM = 3,	/* an authenticated newest frame from ep */
	RTR_EV_ROAM_OK = 4,	/* the candidate echoed its challenge */
	RTR_EV_PHASE = 5,	/* the downlink switched key phase */
};

struct rtr_ev {
	uint32_t type;
	uint32_t slot;
	uint32_t gen;
	uint32_t pad;
	struct rtr_ep ep;	/* RTR_EV_ROAM */
};

/* A worker's downlink sequence for one (receiver, phase): its lane's half
 * of the nonce space; restarts when the phase gets new keys (epoch). */
struct rtr_dlseq {
	uint64_t seq;
	uint32_t epoch;
	uint32_t pad;
};

struct rtr_txbuf {
	uint16_t n;
	struct rte_mbuf *m[RTR_TXB_SIZE];
};

struct rtr_app_bucket {
	uint64_t tsc;
	uint64_t credit;		/* bytes x tsc_hz / 1024 */
};

struct rtr_worker {
	unsigned int lcore;
	unsigned int id;
	uint16_t n_rxq;
	struct {
		uint16_t port;
		uint16_t queue;
	} rxq[RTR_MAX_PORTS * RTR_MAX_WORKERS];
	struct rte_ring *ev;		/* worker -> main */
	struct rte_ring *txf;		/* main -> worker: control frames */
	struct rtr_worker_stats *st;	/* in the stats segment */
	struct rtr_app_stats *app_st;	/* [max_apps] in the stats segment */
	struct rtr_app_bucket *app_tb;	/* [max_apps] */
	uint64_t punt_tsc;
	uint64_t punt_credit;
	IMB_MGR *imb;			/* this worker's AES-GCM manager */
	struct rtr_guard_cache *gc[RTR_GUARD_CACHES];	/* JOIN buckets (guard.h) */
	struct rtr_dlseq *dl;		/* [max_enc_members x 2 phases] */
	struct rtr_txbuf txb[RTR_MAX_PORTS];
} __rte_cache_aligned;

struct rtr_port {
	uint16_t id;
	uint8_t chain;			/* TX with header mbuf + clone */
	uint8_t up;
	uint16_t mtu;			/* largest IP packet it sends */
	struct rte_ether_addr mac;
	struct rtr_parse_cfg pcfg;
};

/* The JOIN guard's shared state (guard.c). */

struct rte_lpm;
struct rte_lpm6;

struct rtr_guard {
	/* read by workers */
	struct rte_lpm *deny4;		/* changed in place, tbl8s reclaimed under RCU */
	struct rte_lpm6 *deny6;		/* RCU-published; NULL: no IPv6 rules */
	uint32_t n4;			/* IPv4 rules in deny4 (0: no lookup) */
	uint32_t lim_idx;		/* which lim[] is in force */
	struct rtr_guard_limit lim[2][2];	/* [slot][source, prefix] */
	uint64_t seed;			/* bucket set hash */
	/* main lcore only */
	struct rte_lpm6 *retired6;	/* freed after its grace period */
	uint64_t retire_token;
	struct rtr_deny_rule *cur, *stage;
	uint32_t n_cur, n_stage;
	uint32_t gen, stage_gen;
	uint32_t staging;
	uint32_t seq6;
	uint64_t swaps6;
	uint32_t src_rate, prefix_rate;
};

/* Everything the dataplane owns. */
struct rtr_dp {
	struct rtr_cfg cfg;
	struct rtr_seg *seg;
	uint16_t n_ports;
	unsigned int n_workers;
	uint64_t tsc_hz;
	struct rtr_port ports[RTR_MAX_PORTS];
	struct rtr_worker workers[RTR_MAX_WORKERS];
	struct rte_mempool *pool;	/* packets */
	struct rte_mempool *hdr_pool;	/* chain mode: header mbufs */
	struct rte_mempool *clone_pool;	/* chain mode: indirect mbufs */
	struct rte_rcu_qsbr *qs;
	struct rte_rcu_qsbr_dq *dq;
	struct rtr_guard guard;
	struct rte_hash *chan_hash;
	struct rte_mempool *fo_pool;	/* small receiver lists */
	struct rtr_app *apps;
	struct rtr_channel *channels;
	struct rtr_member *members;
	struct rtr_enc *enc;		/* [max_enc_members] */
	uint32_t *efree;		/* free key slots (main lcore) */
	uint32_t efree_n;
	IMB_MGR *imb;			/* main lcore: expands keys */
	/* main lcore free lists (FIFO: delayed slot reuse) */
	struct rtr_free_ent *mfree;	/* 2 x max_members entries */
	uint32_t mfree_cap, mfree_head, mfree_n;
	uint32_t *cfree;
	uint32_t cfree_n;
	uint32_t n_channels;
	uint32_t n_members;
	uint32_t n_pending;
	/* clock for workers: refreshed by the main lcore */
	volatile uint64_t now_s;
	uint64_t unix_ns_at_tsc0;
	uint64_t tsc0;
	volatile int rx_enabled;
	volatile int quit;
};

extern struct rtr_dp rtr_dp;

/* init.c (start-up) */
extern int rtr_logtype;
int rtr_workers_init(struct rtr_dp *dp);
void rtr_workers_free(struct rtr_dp *dp);
int rtr_pools_init(struct rtr_dp *dp);
int rtr_port_init(struct rtr_dp *dp, uint16_t pid);

/* tables.c (main lcore) */
int rtr_tables_init(struct rtr_dp *dp);
void rtr_tables_free(struct rtr_dp *dp);
int rtr_app_set(struct rtr_dp *dp, const struct rtr_msg_app_set *a);
int rtr_app_del(struct rtr_dp *dp, uint32_t app_index);
int rtr_member_add(struct rtr_dp *dp, const struct rtr_msg_member_add *a,
		   struct rtr_reply_member_add *r);
int rtr_member_del(struct rtr_dp *dp, uint64_t handle);
int rtr_member_del_slot(struct rtr_dp *dp, uint32_t slot);
int rtr_member_update(struct rtr_dp *dp, const struct rtr_msg_member_update *u);
int rtr_member_activate(struct rtr_dp *dp, uint32_t slot, uint32_t gen);
int rtr_member_rekey(struct rtr_dp *dp, const struct rtr_msg_member_rekey *k);
int rtr_member_roam(struct rtr_dp *dp, uint32_t slot, uint32_t gen, const struct rtr_ep *ep);
int rtr_member_roam_ok(struct rtr_dp *dp, uint32_t slot, uint32_t gen);
void rtr_member_phase(struct rtr_dp *dp, uint32_t slot, uint32_t gen);
void rtr_enc_sweep(struct rtr_dp *dp, uint32_t slot);
void rtr_tables_reclaim(struct rtr_dp *dp);
int rtr_addr_is_ours(const struct rtr_dp *dp, uint8_t family, const uint8_t *ip);
int rtr_ep_valid(const struct rtr_dp *dp, const struct rtr_ep *ep);

/* guard.c (main lcore) */
int rtr_guard_init(struct rtr_dp *dp);
void rtr_guard_free(struct rtr_dp *dp);
void rtr_guard_poll(struct rtr_dp *dp);
int rtr_guard_deny_set(struct rtr_dp *dp, const struct rtr_msg_deny_set *m);
int rtr_guard_cfg(struct rtr_dp *dp, const struct rtr_msg_guard_cfg *c);
/* 1: the address is on the global deny list (main lcore) */
int rtr_guard_denied(const struct rtr_dp *dp, uint8_t family, const uint8_t *ip);

/* cmd.c (main lcore) */
void rtr_cmd_poll(struct rtr_dp *dp);
void rtr_notify(struct rtr_dp *dp, uint16_t type, uint16_t reason, uint32_t slot);
void rtr_notify_flush(struct rtr_dp *dp);
void rtr_sweep(struct rtr_dp *dp);

/* worker.c (fast path) */
int rtr_worker_main(void *arg);
void rtr_worker_burst(struct rtr_worker *w, struct rte_mbuf **pkts, uint16_t nb, uint16_t port,
		      uint64_t now, uint64_t now_s);
void rtr_worker_flush(struct rtr_worker *w);

/* tx.c (fast path helpers) */
uint16_t rtr_build_l2l4(uint8_t *p, const struct rtr_port *port, uint16_t vlan,
			const struct rte_ether_addr *dmac, uint8_t family,
			const uint8_t *dst_ip, uint32_t addr_sum,
			uint16_t sport, uint16_t dport, uint16_t pl_len, uint32_t pl_sum);

static inline uint16_t
rtr_l2l4_len(uint16_t vlan, uint8_t family)
{
	return (uint16_t)(14 + (vlan ? 4 : 0) + (family == 4 ? 20 : 40) + 8);
}

#endif /* RTR_DP_H */
