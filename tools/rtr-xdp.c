/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-xdp: the XDP pre-filter's loader and operator tool.
 *
 *   rtr-xdp attach  --dev IF --instance NAME [--skb] [--port N] [--pass-service]
 *   rtr-xdp adopt   --dev IF --instance NAME     pin the maps of the program
 *                                                net_af_xdp loaded (xdp_prog=)
 *   rtr-xdp detach  --dev IF [--instance NAME]   detach; with NAME, unpin too
 *   rtr-xdp config  --instance NAME [--port N] [--src-pps N] [--src-burst N]
 *                   [--prefix-pps N] [--prefix-burst N] [--pass-service|--redirect]
 *   rtr-xdp deny    --instance NAME add PREFIX [--id N] | del PREFIX | list
 *   rtr-xdp stats   --instance NAME [--json]
 *
 * Maps live under /sys/fs/bpf/rtrelay/<instance>/; rtr-controld writes the
 * deny tries and rates there from its isolation rules and settings (an
 * operator's `deny add` is overwritten by controld's next sync).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "rtr_xdp_user.h"
#include "rtr_xdp.skel.h"

static const char *const map_names[] = {
#define _RTR_XDP_MAPNAME(n) #n,
	RTR_XDP_MAPS(_RTR_XDP_MAPNAME)
#undef _RTR_XDP_MAPNAME
};
#define N_MAPS (sizeof(map_names) / sizeof(map_names[0]))

struct opts {
	const char *dev, *instance, *id;
	int skb, json, port, pass_service;	/* pass_service: -1 unset, 0 redirect, 1 pass */
	long long src_pps, src_burst, pfx_pps, pfx_burst;
};

static int
fail(int rc, const char *what)
{
	fprintf(stderr, "rtr-xdp: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	return 1;
}

static int
ifindex_of(const char *dev)
{
	unsigned int i = dev ? if_nametoindex(dev) : 0;

	if (i == 0)
		fprintf(stderr, "rtr-xdp: --dev %s: no such interface\n", dev ? dev : "(missing)");
	return (int)i;
}

static int
mkdirs(const char *dir)
{
	char p[128];
	char *s;

	snprintf(p, sizeof(p), "%s", dir);
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

static int
cmd_attach(const struct opts *o)
{
	struct rtr_xdp *skel;
	struct bpf_map *map;
	struct rtr_xdp_maps m;
	struct rtr_xdp_cfg c;
	char dir[128], path[192];
	int ifindex = ifindex_of(o->dev), rc;

	if (ifindex == 0)
		return 2;
	rc = rtr_xdp_pin_dir(o->instance, dir, sizeof(dir));
	if (rc < 0)
		return fail(rc, "--instance");
	if ((rc = mkdirs(dir)) < 0)
		return fail(rc, dir);
	skel = rtr_xdp__open();
	if (skel == NULL)
		return fail(-errno, "opening the BPF object");
	/* maps already pinned for the instance are reused: rules and buckets
	 * survive a re-attach */
	bpf_object__for_each_map(map, skel->obj) {
		if (strchr(bpf_map__name(map), '.'))
			continue;	/* .rodata and the like */
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		bpf_map__set_pin_path(map, path);
	}
	rc = rtr_xdp__load(skel);
	if (rc < 0) {
		rtr_xdp__destroy(skel);
		return fail(rc, "loading the XDP program (root? bpffs at /sys/fs/bpf?)");
	}
	rc = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.rtr_xdp_filter),
			    o->skb ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE, NULL);
	if (rc < 0 && !o->skb) {
		fprintf(stderr, "rtr-xdp: native XDP on %s failed (%s): using generic (skb) mode\n",
			o->dev, strerror(-rc));
		rc = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.rtr_xdp_filter),
				    XDP_FLAGS_SKB_MODE, NULL);
	}
	rtr_xdp__destroy(skel);		/* attached and pinned: the kernel keeps both */
	if (rc < 0)
		return fail(rc, "attaching");
	if ((rc = rtr_xdp_open(o->instance, &m)) < 0)
		return fail(rc, "opening the pinned maps");
	rc = rtr_xdp_cfg_get(&m, &c);
	if (rc == 0) {
		if (o->port >= 0)
			c.port = (uint16_t)o->port;
		else if (c.abi == 0)
			c.port = 7700;	/* a new instance: the service port */
		if (o->pass_service >= 0)
			c.flags = (uint16_t)(o->pass_service ? c.flags | RTR_XDP_F_PASS_SERVICE :
					     c.flags & ~RTR_XDP_F_PASS_SERVICE);
		rc = rtr_xdp_cfg_set(&m, &c);
	}
	rtr_xdp_close(&m);
	if (rc < 0)
		return fail(rc, "writing the config");
	printf("rtr-xdp: attached to %s (instance %s, UDP port %u, service traffic %s), maps in %s\n",
	       o->dev, o->instance, c.port,
	       c.flags & RTR_XDP_F_PASS_SERVICE ? "to the kernel" : "to AF_XDP", dir);
	return 0;
}

