/* SPDX-License-Identifier: BSD-3-Clause
 * rtrelay wire protocol v1: the 32-byte relay header carried in UDP.
 *
 * All integers are big-endian on the wire. Header fields are not aligned
 * inside a frame: read them with memcpy (rtr_hdr_get_*), never by casting.
 */
#ifndef RTR_WIRE_H
#define RTR_WIRE_H

#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#define RTR_MAGIC		0x5254	/* "RT" */
#define RTR_VERSION		1
#define RTR_DEFAULT_PORT	7700
#define RTR_HDR_LEN		32
#define RTR_JOIN_MIN_PAYLOAD	256	/* a JOIN is padded to at least this */
#define RTR_MAX_UDP_PAYLOAD	1472	/* largest relay datagram handled */
#define RTR_PATH_TOKEN_LEN	8
#define RTR_KA_ENC_MIN		24	/* encrypted KEEPALIVE plaintext: token, challenge, time */

enum rtr_type {
	RTR_T_MEDIA = 1,
	RTR_T_JOIN = 2,
	RTR_T_JOIN_ACK = 3,
	RTR_T_LEAVE = 4,
	RTR_T_KEEPALIVE = 5,
	RTR_T_ERROR = 6,
	RTR_T_COOKIE = 7,	/* reserved */
	RTR_T_MAX = 7,
};

/* flags */
/* JOIN suites (DESIGN.md, "Transport encryption") */
#define RTR_SUITE_NONE		0
#define RTR_SUITE_AES128GCM	1
#define RTR_SUITE_AES256GCM	2
#define RTR_TAG_LEN		16	/* AES-GCM tag after every sealed payload */
#define RTR_LANE_SHIFT		56	/* downlink counter: lane (8 bits) || sequence */

#define RTR_F_ENC		(1u << 0)
#define RTR_F_KEY_PHASE		(1u << 1)
#define RTR_F_REKEY_REQUESTED	(1u << 2)
#define RTR_F_KIND_SHIFT	8
#define RTR_F_KIND_MASK		(3u << RTR_F_KIND_SHIFT)

enum rtr_kind {
	RTR_KIND_AUDIO = 0,
	RTR_KIND_VIDEO = 1,
	RTR_KIND_DATA = 2,
	RTR_KIND_INVALID = 3,
};

/* Privileges, as AccessToken2 numbers them. The mask bit is 1 << number. */
enum rtr_priv {
	RTR_PRIV_JOIN = 1,
	RTR_PRIV_PUB_AUDIO = 2,
	RTR_PRIV_PUB_VIDEO = 3,
	RTR_PRIV_PUB_DATA = 4,
};
#define RTR_PRIV_BIT(p)		(1u << (p))
#define RTR_PRIV_ALL		(RTR_PRIV_BIT(1) | RTR_PRIV_BIT(2) | RTR_PRIV_BIT(3) | RTR_PRIV_BIT(4))

/* The privilege that publishing a media kind needs. */
static inline unsigned int
rtr_kind_priv(unsigned int kind)
{
	return RTR_PRIV_PUB_AUDIO + kind;
}

enum rtr_role {
	RTR_ROLE_PUBLISHER = 1,
	RTR_ROLE_SUBSCRIBER = 2,
};

enum rtr_err_code {
	RTR_E_MALFORMED = 1,
	RTR_E_VERSION = 2,
	RTR_E_APP_UNKNOWN = 3,
	RTR_E_APP_DISABLED = 4,
	RTR_E_TOKEN_INVALID = 5,
	RTR_E_TOKEN_EXPIRED = 6,
	RTR_E_PRIVILEGE = 7,
	RTR_E_CHANNEL_FULL = 8,
	RTR_E_QUOTA = 9,
	RTR_E_GEOFENCED = 10,
	RTR_E_ACL_DENIED = 11,
	RTR_E_RATE_LIMITED = 12,
	RTR_E_ENC_REQUIRED = 13,
	RTR_E_BUSY = 14,
	RTR_E_UID_CONFLICT = 15,
};

