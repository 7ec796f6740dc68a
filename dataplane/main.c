/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-dataplane: options, EAL, ports, pools, segments, the main lcore loop.
 *
 *   rtr-dataplane [EAL options] -- [--instance NAME] [--udp-port N]
 *       [--ip PORT=ADDR]... [--max-channels N] [--max-members N] [--max-apps N]
 *       [--mbufs N] [--max-fanout N] [--idle-timeout S] [--tx-mode auto|chain|copy]
 *       [--copy-max BYTES] [--punt-rate N] [--rx-hold] [--idle-sleep-us N]
 *       [--rxd N] [--txd N]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_log.h>

#include "dp.h"

struct rtr_dp rtr_dp;

#define LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, rtr_logtype, "rtr-dataplane: " fmt "\n", ##__VA_ARGS__)

static void
on_signal(int sig)
{
	(void)sig;
	rtr_dp.quit = 1;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [EAL options] -- [options]\n"
		"  --instance NAME        segment name (default: default)\n"
		"  --udp-port N           service UDP port (default: 7700)\n"
		"  --ip PORT=ADDR         service IPv4/IPv6 address of a port (repeatable)\n"
		"  --max-channels N       channel table size (default: 65536)\n"
		"  --max-members N        member table size (default: 262144, at most 4194304)\n"
		"  --max-apps N           app table size (default: 1024)\n"
		"  --mbufs N              packet pool size (default: sized from ports and fan-out)\n"
		"  --max-fanout N         largest fan-out the pools are sized for (default: 256)\n"
		"  --idle-timeout S       remove members silent this long, 0 = never (default: 30)\n"
		"  --tx-mode MODE         auto|chain|copy (default: auto)\n"
		"  --copy-max BYTES       auto mode: copy payloads up to this size (default: 512)\n"
		"  --punt-rate N          JOINs per second per worker sent to the control plane (default: 20000)\n"
		"  --rx-hold              start without polling RX until a RESUME command\n"
		"  --idle-sleep-us N      an idle worker sleeps this long (default: 0, busy-poll)\n"
		"  --rxd N, --txd N       descriptors per queue (default: 1024)\n"
		"  --max-enc-members N    key slots for encrypted members, ~4.6 KiB each (default: 4096)\n"
		"  --rekey-frames N       ask a member to rekey after N frames under a key (default: 2^28)\n"
		"  --rekey-seconds S      ... or after S seconds (default: 86400)\n",
		prog);
}

