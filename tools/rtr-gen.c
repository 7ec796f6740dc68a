/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-gen: traffic generator and sink for benchmarking rtr-dataplane.
 *
 * One lcore, one port (normally the zero-copy memif client facing the
 * dataplane's memif server). It programs the dataplane through its control
 * segment (as its controller: app 1, C channels of one sender and F
 * receivers each, MEMBER_ADDs pipelined), sends valid MEDIA frames from the
 * senders round robin (paced, or flat out), and counts what comes back per
 * receiver: copies, loss, reordering, one-way latency (the TSC stamped in
 * the payload; both processes share the machine's TSC).
 *
 *   rtr-gen [EAL options] -- --instance NAME [--channels C] [--fanout F]
 *       [--payload BYTES] [--cipher none|aes128gcm] [--rate MPPS] [--duration S]
 *       [--warmup S] [--svc ADDR] [--members-only] [--no-program] [--json FILE]
 *   rtr-gen [EAL options] -- --pcap FILE [--pcap-count N] --dst-mac MAC ...
 *       writes N valid frames (the same senders) to a pcap instead and exits
 *
 * Encrypted senders (--cipher aes128gcm) get keys chosen here and installed
 * with MEMBER_ADD (rtr-gen is the controller; no handshake), are activated
 * by one sealed KEEPALIVE each, and every frame is sealed with ipsec-mb.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <openssl/crypto.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "rtr_abi.h"
#include "rtr_wire.h"
#include "rtr_seg.h"
#include "parse.h"
#include "aead.h"

#define BURST		32
#define APP		1
#define CHAN_BASE	0x5254000000000000ULL
#define HOST_BASE	0x0a800000u	/* members are 10.128.0.0 + index */
#define PORT_BASE	20000
#define PIPELINE	512		/* MEMBER_ADDs in flight */
#define HIST_BUCKETS	512		/* latency: 64 per octave from 1 us */
#define STAMP_LEN	16		/* payload: u64 TSC, u64 sender sequence */
#define RTR_GEN_MAX_QUEUES	16

struct gen_cfg {
	char instance[RTR_INSTANCE_MAX + 1];
	uint32_t channels, fanout;
	uint16_t payload;
	int enc;
	double rate_mpps;		/* 0: flat out */
	double duration, warmup;
	uint8_t svc[4];
	int program;
	const char *json, *pcap;
	uint32_t pcap_count;
	uint32_t hot;			/* send from the first `hot` channels only; 0: all */
	uint16_t queues;		/* sender c on TX queue c % queues; RX from all */
	int sink;			/* no members, no TX: count what arrives */
	int loopback;			/* no members: send, count whatever comes back */
	int blind;			/* sink/loopback: count without reading the frames */
	struct rte_ether_addr dst_mac;
	int have_dst_mac;
};

struct sender {
	uint32_t member_id;
	uint32_t host;			/* member index: address and port */
	uint64_t chan;
	uint64_t seq;
	struct rtr_aead_key *key;	/* uplink key (enc) */
	uint64_t path_token;
};

struct rcv {
	uint64_t frames;
	uint64_t last_seq[1];		/* per sender would cost memory; one channel = one sender */
	uint64_t reordered;
};

static struct gen_cfg cfg;
static struct sender *senders;
static struct rcv *rcvs;		/* by member index */
static uint32_t n_members;
static uint8_t (*mkeys)[16];		/* enc: every member's uplink key, raw */
static uint32_t *mids;			/* every member's id */
static struct rte_mempool *pool;
static IMB_MGR *imb;
static struct rte_ether_addr my_mac;
static volatile int quit;
static uint64_t hist[HIST_BUCKETS];
static uint64_t hist_n;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
die(const char *what, int rc)
{
	fprintf(stderr, "rtr-gen: %s: %s\n", what, rc < 0 ? strerror(-rc) : rtr_seg_strerror(rc));
	exit(3);
}

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t
host_ip(uint32_t host)
{
	return htonl(HOST_BASE + host);
}

static uint16_t
host_port(uint32_t host)
{
	return (uint16_t)(PORT_BASE + host % 40000);
}

/* ---- programming the dataplane -------------------------------------------- */

static void
member_msg(struct rtr_msg_member_add *a, uint64_t chan, uint32_t host, int role,
	   uint8_t rx_key[16])
{
	uint32_t ip = host_ip(host);
	unsigned int i;

	memset(a, 0, sizeof(*a));
	a->app_index = APP;
	a->channel_hash = chan;
	a->privs = RTR_PRIV_ALL;
	a->role = (uint8_t)role;
	a->ep.family = 4;
	a->ep.port_id = 0;
	a->ep.udp_port = host_port(host);
	memcpy(a->ep.mac, &my_mac, 6);
	memcpy(a->ep.ip, &ip, 4);
	memcpy(a->ep.local_ip, cfg.svc, 4);
	a->path_token = 0x7265740000000000ULL | host;
	if (cfg.enc) {
		a->suite = RTR_SUITE_AES128GCM;
		if (getrandom(a->rx_key, sizeof(a->rx_key), 0) != sizeof(a->rx_key) ||
		    getrandom(a->tx_key, sizeof(a->tx_key), 0) != sizeof(a->tx_key))
			die("getrandom", -errno);
		if (rx_key != NULL)
			for (i = 0; i < 16; i++)
				rx_key[i] = a->rx_key[i];
	} else {
		a->flags = RTR_MEMBER_F_ACTIVE;
	}
}

/* Apps and members, MEMBER_ADDs pipelined PIPELINE deep. */
static void
program(struct rtr_seg *seg)
{
	struct rtr_msg_app_set app = { .app_index = APP, .flags = RTR_APP_F_ENABLED };
	struct rtr_msg_member_add a;
	struct rtr_reply r;
	uint32_t sent = 0, done = 0, c, k, ctx;
	uint64_t t0 = rte_get_tsc_cycles();
	uint8_t key[16];
	int rc;

	rc = rtr_seg_call(seg, RTR_MSG_APP_SET, &app, sizeof(app), &r, 2000);
	if (rc < 0 || r.status < 0)
		die("APP_SET", rc < 0 ? rc : r.status);
	while (done < n_members) {
		while (sent < n_members && sent - done < PIPELINE) {
			c = sent / (cfg.fanout + 1);
			k = sent % (cfg.fanout + 1);
			member_msg(&a, CHAN_BASE + c, sent, k == 0 ? RTR_ROLE_PUBLISHER :
				   RTR_ROLE_SUBSCRIBER, key);
			if (cfg.enc)
				memcpy(mkeys[sent], key, 16);
			rc = rtr_seg_send(seg, RTR_MSG_MEMBER_ADD, &a, sizeof(a), &ctx);
			OPENSSL_cleanse(&a, sizeof(a));
			if (rc == -EAGAIN)
				break;
			if (rc < 0)
				die("MEMBER_ADD", rc);
			if (k == 0) {
				struct sender *s = &senders[c];

				s->host = sent;
				s->chan = CHAN_BASE + c;
				s->seq = 1;
				s->path_token = 0x7265740000000000ULL | sent;
				if (cfg.enc) {
					s->key = rte_zmalloc("gen_key", sizeof(*s->key),
							     RTR_AEAD_KEY_ALIGN);
					if (s->key == NULL ||
					    rtr_aead_key_init(imb, s->key, key, 16) != 0)
						die("sender key", -ENOMEM);
				}
			}
			sent++;
		}
		rc = rtr_seg_recv_reply(seg, &r, 5000);
		if (rc < 0)
			die("MEMBER_ADD reply", rc);
		if (r.status < 0) {
			fprintf(stderr, "rtr-gen: MEMBER_ADD %u refused: %s (raise --max-members, "
				"--max-channels or --max-enc-members of rtr-dataplane)\n", done,
				strerror(-r.status));
			exit(3);
		}
		/* replies come in order: the i-th is member i's */
		mids[done] = ((const struct rtr_reply_member_add *)r.body)->member_id;
		if (done % (cfg.fanout + 1) == 0)
			senders[done / (cfg.fanout + 1)].member_id = mids[done];
		done++;
	}
	fprintf(stderr, "rtr-gen: %u members in %u channels programmed in %.2f s\n", n_members,
		cfg.channels, (double)(rte_get_tsc_cycles() - t0) / (double)rte_get_tsc_hz());
}

/* ---- frames --------------------------------------------------------------- */

/*
 * A MEDIA (or KEEPALIVE) frame of sender s into m: Ethernet, IPv4, UDP,
 * relay header, payload (u64 TSC, u64 sequence, filler), sealed for an
 * encrypted sender; every checksum right.
 */
static void
frame(struct rte_mbuf *m, struct sender *s, uint8_t type, uint64_t tsc)
{
	uint16_t body = type == RTR_T_KEEPALIVE ? RTR_KA_ENC_MIN : cfg.payload;
	uint16_t wire = (uint16_t)(body + (cfg.enc ? RTR_TAG_LEN : 0));
	uint16_t udp_len = (uint16_t)(8 + RTR_HDR_LEN + wire);
	uint32_t src = host_ip(s->host);
	uint16_t sport = host_port(s->host);
	struct rtr_hdr h;
	uint8_t *d, *ip, *udp, *f, nonce[12];

	rte_pktmbuf_reset(m);
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + 20 + udp_len));
	if (d == NULL)
		die("frame larger than an mbuf", -EMSGSIZE);
	memcpy(d, &cfg.dst_mac, 6);
	memcpy(d + 6, &my_mac, 6);
	put16(d + 12, 0x0800);
	ip = d + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + udp_len));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, cfg.svc, 4);
	put16(ip + 10, (uint16_t)~rtr_csum_fold(rtr_csum_add(0, ip, 20)));
	udp = ip + 20;
	f = udp + 8;
	memset(&h, 0, sizeof(h));
	h.magic = RTR_MAGIC;
	h.version = RTR_VERSION;
	h.type = type;
	h.app_index = APP;
	h.channel_hash = s->chan;
	h.member_id = s->member_id;
	h.flags = (uint16_t)(cfg.enc ? RTR_F_ENC : 0);
	h.payload_len = wire;
	h.counter = s->seq++;
	rtr_hdr_encode(f, &h);
	if (type == RTR_T_KEEPALIVE) {
		rtr_put64(f + RTR_HDR_LEN, s->path_token);
		memset(f + RTR_HDR_LEN + 8, 0, 16);
	} else {
		rtr_put64(f + RTR_HDR_LEN, tsc);
		rtr_put64(f + RTR_HDR_LEN + 8, h.counter);
		memset(f + RTR_HDR_LEN + STAMP_LEN, 0x5a, body - STAMP_LEN);
	}
	if (cfg.enc) {
		memset(nonce, 0, 4);
		memcpy(nonce + 4, f + RTR_OFF_COUNTER, 8);
		rtr_aead_seal(imb, s->key, nonce, f, RTR_HDR_LEN, f + RTR_HDR_LEN, body,
			      f + RTR_HDR_LEN, f + RTR_HDR_LEN + body);
	}
	put16(udp, sport);
	put16(udp + 2, RTR_DEFAULT_PORT);
	put16(udp + 4, udp_len);
	put16(udp + 6, rtr_udp_csum_sums(rtr_addr_sum(4, (const uint8_t *)&src, cfg.svc), sport,
					 RTR_DEFAULT_PORT, udp_len,
					 rtr_csum_add(0, f, (uint32_t)(udp_len - 8))));
	m->port = 0;
}

