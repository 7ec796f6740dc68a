/* SPDX-License-Identifier: BSD-3-Clause
 * Per-packet parser (runs on the worker cores). See parse.h.
 */
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "parse.h"

#define ETH_HLEN	14
#define ETH_P_IPV4	0x0800
#define ETH_P_ARP	0x0806
#define ETH_P_VLAN	0x8100
#define ETH_P_IPV6	0x86dd
#define IPPROTO_UDP_	17
#define IPPROTO_ICMPV6_	58
#define ND_NS_TYPE	135

/*
 * Add buf to a ones'-complement partial sum (network-order 16-bit words).
 * Runs per packet over whole payloads, so it reads 8 bytes at a time in
 * host order: the ones'-complement sum does not depend on byte order
 * (RFC 1071, 2.B), so the host-order sum is folded to 16 bits and turned
 * into network order once at the end.
 */
#if defined(__x86_64__)
/*
 * Vector sums: 16-bit words widened into 32-bit lanes, which cannot
 * overflow within 2^15 rounds (2 MiB with SSE2, 4 MiB with AVX2; far above
 * any frame). Each returns the lanes' total and how far it got.
 */
static uint64_t
csum_sse2(const uint8_t *b, uint32_t len, uint32_t *pos)
{
	const __m128i z = _mm_setzero_si128();
	__m128i a0 = z, a1 = z, a2 = z, a3 = z;
	uint32_t i = 0, t[4];
	uint64_t acc;

	for (; i + 64 <= len && i < (64u << 15); i += 64) {
		__m128i x0 = _mm_loadu_si128((const __m128i *)(b + i));
		__m128i x1 = _mm_loadu_si128((const __m128i *)(b + i + 16));
		__m128i x2 = _mm_loadu_si128((const __m128i *)(b + i + 32));
		__m128i x3 = _mm_loadu_si128((const __m128i *)(b + i + 48));

		a0 = _mm_add_epi32(a0, _mm_add_epi32(_mm_unpacklo_epi16(x0, z),
						     _mm_unpackhi_epi16(x0, z)));
		a1 = _mm_add_epi32(a1, _mm_add_epi32(_mm_unpacklo_epi16(x1, z),
						     _mm_unpackhi_epi16(x1, z)));
		a2 = _mm_add_epi32(a2, _mm_add_epi32(_mm_unpacklo_epi16(x2, z),
						     _mm_unpackhi_epi16(x2, z)));
		a3 = _mm_add_epi32(a3, _mm_add_epi32(_mm_unpacklo_epi16(x3, z),
						     _mm_unpackhi_epi16(x3, z)));
	}
	_mm_storeu_si128((__m128i *)t, _mm_add_epi32(_mm_srli_epi32(a0, 1), _mm_srli_epi32(a1, 1)));
	acc = 2 * ((uint64_t)t[0] + t[1] + t[2] + t[3]);
	_mm_storeu_si128((__m128i *)t, _mm_add_epi32(_mm_and_si128(a0, _mm_set1_epi32(1)),
						     _mm_and_si128(a1, _mm_set1_epi32(1))));
	acc += (uint64_t)t[0] + t[1] + t[2] + t[3];
	_mm_storeu_si128((__m128i *)t, _mm_add_epi32(_mm_srli_epi32(a2, 1), _mm_srli_epi32(a3, 1)));
	acc += 2 * ((uint64_t)t[0] + t[1] + t[2] + t[3]);
	_mm_storeu_si128((__m128i *)t, _mm_add_epi32(_mm_and_si128(a2, _mm_set1_epi32(1)),
						     _mm_and_si128(a3, _mm_set1_epi32(1))));
	acc += (uint64_t)t[0] + t[1] + t[2] + t[3];
	*pos = i;
	return acc;
}

