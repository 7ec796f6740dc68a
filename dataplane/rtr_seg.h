/* SPDX-License-Identifier: BSD-3-Clause
 * librtrseg: the shared-memory segments of one rtr-dataplane instance.
 *
 * The dataplane creates them (rtr_seg_create); controllers and readers
 * attach (rtr_seg_attach). Works in processes that never call
 * rte_eal_init: the rings are rte_ring structures initialised in place
 * with rte_ring_init and used through the _elem API.
 *
 * Controller side, in order:
 *   rtr_seg_attach(inst, RTR_ATTACH_CONTROL, &seg)  take the controller lock
 *   rtr_seg_call(seg, RTR_MSG_APP_SET, &body, sizeof(body), &reply, 1000)
 *   rtr_seg_send() ... rtr_seg_recv_reply()         pipelined commands
 *   rtr_seg_punt_read(), rtr_seg_notify_read()      JOINs and events
 *   rtr_seg_detach(seg)                             release the lock
 * Readers use RTR_ATTACH_STATS and the rtr_seg_stats_* helpers.
 *
 * Functions return 0 (or a count) on success and a negative errno on
 * failure; rtr_seg_strerror() gives a sentence for the errors they use.
 */
#ifndef RTR_SEG_H
#define RTR_SEG_H

#include <stdint.h>
#include <stddef.h>
#include "rtr_abi.h"

struct rte_ring;

struct rtr_seg {
	char instance[RTR_INSTANCE_MAX + 1];
	int creator;		/* 1: the dataplane that created the segments */
	int control;		/* 1: holds the controller lock */
	struct rtr_ctl_hdr *ctl;
	size_t ctl_size;
	struct rtr_stats_hdr *stats;
	size_t stats_size;
	struct rte_ring *cmd;
	struct rte_ring *reply;
	struct rte_ring *punt;
	struct rte_ring *notify;
	uint64_t generation;
	uint32_t session;
	uint32_t next_seq;
	uint32_t next_context;
	unsigned int n_stash;
	struct rtr_reply *stash;	/* replies that arrived for another context */
};

struct rtr_seg_params {
	const char *instance;
	uint32_t n_workers;
	uint32_t n_ports;
	uint32_t max_apps;
	uint16_t udp_port;
	uint32_t rx_hold;
};

#define RTR_ATTACH_CONTROL	(1u << 0)	/* ctl segment, controller lock */
#define RTR_ATTACH_STATS	(1u << 1)	/* stats segment, read-only */

/* Dataplane side. */
int rtr_seg_create(const struct rtr_seg_params *p, struct rtr_seg **out);
void rtr_seg_destroy(struct rtr_seg *seg);
/* Dequeue up to n commands, wiping their ring slots. Returns the count. */
unsigned int rtr_seg_cmd_take(struct rtr_seg *seg, struct rtr_msg *out, unsigned int n);

/* Controller and reader side. */
int rtr_seg_attach(const char *instance, unsigned int flags, struct rtr_seg **out);
void rtr_seg_detach(struct rtr_seg *seg);
int rtr_seg_alive(const struct rtr_seg *seg);	/* dataplane pid up, heartbeat fresh */
int rtr_seg_send(struct rtr_seg *seg, uint16_t msg_id, const void *body, size_t len,
		 uint32_t *context);
int rtr_seg_recv_reply(struct rtr_seg *seg, struct rtr_reply *out, int timeout_ms);
int rtr_seg_call(struct rtr_seg *seg, uint16_t msg_id, const void *body, size_t len,
		 struct rtr_reply *out, int timeout_ms);
int rtr_seg_punt_read(struct rtr_seg *seg, struct rtr_punt *out, unsigned int n);
int rtr_seg_notify_read(struct rtr_seg *seg, struct rtr_notify *out, unsigned int n);

/* Stats readers: consistent copies, summed over workers. */
void rtr_seg_stats_main(const struct rtr_seg *seg, struct rtr_main_stats *out);
void rtr_seg_stats_workers(const struct rtr_seg *seg, struct rtr_worker_stats *sum);
int rtr_seg_stats_port(const struct rtr_seg *seg, unsigned int i, struct rtr_port_stats *out);
int rtr_seg_stats_app(const struct rtr_seg *seg, unsigned int app, struct rtr_app_stats *sum);
const char *rtr_seg_drop_name(const struct rtr_seg *seg, unsigned int reason);

const char *rtr_seg_strerror(int err);

/* Segment names (for shm_open) and helpers shared with the dataplane. */
int rtr_seg_name(char *buf, size_t len, const char *instance, const char *kind);
int rtr_instance_valid(const char *instance);

/* Stats layout pointers (the dataplane writes through them). */
static inline struct rtr_worker_stats *
rtr_stats_worker(struct rtr_stats_hdr *h, unsigned int w)
{
	return (struct rtr_worker_stats *)((uint8_t *)h + h->off_workers) + w;
}

static inline struct rtr_port_stats *
rtr_stats_port(struct rtr_stats_hdr *h, unsigned int p)
{
	return (struct rtr_port_stats *)((uint8_t *)h + h->off_ports) + p;
}

static inline struct rtr_app_stats *
rtr_stats_app(struct rtr_stats_hdr *h, unsigned int w, unsigned int app)
{
	return (struct rtr_app_stats *)((uint8_t *)h + h->off_apps) +
	       (size_t)w * h->max_apps + app;
}

static inline struct rtr_main_stats *
rtr_stats_mainp(struct rtr_stats_hdr *h)
{
	return (struct rtr_main_stats *)((uint8_t *)h + h->off_main);
}

#endif /* RTR_SEG_H */