/*
 * Encrypted members come in PENDING: one sealed KEEPALIVE from each one's
 * endpoint validates its path (protocol.md 16.5). Sealed with OpenSSL and
 * the raw key: once per member, not per frame.
 */
#define ACTIVATE_WINDOW	1024	/* a quarter of a worker's event ring */

/* echoes of activation KEEPALIVEs come back: let them go */
static void
drain_rx(void)
{
	struct rte_mbuf *rx[BURST];
	uint16_t k;

	while ((k = rte_eth_rx_burst(0, 0, rx, BURST)) > 0)
		rte_pktmbuf_free_bulk(rx, k);
}

static void
activate_all(struct rtr_seg *seg)
{
	struct rtr_main_stats ms;
	uint32_t i = 0;
	uint64_t t0 = rte_get_tsc_cycles(), hz = rte_get_tsc_hz(), base;

	rtr_seg_stats_main(seg, &ms);
	base = ms.members_active;	/* active before these: plain members */
	while (i < n_members) {
		struct rte_mbuf *b[BURST];
		uint16_t n = 0, sent = 0;

		/* each validated path is an event to the dataplane's main lcore;
		 * a worker whose event ring is full drops the KEEPALIVE and waits
		 * for the member's next frame, which never comes here: keep at
		 * most ACTIVATE_WINDOW activations outstanding */
		while ((int64_t)i - (int64_t)(ms.members_active - base) >= ACTIVATE_WINDOW) {
			drain_rx();
			rtr_seg_stats_main(seg, &ms);
			if ((double)(rte_get_tsc_cycles() - t0) / (double)hz > 30 + n_members / 10000.0)
				die("activation: members still PENDING", -ETIMEDOUT);
		}
		while (n < BURST && i < n_members) {
			struct sender s = {
				.member_id = mids[i], .host = i,
				.chan = CHAN_BASE + i / (cfg.fanout + 1),
				.path_token = 0x7265740000000000ULL | i,
				.seq = 0,	/* a sender's MEDIA counters start at 1 */
			};
			struct rtr_aead_key *k = rte_zmalloc("gen_ka", sizeof(*k), RTR_AEAD_KEY_ALIGN);

			if (k == NULL || rtr_aead_key_init(imb, k, mkeys[i], 16) != 0)
				die("activation key", -ENOMEM);
			s.key = k;
			b[n] = rte_pktmbuf_alloc(pool);
			if (b[n] == NULL)
				die("mbuf", -ENOBUFS);
			frame(b[n], &s, RTR_T_KEEPALIVE, 0);
			rtr_aead_key_wipe(k);
			rte_free(k);
			n++;
			i++;
		}
		while (sent < n)
			sent += rte_eth_tx_burst(0, 0, b + sent, (uint16_t)(n - sent));
		drain_rx();
	}
	do {
		drain_rx();
		rtr_seg_stats_main(seg, &ms);
		if ((double)(rte_get_tsc_cycles() - t0) / (double)hz > 30 + n_members / 10000.0)
			die("activation: members still PENDING", -ETIMEDOUT);
	} while (ms.members_active - base < n_members);
	fprintf(stderr, "rtr-gen: %u encrypted members activated\n", n_members);
}

