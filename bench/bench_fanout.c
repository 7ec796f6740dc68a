/* SPDX-License-Identifier: BSD-3-Clause
 * Fan-out cost per output frame, plain and encrypted, next to the raw cost
 * of AES-GCM for the same payload: the dataplane's own fast path
 * (rtr_worker_burst) on one core, bursts of 32 MEDIA frames built in memory,
 * copies sent to a net_null port (which frees them). Only the worker's
 * processing and TX are timed; building and sealing the inputs is not.
 *
 *   bench_fanout [EAL options] -- [--rounds-scale F] [--json FILE]
 *
 * Every figure of one run is measured side by side in the same process, so
 * ratios hold on a noisy machine where absolute numbers drift.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_cycles.h>
#include <rte_malloc.h>

#include "dp.h"

struct rtr_dp rtr_dp;

#define APP		1
#define SLICES		9	/* interleaved measurements per mode, median taken */
#define SLICE_OUTPUTS	40000
#define SLICE_OPS	20000
#define BURST		RTR_BURST
#define SVC_IP		"10.0.0.1"
#define CLIENT_IP	0x0a010000u	/* 10.1.0.0 + member number */

enum mode { PLAIN_COPY, PLAIN_CHAIN, ENC_128, N_MODES };
static const char *const mode_name[N_MODES] = { "plain copy", "plain chain", "aes128gcm" };

struct sender {
	uint32_t member_id;
	uint64_t chan;
	uint8_t key[16];		/* its uplink key (enc) */
	struct rtr_aead_key *k;
	uint64_t counter;
};

static IMB_MGR *bench_imb;
static uint32_t next_host = 1;

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench_fanout: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

static void
ep_for(struct rtr_ep *ep, uint32_t host)
{
	uint32_t ip = htonl(CLIENT_IP + host);

	memset(ep, 0, sizeof(*ep));
	ep->family = 4;
	ep->port_id = 0;
	ep->udp_port = (uint16_t)(20000 + host % 40000);
	ep->mac[0] = 0x02;
	ep->mac[5] = (uint8_t)host;
	ep->mac[4] = (uint8_t)(host >> 8);
	memcpy(ep->ip, &ip, 4);
	inet_pton(AF_INET, SVC_IP, ep->local_ip);
}

/* A member in channel chan: ACTIVE, plain or with random keys. */
static uint32_t
member(uint64_t chan, int enc, uint8_t rx_key[16])
{
	struct rtr_msg_member_add a;
	struct rtr_reply_member_add r;
	uint32_t host = next_host++;
	int rc;

	memset(&a, 0, sizeof(a));
	a.app_index = APP;
	a.channel_hash = chan;
	a.privs = RTR_PRIV_ALL;
	a.role = RTR_ROLE_PUBLISHER;
	ep_for(&a.ep, host);
	a.path_token = host;
	if (enc) {
		a.suite = RTR_SUITE_AES128GCM;
		for (rc = 0; rc < 32; rc++) {
			a.rx_key[rc] = (uint8_t)rand();
			a.tx_key[rc] = (uint8_t)rand();
		}
		if (rx_key != NULL)
			memcpy(rx_key, a.rx_key, 16);
	} else {
		a.flags = RTR_MEMBER_F_ACTIVE;
	}
	rc = rtr_member_add(&rtr_dp, &a, &r);
	if (rc < 0)
		die("member add", rc);
	if (enc) {
		rc = rtr_member_activate(&rtr_dp, rtr_mid_slot(r.member_id),
					 rtr_dp.members[rtr_mid_slot(r.member_id)].gen);
		if (rc < 0)
			die("member activate", rc);
	}
	return r.member_id;
}

