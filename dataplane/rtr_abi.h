/* SPDX-License-Identifier: BSD-3-Clause
 * rtrelay shared-memory ABI between rtr-dataplane and its attachers
 * (rtr-controld, rtrctl, rtr-dpctl, exporters).
 *
 * Two POSIX shared-memory segments per dataplane instance:
 *   /dev/shm/rtrelay.<instance>.ctl    mode 0600: header + cmd/reply/punt/notify rings
 *   /dev/shm/rtrelay.<instance>.stats  mode 0640: counters, read-only for readers
 * Everything inside is addressed by offsets from the segment start: the
 * processes map the segments at different addresses. Every struct that
 * crosses the boundary has a fixed size checked with _Static_assert; any
 * change of layout bumps RTR_ABI_VERSION.
 */
#ifndef RTR_ABI_H
#define RTR_ABI_H

#include <stdint.h>
#include <stddef.h>

#define RTR_ABI_VERSION		3
#define RTR_CTL_MAGIC		0x52545243544c3031ULL	/* "RTRCTL01" */
#define RTR_STATS_MAGIC		0x5254525354413031ULL	/* "RTRSTA01" */
#define RTR_INSTANCE_MAX	32

/* Ring geometry (elements; powers of two). */
#define RTR_CMD_RING_SIZE	1024
#define RTR_REPLY_RING_SIZE	1024
#define RTR_PUNT_RING_SIZE	1024
#define RTR_NOTIFY_RING_SIZE	4096

#define RTR_MSG_SIZE		1536
#define RTR_MSG_HDR_SIZE	16
#define RTR_MSG_BODY_MAX	(RTR_MSG_SIZE - RTR_MSG_HDR_SIZE)

/* ------------------------------------------------------------------ */
/* Drop reasons: one list gives the enum and the counter names.       */

#define RTR_FOREACH_DROP(_)						\
	_(ETH_RUNT, "eth_runt")						\
	_(ETH_NOT_OUR_MAC, "eth_not_our_mac")				\
	_(ETH_TYPE, "eth_unknown_type")					\
	_(HDR_SEGMENTED, "hdr_not_contiguous")				\
	_(ARP_MALFORMED, "arp_malformed")				\
	_(ARP_NOT_FOR_US, "arp_not_for_us")				\
	_(IP4_MALFORMED, "ipv4_malformed")				\
	_(IP4_CKSUM, "ipv4_bad_checksum")				\
	_(IP4_FRAGMENT, "ipv4_fragment")				\
	_(IP6_MALFORMED, "ipv6_malformed")				\
	_(IP6_EXT_HDR, "ipv6_ext_header")				\
	_(ICMP6_OTHER, "icmp6_other")					\
	_(ND_MALFORMED, "nd_malformed")					\
	_(ND_NOT_FOR_US, "nd_not_for_us")				\
	_(IP_NOT_OURS, "ip_not_ours")					\
	_(IP_PROTO, "ip_not_udp")					\
	_(UDP_MALFORMED, "udp_bad_length")				\
	_(UDP_CKSUM, "udp_bad_checksum")				\
	_(UDP_PORT, "udp_not_service_port")				\
	_(UDP_SRC_RESERVED, "udp_src_port_reserved")			\
	_(RELAY_SHORT, "relay_short")					\
	_(RELAY_MAGIC, "relay_bad_magic")				\
	_(RELAY_VERSION, "relay_bad_version")				\
	_(RELAY_TYPE, "relay_bad_type")					\
	_(RELAY_LENGTH, "relay_bad_length")				\
	_(RELAY_KIND, "relay_bad_media_kind")				\
	_(RELAY_FROM_SERVER, "relay_server_type")			\
	_(JOIN_SHORT, "join_too_short")					\
	_(JOIN_FIELDS, "join_bad_header")				\
	_(JOIN_DENIED, "join_denied")					\
	_(JOIN_SRC_RATE, "join_src_rate")				\
	_(JOIN_PREFIX_RATE, "join_prefix_rate")				\
	_(PUNT_RATE, "punt_rate_limited")				\
	_(PUNT_FULL, "punt_ring_full")					\
	_(MEMBER_UNKNOWN, "member_unknown")				\
	_(MEMBER_PENDING, "member_pending")				\
	_(MEMBER_CHANNEL, "member_wrong_channel")			\
	_(MEMBER_ENDPOINT, "member_wrong_endpoint")			\
	_(ENC_UNSUPPORTED, "enc_not_negotiated")			\
	_(APP_DISABLED, "app_disabled")					\
	_(TOKEN_EXPIRED, "token_expired")				\
	_(PRIVILEGE, "privilege_denied")				\
	_(PRIV_EXPIRED, "privilege_expired")				\
	_(RATE_FRAMES, "rate_frames")					\
	_(RATE_BYTES, "rate_bytes")					\
	_(APP_EGRESS, "app_egress_budget")				\
	_(NO_RECEIVERS, "no_receivers")					\
	_(RECEIVER_EXPIRED, "receiver_token_expired")			\
	_(KA_LENGTH, "keepalive_bad_length")				\
	_(KA_PATH_TOKEN, "keepalive_bad_path_token")			\
	_(EVENT_FULL, "event_ring_full")				\
	_(NO_MBUF, "no_mbuf")						\
	_(CLONE_FAILED, "clone_failed")					\
	_(TX_FULL, "tx_full")						\
	_(RECEIVER_MTU, "receiver_mtu")					\
	_(ENC_PLAINTEXT, "enc_plaintext_frame")				\
	_(ENC_SHORT, "enc_too_short")					\
	_(ENC_NO_KEY, "enc_no_key")					\
	_(ENC_REPLAY, "enc_replay")					\
	_(ENC_AUTH, "enc_auth_failed")					\
	_(ENC_AUTH_BUDGET, "enc_auth_budget")				\
	_(ENC_BUSY, "enc_member_busy")					\
	_(ENC_SEAL, "enc_seal_failed")					\
	_(ENC_MIXED, "enc_mode_mismatch")