/* ---- pcap ----------------------------------------------------------------- */

static void
write_pcap(const char *path, uint32_t count)
{
	FILE *f = fopen(path, "wb");
	uint32_t hdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };
	uint32_t i;

	if (f == NULL)
		die(path, -errno);
	fwrite(hdr, sizeof(hdr), 1, f);
	for (i = 0; i < count; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		uint32_t rec[4];

		if (m == NULL)
			die("mbuf", -ENOBUFS);
		frame(m, &senders[i % cfg.channels], RTR_T_MEDIA, 0);
		rec[0] = i / 1000000;
		rec[1] = i % 1000000;
		rec[2] = rec[3] = m->data_len;
		fwrite(rec, sizeof(rec), 1, f);
		fwrite(rte_pktmbuf_mtod(m, void *), m->data_len, 1, f);
		rte_pktmbuf_free(m);
	}
	if (fclose(f) != 0)
		die(path, -errno);
	fprintf(stderr, "rtr-gen: %u frames from %u senders written to %s\n", count, cfg.channels,
		path);
}

/* ---- the run -------------------------------------------------------------- */

static inline void
hist_add(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned int b;

	if (us < 64) {
		b = (unsigned int)us;
	} else {
		unsigned int oct = 63 - (unsigned int)__builtin_clzll(us);	/* >= 6 */

		b = 64 + (oct - 6) * 64 + (unsigned int)((us >> (oct - 6)) & 63);
	}
	if (b >= HIST_BUCKETS)
		b = HIST_BUCKETS - 1;
	hist[b]++;
	hist_n++;
}

