/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-dataplane set-up shared by the daemon and the benchmarks: per-worker
 * state, mbuf pools, ports.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_log.h>

#include "dp.h"

int rtr_logtype;

#define LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, rtr_logtype, "rtr-dataplane: " fmt "\n", ##__VA_ARGS__)

int
rtr_port_init(struct rtr_dp *dp, uint16_t pid)
{
	struct rtr_port *pt = &dp->ports[pid];
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	struct rte_eth_txconf txc;
	struct rte_eth_link link;
	struct rtr_port_stats *ps;
	uint16_t nrx, ntx, rxd = dp->cfg.rxd, txd = dp->cfg.txd, q;
	unsigned int w;
	int rc;

	rc = rte_eth_dev_info_get(pid, &info);
	if (rc != 0) {
		LOG(ERR, "port %u: cannot read device info: %s", pid, rte_strerror(-rc));
		return rc;
	}
	nrx = (uint16_t)RTE_MIN(dp->n_workers, (unsigned int)info.max_rx_queues);
	ntx = (uint16_t)dp->n_workers;
	if (info.max_tx_queues < ntx) {
		LOG(ERR, "port %u (%s) offers %u TX queues, %u workers need one each",
		    pid, info.driver_name, info.max_tx_queues, ntx);
		return -EINVAL;
	}
	memset(&conf, 0, sizeof(conf));
	if (nrx > 1) {
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		if (conf.rx_adv_conf.rss_conf.rss_hf)
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	}
	pt->chain = dp->cfg.tx_mode != RTR_TX_COPY &&
		    (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
	if (dp->cfg.tx_mode == RTR_TX_CHAIN && !pt->chain) {
		LOG(ERR, "port %u (%s) does not offer MULTI_SEGS TX: use --tx-mode copy or auto",
		    pid, info.driver_name);
		return -ENOTSUP;
	}
	/* never MBUF_FAST_FREE: clones and mbufs of several pools go out */
	if (pt->chain)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(pid, nrx, ntx, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &rxd, &txd);
	for (q = 0; rc == 0 && q < nrx; q++)
		rc = rte_eth_rx_queue_setup(pid, q, rxd, rte_eth_dev_socket_id(pid), NULL, dp->pool);
	txc = info.default_txconf;
	txc.offloads = conf.txmode.offloads;
	for (q = 0; rc == 0 && q < ntx; q++)
		rc = rte_eth_tx_queue_setup(pid, q, txd, rte_eth_dev_socket_id(pid), &txc);
	if (rc == 0)
		rc = rte_eth_dev_start(pid);
	if (rc != 0) {
		LOG(ERR, "port %u (%s): set-up failed: %s", pid, info.driver_name, rte_strerror(-rc));
		return rc;
	}
	rte_eth_allmulticast_enable(pid);	/* IPv6 solicited-node groups */
	if (rte_eth_dev_get_mtu(pid, &pt->mtu) != 0 || pt->mtu == 0)
		pt->mtu = RTE_ETHER_MTU;
	rte_eth_macaddr_get(pid, &pt->mac);
	pt->id = pid;
	memcpy(pt->pcfg.mac, &pt->mac, 6);
	pt->pcfg.has_ip4 = dp->cfg.ip[pid].has_ip4;
	pt->pcfg.has_ip6 = dp->cfg.ip[pid].has_ip6;
	memcpy(pt->pcfg.ip4, dp->cfg.ip[pid].ip4, 4);
	memcpy(pt->pcfg.ip6, dp->cfg.ip[pid].ip6, 16);
	pt->pcfg.udp_port = dp->cfg.udp_port;
	if (!pt->pcfg.has_ip4 && !pt->pcfg.has_ip6)
		LOG(WARNING, "port %u has no service address (--ip %u=ADDR): it will only drop", pid,
		    pid);

	for (q = 0; q < nrx; q++) {
		struct rtr_worker *wk = &dp->workers[q % dp->n_workers];

		wk->rxq[wk->n_rxq].port = pid;
		wk->rxq[wk->n_rxq].queue = q;
		wk->n_rxq++;
	}
	(void)w;
	ps = rtr_stats_port(dp->seg->stats, pid);
	rte_eth_dev_get_name_by_port(pid, ps->name);
	memcpy(ps->mac, &pt->mac, 6);
	ps->port_id = pid;
	ps->tx_chain = pt->chain;
	ps->n_rxq = nrx;
	ps->n_txq = ntx;
	rte_eth_link_get_nowait(pid, &link);
	pt->up = link.link_status;
	ps->link_up = pt->up;
	ps->link_speed = link.link_speed;
	LOG(INFO, "port %u (%s) %02x:%02x:%02x:%02x:%02x:%02x rxq %u txq %u tx %s link %s",
	    pid, info.driver_name, pt->mac.addr_bytes[0], pt->mac.addr_bytes[1],
	    pt->mac.addr_bytes[2], pt->mac.addr_bytes[3], pt->mac.addr_bytes[4],
	    pt->mac.addr_bytes[5], nrx, ntx, pt->chain ? "chain" : "copy",
	    link.link_status ? "up" : "down");
	return 0;
}

int
rtr_pools_init(struct rtr_dp *dp)
{
	struct rtr_cfg *c = &dp->cfg;
	uint32_t n = c->mbufs;
	int sock = (int)rte_socket_id();

	if (n == 0) {
		n = dp->n_ports * (uint32_t)(c->rxd + c->txd) * dp->n_workers;
		n += dp->n_workers * (RTR_BURST * c->max_fanout + RTR_TXB_SIZE * dp->n_ports +
				      RTR_TXF_RING_SIZE);
		n += 256 * (dp->n_workers + 1) + 1024;
	}
	dp->pool = rte_pktmbuf_pool_create("rtr_pkt", n, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, sock);
	dp->hdr_pool = rte_pktmbuf_pool_create("rtr_hdr", n, 256, 0, RTR_HDR_MBUF_ROOM, sock);
	dp->clone_pool = rte_pktmbuf_pool_create("rtr_clone", n, 256, 0, 0, sock);
	if (dp->pool == NULL || dp->hdr_pool == NULL || dp->clone_pool == NULL) {
		LOG(ERR, "cannot create mbuf pools of %u mbufs: %s (raise -m or lower --mbufs)",
		    n, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	LOG(INFO, "pools: %u mbufs each (packets, headers, clones)", n);
	return 0;
}

int
rtr_workers_init(struct rtr_dp *dp)
{
	unsigned int i;
	char name[32];

	for (i = 0; i < dp->n_workers; i++) {
		struct rtr_worker *w = &dp->workers[i];

		w->id = i;
		w->st = rtr_stats_worker(dp->seg->stats, i);
		w->app_st = rtr_stats_app(dp->seg->stats, i, 0);
		w->app_tb = rte_zmalloc("rtr_app_tb", sizeof(*w->app_tb) * dp->cfg.max_apps,
					RTE_CACHE_LINE_SIZE);
		snprintf(name, sizeof(name), "rtr_ev%u", i);
		w->ev = rte_ring_create_elem(name, sizeof(struct rtr_ev), RTR_EV_RING_SIZE,
					     rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "rtr_txf%u", i);
		w->txf = rte_ring_create(name, RTR_TXF_RING_SIZE, rte_socket_id(),
					 RING_F_SP_ENQ | RING_F_SC_DEQ);
		/* each worker its own AES-GCM manager and downlink counters */
		w->imb = rtr_aead_mgr_new();
		if (dp->cfg.max_enc_members > 0)
			w->dl = rte_zmalloc("rtr_dlseq", sizeof(*w->dl) * 2 * dp->cfg.max_enc_members,
					    RTE_CACHE_LINE_SIZE);
		if (w->app_tb == NULL || w->ev == NULL || w->txf == NULL || w->imb == NULL ||
		    (dp->cfg.max_enc_members > 0 && w->dl == NULL))
			return -ENOMEM;
	}
	return 0;
}

void
rtr_workers_free(struct rtr_dp *dp)
{
	unsigned int i;

	for (i = 0; i < dp->n_workers; i++) {
		rtr_aead_mgr_free(dp->workers[i].imb);
		dp->workers[i].imb = NULL;
		rte_free(dp->workers[i].dl);
		dp->workers[i].dl = NULL;
	}
}

