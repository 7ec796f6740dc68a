/* SPDX-License-Identifier: BSD-3-Clause
 * The XDP pre-filter's maps from user space: pinned under
 * RTR_XDP_PIN_ROOT/<instance>/, opened by rtr-xdp, rtr-controld and rtrctl.
 * Not per packet. Functions return 0 or a negative errno.
 */
#ifndef RTR_XDP_USER_H
#define RTR_XDP_USER_H

#include <stdint.h>

#include "rtr_xdp.h"

/* the maps a loader pins, by the names in rtr_xdp.bpf.c */
#define RTR_XDP_MAPS(_) _(rtr_cfg) _(rtr_deny4) _(rtr_deny6) _(rtr_src_bkt) _(rtr_pfx_bkt) \
			_(rtr_ctr) _(xsks_map)

struct rtr_xdp_maps {
	int cfg, deny4, deny6, src_bkt, pfx_bkt, ctr;
};

struct rtr_xdp_deny {
	uint8_t family;		/* 4 or 6 */
	uint8_t plen;
	uint8_t addr[16];
	uint32_t id;		/* the isolation rule's number */
};

extern const char *const rtr_xdp_ctr_names[RTR_XDP_CTR_MAX];

/* RTR_XDP_PIN_ROOT/<instance>; -ENAMETOOLONG or -EINVAL for a bad name */
int rtr_xdp_pin_dir(const char *instance, char *buf, size_t len);
/* open the pinned maps; -ENOENT when the instance has no pre-filter */
int rtr_xdp_open(const char *instance, struct rtr_xdp_maps *m);
void rtr_xdp_close(struct rtr_xdp_maps *m);

int rtr_xdp_cfg_get(const struct rtr_xdp_maps *m, struct rtr_xdp_cfg *c);
int rtr_xdp_cfg_set(const struct rtr_xdp_maps *m, const struct rtr_xdp_cfg *c);
/* packets per second and burst -> the config's GCRA interval; 0 pps: off */
uint64_t rtr_xdp_interval_ns(uint64_t pps);

/* make the deny tries hold exactly these prefixes (added, changed, removed);
 * *changed counts the updates */
int rtr_xdp_deny_sync(const struct rtr_xdp_maps *m, const struct rtr_xdp_deny *d, unsigned int n,
		      unsigned int *changed);
/* the prefixes the tries hold, up to max; returns how many (or < 0) */
int rtr_xdp_deny_list(const struct rtr_xdp_maps *m, struct rtr_xdp_deny *d, unsigned int max);

/* every counter summed over CPUs */
int rtr_xdp_counters(const struct rtr_xdp_maps *m, struct rtr_xdp_ctr out[RTR_XDP_CTR_MAX]);

#endif /* RTR_XDP_USER_H */