static double
hist_value(unsigned int b)
{
	unsigned int oct;

	if (b < 64)
		return b;
	oct = (b - 64) / 64 + 6;
	return (double)(((uint64_t)64 + (b - 64) % 64) << (oct - 6));
}

static double
hist_pct(double pct)
{
	uint64_t want = (uint64_t)ceil(pct / 100.0 * (double)hist_n), acc = 0;
	unsigned int b;

	for (b = 0; b < HIST_BUCKETS && hist_n; b++) {
		acc += hist[b];
		if (acc >= want)
			return hist_value(b);
	}
	return NAN;
}

struct tally {
	uint64_t tx, rx, other, reordered, lost_gaps;
};

static uint64_t t_measure_tsc;	/* frames stamped before this are warm-up */
static uint64_t sink_touch;	/* what a ceiling's sink read: keeps the reads */

static inline void
rx_one(struct rte_mbuf *m, uint64_t now, double ns_per_tsc, int measure, struct tally *t)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *f;
	uint32_t dst, idx;

	if (cfg.sink || cfg.loopback) {
		/* a ceiling run: every frame counts. The sink reads the two cache
		 * lines it reads of a relay copy (addresses; counter and stamp):
		 * a sink that reads nothing leaves the shared buffers in the
		 * sender's cache and would not be the same sink. */
		if (!cfg.blind && m->data_len >= 14 + 20 + 8 + RTR_HDR_LEN + STAMP_LEN)
			sink_touch += (uint64_t)d[12] + d[14 + 16] + d[14 + 20 + 8 + RTR_OFF_COUNTER] +
				      d[14 + 20 + 8 + RTR_HDR_LEN];
		t->rx++;
		return;
	}
	if (m->data_len < 14 + 20 + 8 + RTR_HDR_LEN + (cfg.enc ? 0 : STAMP_LEN) ||
	    d[12] != 0x08 || d[13] != 0x00 || d[14 + 9] != 17) {
		t->other++;
		return;
	}
	memcpy(&dst, d + 14 + 16, 4);
	idx = ntohl(dst) - HOST_BASE;
	f = d + 14 + 20 + 8;
	if (idx >= n_members || f[RTR_OFF_TYPE] != RTR_T_MEDIA) {
		t->other++;		/* KEEPALIVE echoes, strays */
		return;
	}
	if (!cfg.enc) {
		/* plaintext copies carry the sender's counter and TSC stamp */
		uint64_t seq = rtr_get64(f + RTR_OFF_COUNTER);
		uint64_t stamp = rtr_get64(f + RTR_HDR_LEN);

		if (stamp < t_measure_tsc)
			return;		/* sent during the warm-up */
		t->rx++;
		rcvs[idx].frames++;

		if (seq < rcvs[idx].last_seq[0])
			rcvs[idx].reordered++;
		rcvs[idx].last_seq[0] = seq;
		if (measure && now > stamp)
			hist_add((uint64_t)((double)(now - stamp) * ns_per_tsc));
	} else {
		t->rx++;
		rcvs[idx].frames++;
	}
}

/* Take in whatever is still coming, until the queue has been quiet for
 * quiet_ms; counted when t is given. */