enum rtr_drop {
#define _RTR_DROP_ENUM(sym, str) RTR_DROP_##sym,
	RTR_FOREACH_DROP(_RTR_DROP_ENUM)
#undef _RTR_DROP_ENUM
	RTR_DROP_MAX
};

#define RTR_DROP_SLOTS		96	/* room in the stats layout */
_Static_assert(RTR_DROP_MAX <= RTR_DROP_SLOTS, "too many drop reasons");
#define RTR_DROP_NAME_LEN	32

/* Name of a drop reason, from the same list. */
const char *rtr_drop_name(unsigned int reason);

/* ------------------------------------------------------------------ */
/* Commands (control -> dataplane) and replies.                       */

enum rtr_msg_id {
	RTR_MSG_PING = 1,
	RTR_MSG_APP_SET = 2,
	RTR_MSG_APP_DEL = 3,
	RTR_MSG_MEMBER_ADD = 4,
	RTR_MSG_MEMBER_DEL = 5,
	RTR_MSG_MEMBER_UPDATE = 6,
	RTR_MSG_TX_FRAME = 7,
	RTR_MSG_DUMP = 8,
	RTR_MSG_SYNC = 9,
	RTR_MSG_RESUME = 10,
	RTR_MSG_MEMBER_REKEY = 11,
	RTR_MSG_DENY_SET = 12,
	RTR_MSG_GUARD_CFG = 13,
	RTR_MSG_MAX = 13,
};
#define RTR_MSG_VERSION		1

/* Status codes in replies: 0 or a negative errno. */

struct rtr_msg {
	uint16_t msg_id;
	uint16_t version;
	uint32_t context;	/* the controller's, echoed in the reply */
	uint32_t session;	/* the attach session; others are dropped */
	uint32_t seq;		/* 1, 2, 3 ... within the session */
	uint8_t body[RTR_MSG_BODY_MAX];
};
_Static_assert(sizeof(struct rtr_msg) == RTR_MSG_SIZE, "rtr_msg size");

struct rtr_reply {
	uint32_t context;
	int32_t status;
	uint16_t msg_id;
	uint16_t version;
	uint32_t seq;
	uint8_t body[RTR_MSG_BODY_MAX];
};
_Static_assert(sizeof(struct rtr_reply) == RTR_MSG_SIZE, "rtr_reply size");

