/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for rtr_parse() (dataplane/parse.c).
 *
 * Frames are built here byte by byte (Ethernet, optional 802.1Q tag, ARP,
 * IPv4, IPv6, ICMPv6 neighbour solicitation, UDP, relay header) and their
 * checksums come from the small reference implementation below, which
 * shares no code with rtr_csum_*(). Every test asserts the exact packet
 * kind and, for drops, the exact drop reason.
 *
 * Build: gcc -Idataplane tests/test_parse.c dataplane/parse.c -lcmocka
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define FRAME_MAX	2048
#define SVC_PORT	7700
#define PEER_PORT	40000
#define BODY_DEFAULT	100

/* The port under test and its peers (documentation addresses). */
static const uint8_t our_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 };
static const uint8_t peer_mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static const uint8_t other_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x31 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mcast6_mac[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t sn_mac[6] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x0a };
static const uint8_t near_mc1_mac[6] = { 0x33, 0x34, 0xff, 0x00, 0x00, 0x0a };
static const uint8_t near_mc2_mac[6] = { 0x32, 0x33, 0xff, 0x00, 0x00, 0x0a };

static const uint8_t our_ip4[4] = { 192, 0, 2, 10 };
static const uint8_t other_ip4[4] = { 192, 0, 2, 11 };
static const uint8_t peer_ip4[4] = { 198, 51, 100, 7 };
static const uint8_t bcast_ip4[4] = { 255, 255, 255, 255 };

static const uint8_t our_ip6[16] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a };
static const uint8_t other_ip6[16] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b };
static const uint8_t peer_ip6[16] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07 };
/* solicited-node multicast address of our_ip6 */
static const uint8_t sn_ip6[16] = {
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x0a };

/* Default relay header: every field has distinct bytes, so a field read
 * at the wrong offset or in the wrong byte order cannot pass. */
#define H_APP		0x0a0b0c0du
#define H_CHAN		0x1112131415161718ull
#define H_MID		0xa9412345u	/* slot 0x12345, generation 0x2a5 */
#define H_FLAGS		0x4503u		/* video, ENC, KEY_PHASE, opaque bits */
#define H_COUNTER	0x2122232425262728ull
#define JOIN_CLOCK_MS	1700000000123ull

/* ------------------------------------------------------------------ */
/* Byte helpers and the reference checksum.                           */

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

static void
wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)(v >> 32));
	wr32(p + 4, (uint32_t)v);
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* RFC 1071: add the bytes as big-endian 16-bit words (an odd last byte is
 * the high half of a word), byte by byte into a wide accumulator. */
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

/* The pseudo-header, laid out as RFC 768 / RFC 8200 8.1 draw it. */
static uint64_t
ref_pseudo(uint8_t family, const uint8_t *src, const uint8_t *dst,
	   uint8_t proto, uint32_t len)
{
	uint8_t ph[40];

	memset(ph, 0, sizeof(ph));
	if (family == 4) {
		memcpy(ph, src, 4);
		memcpy(ph + 4, dst, 4);
		ph[9] = proto;
		wr16(ph + 10, (uint16_t)len);
		return ref_add(0, ph, 12);
	}
	memcpy(ph, src, 16);
	memcpy(ph + 16, dst, 16);
	wr32(ph + 32, len);
	ph[39] = proto;
	return ref_add(0, ph, 40);
}

/* Checksum of an L4 message, ignoring its own checksum field. */
static uint16_t
ref_l4_csum(uint8_t family, const uint8_t *src, const uint8_t *dst,
	    uint8_t proto, const uint8_t *l4, uint32_t len, uint32_t csum_off)
{
	uint64_t acc = ref_pseudo(family, src, dst, proto, len);

	acc = ref_add(acc, l4, csum_off);
	acc = ref_add(acc, l4 + csum_off + 2, len - csum_off - 2);
	return (uint16_t)~ref_fold(acc);
}

/* ------------------------------------------------------------------ */
/* Frame description and builders.                                   */

struct frame {
	uint8_t b[FRAME_MAX];
	uint32_t len;
	uint8_t family;
	uint16_t l3;		/* network header */
	uint16_t l4;		/* UDP / ICMPv6 header */
	uint16_t pl;		/* UDP payload */
};

enum shape {
	F_UDP,			/* Ethernet / IP / UDP / relay */
	F_ARP,			/* Ethernet / ARP */
	F_NS,			/* Ethernet / IPv6 / ICMPv6 NS */
};

struct fspec {
	uint8_t family;		/* 4 or 6 */
	int vlan;		/* TCI, or -1: untagged */
	uint8_t dmac[6];
	uint8_t src[16];	/* IPv4 in the first 4 bytes */
	uint8_t dst[16];
	uint8_t ip4_opt;	/* IPv4 option bytes, a multiple of 4 */
	uint8_t hop;		/* TTL / hop limit */
	uint8_t proto;		/* IPv4 protocol / IPv6 next header */
	uint16_t sport;
	uint16_t dport;
	uint8_t zero_csum;	/* send UDP checksum 0 */
	struct rtr_hdr hdr;	/* relay header, exactly as sent */
	uint16_t body;		/* bytes after the relay header */
	int udp_pl;		/* >= 0: cut the UDP payload to this */
	uint16_t pad;		/* Ethernet trailer after the packet */
	uint16_t arp_op;
	uint8_t target[16];	/* NS target */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint16_t icmp_len;	/* ICMPv6 message bytes (<= 32) */
};

static uint8_t
body_byte(unsigned int i)
{
	return (uint8_t)(0x5a ^ (i * 13));
}

static void
set_body(struct fspec *s, uint16_t n)
{
	s->body = n;
	s->hdr.payload_len = n;
}

static void
make_spec(struct fspec *s, unsigned int shape, uint8_t family)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	s->vlan = -1;
	s->udp_pl = -1;
	switch (shape) {
	case F_UDP:
		memcpy(s->dmac, our_mac, 6);
		if (family == 4) {
			memcpy(s->src, peer_ip4, 4);
			memcpy(s->dst, our_ip4, 4);
		} else {
			memcpy(s->src, peer_ip6, 16);
			memcpy(s->dst, our_ip6, 16);
		}
		s->hop = 64;
		s->proto = 17;
		s->sport = PEER_PORT;
		s->dport = SVC_PORT;
		s->hdr.magic = RTR_MAGIC;
		s->hdr.version = RTR_VERSION;
		s->hdr.type = RTR_T_MEDIA;
		s->hdr.app_index = H_APP;
		s->hdr.channel_hash = H_CHAN;
		s->hdr.member_id = H_MID;
		s->hdr.flags = H_FLAGS;
		s->hdr.counter = H_COUNTER;
		set_body(s, BODY_DEFAULT);
		break;
	case F_ARP:
		memcpy(s->dmac, bcast_mac, 6);
		memcpy(s->src, peer_ip4, 4);
		memcpy(s->dst, our_ip4, 4);
		s->arp_op = 1;
		s->pad = 18;	/* to the 60-byte Ethernet minimum */
		break;
	case F_NS:
		memcpy(s->dmac, sn_mac, 6);
		memcpy(s->src, peer_ip6, 16);
		memcpy(s->dst, sn_ip6, 16);
		memcpy(s->target, our_ip6, 16);
		s->hop = 255;
		s->proto = 58;
		s->icmp_type = 135;
		s->icmp_len = 32;
		break;
	}
}

static void
put_eth(struct frame *f, const struct fspec *s, uint16_t type)
{
	memcpy(f->b, s->dmac, 6);
	memcpy(f->b + 6, peer_mac, 6);
	f->len = 12;
	if (s->vlan >= 0) {
		wr16(f->b + 12, 0x8100);
		wr16(f->b + 14, (uint16_t)s->vlan);
		f->len = 16;
	}
	wr16(f->b + f->len, type);
	f->len += 2;
	f->l3 = (uint16_t)f->len;
}

static void
fix_ip4(struct frame *f)
{
	uint8_t *ip = f->b + f->l3;
	unsigned int ihl = (ip[0] & 0xfu) * 4;

	wr16(ip + 10, 0);
	wr16(ip + 10, (uint16_t)~ref_fold(ref_add(0, ip, ihl)));
}

static void
put_ip4(struct frame *f, const struct fspec *s, uint16_t l4_len)
{
	uint8_t *ip = f->b + f->l3;
	unsigned int ihl = 20u + s->ip4_opt;

	ip[0] = (uint8_t)(0x40 | (ihl / 4));
	ip[1] = 0xb8;				/* DSCP EF */
	wr16(ip + 2, (uint16_t)(ihl + l4_len));
	wr16(ip + 4, 0x1234);			/* id */
	wr16(ip + 6, 0x4000);			/* DF */
	ip[8] = s->hop;
	ip[9] = s->proto;
	memcpy(ip + 12, s->src, 4);
	memcpy(ip + 16, s->dst, 4);
	memset(ip + 20, 0x01, s->ip4_opt);	/* NOP options */
	fix_ip4(f);
	f->l4 = (uint16_t)(f->l3 + ihl);
}

static void
put_ip6(struct frame *f, const struct fspec *s, uint16_t l4_len)
{
	uint8_t *ip = f->b + f->l3;

	ip[0] = 0x6b;				/* version 6, traffic class 0xb8 */
	ip[1] = 0x81;				/* flow label 0x12345 */
	ip[2] = 0x23;
	ip[3] = 0x45;
	wr16(ip + 4, l4_len);
	ip[6] = s->proto;
	ip[7] = s->hop;
	memcpy(ip + 8, s->src, 16);
	memcpy(ip + 24, s->dst, 16);
	f->l4 = (uint16_t)(f->l3 + 40);
}