/* pin the maps of whatever rtrelay program is attached to the interface */
static int
cmd_adopt(const struct opts *o)
{
	struct bpf_prog_info info;
	uint32_t ids[16], len = sizeof(info), prog_id = 0, i, found = 0;
	char dir[128], path[192];
	int ifindex = ifindex_of(o->dev), pfd, rc;

	if (ifindex == 0)
		return 2;
	if ((rc = rtr_xdp_pin_dir(o->instance, dir, sizeof(dir))) < 0)
		return fail(rc, "--instance");
	if ((rc = bpf_xdp_query_id(ifindex, 0, &prog_id)) < 0 || prog_id == 0) {
		fprintf(stderr, "rtr-xdp: no XDP program on %s\n", o->dev);
		return 1;
	}
	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0)
		return fail(-errno, "the attached program");
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 16;
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(pfd, &info, &len) < 0) {
		rc = -errno;
		close(pfd);
		return fail(rc, "the attached program's maps");
	}
	close(pfd);
	if ((rc = mkdirs(dir)) < 0)
		return fail(rc, dir);
	for (i = 0; i < info.nr_map_ids && i < 16; i++) {
		struct bpf_map_info mi;
		uint32_t ml = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(ids[i]);
		size_t k;

		if (mfd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(mfd, &mi, &ml) == 0) {
			for (k = 0; k < N_MAPS; k++) {
				if (strncmp(mi.name, map_names[k], BPF_OBJ_NAME_LEN - 1) != 0)
					continue;
				snprintf(path, sizeof(path), "%s/%s", dir, map_names[k]);
				unlink(path);
				if (bpf_obj_pin(mfd, path) < 0) {
					rc = -errno;
					close(mfd);
					return fail(rc, path);
				}
				found++;
			}
		}
		close(mfd);
	}
	if (found != N_MAPS) {
		fprintf(stderr, "rtr-xdp: the program on %s is not rtrelay's (%u of %zu maps)\n",
			o->dev, found, N_MAPS);
		return 1;
	}
	printf("rtr-xdp: program %u on %s adopted, maps in %s\n", prog_id, o->dev, dir);
	return 0;
}

static int
cmd_detach(const struct opts *o)
{
	int ifindex = ifindex_of(o->dev), rc;
	char dir[128], path[192];
	size_t k;

	if (ifindex == 0)
		return 2;
	rc = bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
	if (rc < 0)
		rc = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	if (rc < 0)
		return fail(rc, "detaching");
	if (o->instance != NULL && rtr_xdp_pin_dir(o->instance, dir, sizeof(dir)) == 0) {
		for (k = 0; k < N_MAPS; k++) {
			snprintf(path, sizeof(path), "%s/%s", dir, map_names[k]);
			unlink(path);
		}
		rmdir(dir);
	}
	printf("rtr-xdp: detached from %s\n", o->dev);
	return 0;
}

static int
open_maps(const struct opts *o, struct rtr_xdp_maps *m)
{
	int rc = rtr_xdp_open(o->instance, m);

	if (rc == -ENOENT)
		fprintf(stderr, "rtr-xdp: instance %s has no pre-filter (rtr-xdp attach or adopt "
			"first)\n", o->instance ? o->instance : "(missing)");
	else if (rc < 0)
		fail(rc, "opening the pinned maps");
	return rc;
}

