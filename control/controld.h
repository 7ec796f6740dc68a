/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-controld internals: the daemon's state and the functions its files
 * share. Slow path only: a single thread, a poll() loop.
 */
#ifndef RTR_CONTROLD_H
#define RTR_CONTROLD_H

#include <stdint.h>
#include <stdbool.h>
#include <poll.h>
#include <sqlite3.h>

#include "rtr_abi.h"
#include "rtr_seg.h"
#include "rtr_wire.h"
#include "rtr_xdp_user.h"

#define CTLD_MAX_APPS		1024
#define CTLD_SECRET_LEN		32
#define CTLD_CERT_LEN		32	/* App certificate: 32 hex characters */
#define CTLD_APPID_LEN		32
#define CTLD_ACK_CACHE		1024
#define CTLD_MAX_CLIENTS	32

enum ctld_enc {
	CTLD_ENC_OFF = 0,
	CTLD_ENC_OPTIONAL = 1,
	CTLD_ENC_REQUIRED = 2,
};

/* An app as the daemon keeps it in memory (the store holds the same). */
struct ctld_app {
	bool in_use;
	bool enabled;
	uint32_t app_index;
	char app_id[CTLD_APPID_LEN + 1];
	char name[64];
	char cert[2][CTLD_CERT_LEN + 1];	/* primary, secondary ("" if none) */
	enum ctld_enc enc;
	uint32_t max_channels;
	uint32_t max_members;			/* per channel */
	uint32_t fps;
	uint64_t bps;
	uint64_t egress;
	uint32_t max_lifetime;
	char regions[128];			/* comma separated; "" = everywhere */
};

/* A cached JOIN_ACK, resent for a retransmitted JOIN from the same place. */
struct ctld_ack {
	uint64_t join_counter;
	uint8_t family;
	uint8_t src_ip[16];
	uint16_t src_port;
	uint32_t app_index;
	uint32_t uid;
	uint16_t len;
	uint8_t bytes[RTR_HDR_LEN + 96];	/* an encrypted JOIN_ACK is 114 */
	uint64_t at_ns;
};

/* An encrypted member's session, in memory only (never on disk): what its
 * next rekey JOIN is checked with, and which key phase it is in. */
struct ctld_sess {
	uint64_t handle;		/* 0: unused */
	uint8_t rekey[32];
	uint8_t phase;
	uint8_t suite;
};

#define CTLD_MAX_ACLS		1024

/* An isolation rule: allow or deny a source prefix, globally (app 0) or
 * for one app. */
struct ctld_acl {
	uint32_t id;
	uint32_t app_index;
	uint8_t allow;
	uint8_t family;
	uint8_t plen;
	uint8_t addr[16];
	char text[64];
};

struct ctld_counters {
	uint64_t joins_ok;
	uint64_t joins_refused[16];	/* by ERROR code */
	uint64_t joins_dropped_malformed;
	uint64_t joins_dropped_replay;
	uint64_t joins_dropped_policy;	/* reply policy: unanswerable source */
	uint64_t joins_retransmit;
	uint64_t joins_dropped_handshake;	/* message 1 did not authenticate */
	uint64_t joins_dropped_rekey;	/* rekey JOIN of no session, bad MAC */
	uint64_t joins_rekeyed;
	uint64_t members_roamed;
	uint64_t members_removed;
	uint64_t api_requests;
	uint64_t api_refused;
	uint64_t dp_reprogrammed;
	uint64_t dp_cmd_errors;
};

/* The XDP pre-filter of this instance, when one is pinned (xdp.c) */
struct ctld_xdp {
	int present;			/* the pinned maps opened at the last tick */
	struct rtr_xdp_maps m;
	uint32_t cfg_map_id;		/* a new id: re-attached or re-adopted, sync again */
	int dirty;			/* the isolation rules changed since the last sync */
	uint64_t next_tick_ms, next_full_ms;
	/* settings (rtr-controld --xdp-*) */
	uint16_t port;
	uint64_t src_pps, pfx_pps;
	uint32_t src_burst, pfx_burst;
	/* state for the API and metrics */
	unsigned int rules;		/* deny prefixes in the tries after the last sync */
	uint64_t syncs, sync_errors;
	struct rtr_xdp_ctr ctr[RTR_XDP_CTR_MAX];
};

/* The dataplane's JOIN guard, as rtr-controld keeps it (guard.c) */
struct ctld_guard {
	int dirty;			/* rules changed or a dataplane attached: sync */
	int loaded;			/* the last sync succeeded and nothing changed since */
	uint32_t gen;			/* the list generation last sent */
	uint64_t next_try_ms;
	/* settings (rtr-controld --join-*) */
	uint32_t src_rate, src_burst, pfx_rate, pfx_burst;
	unsigned int rules;
	uint64_t syncs, sync_errors;
};

struct ctld {
	char instance[RTR_INSTANCE_MAX + 1];
	char db_path[256];
	char key_path[264];
	char sock_path[256];
	char region[32];
	sqlite3 *db;
	uint8_t master_key[32];
	uint8_t chan_secret[CTLD_SECRET_LEN];
	uint8_t log_key[32];		/* keyed hash for masked logs */
	uint8_t node_priv[32];		/* the node's static X25519 key (Noise NK) */
	uint8_t node_pub[32];
	char dummy_cert[CTLD_CERT_LEN + 1];	/* random, per process: pads signature checks */
	struct rtr_seg *seg;		/* NULL while the dataplane is away */
	uint64_t dp_generation;
	struct ctld_app apps[CTLD_MAX_APPS];
	struct ctld_ack acks[CTLD_ACK_CACHE];
	struct ctld_acl acls[CTLD_MAX_ACLS];
	unsigned int n_acls;
	struct ctld_counters c;
	struct ctld_xdp xdp;
	struct ctld_guard guard;
	struct ctld_sess *sess;		/* indexed by member slot */
	uint32_t sess_n;
	int listen_fd;
	volatile int quit;
};

