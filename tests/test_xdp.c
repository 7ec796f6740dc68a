/* SPDX-License-Identifier: BSD-3-Clause
 * The XDP pre-filter (xdp/rtr_xdp.bpf.c) through BPF_PROG_TEST_RUN: the
 * program is loaded from its libbpf skeleton into the running kernel, each
 * case writes the config and maps, runs crafted frames through it and checks
 * the verdict, the counter that moved and the map state left behind (packet
 * in, verdict and map state out, as Katran's test fixtures).
 *
 * Needs root (CAP_BPF) and a kernel with BPF_PROG_TEST_RUN for XDP.
 * RTR_BENCH=1 prints, instead, the program's cost per packet for each
 * verdict (BPF_PROG_TEST_RUN's own timing over a million runs; make bench).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "rtr_xdp.h"
#include "rtr_xdp.skel.h"

#define PORT		7700
#define SEC_NS		1000000000ULL

static const char *const ctr_name[] = {
#define _RTR_XDP_NAME(n, s) s,
	RTR_XDP_FOREACH_CTR(_RTR_XDP_NAME)
#undef _RTR_XDP_NAME
};

static struct rtr_xdp *skel;
static int ncpu;

/* ---- frames ---------------------------------------------------------------- */

struct pkt {
	int family;		/* 4, 6, or 0: ARP */
	const char *src;
	int proto;		/* 17 UDP, 6 TCP, 1 ICMP, 58 ICMPv6, 0 (v6): hop-by-hop */
	uint16_t dport;
	int vlan;
	uint16_t frag_off;	/* IPv4 flags+offset, host order */
	int ihl;		/* 0: 5 */
	int udp_len_delta;	/* added to the right UDP length */
	int cut;		/* bytes cut off the end */
};

static size_t
build(const struct pkt *p, uint8_t *f)
{
	size_t off = 12, l3, l4, plen = 40, len;
	uint16_t et = p->family == 4 ? 0x0800 : p->family == 6 ? 0x86dd : 0x0806;
	uint16_t ulen = (uint16_t)(8 + plen + p->udp_len_delta);

	memset(f, 0, 256);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	if (p->vlan) {
		f[off] = 0x81;
		f[off + 1] = 0x00;
		f[off + 3] = 5;
		off += 4;
	}
	f[off] = (uint8_t)(et >> 8);
	f[off + 1] = (uint8_t)et;
	l3 = off + 2;
	if (p->family == 4) {
		int ihl = p->ihl ? p->ihl : 5;

		f[l3] = (uint8_t)(0x40 | ihl);
		f[l3 + 6] = (uint8_t)(p->frag_off >> 8);
		f[l3 + 7] = (uint8_t)p->frag_off;
		f[l3 + 8] = 64;
		f[l3 + 9] = (uint8_t)p->proto;
		assert_int_equal(inet_pton(AF_INET, p->src, f + l3 + 12), 1);
		assert_int_equal(inet_pton(AF_INET, "192.0.2.1", f + l3 + 16), 1);
		l4 = l3 + (size_t)(ihl < 5 ? 5 : ihl) * 4;
		f[l3 + 2] = (uint8_t)((l4 - l3 + 8 + plen) >> 8);
		f[l3 + 3] = (uint8_t)(l4 - l3 + 8 + plen);
	} else if (p->family == 6) {
		f[l3] = 0x60;
		f[l3 + 5] = (uint8_t)(8 + plen);
		f[l3 + 6] = (uint8_t)p->proto;
		f[l3 + 7] = 64;
		assert_int_equal(inet_pton(AF_INET6, p->src, f + l3 + 8), 1);
		assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", f + l3 + 24), 1);
		l4 = l3 + 40;
	} else {
		return l3 + 28;	/* an ARP body of zeros */
	}
	f[l4] = 0xa4;		/* source port 42000 */
	f[l4 + 1] = 0x10;
	f[l4 + 2] = (uint8_t)(p->dport >> 8);
	f[l4 + 3] = (uint8_t)p->dport;
	f[l4 + 4] = (uint8_t)(ulen >> 8);
	f[l4 + 5] = (uint8_t)ulen;
	len = l4 + 8 + plen - (size_t)p->cut;
	return len;
}