/* An endpoint: where a member is, as the dataplane sees it. */
struct rtr_ep {
	uint8_t family;		/* 4 or 6 */
	uint8_t pad0;
	uint16_t port_id;	/* DPDK port the member is reached through */
	uint16_t vlan;		/* 0: untagged, else 1..4094 */
	uint16_t udp_port;	/* the member's UDP port, host order */
	uint8_t mac[6];		/* the member's (or next hop's) MAC */
	uint8_t pad1[2];
	uint8_t ip[16];		/* the member's address (IPv4 in the first 4) */
	uint8_t local_ip[16];	/* the service address it talks to */
};
_Static_assert(sizeof(struct rtr_ep) == 48, "rtr_ep size");

#define RTR_APP_F_ENABLED	(1u << 0)

struct rtr_msg_app_set {
	uint32_t app_index;	/* 1 .. max_apps-1 */
	uint32_t flags;		/* RTR_APP_F_* */
	uint32_t member_fps;	/* default per-member frames/s, 0 = unlimited */
	uint32_t pad;
	uint64_t member_bps;	/* default per-member bytes/s, 0 = unlimited */
	uint64_t egress_bps;	/* per-app egress bytes/s, 0 = unlimited */
};
_Static_assert(sizeof(struct rtr_msg_app_set) == 32, "app_set size");

struct rtr_msg_app_del {
	uint32_t app_index;
	uint32_t pad;
};

#define RTR_MEMBER_F_ACTIVE	(1u << 0)	/* path already validated (re-programming) */
#define RTR_N_PRIV_EXPIRE	4		/* privileges 1..4 */

struct rtr_msg_member_add {
	uint64_t want_handle;	/* 0: any slot; else re-install this id */
	uint32_t app_index;
	uint32_t privs;		/* RTR_PRIV_BIT mask */
	uint64_t channel_hash;
	struct rtr_ep ep;
	uint8_t role;
	uint8_t suite;		/* 0: plaintext */
	uint16_t flags;		/* RTR_MEMBER_F_* */
	uint32_t fps;		/* 0: the app's default */
	uint64_t bps;		/* 0: the app's default */
	uint64_t token_expire;	/* unix seconds, 0 = none */
	uint64_t priv_expire[RTR_N_PRIV_EXPIRE];	/* unix s per privilege 1..4, 0 = token's */
	uint64_t path_token;
	/* suite 1 or 2: the transport keys of the handshake (16 or 32 bytes
	 * used); wiped from the ring slot once consumed */
	uint8_t rx_key[32];	/* client -> node (c2n) */
	uint8_t tx_key[32];	/* node -> client (n2c) */
};
_Static_assert(sizeof(struct rtr_msg_member_add) == 200, "member_add size");

struct rtr_reply_member_add {
	uint64_t handle;
	uint32_t member_id;
	uint32_t channel_slot;
};

struct rtr_msg_member_del {
	uint64_t handle;
};

/* New keys for an encrypted member's other key phase (rekey). */
struct rtr_msg_member_rekey {
	uint64_t handle;
	uint8_t phase;		/* must be the member's idle phase */
	uint8_t pad[7];
	uint8_t rx_key[32];
	uint8_t tx_key[32];
};
_Static_assert(sizeof(struct rtr_msg_member_rekey) == 80, "member_rekey size");

#define RTR_UPD_PRIVS		(1u << 0)
#define RTR_UPD_EXPIRY		(1u << 1)
#define RTR_UPD_RATE		(1u << 2)

struct rtr_msg_member_update {
	uint64_t handle;
	uint32_t what;		/* RTR_UPD_* */
	uint32_t privs;
	uint64_t token_expire;
	uint64_t priv_expire[RTR_N_PRIV_EXPIRE];
	uint32_t fps;
	uint32_t pad;
	uint64_t bps;
};
_Static_assert(sizeof(struct rtr_msg_member_update) == 72, "member_update size");

#define RTR_TXF_PAYLOAD_MAX	1400

