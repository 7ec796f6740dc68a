/* SPDX-License-Identifier: BSD-3-Clause
 * The XDP pre-filter's pinned maps from user space (see rtr_xdp_user.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rtr_xdp_user.h"

const char *const rtr_xdp_ctr_names[RTR_XDP_CTR_MAX] = {
#define _RTR_XDP_NAME(n, s) s,
	RTR_XDP_FOREACH_CTR(_RTR_XDP_NAME)
#undef _RTR_XDP_NAME
};

int
rtr_xdp_pin_dir(const char *instance, char *buf, size_t len)
{
	const char *c;
	int n;

	if (instance == NULL || instance[0] == '\0' || strlen(instance) > 32)
		return -EINVAL;
	for (c = instance; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			return -EINVAL;
	n = snprintf(buf, len, "%s/%s", RTR_XDP_PIN_ROOT, instance);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int
open_pinned(const char *dir, const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int
rtr_xdp_open(const char *instance, struct rtr_xdp_maps *m)
{
	char dir[128];
	int rc = rtr_xdp_pin_dir(instance, dir, sizeof(dir));

	m->cfg = m->deny4 = m->deny6 = m->src_bkt = m->pfx_bkt = m->ctr = -1;
	if (rc < 0)
		return rc;
#define OPEN(field, name)						\
	do {								\
		if ((m->field = open_pinned(dir, name)) < 0) {		\
			rc = m->field;					\
			goto out_close;					\
		}							\
	} while (0)
	OPEN(cfg, "rtr_cfg");
	OPEN(deny4, "rtr_deny4");
	OPEN(deny6, "rtr_deny6");
	OPEN(src_bkt, "rtr_src_bkt");
	OPEN(pfx_bkt, "rtr_pfx_bkt");
	OPEN(ctr, "rtr_ctr");
#undef OPEN
	return 0;
out_close:
	rtr_xdp_close(m);
	return rc;
}

void
rtr_xdp_close(struct rtr_xdp_maps *m)
{
	int *fds[] = { &m->cfg, &m->deny4, &m->deny6, &m->src_bkt, &m->pfx_bkt, &m->ctr };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int
rtr_xdp_cfg_get(const struct rtr_xdp_maps *m, struct rtr_xdp_cfg *c)
{
	uint32_t k = 0;

	return bpf_map_lookup_elem(m->cfg, &k, c) < 0 ? -errno : 0;
}

int
rtr_xdp_cfg_set(const struct rtr_xdp_maps *m, const struct rtr_xdp_cfg *c)
{
	struct rtr_xdp_cfg v = *c;
	uint32_t k = 0;

	v.abi = RTR_XDP_ABI;
	return bpf_map_update_elem(m->cfg, &k, &v, BPF_ANY) < 0 ? -errno : 0;
}

uint64_t
rtr_xdp_interval_ns(uint64_t pps)
{
	if (pps == 0)
		return 0;
	return pps >= 1000000000ULL ? 1 : 1000000000ULL / pps;
}

static int
deny_fd(const struct rtr_xdp_maps *m, int family)
{
	return family == 4 ? m->deny4 : m->deny6;
}

/* the trie key of a prefix: host bits cleared (the trie ignores them, a
 * lookup of the same key must find the entry) */
static void
deny_key(const struct rtr_xdp_deny *d, uint8_t key[20])
{
	unsigned int alen = d->family == 4 ? 4 : 16, i;
	uint32_t plen = d->plen;

	memcpy(key, &plen, 4);
	memset(key + 4, 0, 16);
	for (i = 0; i < alen; i++) {
		unsigned int bits = d->plen > i * 8 ? d->plen - i * 8 : 0;

		key[4 + i] = (uint8_t)(d->addr[i] & (bits >= 8 ? 0xff : (0xff00 >> bits) & 0xff));
	}
}

int
rtr_xdp_deny_list(const struct rtr_xdp_maps *m, struct rtr_xdp_deny *d, unsigned int max)
{
	unsigned int n = 0;
	int fam;

	for (fam = 4; fam <= 6; fam += 2) {
		uint8_t key[20], next[20];
		void *prev = NULL;
		int fd = deny_fd(m, fam);

		while (bpf_map_get_next_key(fd, prev, next) == 0) {
			uint32_t id, plen;

			if (n < max && bpf_map_lookup_elem(fd, next, &id) == 0) {
				memcpy(&plen, next, 4);
				memset(&d[n], 0, sizeof(d[n]));
				d[n].family = (uint8_t)fam;
				d[n].plen = (uint8_t)plen;
				memcpy(d[n].addr, next + 4, fam == 4 ? 4 : 16);
				d[n].id = id;
				n++;
			} else if (n >= max) {
				return -ENOSPC;
			}
			memcpy(key, next, sizeof(key));
			prev = key;
		}
		if (errno != ENOENT)
			return -errno;
	}
	return (int)n;
}

int
rtr_xdp_deny_sync(const struct rtr_xdp_maps *m, const struct rtr_xdp_deny *d, unsigned int n,
		  unsigned int *changed)
{
	struct rtr_xdp_deny *have;
	unsigned int i, j;
	int nh, rc = 0;

	*changed = 0;
	have = calloc(2 * RTR_XDP_DENY_MAX, sizeof(*have));
	if (have == NULL)
		return -ENOMEM;
	nh = rtr_xdp_deny_list(m, have, 2 * RTR_XDP_DENY_MAX);
	if (nh < 0) {
		rc = nh;
		goto out_free;
	}
	/* add or update first, so a prefix being renumbered is never open */
	for (i = 0; i < n; i++) {
		uint8_t key[20];
		uint32_t id;

		if (d[i].family != 4 && d[i].family != 6) {
			rc = -EINVAL;
			goto out_free;
		}
		deny_key(&d[i], key);
		if (bpf_map_lookup_elem(deny_fd(m, d[i].family), key, &id) == 0 && id == d[i].id)
			continue;
		if (bpf_map_update_elem(deny_fd(m, d[i].family), key, &d[i].id, BPF_ANY) < 0) {
			rc = -errno;
			goto out_free;
		}
		(*changed)++;
	}
	for (j = 0; j < (unsigned int)nh; j++) {
		uint8_t hk[20], wk[20];
		int keep = 0;

		deny_key(&have[j], hk);
		for (i = 0; i < n && !keep; i++) {
			if (d[i].family != have[j].family)
				continue;
			deny_key(&d[i], wk);
			keep = memcmp(hk, wk, sizeof(hk)) == 0;
		}
		if (keep)
			continue;
		if (bpf_map_delete_elem(deny_fd(m, have[j].family), hk) < 0 && errno != ENOENT) {
			rc = -errno;
			goto out_free;
		}
		(*changed)++;
	}
out_free:
	free(have);
	return rc;
}

int
rtr_xdp_counters(const struct rtr_xdp_maps *m, struct rtr_xdp_ctr out[RTR_XDP_CTR_MAX])
{
	int ncpu = libbpf_num_possible_cpus(), c, i;
	struct rtr_xdp_ctr *v;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (c = 0; c < RTR_XDP_CTR_MAX; c++) {
		uint32_t k = (uint32_t)c;

		out[c].packets = out[c].bytes = 0;
		if (bpf_map_lookup_elem(m->ctr, &k, v) < 0) {
			int rc = -errno;

			free(v);
			return rc;
		}
		for (i = 0; i < ncpu; i++) {
			out[c].packets += v[i].packets;
			out[c].bytes += v[i].bytes;
		}
	}
	free(v);
	return 0;
}