/* A channel of one sender and n receivers. */
static void
channel(struct sender *s, uint64_t chan, unsigned int n, int enc)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->chan = chan;
	s->member_id = member(chan, enc, s->key);
	if (enc) {
		s->k = rte_zmalloc("bench_key", sizeof(*s->k), RTR_AEAD_KEY_ALIGN);
		if (s->k == NULL || rtr_aead_key_init(bench_imb, s->k, s->key, 16) != 0)
			die("sender key", -ENOMEM);
	}
	for (i = 0; i < n; i++)
		member(chan, enc, NULL);
}

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* One input: Ethernet, IPv4, UDP, the relay header and payload (sealed
 * with the sender's key when it has one), every checksum right. */
static struct rte_mbuf *
input(struct sender *s, uint16_t pl_len)
{
	const struct rtr_port *pt = &rtr_dp.ports[0];
	struct rte_mbuf *m = rte_pktmbuf_alloc(rtr_dp.pool);
	uint16_t body = (uint16_t)(pl_len + (s->k ? RTR_TAG_LEN : 0));
	uint16_t udp_len = (uint16_t)(8 + RTR_HDR_LEN + body), c;
	struct rtr_ep ep;
	struct rtr_hdr h;
	uint8_t *d, *ip, *udp, *f, nonce[12];

	if (m == NULL)
		die("input mbuf", -ENOBUFS);
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + 20 + udp_len));
	ep_for(&ep, rtr_mid_slot(s->member_id) + 1);
	memcpy(d, &pt->mac, 6);
	memcpy(d + 6, ep.mac, 6);
	put16(d + 12, 0x0800);
	ip = d + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + udp_len));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, ep.ip, 4);
	memcpy(ip + 16, pt->pcfg.ip4, 4);
	put16(ip + 10, (uint16_t)~rtr_csum_fold(rtr_csum_add(0, ip, 20)));
	udp = ip + 20;
	f = udp + 8;
	memset(&h, 0, sizeof(h));
	h.magic = RTR_MAGIC;
	h.version = RTR_VERSION;
	h.type = RTR_T_MEDIA;
	h.app_index = APP;
	h.channel_hash = s->chan;
	h.member_id = s->member_id;
	h.flags = (uint16_t)(s->k ? RTR_F_ENC : 0);
	h.payload_len = body;
	h.counter = s->counter++;
	rtr_hdr_encode(f, &h);
	memset(f + RTR_HDR_LEN, 0xa5, pl_len);
	if (s->k) {
		memset(nonce, 0, 4);
		memcpy(nonce + 4, f + 24, 8);
		rtr_aead_seal(bench_imb, s->k, nonce, f, RTR_HDR_LEN, f + RTR_HDR_LEN, pl_len,
			      f + RTR_HDR_LEN, f + RTR_HDR_LEN + pl_len);
	}
	put16(udp, ep.udp_port);
	put16(udp + 2, rtr_dp.cfg.udp_port);
	put16(udp + 4, udp_len);
	c = rtr_udp_csum_sums(rtr_addr_sum(4, ep.ip, pt->pcfg.ip4), ep.udp_port,
			      rtr_dp.cfg.udp_port, udp_len, rtr_csum_add(0, f, udp_len - 8));
	put16(udp + 6, c);
	return m;
}

struct result {
	double cyc_per_out;
	double outs;
	uint64_t drops;
};

/* Worker cycles per output for n_in inputs of this sender. */
static struct result
run(struct sender *s, uint16_t pl_len, uint64_t outputs_wanted)
{
	struct rtr_worker *w = &rtr_dp.workers[0];
	struct rte_mbuf *pkts[BURST];
	uint64_t cycles = 0, out0 = w->st->media_out, drops0 = 0, drops1 = 0, now_s = rtr_dp.now_s;
	unsigned int i, k;
	struct result r;

	for (k = 0; k < RTR_DROP_MAX; k++)
		drops0 += w->st->drops[k];
	while (w->st->media_out - out0 < outputs_wanted) {
		uint64_t t0, t1;

		for (i = 0; i < BURST; i++)
			pkts[i] = input(s, pl_len);
		t0 = rte_rdtsc_precise();
		rtr_worker_burst(w, pkts, BURST, 0, t0, now_s);
		rtr_worker_flush(w);
		t1 = rte_rdtsc_precise();
		cycles += t1 - t0;
	}
	for (k = 0; k < RTR_DROP_MAX; k++)
		drops1 += w->st->drops[k];
	r.outs = (double)(w->st->media_out - out0);
	r.cyc_per_out = (double)cycles / r.outs;
	r.drops = drops1 - drops0;
	return r;
}