static const uint8_t *
frame_src(const struct frame *f)
{
	return f->b + f->l3 + (f->family == 4 ? 12 : 8);
}

static const uint8_t *
frame_dst(const struct frame *f)
{
	return f->b + f->l3 + (f->family == 4 ? 16 : 24);
}

/* The UDP checksum the frame should carry (never 0). */
static uint16_t
ref_udp_csum(const struct frame *f)
{
	const uint8_t *u = f->b + f->l4;
	uint16_t c;

	c = ref_l4_csum(f->family, frame_src(f), frame_dst(f), 17, u, rd16(u + 4), 6);
	return c == 0 ? 0xffff : c;
}

static void
fix_udp(struct frame *f)
{
	wr16(f->b + f->l4 + 6, ref_udp_csum(f));
}

static void
fix_icmp6(struct frame *f)
{
	uint8_t *icmp = f->b + f->l4;
	uint16_t len = rd16(f->b + f->l3 + 4);

	if (len < 4)
		return;
	wr16(icmp + 2, ref_l4_csum(6, frame_src(f), frame_dst(f), 58, icmp, len, 2));
}

static void
encode_relay(uint8_t *r, const struct fspec *s)
{
	const struct rtr_hdr *h = &s->hdr;
	unsigned int i;

	wr16(r + 0, h->magic);
	r[2] = h->version;
	r[3] = h->type;
	wr32(r + 4, h->app_index);
	wr64(r + 8, h->channel_hash);
	wr32(r + 16, h->member_id);
	wr16(r + 20, h->flags);
	wr16(r + 22, h->payload_len);
	wr64(r + 24, h->counter);
	for (i = 0; i < s->body; i++)
		r[32 + i] = body_byte(i);
}

static void
add_pad(struct frame *f, uint16_t n)
{
	memset(f->b + f->len, 0xee, n);
	f->len += n;
}

static void
build_udp(struct frame *f, const struct fspec *s)
{
	uint8_t relay[FRAME_MAX];
	uint16_t n;
	uint8_t *u;

	encode_relay(relay, s);
	n = s->udp_pl >= 0 ? (uint16_t)s->udp_pl : (uint16_t)(RTR_HDR_LEN + s->body);
	put_eth(f, s, s->family == 4 ? 0x0800 : 0x86dd);
	if (s->family == 4)
		put_ip4(f, s, (uint16_t)(8 + n));
	else
		put_ip6(f, s, (uint16_t)(8 + n));
	u = f->b + f->l4;
	wr16(u, s->sport);
	wr16(u + 2, s->dport);
	wr16(u + 4, (uint16_t)(8 + n));
	wr16(u + 6, 0);
	f->pl = (uint16_t)(f->l4 + 8);
	memcpy(f->b + f->pl, relay, n);
	f->len = f->pl + n;
	if (!s->zero_csum)
		fix_udp(f);
	add_pad(f, s->pad);
}

static void
build_arp(struct frame *f, const struct fspec *s)
{
	uint8_t *a;

	put_eth(f, s, 0x0806);
	a = f->b + f->l3;
	wr16(a, 1);			/* Ethernet */
	wr16(a + 2, 0x0800);		/* IPv4 */
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, s->arp_op);
	memcpy(a + 8, peer_mac, 6);
	memcpy(a + 14, s->src, 4);
	if (s->arp_op == 2)
		memcpy(a + 18, our_mac, 6);
	memcpy(a + 24, s->dst, 4);
	f->len = f->l3 + 28u;
	memset(f->b + f->len, 0, s->pad);
	f->len += s->pad;
}

static void
build_ns(struct frame *f, const struct fspec *s)
{
	uint8_t *icmp;

	put_eth(f, s, 0x86dd);
	put_ip6(f, s, s->icmp_len);
	icmp = f->b + f->l4;
	icmp[0] = s->icmp_type;
	icmp[1] = s->icmp_code;
	memcpy(icmp + 8, s->target, 16);
	icmp[24] = 1;			/* source link-layer address option */
	icmp[25] = 1;
	memcpy(icmp + 26, peer_mac, 6);
	memset(icmp + s->icmp_len, 0, 32u - s->icmp_len);
	f->len = f->l4 + (uint32_t)s->icmp_len;
	fix_icmp6(f);
	add_pad(f, s->pad);
}

static void
build(struct frame *f, const struct fspec *s, unsigned int shape)
{
	memset(f, 0, sizeof(*f));
	f->family = s->family;
	switch (shape) {
	case F_UDP:
		build_udp(f, s);
		break;
	case F_ARP:
		build_arp(f, s);
		break;
	case F_NS:
		build_ns(f, s);
		break;
	}
}

static void
cfg_default(struct rtr_parse_cfg *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->mac, our_mac, 6);
	c->has_ip4 = 1;
	c->has_ip6 = 1;
	memcpy(c->ip4, our_ip4, 4);
	memcpy(c->ip6, our_ip6, 16);
	c->udp_port = SVC_PORT;
}

/* Parse the first len bytes of f from a buffer of exactly that size (so a
 * sanitizer or valgrind sees any over-read), into a poisoned result. */
static unsigned int
parse_n(const struct frame *f, uint32_t len, const struct rtr_parse_cfg *cfg,
	struct rtr_parsed *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	unsigned int k;

	assert_non_null(copy);
	memcpy(copy, f->b, len);
	memset(p, 0xa5, sizeof(*p));
	k = rtr_parse(copy, len, cfg, p);
	assert_memory_equal(copy, f->b, len);
	free(copy);
	return k;
}

static unsigned int
parse(const struct frame *f, const struct rtr_parse_cfg *cfg, struct rtr_parsed *p)
{
	return parse_n(f, f->len, cfg, p);
}

/* Exact kind (and reason); names printed on a mismatch. */
static void
expect(unsigned int got, const struct rtr_parsed *p, unsigned int kind,
       unsigned int reason)
{
	if (got != kind || (kind == RTR_PK_DROP && p->drop != reason))
		print_error("want kind %u (%s), got kind %u (%s)\n", kind,
			    kind == RTR_PK_DROP ? rtr_drop_name(reason) : "-", got,
			    got == RTR_PK_DROP ? rtr_drop_name(p->drop) : "-");
	assert_int_equal(got, kind);
	if (kind == RTR_PK_DROP)
		assert_int_equal(p->drop, reason);
}

/* ------------------------------------------------------------------ */
/* Checks of what an accepted frame decodes to.                       */

/* pl_sum is the payload's partial sum, and with it rtr_udp_csum() gives
 * the frame's own UDP checksum (or, where the frame sent 0, the right one). */
static void
check_csum(const struct frame *f, const struct rtr_parsed *p)
{
	const uint8_t *u = f->b + p->l4_off;
	uint16_t want = ref_udp_csum(f);
	uint16_t got;
	uint8_t gb[2];

	assert_int_equal(rtr_csum_fold(p->pl_sum),
			 ref_fold(ref_add(0, f->b + p->pl_off, p->pl_len)));
	if (rd16(u + 6) != 0)
		assert_int_equal(rd16(u + 6), want);
	got = rtr_udp_csum(p->family, p->src_ip, p->dst_ip, p->sport, p->dport,
			   (uint16_t)(8 + p->pl_len), p->pl_sum);
	memcpy(gb, &got, 2);	/* network order */
	assert_int_equal(rd16(gb), want);
}

static void
check_relay(const struct frame *f, const struct fspec *s, const struct rtr_parsed *p)
{
	unsigned int alen = s->family == 4 ? 4 : 16;
	unsigned int l3 = s->vlan < 0 ? 14 : 18;
	unsigned int l4 = l3 + (s->family == 4 ? 20u + s->ip4_opt : 40u);

	assert_int_equal(p->family, s->family);
	assert_int_equal(p->vlan, s->vlan < 0 ? 0 : (s->vlan & 0x0fff));
	assert_int_equal(p->l3_off, l3);
	assert_int_equal(p->l4_off, l4);
	assert_int_equal(p->pl_off, l4 + 8);
	assert_int_equal(p->pl_len, RTR_HDR_LEN + s->body);
	assert_int_equal(p->sport, s->sport);
	assert_int_equal(p->dport, s->dport);
	assert_memory_equal(p->src_ip, s->src, alen);
	assert_memory_equal(p->dst_ip, s->dst, alen);
	assert_int_equal(p->hdr.magic, s->hdr.magic);
	assert_int_equal(p->hdr.version, s->hdr.version);
	assert_int_equal(p->hdr.type, s->hdr.type);
	assert_int_equal(p->hdr.app_index, s->hdr.app_index);
	assert_true(p->hdr.channel_hash == s->hdr.channel_hash);
	assert_int_equal(p->hdr.member_id, s->hdr.member_id);
	assert_int_equal(p->hdr.flags, s->hdr.flags);
	assert_int_equal(p->hdr.payload_len, s->hdr.payload_len);
	assert_true(p->hdr.counter == s->hdr.counter);
	check_csum(f, p);
}

static void
check_arp(const struct fspec *s, const struct rtr_parsed *p)
{
	assert_int_equal(p->family, 4);
	assert_int_equal(p->vlan, s->vlan < 0 ? 0 : (s->vlan & 0x0fff));
	assert_int_equal(p->l3_off, s->vlan < 0 ? 14 : 18);
	assert_memory_equal(p->src_ip, s->src, 4);
	assert_memory_equal(p->dst_ip, s->dst, 4);
}

static void
check_ns(const struct fspec *s, const struct rtr_parsed *p)
{
	assert_int_equal(p->family, 6);
	assert_int_equal(p->vlan, s->vlan < 0 ? 0 : (s->vlan & 0x0fff));
	assert_int_equal(p->l3_off, s->vlan < 0 ? 14 : 18);
	assert_int_equal(p->l4_off, p->l3_off + 40);
	assert_memory_equal(p->src_ip, s->src, 16);
	assert_memory_equal(p->dst_ip, s->dst, 16);
}