/* Header field offsets. */
#define RTR_OFF_MAGIC		0
#define RTR_OFF_VERSION		2
#define RTR_OFF_TYPE		3
#define RTR_OFF_APP		4
#define RTR_OFF_CHANNEL		8
#define RTR_OFF_MEMBER		16
#define RTR_OFF_FLAGS		20
#define RTR_OFF_PLEN		22
#define RTR_OFF_COUNTER		24

/* The header decoded into host order. */
struct rtr_hdr {
	uint16_t magic;
	uint8_t version;
	uint8_t type;
	uint32_t app_index;
	uint64_t channel_hash;
	uint32_t member_id;
	uint16_t flags;
	uint16_t payload_len;
	uint64_t counter;
};

static inline uint16_t
rtr_get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return ntohs(v);
}

static inline uint32_t
rtr_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return ntohl(v);
}

static inline uint64_t
rtr_get64(const uint8_t *p)
{
	return ((uint64_t)rtr_get32(p) << 32) | rtr_get32(p + 4);
}

static inline void
rtr_put16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
rtr_put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
rtr_put64(uint8_t *p, uint64_t v)
{
	rtr_put32(p, (uint32_t)(v >> 32));
	rtr_put32(p + 4, (uint32_t)v);
}

static inline void
rtr_hdr_decode(const uint8_t *p, struct rtr_hdr *h)
{
	h->magic = rtr_get16(p + RTR_OFF_MAGIC);
	h->version = p[RTR_OFF_VERSION];
	h->type = p[RTR_OFF_TYPE];
	h->app_index = rtr_get32(p + RTR_OFF_APP);
	h->channel_hash = rtr_get64(p + RTR_OFF_CHANNEL);
	h->member_id = rtr_get32(p + RTR_OFF_MEMBER);
	h->flags = rtr_get16(p + RTR_OFF_FLAGS);
	h->payload_len = rtr_get16(p + RTR_OFF_PLEN);
	h->counter = rtr_get64(p + RTR_OFF_COUNTER);
}

static inline void
rtr_hdr_encode(uint8_t *p, const struct rtr_hdr *h)
{
	rtr_put16(p + RTR_OFF_MAGIC, h->magic);
	p[RTR_OFF_VERSION] = h->version;
	p[RTR_OFF_TYPE] = h->type;
	rtr_put32(p + RTR_OFF_APP, h->app_index);
	rtr_put64(p + RTR_OFF_CHANNEL, h->channel_hash);
	rtr_put32(p + RTR_OFF_MEMBER, h->member_id);
	rtr_put16(p + RTR_OFF_FLAGS, h->flags);
	rtr_put16(p + RTR_OFF_PLEN, h->payload_len);
	rtr_put64(p + RTR_OFF_COUNTER, h->counter);
}

/*
 * member_id on the wire: low 22 bits slot, high 10 bits generation (never 0,
 * so no valid id is 0). The control plane holds 64-bit handles: the slot and
 * the slot's full 32-bit generation counter, so a stale handle never matches.
 */
#define RTR_MID_SLOT_BITS	22
#define RTR_MID_SLOT_MASK	((1u << RTR_MID_SLOT_BITS) - 1)
#define RTR_MID_GEN_MASK	0x3ffu
#define RTR_MAX_MEMBERS_LIMIT	(1u << RTR_MID_SLOT_BITS)

static inline uint32_t
rtr_mid_make(uint32_t slot, uint32_t gen)
{
	return ((gen & RTR_MID_GEN_MASK) << RTR_MID_SLOT_BITS) | slot;
}

static inline uint32_t
rtr_mid_slot(uint32_t mid)
{
	return mid & RTR_MID_SLOT_MASK;
}

static inline uint32_t
rtr_mid_gen(uint32_t mid)
{
	return mid >> RTR_MID_SLOT_BITS;
}

static inline uint64_t
rtr_handle_make(uint32_t slot, uint32_t gen)
{
	return ((uint64_t)gen << 32) | slot;
}

#endif /* RTR_WIRE_H */