static void
drain(struct tally *t, double ns_per_tsc, unsigned int quiet_ms)
{
	uint64_t hz = rte_get_tsc_hz(), last = rte_get_tsc_cycles(), give_up = last + 2 * hz;
	struct rte_mbuf *rx[BURST];
	uint16_t n, i;

	/* at most 2 s: a peer that keeps sending (a ceiling run) is never quiet */
	while (rte_get_tsc_cycles() - last < hz / 1000 * quiet_ms &&
	       rte_get_tsc_cycles() < give_up) {
		uint16_t q;

		for (q = 0; q < cfg.queues; q++) {
			n = rte_eth_rx_burst(0, q, rx, BURST);
			if (n == 0)
				continue;
			for (i = 0; t != NULL && i < n; i++)
				rx_one(rx[i], rte_rdtsc(), ns_per_tsc, 0, t);
			rte_pktmbuf_free_bulk(rx, n);
			last = rte_get_tsc_cycles();
		}
	}
}

/* Send for `secs` seconds (paced or flat out), taking copies in between. */
static void
phase(double secs, struct tally *t, double ns_per_tsc, uint32_t *c)
{
	uint64_t hz = rte_get_tsc_hz(), gap = 0, next, end;
	struct rte_mbuf *pend[RTR_GEN_MAX_QUEUES][BURST], *rx[BURST];
	uint16_t npend[RTR_GEN_MAX_QUEUES] = { 0 };
	uint16_t n, i, sent, q;
	uint32_t k, hot = cfg.hot ? cfg.hot : cfg.channels;
	/* queues that have a sender; each queue's next sender */
	uint16_t qn = (uint16_t)(hot < cfg.queues ? hot : cfg.queues);
	uint32_t qcur[RTR_GEN_MAX_QUEUES];

	for (q = 0; q < qn; q++)
		qcur[q] = q;
	if (cfg.rate_mpps > 0)
		gap = (uint64_t)((double)hz / (cfg.rate_mpps * 1e6) * BURST);
	next = rte_get_tsc_cycles();
	end = next + (uint64_t)(secs * (double)hz);
	while (!quit) {
		uint64_t now = rte_rdtsc();

		if (now >= end)
			break;
		if (!cfg.sink && (gap == 0 || now >= next)) {
			/* one burst from one queue's senders: sender c always on
			 * queue c % queues, so its frames stay in order */
			uint16_t q = (uint16_t)((*c)++ % qn);
			struct rte_mbuf **tx = pend[q];

			/* frames the port refused wait for the next turn: building
			 * frames that are thrown away would take the sink's cycles */
			if (npend[q] == 0 && rte_pktmbuf_alloc_bulk(pool, tx, BURST) == 0) {
				for (i = 0; i < BURST; i++) {
					frame(tx[i], &senders[qcur[q]], RTR_T_MEDIA, now);
					qcur[q] += cfg.queues;
					if (qcur[q] >= hot)
						qcur[q] = q;
				}
				npend[q] = BURST;
			}
			if (npend[q] > 0) {
				sent = rte_eth_tx_burst(0, q, tx, npend[q]);
				if (sent > 0 && sent < npend[q])
					memmove(tx, tx + sent, (npend[q] - sent) * sizeof(*tx));
				npend[q] = (uint16_t)(npend[q] - sent);
				if (t != NULL)
					t->tx += sent;
			}
			next += gap;
			if (gap && next + 16 * gap < now)
				next = now;	/* behind: do not burst to catch up */
		}
		/* the sink first: up to 64 bursts a queue, until it is empty (with
		 * fan-out F, every burst sent brings F bursts back) */
		for (q = 0; q < cfg.queues; q++) {
			for (k = 0; k < 64; k++) {
				n = rte_eth_rx_burst(0, q, rx, BURST);
				for (i = 0; t != NULL && i < n; i++)
					rx_one(rx[i], now, ns_per_tsc, 1, t);
				rte_pktmbuf_free_bulk(rx, n);
				if (n < BURST)
					break;
				now = rte_rdtsc();
			}
		}
	}
	/* frames still waiting were never sent: their stamps belong to this
	 * phase, so they do not go out in the next one */
	for (q = 0; q < qn; q++)
		if (npend[q] > 0)
			rte_pktmbuf_free_bulk(pend[q], npend[q]);
}

/*
 * Warm-up (not counted), a pause until every copy of it is in, then the
 * measured window, then every copy of that: copies are counted exactly,
 * sealed ones included (their stamps cannot be read without opening them).
 */
static void
run(struct rtr_seg *seg, struct tally *t, double *secs)
{
	double ns_per_tsc = 1e9 / (double)rte_get_tsc_hz();
	uint64_t t0;
	uint32_t c = 0;

	(void)seg;
	memset(t, 0, sizeof(*t));
	if (cfg.warmup > 0) {
		phase(cfg.warmup, NULL, ns_per_tsc, &c);
		if (!cfg.sink)		/* a sink's peer never pauses */
			drain(NULL, ns_per_tsc, 20);
	}
	memset(rcvs, 0, (size_t)n_members * sizeof(*rcvs));
	t_measure_tsc = t0 = rte_get_tsc_cycles();
	phase(cfg.duration, t, ns_per_tsc, &c);
	*secs = (double)(rte_get_tsc_cycles() - t0) / (double)rte_get_tsc_hz();
	if (!cfg.sink)
		drain(t, ns_per_tsc, 50);
}