/* ---- the program and its maps --------------------------------------------- */

static int
run(const struct pkt *p)
{
	uint8_t in[256], out[256];
	size_t len = build(p, in);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	int rc = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.rtr_xdp_filter), &o);

	assert_int_equal(rc, 0);
	return (int)o.retval;
}

static uint64_t
ctr(int which)
{
	struct rtr_xdp_ctr v[ncpu];
	uint32_t k = (uint32_t)which;
	uint64_t sum = 0;
	int i;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.rtr_ctr), &k, v), 0);
	for (i = 0; i < ncpu; i++)
		sum += v[i].packets;
	return sum;
}

static void
set_cfg(uint16_t port, uint16_t flags, uint64_t src_iv, uint32_t src_burst, uint64_t pfx_iv,
	uint32_t pfx_burst)
{
	struct rtr_xdp_cfg c = {
		.abi = RTR_XDP_ABI, .port = port, .flags = flags,
		.src_interval_ns = src_iv, .src_burst = src_burst,
		.pfx_interval_ns = pfx_iv, .pfx_burst = pfx_burst,
	};
	uint32_t k = 0;

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.rtr_cfg), &k, &c, BPF_ANY), 0);
}

static void
deny(const char *cidr, uint32_t id)
{
	char a[64];
	char *slash;
	int plen;

	snprintf(a, sizeof(a), "%s", cidr);
	slash = strchr(a, '/');
	assert_non_null(slash);
	*slash = '\0';
	plen = atoi(slash + 1);
	if (strchr(a, ':')) {
		struct rtr_xdp_lpm6 k = { .prefixlen = (uint32_t)plen };

		assert_int_equal(inet_pton(AF_INET6, a, k.addr), 1);
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.rtr_deny6), &k, &id,
						     BPF_ANY), 0);
	} else {
		struct rtr_xdp_lpm4 k = { .prefixlen = (uint32_t)plen };

		assert_int_equal(inet_pton(AF_INET, a, k.addr), 1);
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.rtr_deny4), &k, &id,
						     BPF_ANY), 0);
	}
}

/* what the bucket of an address (plen 32/128) or prefix (24/64) holds */
static int
bucket(const char *addr, int plen, struct rtr_xdp_bucket *b)
{
	struct rtr_xdp_src k = { .plen = (uint8_t)plen };
	int fd;

	if (strchr(addr, ':')) {
		k.family = 6;
		assert_int_equal(inet_pton(AF_INET6, addr, k.addr), 1);
	} else {
		k.family = 4;
		assert_int_equal(inet_pton(AF_INET, addr, k.addr), 1);
	}
	fd = bpf_map__fd(plen == 32 || plen == 128 ? skel->maps.rtr_src_bkt : skel->maps.rtr_pfx_bkt);
	return bpf_map_lookup_elem(fd, &k, b);
}

