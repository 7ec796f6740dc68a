/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer target for rtr_parse() (dataplane/parse.c).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Idataplane \
 *	tests/fuzz_parse.c dataplane/parse.c -o fuzz_parse
 *   ./fuzz_parse -max_total_time=30
 *
 * Each input is parsed as a raw frame, as the same frame with its IPv4,
 * UDP and ICMPv6 checksums made right, and wrapped in a valid
 * Ethernet/IP/UDP (or ARP, or ICMPv6) envelope with correct lengths and
 * checksums; each of the three with two port configurations (addresses
 * set and unset). So the fuzzer reaches every header check, the relay
 * header and the neighbour solicitation checks without having to solve
 * checksums. Every result is checked against invariants recomputed here
 * from the bytes; a violation traps (__builtin_trap).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)
#define FRAME_MAX	2048
#define SVC_PORT	7700

static const struct rtr_parse_cfg cfgs[2] = {
	{
		.mac = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 },
		.has_ip4 = 1,
		.has_ip6 = 1,
		.ip4 = { 192, 0, 2, 10 },
		.ip6 = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a },
		.udp_port = SVC_PORT,
	},
	{
		/* same addresses, but the port answers for none of them */
		.mac = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 },
		.has_ip4 = 0,
		.has_ip6 = 0,
		.ip4 = { 192, 0, 2, 10 },
		.ip6 = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a },
		.udp_port = SVC_PORT,
	},
};

static const uint8_t peer_mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static const uint8_t peer_ip4[4] = { 198, 51, 100, 7 };
static const uint8_t peer_ip6[16] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07 };
static const uint8_t sn_ip6[16] = {
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x0a };

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return ((uint32_t)rd16(p) << 16) | rd16(p + 2);
}

static uint64_t
rd64(const uint8_t *p)
{
	return ((uint64_t)rd32(p) << 32) | rd32(p + 4);
}

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Reference ones'-complement sum, independent of rtr_csum_*(). */
static uint64_t
ref_add(uint64_t acc, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		acc += (i & 1) ? b[i] : (uint64_t)b[i] << 8;
	return acc;
}