/* The default header, as literals rather than from the spec. */
static void
assert_default_hdr(const struct rtr_hdr *h, uint16_t payload_len)
{
	assert_int_equal(h->magic, 0x5254);
	assert_int_equal(h->version, 1);
	assert_int_equal(h->type, RTR_T_MEDIA);
	assert_int_equal(h->app_index, 0x0a0b0c0d);
	assert_true(h->channel_hash == 0x1112131415161718ull);
	assert_int_equal(h->member_id, 0xa9412345);
	assert_int_equal(rtr_mid_slot(h->member_id), 0x12345);
	assert_int_equal(rtr_mid_gen(h->member_id), 0x2a5);
	assert_int_equal(h->flags, 0x4503);
	assert_int_equal((h->flags & RTR_F_KIND_MASK) >> RTR_F_KIND_SHIFT, RTR_KIND_VIDEO);
	assert_int_equal(h->payload_len, payload_len);
	assert_true(h->counter == 0x2122232425262728ull);
}

/* ------------------------------------------------------------------ */
/* Valid frames, asserted field by field.                             */

static void
test_media_ip4(void **state)
{
	struct rtr_parse_cfg cfg;
	struct rtr_parsed p;
	struct fspec s;
	struct frame f;

	(void)state;
	cfg_default(&cfg);
	make_spec(&s, F_UDP, 4);
	build(&f, &s, F_UDP);
	assert_int_equal(f.len, 14 + 20 + 8 + 32 + BODY_DEFAULT);
	expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
	assert_int_equal(p.family, 4);
	assert_int_equal(p.vlan, 0);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.l4_off, 34);
	assert_int_equal(p.pl_off, 42);
	assert_int_equal(p.pl_len, 32 + BODY_DEFAULT);
	assert_int_equal(p.sport, PEER_PORT);
	assert_int_equal(p.dport, SVC_PORT);
	assert_memory_equal(p.src_ip, peer_ip4, 4);
	assert_memory_equal(p.dst_ip, our_ip4, 4);
	assert_default_hdr(&p.hdr, BODY_DEFAULT);
	check_csum(&f, &p);
}

static void
test_media_ip6(void **state)
{
	struct rtr_parse_cfg cfg;
	struct rtr_parsed p;
	struct fspec s;
	struct frame f;

	(void)state;
	cfg_default(&cfg);
	make_spec(&s, F_UDP, 6);
	set_body(&s, 45);	/* odd: the partial sum pads the last byte */
	build(&f, &s, F_UDP);
	assert_int_equal(f.len, 14 + 40 + 8 + 32 + 45);
	expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.vlan, 0);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.l4_off, 54);
	assert_int_equal(p.pl_off, 62);
	assert_int_equal(p.pl_len, 77);
	assert_int_equal(p.sport, PEER_PORT);
	assert_int_equal(p.dport, SVC_PORT);
	assert_memory_equal(p.src_ip, peer_ip6, 16);
	assert_memory_equal(p.dst_ip, our_ip6, 16);
	assert_default_hdr(&p.hdr, 45);
	check_csum(&f, &p);
}

static void
test_media_vlan(void **state)
{
	struct rtr_parse_cfg cfg;
	struct rtr_parsed p;
	struct fspec s;
	struct frame f;

	(void)state;
	cfg_default(&cfg);

	/* PCP 5, DEI 1, VID 100: only the VID is reported */
	make_spec(&s, F_UDP, 4);
	s.vlan = 0xb064;
	set_body(&s, 200);
	build(&f, &s, F_UDP);
	expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
	assert_int_equal(p.family, 4);
	assert_int_equal(p.vlan, 100);
	assert_int_equal(p.l3_off, 18);
	assert_int_equal(p.l4_off, 38);
	assert_int_equal(p.pl_off, 46);
	assert_int_equal(p.pl_len, 232);
	assert_int_equal(p.sport, PEER_PORT);
	assert_int_equal(p.dport, SVC_PORT);
	assert_memory_equal(p.src_ip, peer_ip4, 4);
	assert_memory_equal(p.dst_ip, our_ip4, 4);
	assert_default_hdr(&p.hdr, 200);
	check_csum(&f, &p);

	/* VID 4094 over IPv6 */
	make_spec(&s, F_UDP, 6);
	s.vlan = 0x0ffe;
	build(&f, &s, F_UDP);
	expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.vlan, 4094);
	assert_int_equal(p.l3_off, 18);
	assert_int_equal(p.l4_off, 58);
	assert_int_equal(p.pl_off, 66);
	assert_int_equal(p.pl_len, 32 + BODY_DEFAULT);
	assert_memory_equal(p.src_ip, peer_ip6, 16);
	assert_memory_equal(p.dst_ip, our_ip6, 16);
	assert_default_hdr(&p.hdr, BODY_DEFAULT);
	check_csum(&f, &p);
}

static void
join_spec(struct fspec *s)
{
	s->hdr.type = RTR_T_JOIN;
	s->hdr.app_index = 0;
	s->hdr.channel_hash = 0;
	s->hdr.member_id = 0;
	s->hdr.flags = 0;
	s->hdr.counter = JOIN_CLOCK_MS;
	set_body(s, RTR_JOIN_MIN_PAYLOAD - RTR_HDR_LEN);
}

static void
test_join_valid(void **state)
{
	struct rtr_parse_cfg cfg;
	struct rtr_parsed p;
	struct fspec s;
	struct frame f;

	(void)state;
	cfg_default(&cfg);

	/* exactly 256 bytes of UDP payload */
	make_spec(&s, F_UDP, 4);
	join_spec(&s);
	build(&f, &s, F_UDP);
	expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
	assert_int_equal(p.pl_len, 256);
	assert_int_equal(p.pl_off, 42);
	assert_int_equal(p.hdr.type, RTR_T_JOIN);
	assert_int_equal(p.hdr.app_index, 0);
	assert_true(p.hdr.channel_hash == 0);
	assert_int_equal(p.hdr.member_id, 0);
	assert_int_equal(p.hdr.payload_len, 224);
	assert_true(p.hdr.counter == JOIN_CLOCK_MS);
	check_relay(&f, &s, &p);

	/* a large JOIN over IPv6 */
	make_spec(&s, F_UDP, 6);
	join_spec(&s);
	set_body(&s, 1168);
	build(&f, &s, F_UDP);
	expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
	assert_int_equal(p.pl_len, 1200);
	assert_int_equal(p.hdr.type, RTR_T_JOIN);
	check_relay(&f, &s, &p);

	/* a rekey JOIN carries the current member id */
	make_spec(&s, F_UDP, 4);
	join_spec(&s);
	s.hdr.member_id = H_MID;
	build(&f, &s, F_UDP);
	expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
	assert_int_equal(p.hdr.member_id, H_MID);
	check_relay(&f, &s, &p);
}

/* Every type value: 1, 2, 4, 5 pass, 3, 6, 7 only come from a server. */
static void
test_every_type(void **state)
{
	struct rtr_parse_cfg cfg;
	struct rtr_parsed p;
	struct fspec s;
	struct frame f;
	unsigned int t;

	(void)state;
	cfg_default(&cfg);
	for (t = 0; t < 256; t++) {
		make_spec(&s, F_UDP, 4);
		join_spec(&s);
		set_body(&s, 300);
		s.hdr.type = (uint8_t)t;
		build(&f, &s, F_UDP);
		switch (t) {
		case RTR_T_MEDIA:
		case RTR_T_JOIN:
		case RTR_T_LEAVE:
		case RTR_T_KEEPALIVE:
			expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
			check_relay(&f, &s, &p);
			break;
		case RTR_T_JOIN_ACK:
		case RTR_T_ERROR:
		case RTR_T_COOKIE:
			expect(parse(&f, &cfg, &p), &p, RTR_PK_DROP,
			       RTR_DROP_RELAY_FROM_SERVER);
			break;
		default:
			expect(parse(&f, &cfg, &p), &p, RTR_PK_DROP, RTR_DROP_RELAY_TYPE);
			break;
		}
	}
}

/* Media kinds 0-2 pass with any other flag bits; kind 3 never does. */
static void
test_media_kinds(void **state)
{
	static const uint16_t others[] = {
		0x0000, RTR_F_ENC, RTR_F_ENC | RTR_F_KEY_PHASE | RTR_F_REKEY_REQUESTED,
		0xfc00, 0xfcff,
	};
	struct rtr_parse_cfg cfg;
	struct rtr_parsed p;
	struct fspec s;
	struct frame f;
	unsigned int kind, i;

	(void)state;
	cfg_default(&cfg);
	for (kind = 0; kind < 4; kind++) {
		for (i = 0; i < ARRAY_SIZE(others); i++) {
			make_spec(&s, F_UDP, i & 1 ? 6 : 4);
			s.hdr.flags = (uint16_t)(others[i] | (kind << RTR_F_KIND_SHIFT));
			build(&f, &s, F_UDP);
			if (kind == RTR_KIND_INVALID) {
				expect(parse(&f, &cfg, &p), &p, RTR_PK_DROP,
				       RTR_DROP_RELAY_KIND);
			} else {
				expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
				check_relay(&f, &s, &p);
			}
		}
	}
}