struct rtr_msg_tx_frame {
	uint16_t port_id;
	uint16_t vlan;
	uint8_t family;
	uint8_t pad0;
	uint16_t len;		/* UDP payload bytes */
	uint8_t dst_mac[6];
	uint16_t dst_port;
	uint16_t src_port;
	uint16_t pad1;
	uint8_t dst_ip[16];
	uint8_t src_ip[16];
	uint8_t payload[RTR_TXF_PAYLOAD_MAX];
};
_Static_assert(sizeof(struct rtr_msg_tx_frame) <= RTR_MSG_BODY_MAX, "tx_frame size");

/*
 * The JOIN guard (dataplane/guard.h): the global deny list, replaced whole.
 * A list travels in one or more DENY_SET messages of one generation: the
 * first has RTR_DENY_F_FIRST (it starts a new list), the last
 * RTR_DENY_F_LAST (the list, `total` rules, takes effect at once). Rules are
 * family 4 or 6, a prefix length up to 32 or 128, no address bits set
 * beyond it; the same prefix twice is refused.
 */
#define RTR_DENY_F_FIRST	(1u << 0)
#define RTR_DENY_F_LAST		(1u << 1)

struct rtr_deny_rule {
	uint8_t family;
	uint8_t plen;
	uint16_t pad;
	uint32_t id;		/* the controller's rule id (reported, not interpreted) */
	uint8_t addr[16];	/* IPv4 in the first 4 */
};
_Static_assert(sizeof(struct rtr_deny_rule) == 24, "deny_rule size");

#define RTR_DENY_PER_MSG	((RTR_MSG_BODY_MAX - 16) / sizeof(struct rtr_deny_rule))

struct rtr_msg_deny_set {
	uint32_t gen;		/* the controller's list generation */
	uint16_t flags;		/* RTR_DENY_F_* */
	uint16_t n;		/* rules in this message */
	uint32_t total;		/* rules in the whole list */
	uint32_t pad;
	struct rtr_deny_rule r[RTR_DENY_PER_MSG];
};
_Static_assert(sizeof(struct rtr_msg_deny_set) <= RTR_MSG_BODY_MAX, "deny_set size");

/* JOIN limits per source address and per /24 or /64, JOINs per second and
 * burst; a rate of 0 turns that limit off (the dataplane starts so). */
struct rtr_msg_guard_cfg {
	uint32_t src_rate;
	uint32_t src_burst;
	uint32_t prefix_rate;
	uint32_t prefix_burst;
};

enum rtr_dump_kind {
	RTR_DUMP_APPS = 1,
	RTR_DUMP_MEMBERS = 2,
	RTR_DUMP_CHANNELS = 3,
};

struct rtr_msg_dump {
	uint32_t kind;
	uint32_t cursor;	/* 0 to start; the reply's next_cursor after */
};

struct rtr_reply_dump {
	uint32_t kind;
	uint32_t next_cursor;	/* 0: no more */
	uint32_t n;
	uint32_t pad;
	uint8_t recs[RTR_MSG_BODY_MAX - 16];
};

enum rtr_member_state {
	RTR_MS_FREE = 0,
	RTR_MS_PENDING = 1,
	RTR_MS_ACTIVE = 2,
};

struct rtr_dump_member {
	uint64_t handle;
	uint32_t member_id;
	uint32_t app_index;
	uint64_t channel_hash;
	struct rtr_ep ep;
	uint32_t privs;
	uint8_t state;
	uint8_t role;
	uint8_t suite;
	uint8_t pad;
	uint64_t token_expire;
	uint64_t idle_ms;	/* since its last uplink frame or KEEPALIVE */
};
_Static_assert(sizeof(struct rtr_dump_member) == 96, "dump_member size");

struct rtr_dump_app {
	uint32_t app_index;
	uint32_t flags;
	uint32_t member_fps;
	uint32_t members;
	uint64_t member_bps;
	uint64_t egress_bps;
};
_Static_assert(sizeof(struct rtr_dump_app) == 32, "dump_app size");

struct rtr_dump_channel {
	uint32_t app_index;
	uint32_t slot;
	uint64_t channel_hash;
	uint32_t members;
	uint32_t receivers;	/* ACTIVE members in the fan-out list */
};
_Static_assert(sizeof(struct rtr_dump_channel) == 24, "dump_channel size");

struct rtr_reply_ping {
	uint64_t generation;
	uint32_t n_workers;
	uint32_t n_ports;
	uint32_t max_members;
	uint32_t max_channels;
	uint32_t max_apps;
	uint32_t rx_hold;
	uint32_t max_enc_members;
	uint32_t pad;
};