static uint16_t
ref_fold(uint64_t acc)
{
	while (acc > 0xffff)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static uint64_t
ref_pseudo(unsigned int family, const uint8_t *src, const uint8_t *dst,
	   uint8_t proto, uint32_t len)
{
	unsigned int alen = family == 4 ? 4 : 16;
	uint64_t acc;

	acc = ref_add(0, src, alen);
	acc = ref_add(acc, dst, alen);
	return acc + proto + (len >> 16) + (len & 0xffff);
}

static int
is_parser_reason(unsigned int r)
{
	switch (r) {
	case RTR_DROP_ETH_RUNT:
	case RTR_DROP_ETH_NOT_OUR_MAC:
	case RTR_DROP_ETH_TYPE:
	case RTR_DROP_ARP_MALFORMED:
	case RTR_DROP_ARP_NOT_FOR_US:
	case RTR_DROP_IP4_MALFORMED:
	case RTR_DROP_IP4_CKSUM:
	case RTR_DROP_IP4_FRAGMENT:
	case RTR_DROP_IP6_MALFORMED:
	case RTR_DROP_IP6_EXT_HDR:
	case RTR_DROP_ICMP6_OTHER:
	case RTR_DROP_ND_MALFORMED:
	case RTR_DROP_ND_NOT_FOR_US:
	case RTR_DROP_IP_NOT_OURS:
	case RTR_DROP_IP_PROTO:
	case RTR_DROP_UDP_MALFORMED:
	case RTR_DROP_UDP_CKSUM:
	case RTR_DROP_UDP_PORT:
	case RTR_DROP_UDP_SRC_RESERVED:
	case RTR_DROP_RELAY_SHORT:
	case RTR_DROP_RELAY_MAGIC:
	case RTR_DROP_RELAY_VERSION:
	case RTR_DROP_RELAY_TYPE:
	case RTR_DROP_RELAY_LENGTH:
	case RTR_DROP_RELAY_KIND:
	case RTR_DROP_RELAY_FROM_SERVER:
	case RTR_DROP_JOIN_SHORT:
	case RTR_DROP_JOIN_FIELDS:
		return 1;
	default:
		return 0;
	}
}

/* Link layer: where L3 starts and what the tag says. */
static void
check_l2(const uint8_t *buf, uint32_t len, const struct rtr_parsed *p, uint16_t et)
{
	CHECK(p->l3_off == 14 || p->l3_off == 18);
	CHECK(p->l3_off <= len);
	if (p->l3_off == 18) {
		CHECK(rd16(buf + 12) == 0x8100);
		CHECK(p->vlan == (rd16(buf + 14) & 0x0fff));
	} else {
		CHECK(p->vlan == 0);
	}
	CHECK(rd16(buf + p->l3_off - 2) == et);
}

static void
check_relay(const uint8_t *buf, uint32_t len, const struct rtr_parse_cfg *cfg,
	    const struct rtr_parsed *p)
{
	const uint8_t *ip = buf + p->l3_off;
	const uint8_t *u, *r;
	uint32_t ip_end, ulen;
	uint16_t c, got;
	uint8_t gb[2];
	uint64_t acc;

	CHECK(p->family == 4 || p->family == 6);
	check_l2(buf, len, p, p->family == 4 ? 0x0800 : 0x86dd);
	CHECK(memcmp(buf, cfg->mac, 6) == 0);

	/* network layer */
	if (p->family == 4) {
		unsigned int ihl = (ip[0] & 0xfu) * 4;

		CHECK(ip[0] >> 4 == 4);
		CHECK(ihl >= 20);
		CHECK(p->l4_off == p->l3_off + ihl);
		ip_end = p->l3_off + rd16(ip + 2);
		CHECK(ref_fold(ref_add(0, ip, ihl)) == 0xffff);
		CHECK((rd16(ip + 6) & 0x3fff) == 0);
		CHECK(ip[9] == 17);
		CHECK(memcmp(p->src_ip, ip + 12, 4) == 0);
		CHECK(memcmp(p->dst_ip, ip + 16, 4) == 0);
		if (cfg->has_ip4)
			CHECK(memcmp(p->dst_ip, cfg->ip4, 4) == 0);
	} else {
		CHECK(ip[0] >> 4 == 6);
		CHECK(p->l4_off == p->l3_off + 40);
		ip_end = p->l3_off + 40u + rd16(ip + 4);
		CHECK(ip[6] == 17);
		CHECK(memcmp(p->src_ip, ip + 8, 16) == 0);
		CHECK(memcmp(p->dst_ip, ip + 24, 16) == 0);
		if (cfg->has_ip6)
			CHECK(memcmp(p->dst_ip, cfg->ip6, 16) == 0);
	}
	CHECK(ip_end <= len);

	/* UDP */
	u = buf + p->l4_off;
	ulen = rd16(u + 4);
	CHECK(p->pl_off == p->l4_off + 8);
	CHECK((uint32_t)p->pl_off + p->pl_len <= len);
	CHECK((uint32_t)p->pl_off + p->pl_len == ip_end);
	CHECK(ulen == 8u + p->pl_len);
	CHECK(p->sport == rd16(u));
	CHECK(p->dport == rd16(u + 2));
	CHECK(p->dport == cfg->udp_port);
	CHECK(p->sport >= 1024 && p->sport != cfg->udp_port);

	/* the payload sum and the checksum */
	CHECK(rtr_csum_fold(p->pl_sum) == ref_fold(ref_add(0, buf + p->pl_off, p->pl_len)));
	c = rd16(u + 6);
	if (p->family == 6)
		CHECK(c != 0);
	got = rtr_udp_csum(p->family, p->src_ip, p->dst_ip, p->sport, p->dport,
			   (uint16_t)ulen, p->pl_sum);
	memcpy(gb, &got, 2);
	CHECK(rd16(gb) != 0);
	if (c != 0) {
		acc = ref_pseudo(p->family, p->src_ip, p->dst_ip, 17, ulen);
		acc = ref_add(acc, u, ulen);
		CHECK(ref_fold(acc) == 0xffff);
		CHECK(rd16(gb) == c);
	}

	/* relay header */
	r = buf + p->pl_off;
	CHECK(p->pl_len >= RTR_HDR_LEN);
	CHECK((uint32_t)p->hdr.payload_len + RTR_HDR_LEN == p->pl_len);
	CHECK(p->hdr.magic == RTR_MAGIC && rd16(r) == RTR_MAGIC);
	CHECK(p->hdr.version == RTR_VERSION && r[2] == RTR_VERSION);
	CHECK(p->hdr.type == r[3]);
	CHECK(p->hdr.app_index == rd32(r + 4));
	CHECK(p->hdr.channel_hash == rd64(r + 8));
	CHECK(p->hdr.member_id == rd32(r + 16));
	CHECK(p->hdr.flags == rd16(r + 20));
	CHECK(p->hdr.payload_len == rd16(r + 22));
	CHECK(p->hdr.counter == rd64(r + 24));
	switch (p->hdr.type) {
	case RTR_T_MEDIA:
		CHECK((p->hdr.flags & RTR_F_KIND_MASK) >> RTR_F_KIND_SHIFT !=
		      RTR_KIND_INVALID);
		break;
	case RTR_T_JOIN:
		CHECK(p->pl_len >= RTR_JOIN_MIN_PAYLOAD);
		CHECK(p->hdr.app_index == 0 && p->hdr.channel_hash == 0);
		break;
	case RTR_T_LEAVE:
	case RTR_T_KEEPALIVE:
		break;
	default:
		CHECK(0);
	}
}

static void
check_arp(const uint8_t *buf, uint32_t len, const struct rtr_parse_cfg *cfg,
	  const struct rtr_parsed *p)
{
	const uint8_t *a = buf + p->l3_off;

	CHECK(p->family == 4);
	check_l2(buf, len, p, 0x0806);
	CHECK((uint32_t)p->l3_off + 28 <= len);
	CHECK(rd16(a) == 1 && rd16(a + 2) == 0x0800 && a[4] == 6 && a[5] == 4);
	CHECK(rd16(a + 6) == 1);
	CHECK(cfg->has_ip4);
	CHECK(memcmp(a + 24, cfg->ip4, 4) == 0);
	CHECK(memcmp(p->dst_ip, cfg->ip4, 4) == 0);
	CHECK(memcmp(p->src_ip, a + 14, 4) == 0);
	CHECK(memcmp(buf, cfg->mac, 6) == 0 ||
	      (buf[0] & buf[1] & buf[2] & buf[3] & buf[4] & buf[5]) == 0xff);
}

static void
check_ns(const uint8_t *buf, uint32_t len, const struct rtr_parse_cfg *cfg,
	 const struct rtr_parsed *p)
{
	const uint8_t *ip = buf + p->l3_off;
	const uint8_t *icmp;
	uint32_t plen;
	uint64_t acc;

	CHECK(p->family == 6);
	check_l2(buf, len, p, 0x86dd);
	CHECK(ip[0] >> 4 == 6 && ip[6] == 58 && ip[7] == 255);
	CHECK(p->l4_off == p->l3_off + 40);
	plen = rd16(ip + 4);
	CHECK(plen >= 24 && p->l4_off + plen <= len);
	icmp = buf + p->l4_off;
	CHECK(icmp[0] == 135 && icmp[1] == 0);
	acc = ref_pseudo(6, ip + 8, ip + 24, 58, plen);
	CHECK(ref_fold(ref_add(acc, icmp, plen)) == 0xffff);
	CHECK(cfg->has_ip6);
	CHECK(memcmp(icmp + 8, cfg->ip6, 16) == 0);
	CHECK(memcmp(p->src_ip, ip + 8, 16) == 0);
	CHECK(memcmp(p->dst_ip, ip + 24, 16) == 0);
	CHECK(memcmp(buf, cfg->mac, 6) == 0 || (buf[0] == 0x33 && buf[1] == 0x33));
}

static void
check_one(const uint8_t *buf, uint32_t len, const struct rtr_parse_cfg *cfg)
{
	struct rtr_parsed p, q;
	unsigned int k;

	memset(&p, 0xa5, sizeof(p));
	k = rtr_parse(buf, len, cfg, &p);
	CHECK(k <= RTR_PK_ND_NS);

	/* deterministic, whatever the result held before */
	memset(&q, 0x5a, sizeof(q));
	CHECK(rtr_parse(buf, len, cfg, &q) == k);

	switch (k) {
	case RTR_PK_DROP:
		CHECK(p.drop < RTR_DROP_MAX);
		CHECK(is_parser_reason(p.drop));
		CHECK(q.drop == p.drop);
		if (len < 14)
			CHECK(p.drop == RTR_DROP_ETH_RUNT);
		if (p.drop == RTR_DROP_ETH_RUNT)
			CHECK(len < 18);
		break;
	case RTR_PK_RELAY:
		check_relay(buf, len, cfg, &p);
		CHECK(q.pl_off == p.pl_off && q.pl_len == p.pl_len &&
		      q.pl_sum == p.pl_sum && q.vlan == p.vlan &&
		      memcmp(&q.hdr, &p.hdr, sizeof(p.hdr)) == 0);
		break;
	case RTR_PK_ARP_REQ:
		check_arp(buf, len, cfg, &p);
		break;
	case RTR_PK_ND_NS:
		check_ns(buf, len, cfg, &p);
		break;
	}
}

/* Parse from a heap block of exactly len bytes: ASan sees any over-read. */
static void
check_all(const uint8_t *frame, uint32_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	unsigned int i;

	if (copy == NULL)
		return;
	memcpy(copy, frame, len);
	for (i = 0; i < 2; i++)
		check_one(copy, len, &cfgs[i]);
	free(copy);
}

/*
 * Wrap data[2..] in an envelope that is valid unless asked otherwise.
 * data[0]:
 *   bits 0-1  0, 1: UDP over IPv4 / IPv6; 2: ARP; 3: ICMPv6 (ND)
 *   bit 2     802.1Q tag
 *   bit 3     UDP: leave the checksum 0
 *   bit 4     UDP: the next 4 bytes are the source and destination ports
 *   bit 5     IPv4: 4 bytes of options
 *   bit 6     UDP: stamp a valid magic, version and payload_len over the
 *             first 32 bytes
 *   bit 7     IPv4: set MF; IPv6 UDP: next header 0 (hop-by-hop)
 * data[1]: the lies, applied after the checksums are computed:
 *   bits 0-2  IPv4 total length / IPv6 payload length + (value - 4)
 *   bits 3-5  UDP length + (value - 4)
 *   bit 6     stamped payload_len + 1
 *   bit 7     ICMPv6: hop limit 64
 */
static uint32_t
wrap(const uint8_t *data, size_t size, uint8_t *f)
{
	const struct rtr_parse_cfg *cfg = &cfgs[0];
	uint8_t ctl = data[0], lie = data[1];
	unsigned int mode = ctl & 3;
	int d_ip = (lie & 7) - 4, d_udp = ((lie >> 3) & 7) - 4;
	uint16_t sport = 40000, dport = SVC_PORT;
	uint32_t off, n, l3, l4, ihl = 0;
	const uint8_t *pl;
	uint8_t *ip;
	uint64_t acc;
	uint16_t c;

	data += 2;
	size -= 2;
	if ((ctl & 0x10) && size >= 4) {
		sport = rd16(data);
		dport = rd16(data + 2);
		data += 4;
		size -= 4;
	}
	pl = data;
	n = size > 1400 ? 1400 : (uint32_t)size;

	if (mode == 3)
		memcpy(f, "\x33\x33\xff\x00\x00\x0a", 6);
	else if (mode == 2)
		memset(f, 0xff, 6);
	else
		memcpy(f, cfg->mac, 6);
	memcpy(f + 6, peer_mac, 6);
	off = 12;
	if (ctl & 4) {
		wr16(f + off, 0x8100);
		wr16(f + off + 2, 0x2000 | (ctl >> 4));
		off += 4;
	}
	wr16(f + off, mode == 0 ? 0x0800 : mode == 2 ? 0x0806 : 0x86dd);
	l3 = off + 2;
	ip = f + l3;

	if (mode == 2) {
		/* ARP: the fuzzer writes the message itself */
		memcpy(f + l3, pl, n);
		return l3 + n;
	}

	if (mode == 0) {
		ihl = ctl & 0x20 ? 24 : 20;
		memset(ip, 0, ihl);
		ip[0] = (uint8_t)(0x40 | ihl / 4);
		wr16(ip + 2, (uint16_t)(ihl + 8 + n));
		if (ctl & 0x80)
			wr16(ip + 6, 0x2000);
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, peer_ip4, 4);
		memcpy(ip + 16, cfg->ip4, 4);
		if (ihl > 20)
			memset(ip + 20, 0x01, ihl - 20);
		l4 = l3 + ihl;
	} else {
		memset(ip, 0, 40);
		ip[0] = 0x60;
		wr16(ip + 4, (uint16_t)(mode == 3 ? n : 8 + n));
		ip[6] = mode == 3 ? 58 : (ctl & 0x80) ? 0 : 17;
		ip[7] = mode == 3 && (lie & 0x80) ? 64 : 255;
		memcpy(ip + 8, peer_ip6, 16);
		memcpy(ip + 24, mode == 3 ? sn_ip6 : cfg->ip6, 16);
		l4 = l3 + 40;
	}

	if (mode == 3) {
		/* ICMPv6: the fuzzer writes the message, we fix its checksum */
		uint8_t *icmp = f + l4;

		memcpy(icmp, pl, n);
		if (n >= 4) {
			wr16(icmp + 2, 0);
			acc = ref_pseudo(6, ip + 8, ip + 24, 58, n);
			wr16(icmp + 2, (uint16_t)~ref_fold(ref_add(acc, icmp, n)));
		}
		wr16(ip + 4, (uint16_t)(n + d_ip));
		return l4 + n;
	}

	wr16(f + l4, sport);
	wr16(f + l4 + 2, dport);
	wr16(f + l4 + 4, (uint16_t)(8 + n));
	wr16(f + l4 + 6, 0);
	memcpy(f + l4 + 8, pl, n);
	if ((ctl & 0x40) && n >= RTR_HDR_LEN) {
		uint8_t *r = f + l4 + 8;

		wr16(r + RTR_OFF_MAGIC, RTR_MAGIC);
		r[RTR_OFF_VERSION] = RTR_VERSION;
		wr16(r + RTR_OFF_PLEN, (uint16_t)(n - RTR_HDR_LEN + ((lie >> 6) & 1)));
	}
	if (!(ctl & 8)) {
		if (mode == 0)
			acc = ref_pseudo(4, ip + 12, ip + 16, 17, 8 + n);
		else
			acc = ref_pseudo(6, ip + 8, ip + 24, 17, 8 + n);
		c = (uint16_t)~ref_fold(ref_add(acc, f + l4, 8 + n));
		wr16(f + l4 + 6, c ? c : 0xffff);
	}

	/* the lengths may lie; the IPv4 header checksum still holds */
	wr16(f + l4 + 4, (uint16_t)(8 + n + d_udp));
	if (mode == 0) {
		wr16(ip + 2, (uint16_t)(ihl + 8 + n + d_ip));
		wr16(ip + 10, 0);
		wr16(ip + 10, (uint16_t)~ref_fold(ref_add(0, ip, ihl)));
	} else {
		wr16(ip + 4, (uint16_t)(8 + n + d_ip));
	}
	return l4 + 8 + n;
}