/* a fresh program for every test: maps start empty */
static int
setup(void **state)
{
	(void)state;
	skel = rtr_xdp__open_and_load();
	if (skel == NULL) {
		fprintf(stderr, "test_xdp: loading the XDP program failed: %s (root? CAP_BPF?)\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	rtr_xdp__destroy(skel);
	skel = NULL;
	return 0;
}

/* ---- table-driven verdicts ------------------------------------------------ */

struct vcase {
	const char *name;
	struct pkt p;
	int verdict;
	int counter;
};

static const struct vcase verdicts[] = {
	{ "ARP passes", { .family = 0 }, XDP_PASS, RTR_XDP_PASS_NOT_IP },
	{ "TCP (SSH) passes", { 4, "198.51.100.7", 6, 22, 0, 0, 0, 0, 0 }, XDP_PASS,
	  RTR_XDP_PASS_NOT_SERVICE },
	{ "ICMP passes", { 4, "198.51.100.7", 1, 0, 0, 0, 0, 0, 0 }, XDP_PASS,
	  RTR_XDP_PASS_NOT_SERVICE },
	{ "UDP to another port (DNS) passes", { 4, "198.51.100.7", 17, 53, 0, 0, 0, 0, 0 },
	  XDP_PASS, RTR_XDP_PASS_NOT_SERVICE },
	{ "IPv6 UDP to another port passes", { 6, "2001:db8:5::7", 17, 161, 0, 0, 0, 0, 0 },
	  XDP_PASS, RTR_XDP_PASS_NOT_SERVICE },
	{ "IPv6 ICMPv6 (neighbour discovery) passes", { 6, "fe80::1", 58, 0, 0, 0, 0, 0, 0 },
	  XDP_PASS, RTR_XDP_PASS_NOT_SERVICE },
	{ "service UDP, no AF_XDP socket: passes, counted", { 4, "198.51.100.7", 17, PORT, 0, 0,
	  0, 0, 0 }, XDP_PASS, RTR_XDP_PASS_SERVICE },
	{ "service UDP behind a VLAN tag", { 4, "198.51.100.7", 17, PORT, 1, 0, 0, 0, 0 },
	  XDP_PASS, RTR_XDP_PASS_SERVICE },
	{ "service UDP over IPv6", { 6, "2001:db8:5::7", 17, PORT, 0, 0, 0, 0, 0 }, XDP_PASS,
	  RTR_XDP_PASS_SERVICE },
	{ "IPv4 first fragment to the service port: dropped", { 4, "198.51.100.7", 17, PORT, 0,
	  0x2000, 0, 0, 0 }, XDP_DROP, RTR_XDP_DROP_FRAGMENT },
	{ "IPv4 later fragment (no port): the kernel's", { 4, "198.51.100.7", 17, PORT, 0, 0x0010,
	  0, 0, 0 }, XDP_PASS, RTR_XDP_PASS_NOT_SERVICE },
	{ "IPv4 IHL 4: dropped", { 4, "198.51.100.7", 17, PORT, 0, 0, 4, 0, 0 }, XDP_DROP,
	  RTR_XDP_DROP_MALFORMED },
	{ "IPv4 options (IHL 6) still parsed", { 4, "198.51.100.7", 17, PORT, 0, 0, 6, 0, 0 },
	  XDP_PASS, RTR_XDP_PASS_SERVICE },
	{ "UDP length past the frame: dropped", { 4, "198.51.100.7", 17, PORT, 0, 0, 0, 1, 0 },
	  XDP_DROP, RTR_XDP_DROP_MALFORMED },
	{ "UDP length below 8: dropped", { 4, "198.51.100.7", 17, PORT, 0, 0, 0, -41, 0 },
	  XDP_DROP, RTR_XDP_DROP_MALFORMED },
	{ "IPv6 UDP length past the frame: dropped", { 6, "2001:db8:5::7", 17, PORT, 0, 0, 0, 0,
	  10 }, XDP_DROP, RTR_XDP_DROP_MALFORMED },
	{ "UDP header cut short: not the service's", { 4, "198.51.100.7", 17, PORT, 0, 0, 0, 0,
	  44 }, XDP_PASS, RTR_XDP_PASS_NOT_SERVICE },
	{ "IPv6 header cut short", { 6, "2001:db8:5::7", 17, PORT, 0, 0, 0, 0, 60 }, XDP_PASS,
	  RTR_XDP_PASS_NOT_IP },
	{ "IPv6 extension header (hop-by-hop) before UDP", { 6, "2001:db8:5::7", 0, PORT, 0, 0, 0,
	  0, 0 }, XDP_PASS, RTR_XDP_PASS_IP6_EXT },
	{ "denied IPv4 source", { 4, "203.0.113.77", 17, PORT, 0, 0, 0, 0, 0 }, XDP_DROP,
	  RTR_XDP_DROP_DENY },
	{ "denied IPv4 source behind a VLAN tag", { 4, "203.0.113.1", 17, PORT, 1, 0, 0, 0, 0 },
	  XDP_DROP, RTR_XDP_DROP_DENY },
	{ "denied /32 inside an allowed /16", { 4, "10.9.8.7", 17, PORT, 0, 0, 0, 0, 0 },
	  XDP_DROP, RTR_XDP_DROP_DENY },
	{ "neighbour of a denied /32 passes", { 4, "10.9.8.6", 17, PORT, 0, 0, 0, 0, 0 },
	  XDP_PASS, RTR_XDP_PASS_SERVICE },
	{ "denied IPv6 /48", { 6, "2001:db8:bad:1::9", 17, PORT, 0, 0, 0, 0, 0 }, XDP_DROP,
	  RTR_XDP_DROP_DENY },
	{ "IPv6 next to the denied /48 passes", { 6, "2001:db8:bae::9", 17, PORT, 0, 0, 0, 0, 0 },
	  XDP_PASS, RTR_XDP_PASS_SERVICE },
	{ "a denied source's SSH still reaches the kernel", { 4, "203.0.113.77", 6, 22, 0, 0, 0, 0,
	  0 }, XDP_PASS, RTR_XDP_PASS_NOT_SERVICE },
};

static void
test_verdicts(void **state)
{
	size_t i;
	int c;

	(void)state;
	set_cfg(PORT, 0, 0, 0, 0, 0);
	deny("203.0.113.0/24", 1);
	deny("10.9.8.7/32", 2);
	deny("2001:db8:bad::/48", 3);
	for (i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
		const struct vcase *v = &verdicts[i];
		uint64_t before[RTR_XDP_CTR_MAX];
		int got;

		for (c = 0; c < RTR_XDP_CTR_MAX; c++)
			before[c] = ctr(c);
		got = run(&v->p);
		if (got != v->verdict)
			fail_msg("%s: verdict %d, want %d", v->name, got, v->verdict);
		for (c = 0; c < RTR_XDP_CTR_MAX; c++) {
			uint64_t want = before[c] + (c == v->counter ? 1 : 0);

			if (ctr(c) != want)
				fail_msg("%s: counter %s %llu, want %llu", v->name, ctr_name[c],
					 (unsigned long long)ctr(c), (unsigned long long)want);
		}
	}
}

/* no config written (net_af_xdp loaded the program, nobody has configured
 * it): the default service port goes to the dataplane, nothing is limited,
 * the deny list (a map of its own) still holds */
static void
test_unconfigured_defaults(void **state)
{
	struct pkt p = { 4, "198.51.100.7", 17, PORT, 0, 0, 0, 0, 0 };
	struct pkt other = { 4, "198.51.100.7", 17, 7701, 0, 0, 0, 0, 0 };
	struct pkt denied = { 4, "203.0.113.77", 17, PORT, 0, 0, 0, 0, 0 };
	int i;

	(void)state;
	deny("203.0.113.0/24", 1);
	for (i = 0; i < 50; i++)
		assert_int_equal(run(&p), XDP_PASS);
	assert_int_equal(ctr(RTR_XDP_PASS_SERVICE), 50);
	assert_int_equal(run(&other), XDP_PASS);
	assert_int_equal(ctr(RTR_XDP_PASS_NOT_SERVICE), 1);
	assert_int_equal(run(&denied), XDP_DROP);
	assert_int_equal(ctr(RTR_XDP_DROP_DENY), 1);
	assert_int_equal(ctr(RTR_XDP_DROP_SRC_RATE) + ctr(RTR_XDP_DROP_PFX_RATE), 0);
}

static void
test_pass_service_flag(void **state)
{
	struct pkt p = { 4, "198.51.100.7", 17, PORT, 0, 0, 0, 0, 0 };

	(void)state;
	set_cfg(PORT, RTR_XDP_F_PASS_SERVICE, 0, 0, 0, 0);
	assert_int_equal(run(&p), XDP_PASS);
	assert_int_equal(ctr(RTR_XDP_PASS_SERVICE), 1);
	assert_int_equal(ctr(RTR_XDP_REDIRECT), 0);
}

/* a source over its bucket is dropped; others are not; the bucket says so */
static void
test_source_rate(void **state)
{
	struct pkt a = { 4, "198.51.100.7", 17, PORT, 0, 0, 0, 0, 0 };
	struct pkt b = { 4, "198.51.100.8", 17, PORT, 0, 0, 0, 0, 0 };
	struct pkt a6 = { 6, "2001:db8:5::7", 17, PORT, 0, 0, 0, 0, 0 };
	struct rtr_xdp_bucket bk;
	int i, pass = 0;

	(void)state;
	/* 1 packet a second, bursts of 4: within a test's microseconds, 4 pass */
	set_cfg(PORT, 0, SEC_NS, 4, 0, 0);
	for (i = 0; i < 10; i++)
		pass += run(&a) == XDP_PASS;
	assert_int_equal(pass, 4);
	assert_int_equal(ctr(RTR_XDP_DROP_SRC_RATE), 6);
	assert_int_equal(bucket("198.51.100.7", 32, &bk), 0);
	assert_int_equal(bk.dropped, 6);
	/* the neighbour has its own bucket */
	assert_int_equal(run(&b), XDP_PASS);
	assert_int_equal(bucket("198.51.100.8", 32, &bk), 0);
	assert_int_equal(bk.dropped, 0);
	for (i = 0, pass = 0; i < 6; i++)
		pass += run(&a6) == XDP_PASS;
	assert_int_equal(pass, 4);
	assert_int_equal(ctr(RTR_XDP_DROP_SRC_RATE), 8);
	/* the prefix limiter is off: nothing counted there */
	assert_int_equal(ctr(RTR_XDP_DROP_PFX_RATE), 0);
	assert_int_not_equal(bucket("198.51.100.0", 24, &bk), 0);
}

/* a bucket refills: a source the limiter dropped gets through again */
static void
test_source_rate_refills(void **state)
{
	struct pkt a = { 4, "198.51.100.7", 17, PORT, 0, 0, 0, 0, 0 };
	int i, pass = 0;

	(void)state;
	set_cfg(PORT, 0, SEC_NS / 5, 2, 0, 0);	/* 5 pps, bursts of 2 */
	for (i = 0; i < 5; i++)
		pass += run(&a) == XDP_PASS;
	assert_int_equal(pass, 2);
	/* time passing is what the bucket measures: 2.5 intervals refill it,
	 * capped at its burst */
	usleep(500 * 1000);
	for (i = 0, pass = 0; i < 5; i++)
		pass += run(&a) == XDP_PASS;
	assert_int_equal(pass, 2);
}

/* many sources of one /24 share its bucket; another /24 does not */
static void
test_prefix_rate(void **state)
{
	char src[32];
	struct pkt p = { 4, src, 17, PORT, 0, 0, 0, 0, 0 };
	struct pkt other = { 4, "198.51.101.1", 17, PORT, 0, 0, 0, 0, 0 };
	struct pkt v6 = { 6, NULL, 17, PORT, 0, 0, 0, 0, 0 };
	struct rtr_xdp_bucket bk;
	int i, pass = 0;

	(void)state;
	/* per source 1/s burst 100 (never reached); per /24 1/s burst 8 */
	set_cfg(PORT, 0, SEC_NS, 100, SEC_NS, 8);
	for (i = 0; i < 20; i++) {
		snprintf(src, sizeof(src), "198.51.100.%d", 10 + i);
		pass += run(&p) == XDP_PASS;
	}
	assert_int_equal(pass, 8);
	assert_int_equal(ctr(RTR_XDP_DROP_PFX_RATE), 12);
	assert_int_equal(ctr(RTR_XDP_DROP_SRC_RATE), 0);
	assert_int_equal(bucket("198.51.100.0", 24, &bk), 0);
	assert_int_equal(bk.dropped, 12);
	assert_int_equal(run(&other), XDP_PASS);
	/* IPv6: one /64, many addresses */
	for (i = 0, pass = 0; i < 12; i++) {
		snprintf(src, sizeof(src), "2001:db8:7:1::%x", 0x100 + i);
		v6.src = src;
		pass += run(&v6) == XDP_PASS;
	}
	assert_int_equal(pass, 8);
	assert_int_equal(bucket("2001:db8:7:1::", 64, &bk), 0);
	assert_int_equal(bk.dropped, 4);
	snprintf(src, sizeof(src), "2001:db8:7:2::1");
	assert_int_equal(run(&v6), XDP_PASS);
}

/* the deny list wins before any bucket is charged */
static void
test_deny_before_limits(void **state)
{
	struct pkt p = { 4, "203.0.113.5", 17, PORT, 0, 0, 0, 0, 0 };
	struct rtr_xdp_bucket bk;

	(void)state;
	set_cfg(PORT, 0, SEC_NS, 1, SEC_NS, 1);
	deny("203.0.113.0/24", 9);
	assert_int_equal(run(&p), XDP_DROP);
	assert_int_equal(run(&p), XDP_DROP);
	assert_int_equal(ctr(RTR_XDP_DROP_DENY), 2);
	assert_int_equal(ctr(RTR_XDP_DROP_SRC_RATE), 0);
	assert_int_not_equal(bucket("203.0.113.5", 32, &bk), 0);
}

/* ---- cost per verdict (RTR_BENCH=1) --------------------------------------- */

static const char *
verdict_name(uint32_t v)
{
	switch (v) {
	case XDP_ABORTED: return "aborted";
	case XDP_DROP: return "drop";
	case XDP_PASS: return "pass";
	case XDP_TX: return "tx";
	case XDP_REDIRECT: return "redirect";
	default: return "?";
	}
}

/* Prints one row: the case, the verdict the program returned, ns per run. */
static void
cost_row(const char *what, const struct pkt *p, uint32_t repeat)
{
	uint8_t in[256], out[256];
	size_t len = build(p, in);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);

	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.rtr_xdp_filter), &o) != 0) {
		printf("  %-58s %-9s %8s\n", what, "error", "-");
		return;
	}
	/* o.duration: the kernel's mean, ns per run */
	printf("  %-58s %-9s %8u\n", what, verdict_name(o.retval), o.duration);
}