__attribute__((target("avx2"))) static uint64_t
csum_avx2(const uint8_t *b, uint32_t len, uint32_t *pos)
{
	const __m256i z = _mm256_setzero_si256();
	__m256i a0 = z, a1 = z, a2 = z, a3 = z;
	uint64_t acc = 0;
	uint32_t i = 0, t[8], k;

	for (; i + 128 <= len && i < (128u << 15); i += 128) {
		__m256i x0 = _mm256_loadu_si256((const __m256i *)(b + i));
		__m256i x1 = _mm256_loadu_si256((const __m256i *)(b + i + 32));
		__m256i x2 = _mm256_loadu_si256((const __m256i *)(b + i + 64));
		__m256i x3 = _mm256_loadu_si256((const __m256i *)(b + i + 96));

		a0 = _mm256_add_epi32(a0, _mm256_add_epi32(_mm256_unpacklo_epi16(x0, z),
							   _mm256_unpackhi_epi16(x0, z)));
		a1 = _mm256_add_epi32(a1, _mm256_add_epi32(_mm256_unpacklo_epi16(x1, z),
							   _mm256_unpackhi_epi16(x1, z)));
		a2 = _mm256_add_epi32(a2, _mm256_add_epi32(_mm256_unpacklo_epi16(x2, z),
							   _mm256_unpackhi_epi16(x2, z)));
		a3 = _mm256_add_epi32(a3, _mm256_add_epi32(_mm256_unpacklo_epi16(x3, z),
							   _mm256_unpackhi_epi16(x3, z)));
	}
	_mm256_storeu_si256((__m256i *)t, a0);
	for (k = 0; k < 8; k++)
		acc += t[k];
	_mm256_storeu_si256((__m256i *)t, a1);
	for (k = 0; k < 8; k++)
		acc += t[k];
	_mm256_storeu_si256((__m256i *)t, a2);
	for (k = 0; k < 8; k++)
		acc += t[k];
	_mm256_storeu_si256((__m256i *)t, a3);
	for (k = 0; k < 8; k++)
		acc += t[k];
	*pos = i;
	return acc;
}

static int
csum_avx2_ok(void)
{
	static int ok = -1;

	if (__builtin_expect(ok < 0, 0))
		ok = __builtin_cpu_supports("avx2") ? 1 : 0;
	return ok;
}
#endif

uint32_t
rtr_csum_add(uint32_t sum, const void *buf, uint32_t len)
{
	const uint8_t *b = buf;
	uint64_t acc = 0, acc2 = 0, s;
	uint32_t i = 0, v[4], w[2];
	uint16_t h;

#if defined(__x86_64__)
	if (len >= 128 && csum_avx2_ok()) {
		acc = csum_avx2(b, len, &i);
	} else if (len >= 64) {
		acc = csum_sse2(b, len, &i);
	}
#endif
	/* two independent accumulators keep the adds from serialising */
	for (; i + 16 <= len; i += 16) {
		memcpy(v, b + i, 16);
		acc += (uint64_t)v[0] + v[1];
		acc2 += (uint64_t)v[2] + v[3];
	}
	acc += acc2;
	for (; i + 8 <= len; i += 8) {
		memcpy(w, b + i, 8);
		acc += (uint64_t)w[0] + w[1];
	}
	for (; i + 2 <= len; i += 2) {
		memcpy(&h, b + i, 2);
		acc += h;
	}
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	s = (uint64_t)sum + ntohs((uint16_t)acc);
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

uint16_t
rtr_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint32_t
rtr_addr_sum(uint8_t family, const uint8_t *src_ip, const uint8_t *dst_ip)
{
	unsigned int alen = family == 4 ? 4 : 16;

	return rtr_csum_add(rtr_csum_add(0, src_ip, alen), dst_ip, alen);
}

static uint32_t
pseudo_sum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
	   uint32_t l4_len)
{
	uint32_t s = rtr_addr_sum(family, src, dst);

	s += proto;
	s += l4_len >> 16;
	s += l4_len & 0xffff;
	return s;
}