static int
cmd_config(const struct opts *o)
{
	struct rtr_xdp_maps m;
	struct rtr_xdp_cfg c;
	int rc;

	if (open_maps(o, &m) < 0)
		return 1;
	rc = rtr_xdp_cfg_get(&m, &c);
	if (rc == 0) {
		if (o->port >= 0)
			c.port = (uint16_t)o->port;
		if (o->pass_service >= 0)
			c.flags = (uint16_t)(o->pass_service ? c.flags | RTR_XDP_F_PASS_SERVICE :
					     c.flags & ~RTR_XDP_F_PASS_SERVICE);
		if (o->src_pps >= 0)
			c.src_interval_ns = rtr_xdp_interval_ns((uint64_t)o->src_pps);
		if (o->src_burst >= 0)
			c.src_burst = (uint32_t)o->src_burst;
		if (o->pfx_pps >= 0)
			c.pfx_interval_ns = rtr_xdp_interval_ns((uint64_t)o->pfx_pps);
		if (o->pfx_burst >= 0)
			c.pfx_burst = (uint32_t)o->pfx_burst;
		rc = rtr_xdp_cfg_set(&m, &c);
	}
	rtr_xdp_close(&m);
	if (rc < 0)
		return fail(rc, "config");
	printf("port %u  service traffic %s  per source %s  per prefix %s\n", c.port,
	       c.flags & RTR_XDP_F_PASS_SERVICE ? "to the kernel" : "to AF_XDP",
	       c.src_interval_ns ? "limited" : "unlimited", c.pfx_interval_ns ? "limited" : "unlimited");
	return 0;
}

static int
parse_prefix(const char *s, struct rtr_xdp_deny *d)
{
	char a[64], *slash, *end;
	long plen;

	if (strlen(s) >= sizeof(a))
		return -EINVAL;
	snprintf(a, sizeof(a), "%s", s);
	memset(d, 0, sizeof(*d));
	slash = strchr(a, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, a, d->addr) == 1)
		d->family = 4;
	else if (inet_pton(AF_INET6, a, d->addr) == 1)
		d->family = 6;
	else
		return -EINVAL;
	plen = d->family == 4 ? 32 : 128;
	if (slash) {
		long max = plen;

		plen = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end || plen < 0 || plen > max)
			return -EINVAL;
	}
	d->plen = (uint8_t)plen;
	return 0;
}

static void
format_prefix(const struct rtr_xdp_deny *d, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(d->family == 4 ? AF_INET : AF_INET6, d->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, d->plen);
}

static int
cmd_deny(const struct opts *o, int argc, char **argv)
{
	struct rtr_xdp_deny *have = NULL, d;
	struct rtr_xdp_maps m;
	unsigned int changed = 0;
	int n, rc = 0, i;

	if (argc < 1 || (strcmp(argv[0], "list") != 0 && argc < 2)) {
		fprintf(stderr, "rtr-xdp: deny add PREFIX [--id N] | deny del PREFIX | deny list\n");
		return 2;
	}
	if (strcmp(argv[0], "list") != 0 && parse_prefix(argv[1], &d) < 0) {
		fprintf(stderr, "rtr-xdp: %s: not an IPv4 or IPv6 prefix (192.0.2.0/24, "
			"2001:db8::/32)\n", argv[1]);
		return 2;
	}
	if (open_maps(o, &m) < 0)
		return 1;
	have = calloc(2 * RTR_XDP_DENY_MAX + 1, sizeof(*have));
	if (have == NULL) {
		rc = -ENOMEM;
		goto out_close;
	}
	n = rtr_xdp_deny_list(&m, have, 2 * RTR_XDP_DENY_MAX);
	if (n < 0) {
		rc = n;
		goto out_free;
	}
	if (strcmp(argv[0], "list") == 0) {
		for (i = 0; i < n; i++) {
			char p[64];

			format_prefix(&have[i], p, sizeof(p));
			printf("%-44s rule %u\n", p, have[i].id);
		}
		goto out_free;
	}
	if (strcmp(argv[0], "add") == 0) {
		d.id = o->id ? (uint32_t)strtoul(o->id, NULL, 10) : 0;
		have[n++] = d;
	} else if (strcmp(argv[0], "del") == 0) {
		int w = 0;

		for (i = 0; i < n; i++)
			if (!(have[i].family == d.family && have[i].plen == d.plen &&
			      memcmp(have[i].addr, d.addr, 16) == 0))
				have[w++] = have[i];
		if (w == n) {
			fprintf(stderr, "rtr-xdp: %s is not on the deny list\n", argv[1]);
			rc = -ENOENT;
			goto out_free;
		}
		n = w;
	} else {
		fprintf(stderr, "rtr-xdp: deny add|del|list, not %s\n", argv[0]);
		rc = -EINVAL;
		goto out_free;
	}
	rc = rtr_xdp_deny_sync(&m, have, (unsigned int)n, &changed);
	if (rc == 0)
		printf("rtr-xdp: %u change(s)\n", changed);
out_free:
	free(have);
out_close:
	rtr_xdp_close(&m);
	return rc < 0 ? (rc == -ENOENT || rc == -EINVAL ? 1 : fail(rc, "deny")) : 0;
}