/* ------------------------------------------------------------------ */
/* Punt ring (dataplane -> control, lossy): JOIN frames.              */

#define RTR_PUNT_FRAME_MAX	(RTR_MSG_SIZE - 64)

struct rtr_punt {
	uint64_t arrival_ns;	/* CLOCK_REALTIME at RX (from the TSC) */
	uint16_t port_id;
	uint16_t vlan;
	uint16_t len;		/* UDP payload bytes in frame[] */
	uint8_t family;
	uint8_t pad0;
	uint8_t src_mac[6];
	uint16_t src_port;
	uint16_t dst_port;
	uint16_t pad1;
	uint8_t src_ip[16];
	uint8_t dst_ip[16];
	uint8_t frame[RTR_PUNT_FRAME_MAX];
};
_Static_assert(sizeof(struct rtr_punt) == RTR_MSG_SIZE, "rtr_punt size");

/* ------------------------------------------------------------------ */
/* Notify ring (dataplane -> control, lossless).                      */

enum rtr_notify_type {
	RTR_NOTIFY_MEMBER_IDLE = 1,	/* removed: idle timeout */
	RTR_NOTIFY_MEMBER_EXPIRED = 2,	/* removed: token expired */
	RTR_NOTIFY_ROAM = 3,
	RTR_NOTIFY_ALARM = 4,
	RTR_NOTIFY_MEMBER_LEFT = 5,	/* removed: LEAVE from its endpoint */
	RTR_NOTIFY_MEMBER_ACTIVE = 6,	/* path validated */
	RTR_NOTIFY_REKEYED = 7,		/* downlink switched to the new key phase */
};

struct rtr_notify {
	uint16_t type;
	uint16_t reason;
	uint32_t member_id;
	uint64_t handle;
	uint64_t time_ns;	/* CLOCK_REALTIME */
	uint32_t app_index;
	uint32_t pad;
	uint64_t channel_hash;
	struct rtr_ep ep;	/* ROAM: the member's new endpoint */
	uint8_t reserved[8];
};
_Static_assert(sizeof(struct rtr_notify) == 96, "rtr_notify size");

/* ------------------------------------------------------------------ */
/* Control segment header.                                            */

struct rtr_ctl_hdr {
	uint64_t magic;
	uint32_t abi_version;
	uint32_t hdr_size;
	uint64_t size;			/* whole segment */
	uint64_t generation;		/* random, new at each dataplane start */
	uint32_t dp_pid;
	uint32_t n_workers;
	uint64_t heartbeat_ns;		/* CLOCK_MONOTONIC, every <= 100 ms */
	/* controller lock: pid + its start time, checked for liveness */
	uint32_t ctl_pid;
	uint32_t ctl_session;
	uint64_t ctl_start;
	uint64_t off_cmd;
	uint64_t off_reply;
	uint64_t off_punt;
	uint64_t off_notify;
	uint32_t udp_port;
	uint32_t rx_hold;		/* 1 until RESUME */
	uint64_t dp_start;		/* dataplane's start time (/proc stat field 22) */
	uint8_t reserved[48];
};
_Static_assert(sizeof(struct rtr_ctl_hdr) == 160, "ctl header size");

/* ------------------------------------------------------------------ */
/* Stats segment.                                                     */

struct rtr_worker_stats {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t media_in;	/* MEDIA frames accepted for fan-out */
	uint64_t media_out;	/* copies sent */
	uint64_t punted;
	uint64_t ka_echoed;
	uint64_t arp_replies;
	uint64_t nd_replies;
	uint64_t tx_frames;	/* control-plane frames sent */
	uint64_t busy_cycles;	/* TSC cycles spent on bursts with work */
	uint64_t loops;
	uint64_t drops_total;	/* not written by workers: readers sum drops[] */
	uint64_t leaves;		/* LEAVEs accepted */
	uint64_t activations;	/* path tokens echoed by PENDING members */
	uint64_t enc_opened;	/* uplink frames authenticated */
	uint64_t enc_sealed;	/* downlink frames sealed */
	uint64_t roam_candidates;	/* authenticated frames from a new endpoint */
	uint64_t rekeys;	/* downlink switches to a new key phase */
	uint64_t reserved_w[4];
	uint64_t drops[RTR_DROP_SLOTS];
};
_Static_assert(sizeof(struct rtr_worker_stats) % 64 == 0, "worker stats alignment");