/* Set the checksum at l4 + at over len bytes of an L4 message. A UDP
 * checksum of 0 is kept (IPv4: no checksum; IPv6: must still be refused). */
static void
fix_l4(uint8_t *l4, uint32_t len, unsigned int at, unsigned int family,
       const uint8_t *src, const uint8_t *dst, uint8_t proto)
{
	uint64_t acc;
	uint16_t c;

	if (proto == 17 && rd16(l4 + at) == 0)
		return;
	wr16(l4 + at, 0);
	acc = ref_pseudo(family, src, dst, proto, len);
	c = (uint16_t)~ref_fold(ref_add(acc, l4, len));
	wr16(l4 + at, proto == 17 && c == 0 ? 0xffff : c);
}

/*
 * Make the checksums of an arbitrary frame right where its own length
 * fields allow it, and touch nothing else: the fuzzer then mutates every
 * header field (fragment bits, IHL, lengths, next header, addresses)
 * without the checksum checks hiding what follows.
 */
static void
fix_checksums(uint8_t *b, uint32_t len)
{
	uint32_t off = 14, ihl, tot, plen, ulen;
	uint16_t et;
	uint8_t *ip, *l4;

	if (len < 18)
		return;
	et = rd16(b + 12);
	if (et == 0x8100) {
		et = rd16(b + 16);
		off = 18;
	}
	ip = b + off;
	if (et == 0x0800 && len >= off + 20) {
		/* IHL 3 and 4 too: the checksum field is inside */
		ihl = (ip[0] & 0xfu) * 4;
		if (ihl < 12 || off + ihl > len)
			return;
		wr16(ip + 10, 0);
		wr16(ip + 10, (uint16_t)~ref_fold(ref_add(0, ip, ihl)));
		tot = rd16(ip + 2);
		l4 = ip + ihl;
		if (ihl < 20 || ip[9] != 17 || tot < ihl + 8 || off + tot > len)
			return;
		ulen = rd16(l4 + 4);
		if (ulen >= 8 && ulen <= tot - ihl)
			fix_l4(l4, ulen, 6, 4, ip + 12, ip + 16, 17);
	} else if (et == 0x86dd && len >= off + 40) {
		plen = rd16(ip + 4);
		l4 = ip + 40;
		if (off + 40 + plen > len)
			return;
		if (ip[6] == 58 && plen >= 4)
			fix_l4(l4, plen, 2, 6, ip + 8, ip + 24, 58);
		if (ip[6] == 17 && plen >= 8) {
			ulen = rd16(l4 + 4);
			if (ulen >= 8 && ulen <= plen)
				fix_l4(l4, ulen, 6, 6, ip + 8, ip + 24, 17);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[FRAME_MAX];
	uint8_t *fixed;
	uint32_t len;

	if (size > 65535)
		return 0;
	check_all(data, (uint32_t)size);

	fixed = malloc(size ? size : 1);
	if (fixed != NULL) {
		memcpy(fixed, data, size);
		fix_checksums(fixed, (uint32_t)size);
		check_all(fixed, (uint32_t)size);
		free(fixed);
	}

	if (size >= 2) {
		len = wrap(data, size, frame);
		check_all(frame, len);
	}
	return 0;
}
