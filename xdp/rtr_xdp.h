/* SPDX-License-Identifier: BSD-3-Clause
 * rtrelay XDP pre-filter: what the BPF program (xdp/rtr_xdp.bpf.c) and its
 * loaders (tools/rtr-xdp.c, tests/test_xdp.c) share. Fixed-size structs;
 * multi-byte fields in host order unless the name ends in _be.
 *
 * Verdicts, in order (the first that applies wins):
 *   not IPv4/IPv6, not UDP, not to the service port  -> XDP_PASS (the kernel:
 *       SSH, monitoring; the pre-filter never touches them)
 *   IPv4 UDP with an IHL below 5                        -> XDP_DROP (malformed)
 *   IPv4 fragments after the first (they carry no port)  -> XDP_PASS
 *   IPv6 with extension headers before UDP               -> XDP_PASS (counted)
 *   UDP to the service port:
 *     UDP length shorter than 8 or past the frame        -> XDP_DROP (malformed)
 *     IPv4 first fragment (the dataplane reassembles none) -> XDP_DROP
 *     source in the deny LPM trie (v4 or v6)              -> XDP_DROP
 *     source over its token bucket (per address)          -> XDP_DROP
 *     source prefix (/24, /64) over its token bucket      -> XDP_DROP
 *     otherwise: redirect to the AF_XDP socket of the RX queue (xsks_map), or
 *     XDP_PASS when the config says so (in front of a kernel socket) or the
 *     queue has no socket.
 */
#ifndef RTR_XDP_H
#define RTR_XDP_H

#ifdef __bpf__
#include <linux/types.h>
typedef __u8 rtr_u8;
typedef __u16 rtr_u16;
typedef __u32 rtr_u32;
typedef __u64 rtr_u64;
#else
#include <stdint.h>
typedef uint8_t rtr_u8;
typedef uint16_t rtr_u16;
typedef uint32_t rtr_u32;
typedef uint64_t rtr_u64;
#endif

#define RTR_XDP_ABI		1
#define RTR_XDP_PIN_ROOT	"/sys/fs/bpf/rtrelay"	/* + /<instance>/<map> */
#define RTR_XDP_MAX_QUEUES	64
#define RTR_XDP_DEFAULT_PORT	7700	/* the service port while the config has none */
#define RTR_XDP_DENY_MAX	16384	/* prefixes per family */
#define RTR_XDP_SRC_MAX		65536	/* token buckets per address (LRU) */
#define RTR_XDP_PFX_MAX		16384	/* token buckets per /24 or /64 (LRU) */

/* one list gives the counter indexes and their names */
#define RTR_XDP_FOREACH_CTR(_)						\
	_(PASS_NOT_IP,		"pass_not_ip")				\
	_(PASS_NOT_SERVICE,	"pass_not_service")			\
	_(PASS_IP6_EXT,		"pass_ip6_ext_hdr")			\
	_(DROP_MALFORMED,	"drop_malformed")			\
	_(DROP_FRAGMENT,	"drop_fragment")			\
	_(DROP_DENY,		"drop_deny")				\
	_(DROP_SRC_RATE,	"drop_src_rate")			\
	_(DROP_PFX_RATE,	"drop_prefix_rate")			\
	_(REDIRECT,		"redirect_xsk")				\
	_(PASS_SERVICE,		"pass_service")

enum rtr_xdp_counter {
#define _RTR_XDP_ENUM(n, s) RTR_XDP_##n,
	RTR_XDP_FOREACH_CTR(_RTR_XDP_ENUM)
#undef _RTR_XDP_ENUM
	RTR_XDP_CTR_MAX
};

struct rtr_xdp_ctr {		/* per CPU, per counter */
	rtr_u64 packets;
	rtr_u64 bytes;
};

#define RTR_XDP_F_PASS_SERVICE	0x1	/* accepted service traffic to the kernel, not AF_XDP */

/* the one entry of the "rtr_cfg" array; all zero: port 7700, no limits, redirect */
struct rtr_xdp_cfg {
	rtr_u32 abi;		/* RTR_XDP_ABI once a loader has written it */
	rtr_u16 port;		/* UDP service port; 0: RTR_XDP_DEFAULT_PORT */
	rtr_u16 flags;		/* RTR_XDP_F_* */
	/* token buckets as GCRA: one packet per interval, bursts of `burst`;
	 * interval 0 turns the limiter off */
	rtr_u64 src_interval_ns;
	rtr_u64 pfx_interval_ns;
	rtr_u32 src_burst;
	rtr_u32 pfx_burst;
};

/* LPM trie keys: prefix length in bits, then the address in network order */
struct rtr_xdp_lpm4 {
	rtr_u32 prefixlen;
	rtr_u8 addr[4];
};

struct rtr_xdp_lpm6 {
	rtr_u32 prefixlen;
	rtr_u8 addr[16];
};

/* token bucket keys: an address, or an address masked to /24 or /64 */
struct rtr_xdp_src {
	rtr_u8 family;		/* 4 or 6 */
	rtr_u8 plen;		/* 32/128 for an address; 24/64 for a prefix */
	rtr_u8 pad[2];
	rtr_u8 addr[16];	/* IPv4 in the first 4 bytes */
};

/* a bucket: the GCRA theoretical arrival time, and what it dropped */
struct rtr_xdp_bucket {
	rtr_u64 tat_ns;
	rtr_u64 dropped;
};

#ifndef __bpf__
_Static_assert(sizeof(struct rtr_xdp_cfg) == 32, "rtr_xdp_cfg size");
_Static_assert(sizeof(struct rtr_xdp_src) == 20, "rtr_xdp_src size");
_Static_assert(sizeof(struct rtr_xdp_bucket) == 16, "rtr_xdp_bucket size");
_Static_assert(sizeof(struct rtr_xdp_lpm6) == 20, "rtr_xdp_lpm6 size");
#endif

#endif /* RTR_XDP_H */