static int
parse_u32(const char *opt, const char *s, uint64_t min, uint64_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "rtr-dataplane: %s: '%s' is not a number from %llu to %llu\n",
			opt, s, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_ip(struct rtr_cfg *c, const char *arg)
{
	char buf[128], *eq;
	uint32_t port;

	snprintf(buf, sizeof(buf), "%s", arg);
	eq = strchr(buf, '=');
	if (eq == NULL) {
		fprintf(stderr, "rtr-dataplane: --ip: '%s' must be PORT=ADDRESS\n", arg);
		return -1;
	}
	*eq = '\0';
	if (parse_u32("--ip", buf, 0, RTR_MAX_PORTS - 1, &port) < 0)
		return -1;
	if (inet_pton(AF_INET, eq + 1, c->ip[port].ip4) == 1) {
		c->ip[port].has_ip4 = 1;
	} else if (inet_pton(AF_INET6, eq + 1, c->ip[port].ip6) == 1) {
		c->ip[port].has_ip6 = 1;
	} else {
		fprintf(stderr, "rtr-dataplane: --ip: '%s' is not an IPv4 or IPv6 address\n", eq + 1);
		return -1;
	}
	return 0;
}

static int
parse_args(struct rtr_cfg *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "udp-port", required_argument, NULL, 'u' },
		{ "ip", required_argument, NULL, 'a' },
		{ "max-channels", required_argument, NULL, 'c' },
		{ "max-members", required_argument, NULL, 'm' },
		{ "max-apps", required_argument, NULL, 'A' },
		{ "mbufs", required_argument, NULL, 'b' },
		{ "max-fanout", required_argument, NULL, 'f' },
		{ "idle-timeout", required_argument, NULL, 't' },
		{ "tx-mode", required_argument, NULL, 'x' },
		{ "copy-max", required_argument, NULL, 'C' },
		{ "punt-rate", required_argument, NULL, 'p' },
		{ "rx-hold", no_argument, NULL, 'h' },
		{ "idle-sleep-us", required_argument, NULL, 's' },
		{ "rxd", required_argument, NULL, 'r' },
		{ "txd", required_argument, NULL, 'T' },
		{ "max-enc-members", required_argument, NULL, 'E' },
		{ "rekey-frames", required_argument, NULL, 'K' },
		{ "rekey-seconds", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, '?' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v;
	int o;

	snprintf(c->instance, sizeof(c->instance), "default");
	c->udp_port = RTR_DEFAULT_PORT;
	c->max_channels = 65536;
	c->max_members = 262144;
	c->max_apps = 1024;
	c->max_fanout = 256;
	c->max_enc_members = 4096;
	c->rekey_frames = 1ULL << 28;
	c->rekey_seconds = 86400;
	c->idle_timeout_s = 30;
	c->copy_max = 512;
	c->punt_rate = 20000;
	c->rxd = 1024;
	c->txd = 1024;
	c->tx_mode = RTR_TX_AUTO;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			if (!rtr_instance_valid(optarg)) {
				fprintf(stderr, "rtr-dataplane: --instance: '%s' must be 1-%d of "
					"[A-Za-z0-9_-]\n", optarg, RTR_INSTANCE_MAX);
				return -1;
			}
			snprintf(c->instance, sizeof(c->instance), "%s", optarg);
			break;
		case 'u':
			if (parse_u32("--udp-port", optarg, 1024, 65535, &v) < 0)
				return -1;
			c->udp_port = (uint16_t)v;
			break;
		case 'a':
			if (parse_ip(c, optarg) < 0)
				return -1;
			break;
		case 'c':
			if (parse_u32("--max-channels", optarg, 1, 1u << 24, &c->max_channels) < 0)
				return -1;
			break;
		case 'm':
			if (parse_u32("--max-members", optarg, 2, RTR_MAX_MEMBERS_LIMIT,
				      &c->max_members) < 0)
				return -1;
			break;
		case 'A':
			if (parse_u32("--max-apps", optarg, 2, 65536, &c->max_apps) < 0)
				return -1;
			break;
		case 'b':
			if (parse_u32("--mbufs", optarg, 2048, 1u << 24, &c->mbufs) < 0)
				return -1;
			break;
		case 'f':
			if (parse_u32("--max-fanout", optarg, 1, 65536, &c->max_fanout) < 0)
				return -1;
			break;
		case 't':
			if (parse_u32("--idle-timeout", optarg, 0, 86400, &c->idle_timeout_s) < 0)
				return -1;
			break;
		case 'x':
			if (strcmp(optarg, "auto") == 0)
				c->tx_mode = RTR_TX_AUTO;
			else if (strcmp(optarg, "chain") == 0)
				c->tx_mode = RTR_TX_CHAIN;
			else if (strcmp(optarg, "copy") == 0)
				c->tx_mode = RTR_TX_COPY;
			else {
				fprintf(stderr, "rtr-dataplane: --tx-mode: '%s' is not auto, chain "
					"or copy\n", optarg);
				return -1;
			}
			break;
		case 'C':
			if (parse_u32("--copy-max", optarg, 0, 65535, &c->copy_max) < 0)
				return -1;
			break;
		case 'p':
			if (parse_u32("--punt-rate", optarg, 1, 10000000, &c->punt_rate) < 0)
				return -1;
			break;
		case 'h':
			c->rx_hold = true;
			break;
		case 's':
			if (parse_u32("--idle-sleep-us", optarg, 0, 100000, &c->idle_sleep_us) < 0)
				return -1;
			break;
		case 'r':
			if (parse_u32("--rxd", optarg, 64, 16384, &v) < 0)
				return -1;
			c->rxd = (uint16_t)v;
			break;
		case 'T':
			if (parse_u32("--txd", optarg, 64, 16384, &v) < 0)
				return -1;
			c->txd = (uint16_t)v;
			break;
		case 'E':
			if (parse_u32("--max-enc-members", optarg, 0, 1u << 20,
				      &c->max_enc_members) < 0)
				return -1;
			break;
		case 'K':
			/* 2^28 by default (DESIGN.md); lower for tests */
			if (parse_u32("--rekey-frames", optarg, 16, 1u << 28, &v) < 0)
				return -1;
			c->rekey_frames = v;
			break;
		case 'S':
			if (parse_u32("--rekey-seconds", optarg, 5, 86400, &c->rekey_seconds) < 0)
				return -1;
			break;
		default:
			usage(argv[0]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rtr-dataplane: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static uint64_t
ns_now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* what the tables, rings and key slots hold of DPDK's heap, all sockets */
static void
heap_refresh(struct rtr_dp *dp)
{
	struct rte_malloc_socket_stats st;
	uint64_t used = 0;
	unsigned int s;

	for (s = 0; s < rte_socket_count(); s++)
		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(s), &st) == 0)
			used += st.heap_allocsz_bytes;
	__atomic_store_n(&rtr_stats_mainp(dp->seg->stats)->heap_used, used, __ATOMIC_RELAXED);
}

/* Port counters and link state, published under the stats epoch. */
static void
ports_refresh(struct rtr_dp *dp)
{
	struct rtr_stats_hdr *sh = dp->seg->stats;
	struct rte_eth_stats es;
	struct rte_eth_link link;
	uint16_t pid;

	__atomic_store_n(&sh->in_progress, 1, __ATOMIC_RELEASE);
	for (pid = 0; pid < dp->n_ports; pid++) {
		struct rtr_port_stats *ps = rtr_stats_port(sh, pid);

		if (rte_eth_stats_get(pid, &es) == 0) {
			ps->ipackets = es.ipackets;
			ps->opackets = es.opackets;
			ps->ibytes = es.ibytes;
			ps->obytes = es.obytes;
			ps->imissed = es.imissed;
			ps->ierrors = es.ierrors;
			ps->oerrors = es.oerrors;
			ps->rx_nombuf = es.rx_nombuf;
		}
		if (rte_eth_link_get_nowait(pid, &link) == 0 && link.link_status != dp->ports[pid].up) {
			dp->ports[pid].up = link.link_status;
			LOG(INFO, "port %u link %s (%u Mbps)", pid, link.link_status ? "up" : "down",
			    link.link_speed);
		}
		ps->link_up = dp->ports[pid].up;
	}
	__atomic_store_n(&sh->epoch, sh->epoch + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&sh->in_progress, 0, __ATOMIC_RELEASE);
	heap_refresh(dp);
}

static void
main_loop(struct rtr_dp *dp)
{
	uint64_t next_ports = 0, hz = dp->tsc_hz;
	struct timespec nap = { 0, 200000 };

	while (!dp->quit) {
		uint64_t now = rte_get_tsc_cycles(), mono = ns_now(CLOCK_MONOTONIC);

		dp->now_s = ns_now(CLOCK_REALTIME) / 1000000000ULL;
		__atomic_store_n(&dp->seg->ctl->heartbeat_ns, mono, __ATOMIC_RELEASE);
		__atomic_store_n(&rtr_stats_mainp(dp->seg->stats)->heartbeat_ns, mono,
				 __ATOMIC_RELEASE);
		rtr_cmd_poll(dp);
		rtr_tables_reclaim(dp);
		rtr_guard_poll(dp);
		if (now >= next_ports) {
			ports_refresh(dp);
			rtr_sweep(dp);
			next_ports = now + hz / 10;
		}
		/* the main lcore never spins: 0.2 ms between batches */
		nanosleep(&nap, NULL);
	}
}

int
main(int argc, char **argv)
{
	struct rtr_dp *dp = &rtr_dp;
	struct rtr_seg_params sp;
	struct rlimit nocore = { 0, 0 };
	unsigned int lcore;
	uint16_t pid;
	int n, rc;

	/* frames and keys live in this process: no core dumps, no ptrace by others */
	setrlimit(RLIMIT_CORE, &nocore);
	prctl(PR_SET_DUMPABLE, 0);
	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "rtr-dataplane: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= n;
	argv += n;
	rtr_logtype = rte_log_register_type_and_pick_level("rtrelay.dataplane", RTE_LOG_INFO);
	if (parse_args(&dp->cfg, argc, argv) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	dp->n_workers = rte_lcore_count() - 1;
	if (dp->n_workers < 1 || dp->n_workers > RTR_MAX_WORKERS) {
		fprintf(stderr, "rtr-dataplane: need 1 to %d worker lcores besides the main one "
			"(e.g. --lcores 0@0,1@1), have %u\n", RTR_MAX_WORKERS, dp->n_workers);
		rte_eal_cleanup();
		return 2;
	}
	dp->n_ports = rte_eth_dev_count_avail();
	if (dp->n_ports == 0 || dp->n_ports > RTR_MAX_PORTS) {
		fprintf(stderr, "rtr-dataplane: need 1 to %d ports (vdevs or bound NICs), have %u\n",
			RTR_MAX_PORTS, dp->n_ports);
		rte_eal_cleanup();
		return 2;
	}
	dp->tsc_hz = rte_get_tsc_hz();
	dp->tsc0 = rte_get_tsc_cycles();
	dp->unix_ns_at_tsc0 = ns_now(CLOCK_REALTIME);
	dp->now_s = dp->unix_ns_at_tsc0 / 1000000000ULL;

	memset(&sp, 0, sizeof(sp));
	sp.instance = dp->cfg.instance;
	sp.n_workers = dp->n_workers;
	sp.n_ports = dp->n_ports;
	sp.max_apps = dp->cfg.max_apps;
	sp.udp_port = dp->cfg.udp_port;
	sp.rx_hold = dp->cfg.rx_hold;
	rc = rtr_seg_create(&sp, &dp->seg);
	if (rc < 0) {
		fprintf(stderr, "rtr-dataplane: shared memory for instance '%s': %s\n",
			dp->cfg.instance, rtr_seg_strerror(rc));
		rte_eal_cleanup();
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	dp->imb = rtr_aead_mgr_new();
	if (dp->imb == NULL) {
		fprintf(stderr, "rtr-dataplane: AES-GCM (ipsec-mb) unavailable: %s\n",
			strerror(errno));
		rc = -ENOMEM;
		goto out_stop;
	}
	{
		unsigned int i = 0;

		RTE_LCORE_FOREACH_WORKER(lcore)
			dp->workers[i++].lcore = lcore;
	}
	rc = rtr_workers_init(dp);
	if (rc == 0)
		rc = rtr_tables_init(dp);
	if (rc == 0)
		rc = rtr_guard_init(dp);
	if (rc == 0)
		rc = rtr_pools_init(dp);
	RTE_ETH_FOREACH_DEV(pid) {
		if (rc == 0)
			rc = rtr_port_init(dp, pid);
	}
	if (rc < 0) {
		fprintf(stderr, "rtr-dataplane: start-up failed: %s\n", rte_strerror(-rc));
		goto out_stop;
	}
	dp->rx_enabled = !dp->cfg.rx_hold;
	LOG(INFO, "instance %s: %u worker(s), %u port(s), udp %u, members %u (encrypted %u), "
	    "channels %u, AES-GCM %s%s",
	    dp->cfg.instance, dp->n_workers, dp->n_ports, dp->cfg.udp_port, dp->cfg.max_members,
	    dp->cfg.max_enc_members, dp->cfg.max_channels, rtr_aead_mgr_arch(dp->imb),
	    dp->cfg.rx_hold ? ", RX held until RESUME" : "");
	rtr_stats_mainp(dp->seg->stats)->enc_max = dp->cfg.max_enc_members;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		unsigned int i;

		for (i = 0; i < dp->n_workers; i++)
			if (dp->workers[i].lcore == lcore)
				rte_eal_remote_launch(rtr_worker_main, &dp->workers[i], lcore);
	}
	main_loop(dp);
	LOG(INFO, "stopping");
	rc = 0;
out_stop:
	dp->quit = 1;
	rte_eal_mp_wait_lcore();
	RTE_ETH_FOREACH_DEV(pid) {
		rte_eth_dev_stop(pid);
		rte_eth_dev_close(pid);
	}
	rtr_guard_free(dp);
	rtr_tables_free(dp);
	rtr_workers_free(dp);
	rtr_aead_mgr_free(dp->imb);
	rtr_seg_destroy(dp->seg);
	rte_eal_cleanup();
	return rc < 0 ? 1 : 0;
}