uint16_t
rtr_udp_csum(uint8_t family, const uint8_t *src_ip, const uint8_t *dst_ip,
	     uint16_t sport, uint16_t dport, uint16_t udp_len, uint32_t pl_sum)
{
	return htons(rtr_udp_csum_sums(rtr_addr_sum(family, src_ip, dst_ip), sport, dport,
				       udp_len, pl_sum));
}

static inline int
mac_is(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 6) == 0;
}

static inline unsigned int
drop(struct rtr_parsed *p, unsigned int reason)
{
	p->drop = (uint8_t)reason;
	return RTR_PK_DROP;
}

static unsigned int
parse_arp(const uint8_t *a, uint32_t len, const uint8_t *dmac,
	  const struct rtr_parse_cfg *cfg, struct rtr_parsed *p)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	if (len < 28 || rtr_get16(a) != 1 || rtr_get16(a + 2) != ETH_P_IPV4 ||
	    a[4] != 6 || a[5] != 4)
		return drop(p, RTR_DROP_ARP_MALFORMED);
	if (!mac_is(dmac, bcast) && !mac_is(dmac, cfg->mac))
		return drop(p, RTR_DROP_ETH_NOT_OUR_MAC);
	if (rtr_get16(a + 6) != 1 || !cfg->has_ip4 || memcmp(a + 24, cfg->ip4, 4) != 0)
		return drop(p, RTR_DROP_ARP_NOT_FOR_US);
	p->family = 4;
	memcpy(p->src_ip, a + 14, 4);
	memcpy(p->dst_ip, a + 24, 4);
	return RTR_PK_ARP_REQ;
}

/* IPv6 extension headers (RFC 8200, 5533, 7401, 4303, 4302, 6275, 3692) */
static inline int
ip6_ext_header(uint8_t nh)
{
	switch (nh) {
	case 0: case 43: case 44: case 50: case 51: case 60: case 135:
	case 139: case 140: case 253: case 254:
		return 1;
	default:
		return 0;
	}
}

/* Our unicast address or its solicited-node multicast group ff02::1:ffXX:XXXX */
static inline int
ns_dst_ok(const uint8_t *dst, const struct rtr_parse_cfg *cfg)
{
	static const uint8_t sn[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff };

	if (memcmp(dst, cfg->ip6, 16) == 0)
		return 1;
	return memcmp(dst, sn, 13) == 0 && memcmp(dst + 13, cfg->ip6 + 13, 3) == 0;
}

static unsigned int
parse_ns(const uint8_t *buf, const uint8_t *ip6, uint32_t icmp_len,
	 const struct rtr_parse_cfg *cfg, struct rtr_parsed *p)
{
	const uint8_t *icmp = buf + p->l4_off;
	uint32_t s;

	if (icmp_len < 4)
		return drop(p, RTR_DROP_ND_MALFORMED);
	if (icmp[0] != ND_NS_TYPE)
		return drop(p, RTR_DROP_ICMP6_OTHER);
	/* RFC 4861 7.1.1: hop limit 255, code 0, length >= 24 */
	if (icmp_len < 24 || icmp[1] != 0 || ip6[7] != 255)
		return drop(p, RTR_DROP_ND_MALFORMED);
	s = pseudo_sum(6, ip6 + 8, ip6 + 24, IPPROTO_ICMPV6_, icmp_len);
	s = rtr_csum_add(s, icmp, icmp_len);
	if (rtr_csum_fold(s) != 0xffff)
		return drop(p, RTR_DROP_ND_MALFORMED);
	if (!cfg->has_ip6 || memcmp(icmp + 8, cfg->ip6, 16) != 0 || !ns_dst_ok(ip6 + 24, cfg))
		return drop(p, RTR_DROP_ND_NOT_FOR_US);
	return RTR_PK_ND_NS;
}