/* Raw ipsec-mb AES-128-GCM seal of len bytes with a 32-byte AAD, cycles. */
static double
raw_seal(uint16_t len, unsigned int n)
{
	static uint8_t buf[2048], aad[32], tag[16], nonce[12], key[16] = { 1, 2, 3 };
	struct rtr_aead_key *k = rte_zmalloc("bench_raw", sizeof(*k), RTR_AEAD_KEY_ALIGN);
	uint64_t t0, t1;
	unsigned int i;

	if (k == NULL || rtr_aead_key_init(bench_imb, k, key, 16) != 0)
		die("raw key", -ENOMEM);
	t0 = rte_rdtsc_precise();
	for (i = 0; i < n; i++) {
		nonce[11] = (uint8_t)i;
		rtr_aead_seal(bench_imb, k, nonce, aad, sizeof(aad), buf, len, buf, tag);
	}
	t1 = rte_rdtsc_precise();
	rte_free(k);
	return (double)(t1 - t0) / n;
}

/* The same through the job API, 32 frames a call (what the fan-out would
 * pay per copy if it batched its seals). */
static double
raw_seal_jobs(uint16_t len, unsigned int n)
{
	static uint8_t buf[BURST][2048], aad[32], tag[BURST][16], nonce[BURST][12];
	static const uint8_t key[16] = { 1, 2, 3 };
	struct rtr_aead_key *k = rte_zmalloc("bench_raw", sizeof(*k), RTR_AEAD_KEY_ALIGN);
	struct rtr_aead_op ops[BURST];
	uint64_t t0, t1;
	unsigned int i, j, done = 0;

	if (k == NULL || rtr_aead_key_init(bench_imb, k, key, 16) != 0)
		die("raw key", -ENOMEM);
	t0 = rte_rdtsc_precise();
	for (i = 0; i < n; i += BURST) {
		for (j = 0; j < BURST; j++) {
			nonce[j][11] = (uint8_t)(i + j);
			ops[j].key = k;
			ops[j].nonce = nonce[j];
			ops[j].aad = aad;
			ops[j].aad_len = sizeof(aad);
			ops[j].in = buf[j];
			ops[j].out = buf[j];
			ops[j].tag = tag[j];
			ops[j].len = len;
		}
		done += rtr_aead_seal_burst(bench_imb, ops, BURST);
	}
	t1 = rte_rdtsc_precise();
	rte_free(k);
	return (double)(t1 - t0) / (done ? done : 1);
}