/* ---- options and report --------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr,
		"usage: rtr-gen [EAL options] -- --instance NAME [options]\n"
		"  --channels C        channels, one sender and F receivers each (default 1)\n"
		"  --fanout F          receivers per channel (default 4)\n"
		"  --payload BYTES     MEDIA payload, 16-1400 (default 200)\n"
		"  --cipher none|aes128gcm   (default none)\n"
		"  --rate MPPS         input frames per second, in millions; 0 = flat out (default 0)\n"
		"  --duration S        measured seconds (default 5)\n"
		"  --warmup S          unmeasured seconds first (default 1)\n"
		"  --svc ADDR          the dataplane port's service IPv4 address (default 10.0.0.1)\n"
		"  --no-program        the members are programmed already (same layout)\n"
		"  --json FILE         the report as JSON (else on stdout)\n"
		"  --hot N             send from the first N channels only (default: all)\n"
		"  --queues N          N queue pairs; sender c on queue c %% N (default 1)\n"
		"  --sink              no members, send nothing: count what arrives (ceilings)\n"
		"  --loopback          no members: send, count whatever comes back (ceilings)\n"
		"  --blind             with --sink/--loopback: count frames without reading them\n"
		"  --pcap FILE [--pcap-count N] [--dst-mac MAC]  write frames, send nothing\n");
}

static int
parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "channels", required_argument, NULL, 'c' },
		{ "fanout", required_argument, NULL, 'f' },
		{ "payload", required_argument, NULL, 'p' },
		{ "cipher", required_argument, NULL, 'e' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "svc", required_argument, NULL, 's' },
		{ "no-program", no_argument, NULL, 'n' },
		{ "json", required_argument, NULL, 'j' },
		{ "pcap", required_argument, NULL, 'P' },
		{ "pcap-count", required_argument, NULL, 'N' },
		{ "dst-mac", required_argument, NULL, 'm' },
		{ "hot", required_argument, NULL, 'H' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "sink", no_argument, NULL, 'S' },
		{ "loopback", no_argument, NULL, 'L' },
		{ "blind", no_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long v;
	int o;

	cfg.channels = 1;
	cfg.fanout = 4;
	cfg.payload = 200;
	cfg.duration = 5;
	cfg.warmup = 1;
	cfg.program = 1;
	cfg.pcap_count = 1024;
	cfg.queues = 1;
	inet_pton(AF_INET, "10.0.0.1", cfg.svc);
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			if (!rtr_instance_valid(optarg))
				goto bad;
			snprintf(cfg.instance, sizeof(cfg.instance), "%s", optarg);
			break;
		case 'c':
		case 'f':
		case 'p':
		case 'N':
			v = strtol(optarg, &end, 10);
			if (*end || v < (o == 'f' ? 1 : o == 'p' ? 16 : 1) ||
			    v > (o == 'p' ? 1400 : o == 'f' ? 4096 : 1 << 22))
				goto bad;
			if (o == 'c')
				cfg.channels = (uint32_t)v;
			else if (o == 'f')
				cfg.fanout = (uint32_t)v;
			else if (o == 'p')
				cfg.payload = (uint16_t)v;
			else
				cfg.pcap_count = (uint32_t)v;
			break;
		case 'e':
			if (strcmp(optarg, "none") == 0)
				cfg.enc = 0;
			else if (strcmp(optarg, "aes128gcm") == 0)
				cfg.enc = 1;
			else
				goto bad;
			break;
		case 'r':
		case 'd':
		case 'w': {
			double x = strtod(optarg, &end);

			if (*end || !(x >= 0) || x > 1e6)
				goto bad;
			if (o == 'r')
				cfg.rate_mpps = x;
			else if (o == 'd')
				cfg.duration = x;
			else
				cfg.warmup = x;
			break;
		}
		case 's':
			if (inet_pton(AF_INET, optarg, cfg.svc) != 1)
				goto bad;
			break;
		case 'n':
			cfg.program = 0;
			break;
		case 'j':
			cfg.json = optarg;
			break;
		case 'P':
			cfg.pcap = optarg;
			break;
		case 'm':
			if (rte_ether_unformat_addr(optarg, &cfg.dst_mac) != 0)
				goto bad;
			cfg.have_dst_mac = 1;
			break;
		case 'H':
		case 'Q':
			v = strtol(optarg, &end, 10);
			if (*end || v < (o == 'Q' ? 1 : 0) || v > (o == 'Q' ? RTR_GEN_MAX_QUEUES : 1 << 22))
				goto bad;
			if (o == 'H')
				cfg.hot = (uint32_t)v;
			else
				cfg.queues = (uint16_t)v;
			break;
		case 'S':
			cfg.sink = 1;
			cfg.program = 0;
			break;
		case 'L':
			cfg.loopback = 1;
			cfg.program = 0;
			break;
		case 'B':
			cfg.blind = 1;
			break;
		default:
			usage();
			return -1;
		}
	}
	if (cfg.instance[0] == '\0' && cfg.pcap == NULL && !cfg.sink && !cfg.loopback) {
		fprintf(stderr, "rtr-gen: --instance is required (or --pcap, --sink, --loopback)\n");
		return -1;
	}
	if (cfg.hot > cfg.channels) {
		fprintf(stderr, "rtr-gen: --hot %u is more than --channels %u\n", cfg.hot,
			cfg.channels);
		return -1;
	}
	if (cfg.pcap != NULL && cfg.enc) {
		fprintf(stderr, "rtr-gen: --pcap writes plaintext frames only (sealed ones would be "
			"replays after the first pass)\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "rtr-gen: bad value for --%s: '%s'\n", opts[0].name, optarg);
	usage();
	return -1;
}

static void
report(const struct tally *t, double secs, const struct rtr_worker_stats *w0,
       const struct rtr_worker_stats *w1, const struct rtr_seg *seg)
{
	FILE *f = cfg.json ? fopen(cfg.json, "w") : stdout;
	uint64_t expected = cfg.sink ? t->rx : cfg.loopback ? t->tx : t->tx * cfg.fanout;
	uint64_t lost = expected > t->rx ? expected - t->rx : 0;
	uint64_t rmin = UINT64_MAX, rmax = 0, reord = 0, mout = w1->media_out - w0->media_out;
	unsigned int i, first = 1;
	uint32_t m;

	if (f == NULL)
		die(cfg.json, -errno);
	for (m = 0; m < n_members; m++) {
		if (m % (cfg.fanout + 1) == 0)
			continue;	/* senders */
		rmin = rcvs[m].frames < rmin ? rcvs[m].frames : rmin;
		rmax = rcvs[m].frames > rmax ? rcvs[m].frames : rmax;
		reord += rcvs[m].reordered;
	}
	fprintf(f, "{\"channels\": %u, \"fanout\": %u, \"payload\": %u, \"cipher\": \"%s\","
		" \"members\": %u, \"rate_mpps\": %.3f, \"seconds\": %.3f, \"sink_reads\": %s,"
		" \"sink_read_sum\": %" PRIu64 ",\n",
		cfg.channels, cfg.fanout, cfg.payload, cfg.enc ? "aes128gcm" : "none", n_members,
		cfg.rate_mpps, secs, cfg.blind ? "false" : "true", sink_touch);
	fprintf(f, " \"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", \"expected\": %" PRIu64
		", \"lost\": %" PRIu64 ", \"loss_ratio\": %.6f, \"reordered\": %" PRIu64 ",\n",
		t->tx, t->rx, expected, lost, expected ? (double)lost / (double)expected : 0.0,
		reord);
	fprintf(f, " \"in_mpps\": %.4f, \"out_mpps\": %.4f, \"per_receiver_min\": %" PRIu64
		", \"per_receiver_max\": %" PRIu64 ", \"other_frames\": %" PRIu64 ",\n",
		(double)t->tx / secs / 1e6, (double)t->rx / secs / 1e6, rmin, rmax, t->other);
	fprintf(f, " \"dataplane\": {\"media_in\": %" PRIu64 ", \"media_out\": %" PRIu64
		", \"busy_cycles\": %" PRIu64 ", \"cycles_per_out\": %.1f, \"drops\": {",
		w1->media_in - w0->media_in, mout, w1->busy_cycles - w0->busy_cycles,
		mout ? (double)(w1->busy_cycles - w0->busy_cycles) / (double)mout : 0.0);
	for (i = 0; i < RTR_DROP_MAX; i++) {
		uint64_t d = w1->drops[i] - w0->drops[i];

		if (d == 0)
			continue;
		fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
			seg != NULL ? rtr_seg_drop_name(seg, i) : rtr_drop_name(i), d);
		first = 0;
	}
	fprintf(f, "}");
	if (seg != NULL) {
		struct rtr_main_stats ms;

		rtr_seg_stats_main(seg, &ms);
		fprintf(f, ", \"heap_used_mib\": %.1f, \"members\": %" PRIu64 ", \"channels\": %" PRIu64,
			(double)ms.heap_used / (1 << 20), ms.members, ms.channels);
	}
	fprintf(f, "},\n \"latency_us\": ");
	if (hist_n)
		fprintf(f, "{\"samples\": %" PRIu64 ", \"p50\": %.0f, \"p99\": %.0f, \"p999\": %.0f}",
			hist_n, hist_pct(50), hist_pct(99), hist_pct(99.9));
	else
		fprintf(f, "null");
	fprintf(f, "}\n");
	if (f != stdout)
		fclose(f);
}