static unsigned int
parse_relay(const uint8_t *buf, struct rtr_parsed *p)
{
	const uint8_t *r = buf + p->pl_off;
	struct rtr_hdr *h = &p->hdr;

	if (p->pl_len < RTR_HDR_LEN)
		return drop(p, RTR_DROP_RELAY_SHORT);
	rtr_hdr_decode(r, h);
	if (h->magic != RTR_MAGIC)
		return drop(p, RTR_DROP_RELAY_MAGIC);
	if (h->version != RTR_VERSION)
		return drop(p, RTR_DROP_RELAY_VERSION);
	if (h->type == 0 || h->type > RTR_T_MAX)
		return drop(p, RTR_DROP_RELAY_TYPE);
	if ((uint32_t)h->payload_len + RTR_HDR_LEN != p->pl_len)
		return drop(p, RTR_DROP_RELAY_LENGTH);
	switch (h->type) {
	case RTR_T_MEDIA:
		if (((h->flags & RTR_F_KIND_MASK) >> RTR_F_KIND_SHIFT) == RTR_KIND_INVALID)
			return drop(p, RTR_DROP_RELAY_KIND);
		break;
	case RTR_T_JOIN:
		if (p->pl_len < RTR_JOIN_MIN_PAYLOAD)
			return drop(p, RTR_DROP_JOIN_SHORT);
		if (h->app_index != 0 || h->channel_hash != 0)
			return drop(p, RTR_DROP_JOIN_FIELDS);
		break;
	case RTR_T_JOIN_ACK:
	case RTR_T_ERROR:
	case RTR_T_COOKIE:
		return drop(p, RTR_DROP_RELAY_FROM_SERVER);
	default:
		break;
	}
	return RTR_PK_RELAY;
}

static unsigned int
parse_udp(const uint8_t *buf, uint32_t l4_len, const struct rtr_parse_cfg *cfg,
	  struct rtr_parsed *p)
{
	const uint8_t *u = buf + p->l4_off;
	uint16_t ulen, csum;
	uint32_t s;

	if (l4_len < 8)
		return drop(p, RTR_DROP_UDP_MALFORMED);
	ulen = rtr_get16(u + 4);
	if (ulen < 8 || ulen != l4_len)
		return drop(p, RTR_DROP_UDP_MALFORMED);
	p->sport = rtr_get16(u);
	p->dport = rtr_get16(u + 2);
	if (p->dport != cfg->udp_port)
		return drop(p, RTR_DROP_UDP_PORT);
	/* never talk to well-known ports or to another relay's service port */
	if (p->sport < 1024 || p->sport == cfg->udp_port)
		return drop(p, RTR_DROP_UDP_SRC_RESERVED);
	p->pl_off = (uint16_t)(p->l4_off + 8);
	p->pl_len = (uint16_t)(ulen - 8);
	p->pl_sum = rtr_csum_add(0, buf + p->pl_off, p->pl_len);
	csum = rtr_get16(u + 6);
	if (csum != 0 || p->family == 6) {
		s = pseudo_sum(p->family, p->src_ip, p->dst_ip, IPPROTO_UDP_, ulen);
		s += p->sport;
		s += p->dport;
		s += ulen;
		s += csum;
		s = (s & 0xffff) + (s >> 16);
		s += p->pl_sum & 0xffff;
		s += p->pl_sum >> 16;
		if (csum == 0 || rtr_csum_fold(s) != 0xffff)
			return drop(p, RTR_DROP_UDP_CKSUM);
	}
	return parse_relay(buf, p);
}

unsigned int
rtr_parse(const uint8_t *buf, uint32_t len, const struct rtr_parse_cfg *cfg,
	  struct rtr_parsed *p)
{
	const uint8_t *dmac = buf;
	uint32_t off = ETH_HLEN;
	uint16_t et;

	p->vlan = 0;
	p->family = 0;
	if (len < ETH_HLEN)
		return drop(p, RTR_DROP_ETH_RUNT);
	et = rtr_get16(buf + 12);
	if (et == ETH_P_VLAN) {
		if (len < ETH_HLEN + 4)
			return drop(p, RTR_DROP_ETH_RUNT);
		p->vlan = rtr_get16(buf + 14) & 0x0fff;
		et = rtr_get16(buf + 16);
		off += 4;
	}
	p->l3_off = (uint16_t)off;

