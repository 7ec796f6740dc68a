/* SPDX-License-Identifier: BSD-3-Clause
 * Per-packet parser: Ethernet (one optional 802.1Q tag), ARP, IPv4, IPv6
 * (with ICMPv6 neighbour solicitation), UDP to the service port, relay
 * header. Pure: no EAL, no allocation; it only reads the bytes it is given,
 * so it is fuzzed on its own (tests/fuzz_parse.c).
 */
#ifndef RTR_PARSE_H
#define RTR_PARSE_H

#include <stdint.h>
#include "rtr_wire.h"
#include "rtr_abi.h"

/* What a port answers for. */
struct rtr_parse_cfg {
	uint8_t mac[6];
	uint8_t has_ip4;
	uint8_t has_ip6;
	uint8_t ip4[4];
	uint8_t ip6[16];
	uint16_t udp_port;	/* host order */
};

enum rtr_pkt_kind {
	RTR_PK_DROP = 0,	/* see drop */
	RTR_PK_RELAY = 1,	/* a relay frame for the service */
	RTR_PK_ARP_REQ = 2,	/* ARP request for a service IPv4 address */
	RTR_PK_ND_NS = 3,	/* neighbour solicitation for a service IPv6 address */
};

struct rtr_parsed {
	uint8_t family;		/* 4 or 6 */
	uint8_t drop;		/* enum rtr_drop when RTR_PK_DROP */
	uint16_t vlan;		/* 0: untagged */
	uint16_t l3_off;
	uint16_t l4_off;
	uint16_t pl_off;	/* UDP payload (relay header) offset */
	uint16_t pl_len;	/* UDP payload length */
	uint16_t sport;		/* host order */
	uint16_t dport;
	uint32_t pl_sum;	/* ones'-complement partial sum of the UDP payload */
	uint8_t src_ip[16];
	uint8_t dst_ip[16];
	struct rtr_hdr hdr;
};

/* Classify a frame. Returns an enum rtr_pkt_kind; on RTR_PK_DROP, p->drop
 * says why. Reads at most len bytes of buf. */
unsigned int rtr_parse(const uint8_t *buf, uint32_t len,
		       const struct rtr_parse_cfg *cfg, struct rtr_parsed *p);

/* Ones'-complement checksum helpers, network byte order words. */
uint32_t rtr_csum_add(uint32_t sum, const void *buf, uint32_t len);
uint16_t rtr_csum_fold(uint32_t sum);

/* Sum of a source and a destination address (4 or 16 bytes each): the
 * part of the pseudo-header that is fixed for a pair of endpoints. */
uint32_t rtr_addr_sum(uint8_t family, const uint8_t *src_ip, const uint8_t *dst_ip);

/* UDP checksum (host order, never 0) from the addresses' sum and the
 * payload's partial sum: a handful of additions, per receiver on TX. */
static inline uint16_t
rtr_udp_csum_sums(uint32_t addr_sum, uint16_t sport, uint16_t dport, uint16_t udp_len,
		  uint32_t pl_sum)
{
	uint32_t s = addr_sum + 17u + udp_len + sport + dport + udp_len;

	s = (s & 0xffff) + (s >> 16) + (pl_sum & 0xffff) + (pl_sum >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (uint16_t)~s;
	return s == 0 ? 0xffff : (uint16_t)s;
}

/* UDP checksum (network order, never 0) from a payload partial sum. */
uint16_t rtr_udp_csum(uint8_t family, const uint8_t *src_ip, const uint8_t *dst_ip,
		      uint16_t sport, uint16_t dport, uint16_t udp_len, uint32_t pl_sum);

#endif /* RTR_PARSE_H */