/* Every source and destination port, against the configured service port. */
static void
test_all_ports(void **state)
{
	static const uint16_t svc[] = { SVC_PORT, 9000 };
	struct rtr_parse_cfg cfg;
	struct rtr_parsed p;
	struct fspec s;
	struct frame f;
	unsigned int i, port;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(svc); i++) {
		cfg_default(&cfg);
		cfg.udp_port = svc[i];
		for (port = 0; port < 65536; port++) {
			make_spec(&s, F_UDP, 4);
			set_body(&s, 8);
			s.dport = svc[i];
			s.sport = (uint16_t)port;
			build(&f, &s, F_UDP);
			if (port < 1024 || port == svc[i]) {
				expect(parse(&f, &cfg, &p), &p, RTR_PK_DROP,
				       RTR_DROP_UDP_SRC_RESERVED);
			} else {
				expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
				assert_int_equal(p.sport, port);
			}

			s.sport = PEER_PORT;
			s.dport = (uint16_t)port;
			build(&f, &s, F_UDP);
			if (port == svc[i]) {
				expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
				assert_int_equal(p.dport, port);
			} else {
				expect(parse(&f, &cfg, &p), &p, RTR_PK_DROP,
				       RTR_DROP_UDP_PORT);
			}
		}
	}
}

/* A datagram whose checksum computes to 0 carries 0xffff (RFC 768); it
 * must be accepted, and rtr_udp_csum() must give 0xffff, never 0. */
static void
test_udp_csum_ffff(void **state)
{
	struct rtr_parse_cfg cfg;
	struct rtr_parsed p;
	struct fspec s;
	struct frame f;
	uint8_t fam;
	uint16_t d;

	(void)state;
	cfg_default(&cfg);
	for (fam = 4; fam <= 6; fam += 2) {
		make_spec(&s, F_UDP, fam);
		build(&f, &s, F_UDP);
		/* choose the first body word so that the data sums to 0xffff */
		wr16(f.b + f.pl + 32, 0);
		d = (uint16_t)~ref_udp_csum(&f);
		if (ref_udp_csum(&f) == 0xffff)
			d = 0xffff;
		wr16(f.b + f.pl + 32, (uint16_t)(0xffff - d));
		fix_udp(&f);
		assert_int_equal(rd16(f.b + f.l4 + 6), 0xffff);
		expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
		check_csum(&f, &p);

		/* the same data with 0 in the field: "no checksum", which
		 * IPv4 allows and IPv6 does not, even though it sums right */
		wr16(f.b + f.l4 + 6, 0);
		if (fam == 4) {
			expect(parse(&f, &cfg, &p), &p, RTR_PK_RELAY, 0);
			check_csum(&f, &p);
		} else {
			expect(parse(&f, &cfg, &p), &p, RTR_PK_DROP, RTR_DROP_UDP_CKSUM);
		}
	}
}

/* Every strict prefix of a valid frame is dropped, for a known reason. */
static void
check_prefixes(const struct frame *f, unsigned int runt_below, unsigned int reason,
	       uint32_t accept_from, unsigned int kind)
{
	struct rtr_parse_cfg cfg;
	struct rtr_parsed p;
	uint32_t n;

	cfg_default(&cfg);
	for (n = 0; n < f->len; n++) {
		if (n < runt_below)
			expect(parse_n(f, n, &cfg, &p), &p, RTR_PK_DROP, RTR_DROP_ETH_RUNT);
		else if (n < accept_from)
			expect(parse_n(f, n, &cfg, &p), &p, RTR_PK_DROP, reason);
		else
			expect(parse_n(f, n, &cfg, &p), &p, kind, 0);
	}
	expect(parse(f, &cfg, &p), &p, kind, 0);
}

static void
test_truncated_prefixes(void **state)
{
	struct fspec s;
	struct frame f;

	(void)state;
	make_spec(&s, F_UDP, 4);
	build(&f, &s, F_UDP);
	check_prefixes(&f, 14, RTR_DROP_IP4_MALFORMED, f.len, RTR_PK_RELAY);

	make_spec(&s, F_UDP, 4);
	s.vlan = 7;
	build(&f, &s, F_UDP);
	check_prefixes(&f, 18, RTR_DROP_IP4_MALFORMED, f.len, RTR_PK_RELAY);

	make_spec(&s, F_UDP, 6);
	build(&f, &s, F_UDP);
	check_prefixes(&f, 14, RTR_DROP_IP6_MALFORMED, f.len, RTR_PK_RELAY);

	make_spec(&s, F_UDP, 6);
	s.vlan = 7;
	join_spec(&s);
	build(&f, &s, F_UDP);
	check_prefixes(&f, 18, RTR_DROP_IP6_MALFORMED, f.len, RTR_PK_RELAY);

	/* the Ethernet trailer of an ARP request is not needed */
	make_spec(&s, F_ARP, 4);
	build(&f, &s, F_ARP);
	check_prefixes(&f, 14, RTR_DROP_ARP_MALFORMED, 14 + 28, RTR_PK_ARP_REQ);

	make_spec(&s, F_NS, 6);
	build(&f, &s, F_NS);
	check_prefixes(&f, 14, RTR_DROP_IP6_MALFORMED, f.len, RTR_PK_ND_NS);
}