	if (et == ETH_P_ARP)
		return parse_arp(buf + off, len - off, dmac, cfg, p);

	if (et == ETH_P_IPV4) {
		const uint8_t *ip = buf + off;
		uint32_t ihl, tot;

		if (!mac_is(dmac, cfg->mac))
			return drop(p, RTR_DROP_ETH_NOT_OUR_MAC);
		if (len - off < 20 || (ip[0] >> 4) != 4)
			return drop(p, RTR_DROP_IP4_MALFORMED);
		ihl = (ip[0] & 0xfu) * 4;
		tot = rtr_get16(ip + 2);
		if (ihl < 20 || tot < ihl || tot > len - off)
			return drop(p, RTR_DROP_IP4_MALFORMED);
		if (rtr_csum_fold(rtr_csum_add(0, ip, ihl)) != 0xffff)
			return drop(p, RTR_DROP_IP4_CKSUM);
		if (rtr_get16(ip + 6) & 0x3fff)
			return drop(p, RTR_DROP_IP4_FRAGMENT);
		p->family = 4;
		memcpy(p->src_ip, ip + 12, 4);
		memcpy(p->dst_ip, ip + 16, 4);
		/* a port without an IPv4 service address serves no IPv4 */
		if (!cfg->has_ip4 || memcmp(p->dst_ip, cfg->ip4, 4) != 0)
			return drop(p, RTR_DROP_IP_NOT_OURS);
		if (ip[9] != IPPROTO_UDP_)
			return drop(p, RTR_DROP_IP_PROTO);
		p->l4_off = (uint16_t)(off + ihl);
		return parse_udp(buf, tot - ihl, cfg, p);
	}

	if (et == ETH_P_IPV6) {
		const uint8_t *ip = buf + off;
		uint32_t plen;

		if (len - off < 40 || (ip[0] >> 4) != 6)
			return drop(p, RTR_DROP_IP6_MALFORMED);
		plen = rtr_get16(ip + 4);
		if (plen > len - off - 40)
			return drop(p, RTR_DROP_IP6_MALFORMED);
		p->family = 6;
		memcpy(p->src_ip, ip + 8, 16);
		memcpy(p->dst_ip, ip + 24, 16);
		p->l4_off = (uint16_t)(off + 40);
		if (ip[6] == IPPROTO_ICMPV6_) {
			/* solicited-node multicast or our unicast address */
			if (!mac_is(dmac, cfg->mac) && !(dmac[0] == 0x33 && dmac[1] == 0x33))
				return drop(p, RTR_DROP_ETH_NOT_OUR_MAC);
			return parse_ns(buf, ip, plen, cfg, p);
		}
		if (!mac_is(dmac, cfg->mac))
			return drop(p, RTR_DROP_ETH_NOT_OUR_MAC);
		if (!cfg->has_ip6 || memcmp(p->dst_ip, cfg->ip6, 16) != 0)
			return drop(p, RTR_DROP_IP_NOT_OURS);
		if (ip6_ext_header(ip[6]))
			return drop(p, RTR_DROP_IP6_EXT_HDR);
		if (ip[6] != IPPROTO_UDP_)
			return drop(p, RTR_DROP_IP_PROTO);
		return parse_udp(buf, plen, cfg, p);
	}
	return drop(p, RTR_DROP_ETH_TYPE);
}

const char *
rtr_drop_name(unsigned int reason)
{
	static const char *const names[] = {
#define _RTR_DROP_NAME(sym, str) [RTR_DROP_##sym] = str,
		RTR_FOREACH_DROP(_RTR_DROP_NAME)
#undef _RTR_DROP_NAME
	};

	return reason < RTR_DROP_MAX ? names[reason] : "unknown";
}