static int
bench(void)
{
	struct pkt tcp = { 4, "198.51.100.7", 6, 22, 0, 0, 0, 0, 0 };
	struct pkt svc = { 4, "198.51.100.7", 17, PORT, 0, 0, 0, 0, 0 };
	struct pkt svc6 = { 6, "2001:db8:f00d::7", 17, PORT, 0, 0, 0, 0, 0 };
	struct pkt bad = { 4, "203.0.113.77", 17, PORT, 0, 0, 0, 0, 0 };
	struct pkt bad6 = { 6, "2001:db8:bad:1::9", 17, PORT, 0, 0, 0, 0, 0 };
	const uint32_t rep = 1000000;
	char cidr[64];
	int i;

	if (setup(NULL) != 0)
		return 1;
	printf("XDP pre-filter, cost per packet (BPF_PROG_TEST_RUN, %u runs each, JIT %s)\n",
	       rep, "as the kernel has it");
	printf("  %-58s %-9s %8s\n", "case", "verdict", "ns/pkt");
	set_cfg(PORT, 0, 0, 0, 0, 0);
	cost_row("TCP to port 22: to the kernel", &tcp, rep);
	cost_row("service UDP, limiters off, deny lists empty (no socket)", &svc, rep);
	/* 1000 IPv4 and 1000 IPv6 deny prefixes of assorted lengths */
	for (i = 0; i < 1000; i++) {
		snprintf(cidr, sizeof(cidr), "10.%d.%d.0/%d", i / 250, i % 250, 16 + i % 9);
		deny(cidr, (uint32_t)i);
		snprintf(cidr, sizeof(cidr), "2001:db8:%x::/%d", i, 48 + i % 17);
		deny(cidr, (uint32_t)i);
	}
	deny("203.0.113.0/24", 5000);
	deny("2001:db8:bad::/48", 5001);
	cost_row("service UDP, 1000 + 1000 deny prefixes, not denied", &svc, rep);
	cost_row("service UDP over IPv6, 1000 + 1000 deny prefixes", &svc6, rep);
	cost_row("denied IPv4 source: drop", &bad, rep);
	cost_row("denied IPv6 source: drop", &bad6, rep);
	/* both buckets charged on every packet, never over (1 ns interval) */
	set_cfg(PORT, 0, 1, 1u << 24, 1, 1u << 24);
	cost_row("service UDP, per-source and per-/24 buckets, conforming", &svc, rep);
	set_cfg(PORT, 0, SEC_NS, 1, 0, 0);
	cost_row("service UDP, source over its bucket: drop", &svc, rep);
	teardown(NULL);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_verdicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unconfigured_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pass_service_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_rate_refills, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deny_before_limits, setup, teardown),
	};

	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		fprintf(stderr, "test_xdp: cannot count CPUs: %s\n", strerror(-ncpu));
		return 1;
	}
	if (getenv("RTR_BENCH") != NULL && strcmp(getenv("RTR_BENCH"), "1") == 0)
		return bench();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