static void
test_drop_names(void **state)
{
	const char *names[RTR_DROP_MAX];
	unsigned int i, j;

	(void)state;
	assert_true(RTR_DROP_MAX > RTR_DROP_JOIN_FIELDS);
	assert_true(RTR_DROP_MAX <= RTR_DROP_SLOTS);
	for (i = 0; i < RTR_DROP_MAX; i++) {
		names[i] = rtr_drop_name(i);
		assert_non_null(names[i]);
		assert_true(names[i][0] != '\0');
		assert_true(strlen(names[i]) < RTR_DROP_NAME_LEN);
		assert_string_not_equal(names[i], "unknown");
		for (j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	/* spot checks against the X-macro list */
	assert_string_equal(rtr_drop_name(RTR_DROP_ETH_RUNT), "eth_runt");
	assert_string_equal(rtr_drop_name(RTR_DROP_UDP_CKSUM), "udp_bad_checksum");
	assert_string_equal(rtr_drop_name(RTR_DROP_JOIN_FIELDS), "join_bad_header");
	assert_string_equal(rtr_drop_name(RTR_DROP_MAX - 1), "enc_mode_mismatch");
	assert_string_equal(rtr_drop_name(RTR_DROP_MAX), "unknown");
	assert_string_equal(rtr_drop_name(RTR_DROP_MAX + 1), "unknown");
	assert_string_equal(rtr_drop_name(RTR_DROP_SLOTS), "unknown");
	assert_string_equal(rtr_drop_name(255), "unknown");
	assert_string_equal(rtr_drop_name(0xffffffffu), "unknown");
}

/* ------------------------------------------------------------------ */
/* Table-driven cases: build, tweak, parse, expect.                   */

enum { AT_NONE, AT_L2, AT_L3, AT_L4, AT_PL };

#define FIX_IP4		(1u << 0)
#define FIX_UDP		(1u << 1)
#define FIX_ICMP6	(1u << 2)

struct pcase {
	const char *name;
	unsigned int shape;
	uint8_t family;
	void (*spec)(struct fspec *s);
	struct {
		uint8_t at;
		uint8_t width;
		uint16_t off;
		uint16_t val;
	} poke;
	void (*frame)(struct frame *f);
	unsigned int fix;	/* checksums to recompute after the tweaks */
	void (*cfg)(struct rtr_parse_cfg *c);
	uint8_t expect_set;
	unsigned int kind;
	unsigned int drop;
};

#define ACCEPT(k)	.expect_set = 1, .kind = (k)
#define DROPS(r)	.expect_set = 1, .kind = RTR_PK_DROP, .drop = RTR_DROP_##r
#define POKE8(a, o, v)	.poke = { (a), 1, (o), (v) }
#define POKE16(a, o, v)	.poke = { (a), 2, (o), (v) }
#define UDP4		.shape = F_UDP, .family = 4
#define UDP6		.shape = F_UDP, .family = 6
#define ARP		.shape = F_ARP, .family = 4
#define NS		.shape = F_NS, .family = 6

/* spec tweaks */
static void
sp_vlan(struct fspec *s)
{
	s->vlan = 0xb064;
}

static void
sp_ip4_opts(struct fspec *s)
{
	s->ip4_opt = 8;
}

static void
sp_pad(struct fspec *s)
{
	s->pad = 17;
}

static void
sp_zero_csum(struct fspec *s)
{
	s->zero_csum = 1;
}

static void
sp_body_odd(struct fspec *s)
{
	set_body(s, 33);
}

static void
sp_body_empty(struct fspec *s)
{
	set_body(s, 0);
}

static void
sp_kind_audio(struct fspec *s)
{
	s->hdr.flags = 0x0000;
}

static void
sp_kind_data(struct fspec *s)
{
	s->hdr.flags = 0x0200 | RTR_F_ENC;
}

static void
sp_kind_invalid(struct fspec *s)
{
	s->hdr.flags = 0x0300;
}

static void
sp_kind_invalid_all(struct fspec *s)
{
	s->hdr.flags = 0xffff;
}

static void
sp_keepalive(struct fspec *s)
{
	s->hdr.type = RTR_T_KEEPALIVE;
	s->hdr.flags = 0;
	set_body(s, RTR_PATH_TOKEN_LEN);
}

static void
sp_leave(struct fspec *s)
{
	s->hdr.type = RTR_T_LEAVE;
	s->hdr.flags = 0;
	set_body(s, 0);
}

static void
sp_join(struct fspec *s)
{
	join_spec(s);
}

static void
sp_join_short(struct fspec *s)
{
	join_spec(s);
	set_body(s, RTR_JOIN_MIN_PAYLOAD - RTR_HDR_LEN - 1);
}

static void
sp_join_empty(struct fspec *s)
{
	join_spec(s);
	set_body(s, 0);
}

static void
sp_join_short_app(struct fspec *s)
{
	sp_join_short(s);
	s->hdr.app_index = H_APP;
}

static void
sp_join_app(struct fspec *s)
{
	join_spec(s);
	s->hdr.app_index = H_APP;
}

static void
sp_join_app_1(struct fspec *s)
{
	join_spec(s);
	s->hdr.app_index = 1;
}

static void
sp_join_chan(struct fspec *s)
{
	join_spec(s);
	s->hdr.channel_hash = H_CHAN;
}

static void
sp_join_chan_low(struct fspec *s)
{
	join_spec(s);
	s->hdr.channel_hash = 1;
}

static void
sp_join_chan_high(struct fspec *s)
{
	join_spec(s);
	s->hdr.channel_hash = 1ull << 63;
}

static void
sp_join_ack(struct fspec *s)
{
	s->hdr.type = RTR_T_JOIN_ACK;
	set_body(s, 33);
}

static void
sp_error(struct fspec *s)
{
	s->hdr.type = RTR_T_ERROR;
	set_body(s, 2);
}

static void
sp_cookie(struct fspec *s)
{
	s->hdr.type = RTR_T_COOKIE;
	set_body(s, 16);
}

static void
sp_dst_other(struct fspec *s)
{
	if (s->family == 4)
		memcpy(s->dst, other_ip4, 4);
	else
		memcpy(s->dst, other_ip6, 16);
}

static void
sp_dst_bcast4(struct fspec *s)
{
	memcpy(s->dst, bcast_ip4, 4);
}

static void
sp_dst_sn6(struct fspec *s)
{
	memcpy(s->dst, sn_ip6, 16);
}

static void
sp_dmac_other(struct fspec *s)
{
	memcpy(s->dmac, other_mac, 6);
}

static void
sp_dmac_bcast(struct fspec *s)
{
	memcpy(s->dmac, bcast_mac, 6);
}

static void
sp_dmac_mcast6(struct fspec *s)
{
	memcpy(s->dmac, mcast6_mac, 6);
}

static void
sp_dmac_ours(struct fspec *s)
{
	memcpy(s->dmac, our_mac, 6);
}

static void
sp_dmac_near1(struct fspec *s)
{
	memcpy(s->dmac, near_mc1_mac, 6);
}

static void
sp_dmac_near2(struct fspec *s)
{
	memcpy(s->dmac, near_mc2_mac, 6);
}

static void
sp_proto_tcp(struct fspec *s)
{
	s->proto = 6;
}

static void
sp_proto_icmp4(struct fspec *s)
{
	s->proto = 1;
}

static void
sp_proto_none6(struct fspec *s)
{
	s->proto = 59;
}

static void
sp_dport_7701(struct fspec *s)
{
	s->dport = 7701;
}

static void
sp_sport_0(struct fspec *s)
{
	s->sport = 0;
}

static void
sp_sport_53(struct fspec *s)
{
	s->sport = 53;
}

static void
sp_sport_1023(struct fspec *s)
{
	s->sport = 1023;
}

static void
sp_sport_1024(struct fspec *s)
{
	s->sport = 1024;
}

static void
sp_sport_65535(struct fspec *s)
{
	s->sport = 65535;
}

static void
sp_sport_svc(struct fspec *s)
{
	s->sport = SVC_PORT;
}

static void
sp_port9000(struct fspec *s)
{
	s->dport = 9000;
	s->sport = SVC_PORT;	/* another relay's default port is fine here */
}

static void
sp_port9000_self(struct fspec *s)
{
	s->dport = 9000;
	s->sport = 9000;
}

static void
sp_relay_31(struct fspec *s)
{
	s->udp_pl = 31;
}

static void
sp_relay_1(struct fspec *s)
{
	s->udp_pl = 1;
}

static void
sp_relay_0(struct fspec *s)
{
	s->udp_pl = 0;
}

static void
sp_magic_next(struct fspec *s)
{
	s->hdr.magic = 0x5255;
}

static void
sp_magic_swapped(struct fspec *s)
{
	s->hdr.magic = 0x5452;
}

static void
sp_magic_zero(struct fspec *s)
{
	s->hdr.magic = 0;
}

static void
sp_version_0(struct fspec *s)
{
	s->hdr.version = 0;
}

static void
sp_version_2(struct fspec *s)
{
	s->hdr.version = 2;
}

static void
sp_version_ff(struct fspec *s)
{
	s->hdr.version = 0xff;
}

static void
sp_type_0(struct fspec *s)
{
	s->hdr.type = 0;
}

static void
sp_type_8(struct fspec *s)
{
	s->hdr.type = 8;
}

static void
sp_type_ff(struct fspec *s)
{
	s->hdr.type = 0xff;
}

static void
sp_plen_plus1(struct fspec *s)
{
	s->hdr.payload_len = s->body + 1;
}

static void
sp_plen_minus1(struct fspec *s)
{
	s->hdr.payload_len = s->body - 1;
}

static void
sp_plen_zero(struct fspec *s)
{
	s->hdr.payload_len = 0;
}

static void
sp_plen_ffff(struct fspec *s)
{
	s->hdr.payload_len = 0xffff;
}

static void
sp_plen_total(struct fspec *s)
{
	/* counts the header too: UDP length - 8, not - 8 - 32 */
	s->hdr.payload_len = RTR_HDR_LEN + s->body;
}

static void
sp_arp_nopad(struct fspec *s)
{
	s->pad = 0;
}

static void
sp_arp_probe(struct fspec *s)
{
	memset(s->src, 0, 4);
}

static void
sp_arp_other(struct fspec *s)
{
	memcpy(s->dst, other_ip4, 4);
}

static void
sp_arp_op3(struct fspec *s)
{
	s->arp_op = 3;
}

static void
sp_arp_reply(struct fspec *s)
{
	s->arp_op = 2;
	memcpy(s->dmac, our_mac, 6);
}

static void
sp_ns_unicast(struct fspec *s)
{
	memcpy(s->dmac, our_mac, 6);
	memcpy(s->dst, our_ip6, 16);
}

static void
sp_ns_dad(struct fspec *s)
{
	memset(s->src, 0, 16);
}

static void
sp_ns_pad(struct fspec *s)
{
	s->pad = 8;
}

static void
sp_ns_other(struct fspec *s)
{
	memcpy(s->target, other_ip6, 16);
}

static void
sp_ns_hop254(struct fspec *s)
{
	s->hop = 254;
}

static void
sp_ns_hop64(struct fspec *s)
{
	s->hop = 64;
}

static void
sp_ns_code1(struct fspec *s)
{
	s->icmp_code = 1;
}

static void
sp_ns_len24(struct fspec *s)
{
	s->icmp_len = 24;
}

static void
sp_ns_len23(struct fspec *s)
{
	s->icmp_len = 23;
}

static void
sp_ns_len4(struct fspec *s)
{
	s->icmp_len = 4;
}

static void
sp_ns_len3(struct fspec *s)
{
	s->icmp_len = 3;
}

static void
sp_ns_len0(struct fspec *s)
{
	s->icmp_len = 0;
}

static void
sp_icmp_echo(struct fspec *s)
{
	s->icmp_type = 128;
}

static void
sp_icmp_rs(struct fspec *s)
{
	s->icmp_type = 133;
}

static void
sp_icmp_na(struct fspec *s)
{
	s->icmp_type = 136;
}

static void
sp_icmp_echo_len4(struct fspec *s)
{
	s->icmp_type = 128;
	s->icmp_len = 4;
}

/* frame tweaks */
static void
fr_len0(struct frame *f)
{
	f->len = 0;
}

static void
fr_len1(struct frame *f)
{
	f->len = 1;
}

static void
fr_len13(struct frame *f)
{
	f->len = 13;
}

static void
fr_len17(struct frame *f)
{
	f->len = 17;
}

static void
fr_ip4_len19(struct frame *f)
{
	f->len = f->l3 + 19u;
}

static void
fr_ip6_len39(struct frame *f)
{
	f->len = f->l3 + 39u;
}

static void
fr_arp_len27(struct frame *f)
{
	f->len = f->l3 + 27u;
}

static void
fr_ip4_tot_plus1(struct frame *f)
{
	uint8_t *ip = f->b + f->l3;

	wr16(ip + 2, (uint16_t)(rd16(ip + 2) + 1));
}

static void
fr_ip4_tot_19(struct frame *f)
{
	wr16(f->b + f->l3 + 2, 19);
}

static void
fr_ip4_ihl15_tot40(struct frame *f)
{
	f->b[f->l3] = 0x4f;
	wr16(f->b + f->l3 + 2, 40);
}

static void
fr_ip4_tot_l4_7(struct frame *f)
{
	wr16(f->b + f->l3 + 2, 20 + 7);
}

static void
fr_ip4_bad_csum(struct frame *f)
{
	f->b[f->l3 + 11] ^= 0x01;
}

static void
fr_ip4_src_changed(struct frame *f)
{
	f->b[f->l3 + 15] ^= 0x01;
}

static void
fr_ip6_src_changed(struct frame *f)
{
	f->b[f->l3 + 23] ^= 0x01;
}

static void
fr_ip6_plen_plus1(struct frame *f)
{
	uint8_t *ip = f->b + f->l3;

	wr16(ip + 4, (uint16_t)(rd16(ip + 4) + 1));
}

static void
fr_ip6_plen_minus1(struct frame *f)
{
	uint8_t *ip = f->b + f->l3;

	wr16(ip + 4, (uint16_t)(rd16(ip + 4) - 1));
}

static void
fr_ip6_plen_7(struct frame *f)
{
	wr16(f->b + f->l3 + 4, 7);
}

static void
fr_udp_len_plus1(struct frame *f)
{
	uint8_t *u = f->b + f->l4;

	wr16(u + 4, (uint16_t)(rd16(u + 4) + 1));
}

static void
fr_udp_len_minus1(struct frame *f)
{
	uint8_t *u = f->b + f->l4;

	wr16(u + 4, (uint16_t)(rd16(u + 4) - 1));
}

static void
fr_udp_bad_csum(struct frame *f)
{
	uint8_t *u = f->b + f->l4;
	uint16_t c = rd16(u + 6) ^ 0x0100;

	wr16(u + 6, c ? c : 0x0200 ^ rd16(u + 6));
}

static void
fr_payload_flip(struct frame *f)
{
	f->b[f->pl + 40] ^= 0x80;
}

static void
fr_icmp6_bad_csum(struct frame *f)
{
	f->b[f->l4 + 3] ^= 0x01;
}

/* cfg tweaks */
static void
cfg_no_ip4(struct rtr_parse_cfg *c)
{
	c->has_ip4 = 0;
}

static void
cfg_no_ip6(struct rtr_parse_cfg *c)
{
	c->has_ip6 = 0;
}

static void
cfg_port9000(struct rtr_parse_cfg *c)
{
	c->udp_port = 9000;
}

static struct pcase cases[] = {
	/* valid relay frames */
	{ "media/ip4", UDP4, ACCEPT(RTR_PK_RELAY) },
	{ "media/ip6", UDP6, ACCEPT(RTR_PK_RELAY) },
	{ "media/ip4_vlan", UDP4, .spec = sp_vlan, ACCEPT(RTR_PK_RELAY) },
	{ "media/ip6_vlan", UDP6, .spec = sp_vlan, ACCEPT(RTR_PK_RELAY) },
	{ "media/ip4_options", UDP4, .spec = sp_ip4_opts, ACCEPT(RTR_PK_RELAY) },
	{ "media/ip4_no_df", UDP4, POKE16(AT_L3, 6, 0x0000), .fix = FIX_IP4,
	  ACCEPT(RTR_PK_RELAY) },
	{ "media/ip4_eth_trailer", UDP4, .spec = sp_pad, ACCEPT(RTR_PK_RELAY) },
	{ "media/ip6_eth_trailer", UDP6, .spec = sp_pad, ACCEPT(RTR_PK_RELAY) },
	{ "media/ip4_zero_udp_csum", UDP4, .spec = sp_zero_csum, ACCEPT(RTR_PK_RELAY) },
	{ "media/ip4_odd_body", UDP4, .spec = sp_body_odd, ACCEPT(RTR_PK_RELAY) },
	{ "media/ip6_odd_body", UDP6, .spec = sp_body_odd, ACCEPT(RTR_PK_RELAY) },
	{ "media/empty_body", UDP4, .spec = sp_body_empty, ACCEPT(RTR_PK_RELAY) },
	{ "media/kind_audio", UDP4, .spec = sp_kind_audio, ACCEPT(RTR_PK_RELAY) },
	{ "media/kind_data", UDP6, .spec = sp_kind_data, ACCEPT(RTR_PK_RELAY) },
	{ "media/sport_1024", UDP4, .spec = sp_sport_1024, ACCEPT(RTR_PK_RELAY) },
	{ "media/sport_65535", UDP6, .spec = sp_sport_65535, ACCEPT(RTR_PK_RELAY) },
	{ "media/cfg_port_9000", UDP4, .spec = sp_port9000, .cfg = cfg_port9000,
	  ACCEPT(RTR_PK_RELAY) },
	{ "keepalive/ip4", UDP4, .spec = sp_keepalive, ACCEPT(RTR_PK_RELAY) },
	{ "keepalive/ip6", UDP6, .spec = sp_keepalive, ACCEPT(RTR_PK_RELAY) },
	{ "leave/ip4", UDP4, .spec = sp_leave, ACCEPT(RTR_PK_RELAY) },
	{ "leave/ip6", UDP6, .spec = sp_leave, ACCEPT(RTR_PK_RELAY) },
	{ "join/ip4_256", UDP4, .spec = sp_join, ACCEPT(RTR_PK_RELAY) },
	{ "join/ip6_256", UDP6, .spec = sp_join, ACCEPT(RTR_PK_RELAY) },

	/* Ethernet */
	{ "eth/runt_0", UDP4, .frame = fr_len0, DROPS(ETH_RUNT) },
	{ "eth/runt_1", UDP4, .frame = fr_len1, DROPS(ETH_RUNT) },
	{ "eth/runt_13", UDP4, .frame = fr_len13, DROPS(ETH_RUNT) },
	{ "eth/vlan_runt_17", UDP4, .spec = sp_vlan, .frame = fr_len17, DROPS(ETH_RUNT) },
	{ "eth/ip4_other_mac", UDP4, .spec = sp_dmac_other, DROPS(ETH_NOT_OUR_MAC) },
	{ "eth/ip4_broadcast_mac", UDP4, .spec = sp_dmac_bcast, DROPS(ETH_NOT_OUR_MAC) },
	{ "eth/ip6_other_mac", UDP6, .spec = sp_dmac_other, DROPS(ETH_NOT_OUR_MAC) },
	{ "eth/ip6_udp_multicast_mac", UDP6, .spec = sp_dmac_mcast6,
	  DROPS(ETH_NOT_OUR_MAC) },
	{ "eth/type_lldp", UDP4, POKE16(AT_L2, 12, 0x88cc), DROPS(ETH_TYPE) },
	{ "eth/type_8023_length", UDP4, POKE16(AT_L2, 12, 0x0040), DROPS(ETH_TYPE) },
	{ "eth/type_qinq_88a8", UDP4, POKE16(AT_L2, 12, 0x88a8), DROPS(ETH_TYPE) },
	{ "eth/type_zero", UDP6, POKE16(AT_L2, 12, 0x0000), DROPS(ETH_TYPE) },
	{ "eth/vlan_double_tag", UDP4, .spec = sp_vlan, POKE16(AT_L2, 16, 0x8100),
	  DROPS(ETH_TYPE) },
	{ "eth/vlan_inner_lldp", UDP4, .spec = sp_vlan, POKE16(AT_L2, 16, 0x88cc),
	  DROPS(ETH_TYPE) },

	/* IPv4 */
	{ "ip4/version_5", UDP4, POKE8(AT_L3, 0, 0x45 + 0x10), .fix = FIX_IP4,
	  DROPS(IP4_MALFORMED) },
	{ "ip4/version_6", UDP4, POKE8(AT_L3, 0, 0x65), .fix = FIX_IP4,
	  DROPS(IP4_MALFORMED) },
	{ "ip4/ihl_4", UDP4, POKE8(AT_L3, 0, 0x44), .fix = FIX_IP4, DROPS(IP4_MALFORMED) },
	{ "ip4/ihl_0", UDP4, POKE8(AT_L3, 0, 0x40), .fix = FIX_IP4, DROPS(IP4_MALFORMED) },
	{ "ip4/ihl_over_total", UDP4, .frame = fr_ip4_ihl15_tot40, .fix = FIX_IP4,
	  DROPS(IP4_MALFORMED) },
	{ "ip4/total_below_20", UDP4, .frame = fr_ip4_tot_19, .fix = FIX_IP4,
	  DROPS(IP4_MALFORMED) },
	{ "ip4/total_beyond_frame", UDP4, .frame = fr_ip4_tot_plus1, .fix = FIX_IP4,
	  DROPS(IP4_MALFORMED) },
	{ "ip4/header_truncated", UDP4, .frame = fr_ip4_len19, DROPS(IP4_MALFORMED) },
	{ "ip4/bad_checksum", UDP4, .frame = fr_ip4_bad_csum, DROPS(IP4_CKSUM) },
	{ "ip4/options_bad_checksum", UDP4, .spec = sp_ip4_opts,
	  .frame = fr_ip4_bad_csum, DROPS(IP4_CKSUM) },
	{ "ip4/fragment_mf", UDP4, POKE16(AT_L3, 6, 0x2000), .fix = FIX_IP4,
	  DROPS(IP4_FRAGMENT) },
	{ "ip4/fragment_df_mf", UDP4, POKE16(AT_L3, 6, 0x6000), .fix = FIX_IP4,
	  DROPS(IP4_FRAGMENT) },
	{ "ip4/fragment_offset_1", UDP4, POKE16(AT_L3, 6, 0x0001), .fix = FIX_IP4,
	  DROPS(IP4_FRAGMENT) },
	{ "ip4/fragment_offset_max", UDP4, POKE16(AT_L3, 6, 0x1fff), .fix = FIX_IP4,
	  DROPS(IP4_FRAGMENT) },
	{ "ip4/fragment_df_offset", UDP4, POKE16(AT_L3, 6, 0x4001), .fix = FIX_IP4,
	  DROPS(IP4_FRAGMENT) },
	{ "ip4/dst_not_ours", UDP4, .spec = sp_dst_other, DROPS(IP_NOT_OURS) },
	{ "ip4/dst_broadcast", UDP4, .spec = sp_dst_bcast4, DROPS(IP_NOT_OURS) },
	/* a port without an IPv4 service address serves no IPv4 at all */
	{ "ip4/no_ip4_configured", UDP4, .cfg = cfg_no_ip4, DROPS(IP_NOT_OURS) },
	{ "ip4/proto_tcp", UDP4, .spec = sp_proto_tcp, DROPS(IP_PROTO) },
	{ "ip4/proto_icmp", UDP4, .spec = sp_proto_icmp4, DROPS(IP_PROTO) },

	/* IPv6 */
	{ "ip6/version_4", UDP6, POKE8(AT_L3, 0, 0x4b), DROPS(IP6_MALFORMED) },
	{ "ip6/version_7", UDP6, POKE8(AT_L3, 0, 0x7b), DROPS(IP6_MALFORMED) },
	{ "ip6/header_truncated", UDP6, .frame = fr_ip6_len39, DROPS(IP6_MALFORMED) },
	{ "ip6/payload_beyond_frame", UDP6, .frame = fr_ip6_plen_plus1,
	  DROPS(IP6_MALFORMED) },
	{ "ip6/ext_hop_by_hop", UDP6, POKE8(AT_L3, 6, 0), DROPS(IP6_EXT_HDR) },
	{ "ip6/ext_routing", UDP6, POKE8(AT_L3, 6, 43), DROPS(IP6_EXT_HDR) },
	{ "ip6/ext_fragment", UDP6, POKE8(AT_L3, 6, 44), DROPS(IP6_EXT_HDR) },
	{ "ip6/ext_dest_opts", UDP6, POKE8(AT_L3, 6, 60), DROPS(IP6_EXT_HDR) },
	{ "ip6/ext_esp", UDP6, POKE8(AT_L3, 6, 50), DROPS(IP6_EXT_HDR) },
	{ "ip6/ext_ah", UDP6, POKE8(AT_L3, 6, 51), DROPS(IP6_EXT_HDR) },
	{ "ip6/ext_mobility", UDP6, POKE8(AT_L3, 6, 135), DROPS(IP6_EXT_HDR) },
	{ "ip6/dst_not_ours", UDP6, .spec = sp_dst_other, DROPS(IP_NOT_OURS) },
	{ "ip6/dst_multicast", UDP6, .spec = sp_dst_sn6, DROPS(IP_NOT_OURS) },
	{ "ip6/no_ip6_configured", UDP6, .cfg = cfg_no_ip6, DROPS(IP_NOT_OURS) },
	{ "ip6/ext_hip", UDP6, POKE8(AT_L3, 6, 139), DROPS(IP6_EXT_HDR) },
	{ "ip6/ext_shim6", UDP6, POKE8(AT_L3, 6, 140), DROPS(IP6_EXT_HDR) },
	{ "ip6/ext_experimental_253", UDP6, POKE8(AT_L3, 6, 253), DROPS(IP6_EXT_HDR) },
	{ "ip6/proto_tcp", UDP6, .spec = sp_proto_tcp, DROPS(IP_PROTO) },
	{ "ip6/proto_no_next", UDP6, .spec = sp_proto_none6, DROPS(IP_PROTO) },

	/* UDP */
	{ "udp/ip4_l4_below_8", UDP4, .frame = fr_ip4_tot_l4_7, .fix = FIX_IP4,
	  DROPS(UDP_MALFORMED) },
	{ "udp/ip6_l4_below_8", UDP6, .frame = fr_ip6_plen_7, DROPS(UDP_MALFORMED) },
	{ "udp/ip4_len_7", UDP4, POKE16(AT_L4, 4, 7), DROPS(UDP_MALFORMED) },
	{ "udp/ip4_len_0", UDP4, POKE16(AT_L4, 4, 0), DROPS(UDP_MALFORMED) },
	{ "udp/ip4_len_over_ip", UDP4, .frame = fr_udp_len_plus1, DROPS(UDP_MALFORMED) },
	{ "udp/ip4_len_under_ip", UDP4, .frame = fr_udp_len_minus1, DROPS(UDP_MALFORMED) },
	{ "udp/ip6_len_over_ip", UDP6, .frame = fr_udp_len_plus1, DROPS(UDP_MALFORMED) },
	{ "udp/ip6_len_under_ip", UDP6, .frame = fr_udp_len_minus1, DROPS(UDP_MALFORMED) },
	{ "udp/ip6_ip_len_under_udp", UDP6, .frame = fr_ip6_plen_minus1,
	  DROPS(UDP_MALFORMED) },
	{ "udp/ip4_bad_checksum", UDP4, .frame = fr_udp_bad_csum, DROPS(UDP_CKSUM) },
	{ "udp/ip6_bad_checksum", UDP6, .frame = fr_udp_bad_csum, DROPS(UDP_CKSUM) },
	{ "udp/ip4_payload_corrupt", UDP4, .frame = fr_payload_flip, DROPS(UDP_CKSUM) },
	{ "udp/ip6_payload_corrupt", UDP6, .frame = fr_payload_flip, DROPS(UDP_CKSUM) },
	{ "udp/ip4_pseudo_hdr_src", UDP4, .frame = fr_ip4_src_changed, .fix = FIX_IP4,
	  DROPS(UDP_CKSUM) },
	{ "udp/ip6_pseudo_hdr_src", UDP6, .frame = fr_ip6_src_changed,
	  DROPS(UDP_CKSUM) },
	{ "udp/ip6_zero_checksum", UDP6, .spec = sp_zero_csum, DROPS(UDP_CKSUM) },
	{ "udp/dport_7701", UDP4, .spec = sp_dport_7701, DROPS(UDP_PORT) },
	{ "udp/ip6_dport_7701", UDP6, .spec = sp_dport_7701, DROPS(UDP_PORT) },
	{ "udp/dport_not_cfg_port", UDP4, .cfg = cfg_port9000, DROPS(UDP_PORT) },
	{ "udp/sport_0", UDP4, .spec = sp_sport_0, DROPS(UDP_SRC_RESERVED) },
	{ "udp/sport_53", UDP4, .spec = sp_sport_53, DROPS(UDP_SRC_RESERVED) },
	{ "udp/sport_1023", UDP4, .spec = sp_sport_1023, DROPS(UDP_SRC_RESERVED) },
	{ "udp/ip6_sport_1023", UDP6, .spec = sp_sport_1023, DROPS(UDP_SRC_RESERVED) },
	{ "udp/sport_service", UDP4, .spec = sp_sport_svc, DROPS(UDP_SRC_RESERVED) },
	{ "udp/ip6_sport_service", UDP6, .spec = sp_sport_svc, DROPS(UDP_SRC_RESERVED) },
	{ "udp/sport_cfg_service", UDP4, .spec = sp_port9000_self, .cfg = cfg_port9000,
	  DROPS(UDP_SRC_RESERVED) },

	/* relay header */
	{ "relay/short_31", UDP4, .spec = sp_relay_31, DROPS(RELAY_SHORT) },
	{ "relay/short_1", UDP6, .spec = sp_relay_1, DROPS(RELAY_SHORT) },
	{ "relay/empty", UDP4, .spec = sp_relay_0, DROPS(RELAY_SHORT) },
	{ "relay/magic_5255", UDP4, .spec = sp_magic_next, DROPS(RELAY_MAGIC) },
	{ "relay/magic_swapped", UDP4, .spec = sp_magic_swapped, DROPS(RELAY_MAGIC) },
	{ "relay/magic_zero", UDP6, .spec = sp_magic_zero, DROPS(RELAY_MAGIC) },
	{ "relay/version_0", UDP4, .spec = sp_version_0, DROPS(RELAY_VERSION) },
	{ "relay/version_2", UDP4, .spec = sp_version_2, DROPS(RELAY_VERSION) },
	{ "relay/version_255", UDP6, .spec = sp_version_ff, DROPS(RELAY_VERSION) },
	{ "relay/type_0", UDP4, .spec = sp_type_0, DROPS(RELAY_TYPE) },
	{ "relay/type_8", UDP4, .spec = sp_type_8, DROPS(RELAY_TYPE) },
	{ "relay/type_255", UDP6, .spec = sp_type_ff, DROPS(RELAY_TYPE) },
	{ "relay/payload_len_plus_1", UDP4, .spec = sp_plen_plus1, DROPS(RELAY_LENGTH) },
	{ "relay/payload_len_minus_1", UDP4, .spec = sp_plen_minus1, DROPS(RELAY_LENGTH) },
	{ "relay/payload_len_0", UDP6, .spec = sp_plen_zero, DROPS(RELAY_LENGTH) },
	{ "relay/payload_len_ffff", UDP4, .spec = sp_plen_ffff, DROPS(RELAY_LENGTH) },
	{ "relay/payload_len_with_hdr", UDP4, .spec = sp_plen_total, DROPS(RELAY_LENGTH) },
	{ "relay/payload_len_trailer", UDP4, .spec = sp_pad, POKE16(AT_PL, 22, 117),
	  .fix = FIX_UDP, DROPS(RELAY_LENGTH) },
	{ "relay/media_kind_3", UDP4, .spec = sp_kind_invalid, DROPS(RELAY_KIND) },
	{ "relay/media_kind_3_all_flags", UDP6, .spec = sp_kind_invalid_all,
	  DROPS(RELAY_KIND) },
	{ "relay/join_short_255", UDP4, .spec = sp_join_short, DROPS(JOIN_SHORT) },
	{ "relay/join_short_ip6", UDP6, .spec = sp_join_short, DROPS(JOIN_SHORT) },
	{ "relay/join_empty", UDP4, .spec = sp_join_empty, DROPS(JOIN_SHORT) },
	{ "relay/join_short_and_app", UDP4, .spec = sp_join_short_app, DROPS(JOIN_SHORT) },
	{ "relay/join_app_index", UDP4, .spec = sp_join_app, DROPS(JOIN_FIELDS) },
	{ "relay/join_app_index_1", UDP6, .spec = sp_join_app_1, DROPS(JOIN_FIELDS) },
	{ "relay/join_channel_hash", UDP4, .spec = sp_join_chan, DROPS(JOIN_FIELDS) },
	{ "relay/join_channel_hash_low", UDP4, .spec = sp_join_chan_low,
	  DROPS(JOIN_FIELDS) },
	{ "relay/join_channel_hash_high", UDP6, .spec = sp_join_chan_high,
	  DROPS(JOIN_FIELDS) },
	{ "relay/join_ack_from_outside", UDP4, .spec = sp_join_ack,
	  DROPS(RELAY_FROM_SERVER) },
	{ "relay/error_from_outside", UDP4, .spec = sp_error, DROPS(RELAY_FROM_SERVER) },
	{ "relay/cookie_from_outside", UDP6, .spec = sp_cookie, DROPS(RELAY_FROM_SERVER) },

	/* ARP */
	{ "arp/request_broadcast", ARP, ACCEPT(RTR_PK_ARP_REQ) },
	{ "arp/request_unicast", ARP, .spec = sp_dmac_ours, ACCEPT(RTR_PK_ARP_REQ) },
	{ "arp/request_vlan", ARP, .spec = sp_vlan, ACCEPT(RTR_PK_ARP_REQ) },
	{ "arp/request_no_trailer", ARP, .spec = sp_arp_nopad, ACCEPT(RTR_PK_ARP_REQ) },
	{ "arp/probe", ARP, .spec = sp_arp_probe, ACCEPT(RTR_PK_ARP_REQ) },
	{ "arp/other_address", ARP, .spec = sp_arp_other, DROPS(ARP_NOT_FOR_US) },
	{ "arp/reply", ARP, .spec = sp_arp_reply, DROPS(ARP_NOT_FOR_US) },
	{ "arp/rarp_op_3", ARP, .spec = sp_arp_op3, DROPS(ARP_NOT_FOR_US) },
	{ "arp/no_ip4_configured", ARP, .cfg = cfg_no_ip4, DROPS(ARP_NOT_FOR_US) },
	{ "arp/other_mac", ARP, .spec = sp_dmac_other, DROPS(ETH_NOT_OUR_MAC) },
	{ "arp/htype_6", ARP, POKE16(AT_L3, 0, 6), DROPS(ARP_MALFORMED) },
	{ "arp/ptype_ip6", ARP, POKE16(AT_L3, 2, 0x86dd), DROPS(ARP_MALFORMED) },
	{ "arp/hlen_8", ARP, POKE8(AT_L3, 4, 8), DROPS(ARP_MALFORMED) },
	{ "arp/plen_16", ARP, POKE8(AT_L3, 5, 16), DROPS(ARP_MALFORMED) },
	{ "arp/truncated_27", ARP, .spec = sp_arp_nopad, .frame = fr_arp_len27,
	  DROPS(ARP_MALFORMED) },

	/* ICMPv6 neighbour solicitation */
	{ "nd/ns_solicited_node", NS, ACCEPT(RTR_PK_ND_NS) },
	{ "nd/ns_unicast", NS, .spec = sp_ns_unicast, ACCEPT(RTR_PK_ND_NS) },
	{ "nd/ns_vlan", NS, .spec = sp_vlan, ACCEPT(RTR_PK_ND_NS) },
	{ "nd/ns_dad", NS, .spec = sp_ns_dad, ACCEPT(RTR_PK_ND_NS) },
	{ "nd/ns_no_option", NS, .spec = sp_ns_len24, ACCEPT(RTR_PK_ND_NS) },
	{ "nd/ns_eth_trailer", NS, .spec = sp_ns_pad, ACCEPT(RTR_PK_ND_NS) },
	{ "nd/ns_other_target", NS, .spec = sp_ns_other, DROPS(ND_NOT_FOR_US) },
	/* only to our address or our solicited-node group */
	{ "nd/ns_foreign_dst", NS, .spec = sp_dst_other, DROPS(ND_NOT_FOR_US) },
	{ "nd/ns_no_ip6_configured", NS, .cfg = cfg_no_ip6, DROPS(ND_NOT_FOR_US) },
	{ "nd/ns_bad_checksum", NS, .frame = fr_icmp6_bad_csum, DROPS(ND_MALFORMED) },
	{ "nd/ns_zero_checksum", NS, POKE16(AT_L4, 2, 0), DROPS(ND_MALFORMED) },
	{ "nd/ns_hop_limit_254", NS, .spec = sp_ns_hop254, DROPS(ND_MALFORMED) },
	{ "nd/ns_hop_limit_64", NS, .spec = sp_ns_hop64, DROPS(ND_MALFORMED) },
	{ "nd/ns_code_1", NS, .spec = sp_ns_code1, DROPS(ND_MALFORMED) },
	{ "nd/ns_len_23", NS, .spec = sp_ns_len23, DROPS(ND_MALFORMED) },
	{ "nd/ns_len_4", NS, .spec = sp_ns_len4, DROPS(ND_MALFORMED) },
	{ "nd/icmp6_len_3", NS, .spec = sp_ns_len3, DROPS(ND_MALFORMED) },
	{ "nd/icmp6_len_0", NS, .spec = sp_ns_len0, DROPS(ND_MALFORMED) },
	{ "nd/icmp6_echo", NS, .spec = sp_icmp_echo, DROPS(ICMP6_OTHER) },
	{ "nd/icmp6_echo_len_4", NS, .spec = sp_icmp_echo_len4, DROPS(ICMP6_OTHER) },
	{ "nd/icmp6_router_solicit", NS, .spec = sp_icmp_rs, DROPS(ICMP6_OTHER) },
	{ "nd/icmp6_neighbour_advert", NS, .spec = sp_icmp_na, DROPS(ICMP6_OTHER) },
	{ "nd/other_mac", NS, .spec = sp_dmac_other, DROPS(ETH_NOT_OUR_MAC) },
	{ "nd/mac_33_34", NS, .spec = sp_dmac_near1, DROPS(ETH_NOT_OUR_MAC) },
	{ "nd/mac_32_33", NS, .spec = sp_dmac_near2, DROPS(ETH_NOT_OUR_MAC) },
	{ "nd/mac_broadcast", NS, .spec = sp_dmac_bcast, DROPS(ETH_NOT_OUR_MAC) },
	{ "nd/ns_beyond_frame", NS, .frame = fr_ip6_plen_plus1, DROPS(IP6_MALFORMED) },
};

static void
apply_poke(struct frame *f, const struct pcase *c)
{
	uint8_t *p;

	switch (c->poke.at) {
	case AT_NONE:
		return;
	case AT_L2:
		p = f->b;
		break;
	case AT_L3:
		p = f->b + f->l3;
		break;
	case AT_L4:
		p = f->b + f->l4;
		break;
	default:
		p = f->b + f->pl;
		break;
	}
	if (c->poke.width == 1)
		p[c->poke.off] = (uint8_t)c->poke.val;
	else
		wr16(p + c->poke.off, c->poke.val);
}

static void
run_case(void **state)
{
	const struct pcase *c = *state;
	struct rtr_parse_cfg cfg;
	struct rtr_parsed p;
	struct fspec s;
	struct frame f;

	assert_true(c->expect_set);
	make_spec(&s, c->shape, c->family);
	if (c->spec)
		c->spec(&s);
	build(&f, &s, c->shape);
	apply_poke(&f, c);
	if (c->frame)
		c->frame(&f);
	if (c->fix & FIX_IP4)
		fix_ip4(&f);
	if (c->fix & FIX_UDP)
		fix_udp(&f);
	if (c->fix & FIX_ICMP6)
		fix_icmp6(&f);
	cfg_default(&cfg);
	if (c->cfg)
		c->cfg(&cfg);

	expect(parse(&f, &cfg, &p), &p, c->kind, c->drop);
	switch (c->kind) {
	case RTR_PK_RELAY:
		check_relay(&f, &s, &p);
		break;
	case RTR_PK_ARP_REQ:
		check_arp(&s, &p);
		break;
	case RTR_PK_ND_NS:
		check_ns(&s, &p);
		break;
	default:
		break;
	}
}

/* rtr_csum_add() against the byte-by-byte reference: every length up to
 * 4 KiB (the vector loop, the 16- and 8-byte tails, an odd byte), every
 * alignment of the start, all-0xff data (the largest lane sums) and random
 * data, with a running sum carried in. */
static void
test_csum_add_reference(void **state)
{
	static uint8_t buf[4096 + 64];
	uint32_t len, off, seed = 12345, fill;

	(void)state;
	for (fill = 0; fill < 2; fill++) {
		for (len = 0; len < sizeof(buf); len++) {
			seed = seed * 1103515245u + 12345u;
			buf[len] = fill ? 0xff : (uint8_t)(seed >> 16);
		}
		for (len = 0; len <= 4096; len += (len < 300 ? 1 : 61)) {
			for (off = 0; off < 8; off++) {
				uint32_t start = (uint32_t)len * 2654435761u;
				uint64_t ref = ref_add(start & 0xffff, buf + off, len);

				assert_int_equal(rtr_csum_fold(rtr_csum_add(start & 0xffff, buf + off,
									    len)),
						 ref_fold(ref));
			}
		}
	}
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_csum_add_reference),
		cmocka_unit_test(test_media_ip4),
		cmocka_unit_test(test_media_ip6),
		cmocka_unit_test(test_media_vlan),
		cmocka_unit_test(test_join_valid),
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_media_kinds),
		cmocka_unit_test(test_all_ports),
		cmocka_unit_test(test_udp_csum_ffff),
		cmocka_unit_test(test_truncated_prefixes),
		cmocka_unit_test(test_drop_names),
	};
	static struct CMUnitTest table[ARRAY_SIZE(cases)];
	unsigned int i;
	int failed;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		table[i].name = cases[i].name;
		table[i].test_func = run_case;
		table[i].setup_func = NULL;
		table[i].teardown_func = NULL;
		table[i].initial_state = &cases[i];
	}
	failed = cmocka_run_group_tests_name("rtr_parse", fixed, NULL, NULL);
	failed += cmocka_run_group_tests_name("rtr_parse_cases", table, NULL, NULL);
	return failed ? 1 : 0;
}