static int
cmd_stats(const struct opts *o)
{
	struct rtr_xdp_ctr c[RTR_XDP_CTR_MAX];
	struct rtr_xdp_maps m;
	int rc, i;

	if (open_maps(o, &m) < 0)
		return 1;
	rc = rtr_xdp_counters(&m, c);
	rtr_xdp_close(&m);
	if (rc < 0)
		return fail(rc, "counters");
	if (o->json) {
		printf("{");
		for (i = 0; i < RTR_XDP_CTR_MAX; i++)
			printf("%s\"%s\": {\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
			       i ? ", " : "", rtr_xdp_ctr_names[i], c[i].packets, c[i].bytes);
		printf("}\n");
		return 0;
	}
	for (i = 0; i < RTR_XDP_CTR_MAX; i++)
		printf("xdp %-20s %12" PRIu64 " packets %14" PRIu64 " bytes\n", rtr_xdp_ctr_names[i],
		       c[i].packets, c[i].bytes);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: rtr-xdp attach --dev IF --instance NAME [--skb] [--port N] [--pass-service]\n"
		"       rtr-xdp adopt  --dev IF --instance NAME\n"
		"       rtr-xdp detach --dev IF [--instance NAME]\n"
		"       rtr-xdp config --instance NAME [--port N] [--src-pps N] [--src-burst N]\n"
		"                      [--prefix-pps N] [--prefix-burst N] [--pass-service|--redirect]\n"
		"       rtr-xdp deny   --instance NAME add PREFIX [--id N] | del PREFIX | list\n"
		"       rtr-xdp stats  --instance NAME [--json]\n");
}

static long long
num(const char *s, const char *opt, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *s == '\0' || *end || v < 0 || v > max) {
		fprintf(stderr, "rtr-xdp: %s %s: a number from 0 to %lld\n", opt, s, max);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "instance", required_argument, NULL, 'i' },
		{ "skb", no_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "pass-service", no_argument, NULL, 'P' },
		{ "redirect", no_argument, NULL, 'R' },
		{ "src-pps", required_argument, NULL, 1 },
		{ "src-burst", required_argument, NULL, 2 },
		{ "prefix-pps", required_argument, NULL, 3 },
		{ "prefix-burst", required_argument, NULL, 4 },
		{ "id", required_argument, NULL, 'I' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .port = -1, .pass_service = -1, .src_pps = -1, .src_burst = -1,
			  .pfx_pps = -1, .pfx_burst = -1 };
	const char *cmd;
	int c;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	/* the command word first; options and the deny words in any order after */
	cmd = argv[1];
	argv[1] = argv[0];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.dev = optarg; break;
		case 'i': o.instance = optarg; break;
		case 's': o.skb = 1; break;
		case 'p': o.port = (int)num(optarg, "--port", 65535); break;
		case 'P': o.pass_service = 1; break;
		case 'R': o.pass_service = 0; break;
		case 1: o.src_pps = num(optarg, "--src-pps", 1000000000LL); break;
		case 2: o.src_burst = num(optarg, "--src-burst", 1 << 24); break;
		case 3: o.pfx_pps = num(optarg, "--prefix-pps", 1000000000LL); break;
		case 4: o.pfx_burst = num(optarg, "--prefix-burst", 1 << 24); break;
		case 'I': o.id = optarg; break;
		case 'j': o.json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	if (strcmp(cmd, "attach") == 0)
		return cmd_attach(&o);
	if (strcmp(cmd, "adopt") == 0)
		return cmd_adopt(&o);
	if (strcmp(cmd, "detach") == 0)
		return cmd_detach(&o);
	if (o.instance == NULL) {
		fprintf(stderr, "rtr-xdp: %s needs --instance NAME\n", cmd);
		return 2;
	}
	if (strcmp(cmd, "config") == 0)
		return cmd_config(&o);
	if (strcmp(cmd, "deny") == 0)
		return cmd_deny(&o, argc - optind, argv + optind);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(&o);
	fprintf(stderr, "rtr-xdp: unknown command %s\n", cmd);
	usage(stderr);
	return 2;
}