struct rtr_port_stats {
	char name[32];
	uint8_t mac[6];
	uint16_t port_id;
	uint8_t link_up;
	uint8_t tx_chain;	/* 1: zero-copy chains, 0: copies */
	uint16_t n_rxq;
	uint16_t n_txq;
	uint16_t pad;
	uint32_t link_speed;
	uint64_t ipackets;
	uint64_t opackets;
	uint64_t ibytes;
	uint64_t obytes;
	uint64_t imissed;
	uint64_t ierrors;
	uint64_t oerrors;
	uint64_t rx_nombuf;
	uint64_t reserved;
};
_Static_assert(sizeof(struct rtr_port_stats) == 128, "port stats size");

struct rtr_app_stats {
	uint64_t in_pkts;
	uint64_t in_bytes;
	uint64_t out_pkts;
	uint64_t out_bytes;
	uint64_t drops;
	uint64_t pad[3];
};
_Static_assert(sizeof(struct rtr_app_stats) == 64, "app stats size");

struct rtr_main_stats {
	uint64_t cmds_ok;
	uint64_t cmds_failed;		/* valid command, refused (status < 0) */
	uint64_t cmds_invalid;		/* failed validation */
	uint64_t cmds_stale;		/* wrong session or out of sequence */
	uint64_t replies_lost;		/* reply ring full */
	uint64_t notify_sent;
	uint64_t notify_backlog;	/* gauge */
	uint64_t notify_lost;
	uint64_t tx_frames_queued;
	uint64_t tx_frames_refused;
	/* gauges */
	uint64_t apps;
	uint64_t channels;
	uint64_t members;
	uint64_t members_pending;
	uint64_t members_active;
	uint64_t members_removed_idle;
	uint64_t members_removed_expired;
	uint64_t members_left;
	uint64_t rcu_pending;
	uint64_t heartbeat_ns;
	uint64_t enc_members;		/* gauge: key slots in use */
	uint64_t enc_max;		/* --max-enc-members */
	uint64_t roams;			/* endpoints moved after validation */
	uint64_t rekeys;		/* key phases installed by MEMBER_REKEY */
	uint64_t heap_used;		/* gauge: bytes held in DPDK's heap (tables, rings, keys) */
	uint64_t deny_rules4;		/* gauge: global deny rules in force, IPv4 */
	uint64_t deny_rules6;		/* gauge: ... IPv6 */
	uint64_t deny_gen;		/* generation of the list in force (0: none yet) */
	uint64_t deny_swaps6;		/* IPv6 tries rebuilt and swapped */
	uint64_t guard_src_rate;	/* JOIN limits in force (GUARD_CFG) */
	uint64_t guard_prefix_rate;
	uint64_t roams_denied;		/* roaming candidates on the deny list, refused */
};
_Static_assert(sizeof(struct rtr_main_stats) == 256, "main stats size");

struct rtr_stats_hdr {
	uint64_t magic;
	uint32_t abi_version;
	uint32_t hdr_size;
	uint64_t size;
	uint64_t generation;
	uint32_t dp_pid;
	uint32_t n_workers;
	uint32_t n_ports;
	uint32_t max_apps;
	uint32_t n_drop_reasons;
	uint32_t pad;
	uint64_t off_names;	/* n_drop_reasons x char[32] */
	uint64_t off_main;
	uint64_t off_workers;	/* n_workers x rtr_worker_stats */
	uint64_t off_ports;	/* n_ports x rtr_port_stats */
	uint64_t off_apps;	/* n_workers x max_apps x rtr_app_stats */
	/* snapshot pair for multi-word gauges written by the main lcore */
	volatile uint64_t epoch;
	volatile uint32_t in_progress;
	uint32_t pad2;
	uint8_t reserved[48];
};
_Static_assert(sizeof(struct rtr_stats_hdr) == 160, "stats header size");

#endif /* RTR_ABI_H */
