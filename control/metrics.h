/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-controld's metrics and alarms.
 *
 * Metrics: Prometheus text (exposition format 0.0.4) on GET /metrics, served
 * by a libmicrohttpd thread on a loopback address only (127.0.0.0/8 or
 * [::1]). The HTTP thread never touches the segments, the daemon's tables or
 * its store connection: the main thread copies what the page needs into a
 * snapshot (ctld_alarms_tick, about every 100 ms) under a mutex, and the
 * thread counts members and channels through its own read-only SQLite
 * connection.
 *
 * Alarms, evaluated by ctld_alarms_tick on the main thread:
 *   drop_rate:<reason>   drops/s of one drop reason, over the last second
 *   punt_backlog         JOIN frames waiting in the punt ring
 *   dataplane_heartbeat  ms since the dataplane's last heartbeat (it also
 *                        counts while the dataplane is away)
 * An alarm is raised when its value goes above the threshold and cleared
 * when it falls below 80 % of it (hysteresis: a value hovering at the
 * threshold does not flap); each transition is one log line. A threshold
 * of 0 disables that alarm.
 */
#ifndef RTR_CTLD_METRICS_H
#define RTR_CTLD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "controld.h"

struct ctld_alarm_cfg {
	uint64_t drop_rate;	/* drops/s of any one reason */
	uint32_t punt_backlog;	/* entries in the punt ring */
	uint32_t heartbeat_ms;	/* age of the dataplane heartbeat */
};

#define CTLD_ALARM_CFG_DEFAULT { .drop_rate = 10000, .punt_backlog = 512, .heartbeat_ms = 1000 }

/* Check a --metrics HOST:PORT value: an IPv4 address in 127.0.0.0/8 or
 * [::1], and a port 1-65535. Returns 0, or -EINVAL with a sentence in why. */
int ctld_metrics_addr_check(const char *hostport, char *why, size_t len);

/* Set one threshold from its option value ("drop-rate", "punt-backlog",
 * "heartbeat-ms"). Returns 0, or -EINVAL/-ERANGE with a sentence in why. */
int ctld_alarm_set(struct ctld_alarm_cfg *cfg, const char *which, const char *value,
		   char *why, size_t len);

/* Start the HTTP thread on hostport. Call after ctld_store_open (it opens
 * d->db_path read-only). Returns 0 or a negative errno, after logging why.
 * ctld_metrics_stop may be called whether or not it started. */
int ctld_metrics_start(struct ctld *d, const char *hostport);
void ctld_metrics_stop(struct ctld *d);

/* Main thread, about every 100 ms, attached or not. */
void ctld_alarms_tick(struct ctld *d, const struct ctld_alarm_cfg *cfg);

/* The active alarms: [{"alarm", "value", "threshold", "since", "peak"}]. */
json_t *ctld_alarms_json(struct ctld *d);

#endif /* RTR_CTLD_METRICS_H */