/* The senders of a run programmed by someone else (or a pcap): member ids
 * as a fresh dataplane hands them out for rtr-gen's layout (slot i,
 * generation 1). */
static void
senders_as_programmed(void)
{
	uint32_t c;

	for (c = 0; c < cfg.channels; c++) {
		uint32_t host = c * (cfg.fanout + 1);

		senders[c].host = host;
		senders[c].chan = CHAN_BASE + c;
		senders[c].member_id = rtr_mid_make(host, 1);
	}
}

int
main(int argc, char **argv)
{
	struct rte_eth_conf conf;
	struct rtr_seg *seg = NULL;
	struct rtr_worker_stats w0, w1;
	struct tally t;
	double secs = 0;
	int n, rc;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "rtr-gen: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	if (parse_args(argc - n, argv + n) < 0)
		return 2;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	n_members = cfg.channels * (cfg.fanout + 1);
	senders = calloc(cfg.channels, sizeof(*senders));
	rcvs = calloc(n_members, sizeof(*rcvs));
	mids = calloc(n_members, sizeof(*mids));
	mkeys = cfg.enc ? calloc(n_members, sizeof(*mkeys)) : NULL;
	imb = rtr_aead_mgr_new();
	pool = rte_pktmbuf_pool_create("gen_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (senders == NULL || rcvs == NULL || mids == NULL || (cfg.enc && mkeys == NULL) ||
	    imb == NULL || pool == NULL)
		die("memory", -ENOMEM);
	if (rte_eth_dev_count_avail() < 1 && cfg.pcap == NULL) {
		fprintf(stderr, "rtr-gen: no port (give --vdev net_memif0,role=client,...)\n");
		return 2;
	}
	if (rte_eth_dev_count_avail() >= 1)
		rte_eth_macaddr_get(0, &my_mac);
	if (cfg.pcap != NULL) {
		senders_as_programmed();
		if (!cfg.have_dst_mac) {
			fprintf(stderr, "rtr-gen: --pcap needs --dst-mac (the dataplane port's MAC)\n");
			return 2;
		}
		write_pcap(cfg.pcap, cfg.pcap_count);
		return 0;
	}
	if (cfg.instance[0] != '\0') {
		uint64_t until = rte_get_tsc_cycles() + 10 * rte_get_tsc_hz();

		/* a dataplane just started may not beat its heartbeat yet */
		do {
			rc = rtr_seg_attach(cfg.instance, cfg.program ?
					    RTR_ATTACH_CONTROL | RTR_ATTACH_STATS : RTR_ATTACH_STATS,
					    &seg);
			if (rc == -ESRCH || rc == -EAGAIN || rc == -ENOENT)
				rte_delay_us_sleep(20000);
		} while ((rc == -ESRCH || rc == -EAGAIN || rc == -ENOENT) &&
			 rte_get_tsc_cycles() < until);
		if (rc < 0)
			die(cfg.instance, rc);
	}
	if (seg == NULL && !cfg.have_dst_mac)
		memset(&cfg.dst_mac, 0xff, sizeof(cfg.dst_mac));	/* ceilings: anything */
	if (seg != NULL && !cfg.have_dst_mac) {
		struct rtr_port_stats ps;

		if (rtr_seg_stats_port(seg, 0, &ps) < 0)
			die("dataplane port 0", -ENODEV);
		memcpy(&cfg.dst_mac, ps.mac, 6);
	}
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(0, cfg.queues, cfg.queues, &conf);
	for (n = 0; rc == 0 && n < cfg.queues; n++) {
		rc = rte_eth_rx_queue_setup(0, (uint16_t)n, 1024, rte_eth_dev_socket_id(0), NULL,
					    pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(0, (uint16_t)n, 1024, rte_eth_dev_socket_id(0),
						    NULL);
	}
	if (rc == 0)
		rc = rte_eth_dev_start(0);
	if (rc != 0)
		die("port 0", rc);
	{
		/* memif: wait for the connection to the dataplane */
		struct rte_eth_link link;
		uint64_t until = rte_get_tsc_cycles() + 10 * rte_get_tsc_hz();

		do {
			rte_eth_link_get_nowait(0, &link);
		} while (!link.link_status && rte_get_tsc_cycles() < until);
		if (!link.link_status)
			die("port 0 link", -ENOLINK);
	}
	if (cfg.program) {
		program(seg);
		if (cfg.enc)
			activate_all(seg);
	} else {
		senders_as_programmed();
	}
	memset(&w0, 0, sizeof(w0));
	memset(&w1, 0, sizeof(w1));
	if (seg != NULL)
		rtr_seg_stats_workers(seg, &w0);
	run(seg, &t, &secs);
	if (seg != NULL)
		rtr_seg_stats_workers(seg, &w1);
	report(&t, secs, &w0, &w1, seg);
	rte_eth_dev_stop(0);
	rte_eth_dev_close(0);
	if (seg != NULL)
		rtr_seg_detach(seg);
	{
		uint32_t c;

		for (c = 0; c < cfg.channels; c++) {
			if (senders[c].key != NULL) {
				rtr_aead_key_wipe(senders[c].key);
				rte_free(senders[c].key);
			}
		}
	}
	if (mkeys != NULL) {
		OPENSSL_cleanse(mkeys, (size_t)n_members * sizeof(*mkeys));
		free(mkeys);
	}
	free(senders);
	free(rcvs);
	free(mids);
	rtr_aead_mgr_free(imb);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}
