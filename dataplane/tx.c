/* SPDX-License-Identifier: BSD-3-Clause
 * Frame headers for everything the dataplane sends (per packet: fan-out
 * copies, control-plane frames). Checksums in software: the UDP payload's
 * sum is computed once per input frame; here only the pseudo-header and
 * UDP header are added per receiver.
 */
#include <string.h>
#include "dp.h"

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t
fold_not(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * Ethernet, optional 802.1Q, IPv4 or IPv6 and UDP headers in front of a
 * payload whose sum is pl_sum. Per receiver only a handful of additions:
 * addr_sum (its addresses) was summed when the fan-out list was built.
 * The source address is the port's service address of the family (every
 * endpoint's local_ip is checked to be exactly that).
 */
uint16_t
rtr_build_l2l4(uint8_t *p, const struct rtr_port *port, uint16_t vlan,
	       const struct rte_ether_addr *dmac, uint8_t family, const uint8_t *dst_ip, uint32_t addr_sum, uint16_t sport, uint16_t dport,
	       uint16_t pl_len, uint32_t pl_sum)
{
	uint8_t *ip, *udp;
	uint16_t udp_len = (uint16_t)(pl_len + 8);

	memcpy(p, dmac, 6);
	memcpy(p + 6, &port->mac, 6);
	ip = p + 12;
	if (vlan) {
		put16(ip, 0x8100);
		put16(ip + 2, vlan);
		ip += 4;
	}
	put16(ip, family == 4 ? 0x0800 : 0x86dd);
	ip += 2;
	if (family == 4) {
		uint16_t tot = (uint16_t)(udp_len + 20);

		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, tot);
		put16(ip + 4, 0);
		put16(ip + 6, 0x4000);	/* DF */
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, port->pcfg.ip4, 4);
		memcpy(ip + 16, dst_ip, 4);
		put16(ip + 10, fold_not(0x4500u + tot + 0x4000u + 0x4011u + addr_sum));
		udp = ip + 20;
	} else {
		put16(ip, 0x6000);
		put16(ip + 2, 0);
		put16(ip + 4, udp_len);
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, port->pcfg.ip6, 16);
		memcpy(ip + 24, dst_ip, 16);
		udp = ip + 40;
	}
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, udp_len);
	put16(udp + 6, rtr_udp_csum_sums(addr_sum, sport, dport, udp_len, pl_sum));
	return (uint16_t)(udp + 8 - p);
}