/* The ones'-complement sum over len bytes, cycles (each sealed copy needs one). */
static double
raw_csum(uint16_t len, unsigned int n)
{
	static uint8_t buf[2048];
	volatile uint32_t sink = 0;
	uint64_t t0, t1;
	unsigned int i;

	t0 = rte_rdtsc_precise();
	for (i = 0; i < n; i++) {
		buf[0] = (uint8_t)i;
		sink += rtr_csum_add(0, buf, len);
	}
	t1 = rte_rdtsc_precise();
	(void)sink;
	return (double)(t1 - t0) / n;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
set_mode(enum mode m)
{
	rtr_dp.ports[0].chain = m == PLAIN_CHAIN;
	rtr_dp.cfg.tx_mode = m == PLAIN_CHAIN ? RTR_TX_CHAIN : RTR_TX_COPY;
}

int
main(int argc, char **argv)
{
	static const uint16_t sizes[] = { 200, 1200 };
	static const unsigned int fanouts[] = { 1, 4, 16, 64 };
	struct rtr_dp *dp = &rtr_dp;
	struct rtr_seg_params sp;
	struct rtr_msg_app_set app;
	struct sender snd[RTE_DIM(fanouts)][2];
	double scale = 1.0, raw[RTE_DIM(sizes)], csum[RTE_DIM(sizes)];
	const char *json_path = NULL;
	FILE *json = NULL;
	char inst[32];
	unsigned int si, fi, m;
	int n, rc, o;

	n = rte_eal_init(argc, argv);
	if (n < 0)
		die("EAL init", -rte_errno);
	argc -= n;
	argv += n;
	{
		static const struct option opts[] = {
			{ "rounds-scale", required_argument, NULL, 's' },
			{ "json", required_argument, NULL, 'j' },
			{ NULL, 0, NULL, 0 },
		};
		while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
			if (o == 's')
				scale = atof(optarg);
			else if (o == 'j')
				json_path = optarg;
			else
				return 2;
		}
	}
	rtr_logtype = rte_log_register_type_and_pick_level("rtrelay.bench", RTE_LOG_WARNING);
	if (rte_eth_dev_count_avail() != 1) {
		fprintf(stderr, "bench_fanout: needs exactly one port (--vdev net_null0)\n");
		return 2;
	}
	snprintf(inst, sizeof(inst), "bench%d", (int)getpid());
	snprintf(dp->cfg.instance, sizeof(dp->cfg.instance), "%s", inst);
	dp->cfg.udp_port = RTR_DEFAULT_PORT;
	dp->cfg.max_channels = 64;
	dp->cfg.max_members = 1024;
	dp->cfg.max_apps = 4;
	dp->cfg.max_enc_members = 512;
	dp->cfg.mbufs = 32768;
	dp->cfg.max_fanout = 64;
	dp->cfg.copy_max = 512;
	dp->cfg.punt_rate = 1000;
	dp->cfg.rxd = 512;
	dp->cfg.txd = 1024;
	dp->cfg.rekey_frames = 1ULL << 28;
	dp->cfg.rekey_seconds = 86400;
	dp->cfg.ip[0].has_ip4 = 1;
	inet_pton(AF_INET, SVC_IP, dp->cfg.ip[0].ip4);
	dp->n_workers = 1;
	dp->n_ports = 1;
	dp->tsc_hz = rte_get_tsc_hz();
	dp->now_s = (uint64_t)time(NULL);
	memset(&sp, 0, sizeof(sp));
	sp.instance = inst;
	sp.n_workers = 1;
	sp.n_ports = 1;
	sp.max_apps = dp->cfg.max_apps;
	sp.udp_port = dp->cfg.udp_port;
	rc = rtr_seg_create(&sp, &dp->seg);
	if (rc < 0)
		die("segments", rc);
	dp->imb = rtr_aead_mgr_new();
	bench_imb = rtr_aead_mgr_new();
	if (dp->imb == NULL || bench_imb == NULL)
		die("ipsec-mb", -ENOMEM);
	rc = rtr_workers_init(dp);
	if (rc == 0)
		rc = rtr_tables_init(dp);
	if (rc == 0)
		rc = rtr_pools_init(dp);
	if (rc == 0)
		rc = rtr_port_init(dp, 0);
	if (rc < 0)
		die("set-up", rc);
	dp->ports[0].mtu = 1500;
	memset(&app, 0, sizeof(app));
	app.app_index = APP;
	app.flags = RTR_APP_F_ENABLED;
	rc = rtr_app_set(dp, &app);
	if (rc < 0)
		die("app", rc);
	for (fi = 0; fi < RTE_DIM(fanouts); fi++) {
		channel(&snd[fi][0], 0x1000 + fi, fanouts[fi], 0);
		channel(&snd[fi][1], 0x2000 + fi, fanouts[fi], 1);
	}
	if (json_path != NULL && (json = fopen(json_path, "w")) == NULL)
		die(json_path, -errno);
	printf("rtrelay fan-out cost per output frame: one core, rtr_worker_burst() on bursts of %u "
	       "MEDIA frames, copies freed by net_null; AES-GCM through ipsec-mb (%s); TSC %.2f GHz; "
	       "median of %u interleaved slices per column\n\n", BURST,
	       rtr_aead_mgr_arch(dp->imb), (double)dp->tsc_hz / 1e9, SLICES);
	printf("%7s %6s | %11s %11s %11s | %9s %9s %9s | %10s %9s %7s\n", "payload", "fanout",
	       "plain copy", "plain chain", "aes128gcm", "raw seal", "job API", "csum", "enc-plain",
	       "/raw seal", "target");
	printf("%7s %6s | %11s %11s %11s | %9s %9s %9s | %10s %9s %7s\n", "bytes", "", "cyc/out",
	       "cyc/out", "cyc/out", "cycles", "cycles", "cycles", "cycles", "", "<= 1.5");
	if (json)
		fprintf(json, "{\"arch\": \"%s\", \"tsc_hz\": %llu, \"burst\": %u, \"slices\": %u,"
			" \"rows\": [", rtr_aead_mgr_arch(dp->imb), (unsigned long long)dp->tsc_hz,
			BURST, SLICES);
	/* caches, branch predictors and the CPU's clock settle first */
	for (m = 0; m < N_MODES; m++) {
		set_mode((enum mode)m);
		run(&snd[0][m == ENC_128], sizes[0], (uint64_t)(4 * SLICE_OUTPUTS * scale));
	}
	raw_seal(sizes[0], (unsigned int)(4 * SLICE_OPS * scale));
	for (si = 0; si < RTE_DIM(sizes); si++) {
		for (fi = 0; fi < RTE_DIM(fanouts); fi++) {
			/* slices of every mode interleaved, medians compared: the
			 * machine's drift hits all columns of a row alike */
			double v[N_MODES + 3][SLICES], r[N_MODES + 3], plain, extra;
			uint64_t want = (uint64_t)(SLICE_OUTPUTS * scale), drops[N_MODES] = { 0 };
			unsigned int k;

			for (m = 0; m < N_MODES; m++) {
				set_mode((enum mode)m);
				run(&snd[fi][m == ENC_128], sizes[si], want / 4);	/* warm-up */
			}
			for (k = 0; k < SLICES; k++) {
				for (m = 0; m < N_MODES; m++) {
					struct result x;

					set_mode((enum mode)m);
					x = run(&snd[fi][m == ENC_128], sizes[si], want);
					v[m][k] = x.cyc_per_out;
					drops[m] += x.drops;
				}
				v[N_MODES][k] = raw_seal(sizes[si], (unsigned int)(SLICE_OPS * scale));
				v[N_MODES + 1][k] = raw_csum((uint16_t)(sizes[si] + RTR_HDR_LEN +
									RTR_TAG_LEN),
							     (unsigned int)(SLICE_OPS * scale));
				v[N_MODES + 2][k] = raw_seal_jobs(sizes[si],
								  (unsigned int)(SLICE_OPS * scale));
			}
			for (m = 0; m < N_MODES + 3; m++)
				r[m] = median(v[m], SLICES);
			raw[si] = r[N_MODES];
			csum[si] = r[N_MODES + 1];
			plain = r[PLAIN_COPY] < r[PLAIN_CHAIN] ? r[PLAIN_COPY] : r[PLAIN_CHAIN];
			extra = r[ENC_128] - plain;
			printf("%7u %6u | %11.1f %11.1f %11.1f | %9.1f %9.1f %9.1f | %10.1f %9.2f %7s\n",
			       sizes[si], fanouts[fi], r[PLAIN_COPY], r[PLAIN_CHAIN], r[ENC_128],
			       raw[si], r[N_MODES + 2], csum[si], extra, extra / raw[si],
			       extra <= 1.5 * raw[si] ? "met" : "MISSED");
			for (m = 0; m < N_MODES; m++)
				if (drops[m])
					printf("        (%s: %llu drops)\n", mode_name[m],
					       (unsigned long long)drops[m]);
			if (json)
				fprintf(json, "%s{\"payload\": %u, \"fanout\": %u, \"plain_copy\": %.1f,"
					" \"plain_chain\": %.1f, \"aes128gcm\": %.1f, \"raw_seal\": %.1f,"
					" \"raw_seal_jobs\": %.1f, \"csum\": %.1f,"
					" \"extra_over_raw\": %.3f}",
					si || fi ? ", " : "", sizes[si], fanouts[fi], r[PLAIN_COPY],
					r[PLAIN_CHAIN], r[ENC_128], raw[si], r[N_MODES + 2], csum[si],
					extra / raw[si]);
		}
	}
	if (json) {
		fprintf(json, "]}\n");
		fclose(json);
	}
	printf("\nraw seal: one ipsec-mb AES-128-GCM direct call, 32-byte AAD, key in cache; job API: "
	       "the same through the job manager, 32 a call; csum: the ones'-complement sum of the "
	       "sealed UDP payload.\nenc-plain: what encryption adds per output over the cheaper "
	       "plain mode: one seal and one checksum per copy, plus the open of the input shared by "
	       "the fan-out (at fan-out 1 a whole open per output). Target: at most 1.5 x the raw "
	       "seal.\n");
	rtr_tables_free(dp);
	rtr_workers_free(dp);
	rtr_aead_mgr_free(dp->imb);
	rtr_aead_mgr_free(bench_imb);
	rte_eth_dev_stop(0);
	rte_eth_dev_close(0);
	rtr_seg_destroy(dp->seg);
	rte_eal_cleanup();
	return 0;
}