/* store.c */
int ctld_store_open(struct ctld *d);
void ctld_store_close(struct ctld *d);
int ctld_store_load_apps(struct ctld *d);
int ctld_store_put_app(struct ctld *d, const struct ctld_app *a);
int ctld_store_del_app(struct ctld *d, uint32_t app_index);
int ctld_store_node_get(struct ctld *d, const char *key, char *val, size_t len);
int ctld_store_node_set(struct ctld *d, const char *key, const char *val);
int ctld_store_secret(struct ctld *d, const char *key, uint8_t *out, size_t len);

int ctld_store_load_acls(struct ctld *d);
int ctld_store_add_acl(struct ctld *d, struct ctld_acl *a);
int ctld_store_del_acl(struct ctld *d, uint32_t id);
int ctld_acl_parse(const char *prefix, struct ctld_acl *a);
int ctld_acl_allows(const struct ctld *d, uint32_t app_index, uint8_t family, const uint8_t *ip);

/* Members as the store keeps them: what re-programs a restarted dataplane. */
struct ctld_member {
	uint64_t handle;
	uint32_t member_id;
	uint32_t app_index;
	uint64_t channel_hash;
	char channel[65];
	uint32_t uid;
	uint8_t role;
	uint8_t state;
	uint8_t uid_bound;
	uint32_t privs;
	struct rtr_ep ep;
	uint64_t token_expire;
	uint64_t priv_expire[RTR_N_PRIV_EXPIRE];
	uint64_t path_token;
	uint64_t join_ms;
	uint8_t suite;			/* 0: plaintext */
};

int ctld_store_put_member(struct ctld *d, const struct ctld_member *m);
int ctld_store_del_member(struct ctld *d, uint64_t handle);
int ctld_store_set_member_state(struct ctld *d, uint64_t handle, uint8_t state);
int ctld_store_find_member(struct ctld *d, uint32_t app_index, uint64_t channel_hash,
			   uint32_t uid, struct ctld_member *out);
int ctld_store_get_member(struct ctld *d, uint64_t handle, struct ctld_member *out);
int ctld_store_count(struct ctld *d, const char *sql, int64_t a, int64_t b);
typedef int (*ctld_member_fn)(struct ctld *d, const struct ctld_member *m, void *arg);
int ctld_store_each_member(struct ctld *d, const char *where, int64_t a, int64_t b,
			   ctld_member_fn fn, void *arg);
int ctld_store_channel_name(struct ctld *d, uint32_t app_index, uint64_t channel_hash,
			    char *name, size_t len);

/* controld.c */
int ctld_dp_call(struct ctld *d, uint16_t msg, const void *body, size_t len,
		 struct rtr_reply *r);
int ctld_dp_app_set(struct ctld *d, const struct ctld_app *a);
int ctld_remove_member(struct ctld *d, uint64_t handle, const char *why);
struct ctld_app *ctld_app_by_id(struct ctld *d, const char *app_id);
uint64_t ctld_now_ns(void);
void ctld_log(struct ctld *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *ctld_mask(struct ctld *d, const void *data, size_t len, char *buf);

/* join.c */
void ctld_join(struct ctld *d, const struct rtr_punt *p);
struct ctld_sess *ctld_sess_get(struct ctld *d, uint64_t handle);
int ctld_sess_put(struct ctld *d, uint64_t handle, uint8_t suite, uint8_t phase,
		  const uint8_t rekey[32]);
void ctld_sess_del(struct ctld *d, uint64_t handle);
void ctld_sess_clear(struct ctld *d);
uint64_t ctld_channel_hash(const struct ctld *d, uint32_t app_index, const char *name,
			   size_t len);

int ctld_region_ok(const struct ctld *d, const struct ctld_app *a);
int ctld_enforce_policy(struct ctld *d, uint32_t app_index);

/* guard.c: global deny rules and JOIN limits into the dataplane's JOIN guard */
void ctld_guard_init(struct ctld *d);
void ctld_guard_tick(struct ctld *d);
void ctld_guard_rules_changed(struct ctld *d);
int ctld_guard_set(struct ctld_guard *g, const char *which, const char *val, char *why,
		   size_t len);
int ctld_guard_rule_loaded(const struct ctld *d, const struct ctld_acl *a);

/* xdp.c: global deny rules and rate settings into the pinned pre-filter */
void ctld_xdp_init(struct ctld *d);
void ctld_xdp_tick(struct ctld *d);
void ctld_xdp_rules_changed(struct ctld *d);
void ctld_xdp_close(struct ctld *d);
int ctld_xdp_set(struct ctld_xdp *x, const char *which, const char *val, char *why, size_t len);
int ctld_xdp_rule_loaded(const struct ctld *d, const struct ctld_acl *a);

/* api.c */
int ctld_api_open(struct ctld *d);
void ctld_api_close(struct ctld *d);
int ctld_api_fds(struct ctld *d, struct pollfd *fds, int max);
void ctld_api_poll(struct ctld *d, struct pollfd *fds, int n);

#endif /* RTR_CONTROLD_H */
