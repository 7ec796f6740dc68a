/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-controld: the control-plane daemon. Attaches to one dataplane's
 * segments (and waits while it is away), keeps apps and members in its
 * store, serves JOINs from the punt ring, follows the notify ring, and
 * answers rtrctl on a Unix socket. Forwarding never depends on it: the
 * dataplane keeps forwarding while this process is down.
 *
 *   rtr-controld [--instance NAME] [--db PATH] [--socket PATH] [--region CODE]
 *                [--metrics HOST:PORT] [--alarm-drop-rate N] [--alarm-punt-backlog N]
 *                [--alarm-heartbeat-ms N]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "controld.h"
#include "audit.h"
#include "metrics.h"

#define ATTACH_RETRY_MS		200
#define ALARM_TICK_MS		100
#define RECONCILE_MS		60000

static struct ctld ctld;

uint64_t
ctld_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ULL + (uint64_t)ts.tv_nsec / 1000000ULL;
}

void
ctld_log(struct ctld *d, const char *fmt, ...)
{
	char ts[32];
	time_t t = time(NULL);
	va_list ap;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	fprintf(stderr, "%s rtr-controld[%s]: ", ts, d->instance);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Addresses, uids and channel names appear in logs only as a keyed hash. */
const char *
ctld_mask(struct ctld *d, const void *data, size_t len, char *buf)
{
	uint8_t md[32];
	unsigned int n = sizeof(md), i;

	HMAC(EVP_sha256(), d->log_key, sizeof(d->log_key), data, len, md, &n);
	for (i = 0; i < 6; i++)
		sprintf(buf + 2 * i, "%02x", md[i]);
	return buf;
}

struct ctld_app *
ctld_app_by_id(struct ctld *d, const char *app_id)
{
	unsigned int i;

	for (i = 1; i < CTLD_MAX_APPS; i++)
		if (d->apps[i].in_use && strcasecmp(d->apps[i].app_id, app_id) == 0)
			return &d->apps[i];
	return NULL;
}

static void
dp_lost(struct ctld *d, const char *why)
{
	if (d->seg == NULL)
		return;
	ctld_log(d, "dataplane %s: waiting for it", why);
	rtr_seg_detach(d->seg);
	d->seg = NULL;
}

int
ctld_dp_call(struct ctld *d, uint16_t msg, const void *body, size_t len, struct rtr_reply *r)
{
	int rc;

	if (d->seg == NULL)
		return -ENOTCONN;
	rc = rtr_seg_call(d->seg, msg, body, len, r, 1000);
	if (rc == -ETIMEDOUT || rc == -ESRCH)
		dp_lost(d, rc == -ESRCH ? "gone" : "not answering");
	return rc;
}

int
ctld_dp_app_set(struct ctld *d, const struct ctld_app *a)
{
	struct rtr_msg_app_set s;
	struct rtr_reply r;

	memset(&s, 0, sizeof(s));
	s.app_index = a->app_index;
	s.flags = a->enabled ? RTR_APP_F_ENABLED : 0;
	s.member_fps = a->fps;
	s.member_bps = a->bps;
	s.egress_bps = a->egress;
	return ctld_dp_call(d, RTR_MSG_APP_SET, &s, sizeof(s), &r);
}

/* Take a member out of the dataplane and the store. */
/* One audit line per member that leaves the store, whoever removed it. */
static void
audit_removal(struct ctld *d, uint64_t handle, const char *why)
{
	json_t *args = json_pack("{s:I,s:s}", "handle", (json_int_t)handle, "why", why);

	ctld_audit(d, -1, 0, "member.remove", args, "ok");
	json_decref(args);
}

int
ctld_remove_member(struct ctld *d, uint64_t handle, const char *why)
{
	struct rtr_msg_member_del del = { handle };
	struct rtr_reply r;
	int rc = 0;

	if (d->seg != NULL) {
		rc = ctld_dp_call(d, RTR_MSG_MEMBER_DEL, &del, sizeof(del), &r);
		if (rc == -ENOENT)
			rc = 0;	/* already gone there */
	}
	if (rc == 0 || rc == -ENOTCONN) {
		ctld_store_del_member(d, handle);
		d->c.members_removed++;
		ctld_log(d, "member %016llx removed: %s", (unsigned long long)handle, why);
		audit_removal(d, handle, why);
		rc = 0;
	}
	return rc;
}

struct enforce_ctx {
	uint32_t app_index;
	uint64_t handles[256];
	unsigned int n;
	int more;
};

static int
enforce_one(struct ctld *d, const struct ctld_member *m, void *arg)
{
	struct enforce_ctx *c = arg;
	const struct ctld_app *a = &d->apps[m->app_index];

	if (m->app_index >= CTLD_MAX_APPS || !a->in_use)
		return 0;
	if (ctld_region_ok(d, a) && ctld_acl_allows(d, m->app_index, m->ep.family, m->ep.ip))
		return 0;
	if (c->n == sizeof(c->handles) / sizeof(c->handles[0])) {
		c->more = 1;
		return 1;	/* stop; the caller goes round again */
	}
	c->handles[c->n++] = m->handle;
	return 0;
}

/* Isolation rules and geo-fences hold for members already in, not only at
 * JOIN: after a change, members the policy no longer admits are removed.
 * app_index 0: every app (a global rule changed). Returns how many. */
int
ctld_enforce_policy(struct ctld *d, uint32_t app_index)
{
	struct enforce_ctx c;
	int total = 0;
	unsigned int i;

	do {
		memset(&c, 0, sizeof(c));
		c.app_index = app_index;
		if (app_index != 0)
			ctld_store_each_member(d, "app_index=?1", app_index, 0, enforce_one, &c);
		else
			ctld_store_each_member(d, NULL, 0, 0, enforce_one, &c);
		for (i = 0; i < c.n; i++)
			if (ctld_remove_member(d, c.handles[i], "no longer admitted (isolation rule "
					       "or geo-fence)") == 0)
				total++;
	} while (c.more && c.n > 0);
	return total;
}

/* ---------------------------------------------------------------- */
/* dataplane (re)attachment                                          */

static int
reprogram_one(struct ctld *d, const struct ctld_member *m, void *arg)
{
	struct rtr_msg_member_add a;
	struct rtr_reply r;
	int rc;

	(void)arg;
	if (m->suite != 0) {
		/* session keys never go into a new generation (their counters
		 * would start over): the client notices and joins again */
		ctld_store_del_member(d, m->handle);
		audit_removal(d, m->handle, "session keys lost with the dataplane");
		d->c.members_removed++;
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.want_handle = m->handle;
	a.app_index = m->app_index;
	a.privs = m->privs;
	a.channel_hash = m->channel_hash;
	a.ep = m->ep;
	a.role = m->role;
	a.flags = m->state == RTR_MS_ACTIVE ? RTR_MEMBER_F_ACTIVE : 0;
	a.token_expire = m->token_expire;
	memcpy(a.priv_expire, m->priv_expire, sizeof(a.priv_expire));
	a.path_token = m->path_token;
	rc = ctld_dp_call(d, RTR_MSG_MEMBER_ADD, &a, sizeof(a), &r);
	if (rc < 0) {
		ctld_log(d, "member %016llx not re-programmed (%d): removed",
			 (unsigned long long)m->handle, rc);
		ctld_store_del_member(d, m->handle);
		audit_removal(d, m->handle, "could not be re-programmed");
		return rc == -ENOTCONN ? rc : 0;
	}
	d->c.dp_reprogrammed++;
	return 0;
}

struct dp_member_set {
	uint64_t *handles;
	uint8_t *states;
	size_t n, cap;
};

static int
dump_members(struct ctld *d, struct dp_member_set *s)
{
	struct rtr_msg_dump q = { RTR_DUMP_MEMBERS, 0 };
	struct rtr_reply r;
	int rc;

	do {
		const struct rtr_reply_dump *rd = (const struct rtr_reply_dump *)r.body;
		const struct rtr_dump_member *rec;
		uint32_t i;

		rc = ctld_dp_call(d, RTR_MSG_DUMP, &q, sizeof(q), &r);
		if (rc < 0)
			return rc;
		rec = (const struct rtr_dump_member *)rd->recs;
		for (i = 0; i < rd->n; i++) {
			if (s->n == s->cap) {
				size_t cap = s->cap ? 2 * s->cap : 1024;
				uint64_t *h = realloc(s->handles, cap * sizeof(*h));
				uint8_t *st;

				if (h == NULL)
					return -ENOMEM;
				s->handles = h;
				st = realloc(s->states, cap);
				if (st == NULL)
					return -ENOMEM;
				s->states = st;
				s->cap = cap;
			}
			s->handles[s->n] = rec[i].handle;
			s->states[s->n++] = rec[i].state;
		}
		q.cursor = rd->next_cursor;
	} while (q.cursor != 0);
	return 0;
}

static int
reconcile_one(struct ctld *d, const struct ctld_member *m, void *arg)
{
	struct dp_member_set *s = arg;
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (s->handles[i] == m->handle) {
			if (s->states[i] != m->state)
				ctld_store_set_member_state(d, m->handle, s->states[i]);
			s->handles[i] = 0;	/* seen */
			return 0;
		}
	}
	/* gone from the dataplane while we were away (left, idle, expired) */
	ctld_store_del_member(d, m->handle);
	audit_removal(d, m->handle, "gone from the dataplane (reconciled)");
	d->c.members_removed++;
	return 0;
}

/* The store follows the dataplane: members it no longer has leave the
 * store; members only it has (nobody can account for them) leave it. Run
 * at attach and every RECONCILE_MS, in case a notification was lost. */
static void
reconcile(struct ctld *d)
{
	struct dp_member_set s = { 0 };
	unsigned int i;
	int rc;

	rc = dump_members(d, &s);
	if (rc == 0)
		rc = ctld_store_each_member(d, NULL, 0, 0, reconcile_one, &s);
	for (i = 0; rc >= 0 && d->seg != NULL && i < s.n; i++) {
		struct rtr_msg_member_del del = { s.handles[i] };
		struct rtr_reply r;

		if (s.handles[i] != 0)
			ctld_dp_call(d, RTR_MSG_MEMBER_DEL, &del, sizeof(del), &r);
	}
	free(s.handles);
	free(s.states);
}

static void
dp_attach(struct ctld *d)
{
	char stored[32], now[32];
	unsigned int i;
	int rc;

	rc = rtr_seg_attach(d->instance, RTR_ATTACH_CONTROL | RTR_ATTACH_STATS, &d->seg);
	if (rc < 0) {
		d->seg = NULL;
		return;
	}
	d->dp_generation = d->seg->generation;
	ctld_guard_rules_changed(d);	/* whatever it holds, it gets our list */
	snprintf(now, sizeof(now), "%llu", (unsigned long long)d->dp_generation);
	for (i = 1; i < CTLD_MAX_APPS; i++)
		if (d->apps[i].in_use && ctld_dp_app_set(d, &d->apps[i]) < 0)
			ctld_log(d, "app %u: APP_SET failed", i);
	if (d->seg == NULL)
		return;
	if (ctld_store_node_get(d, "dp_generation", stored, sizeof(stored)) == 0 &&
	    strcmp(stored, now) == 0) {
		/* the same dataplane: our store follows what it did meanwhile */
		reconcile(d);
		ctld_log(d, "attached to dataplane (same generation): reconciled");
	} else {
		/* a new dataplane: plaintext members go back in with their ids */
		memset(d->acks, 0, sizeof(d->acks));
		ctld_sess_clear(d);
		rc = ctld_store_each_member(d, NULL, 0, 0, reprogram_one, NULL);
		ctld_log(d, "attached to a new dataplane generation: %d member(s) re-programmed",
			 rc < 0 ? 0 : rc);
	}
	if (d->seg != NULL)
		ctld_store_node_set(d, "dp_generation", now);
}

static void
handle_notify(struct ctld *d, const struct rtr_notify *n)
{
	struct ctld_member m;

	switch (n->type) {
	case RTR_NOTIFY_MEMBER_ACTIVE:
		ctld_store_set_member_state(d, n->handle, RTR_MS_ACTIVE);
		break;
	case RTR_NOTIFY_ROAM:
		/* an encrypted member moved after validating its new path: record
		 * where it is now, and hold it to the isolation rules there */
		if (ctld_store_get_member(d, n->handle, &m) < 0)
			break;
		m.ep = n->ep;
		ctld_store_put_member(d, &m);
		d->c.members_roamed++;
		{
			char mask[20];
			json_t *args = json_pack("{s:I,s:s}", "handle", (json_int_t)n->handle,
						 "to", ctld_mask(d, n->ep.ip, 16, mask));

			ctld_audit(d, -1, 0, "member.roam", args, "ok");
			json_decref(args);
			ctld_log(d, "member %08x moved to %s", n->member_id, mask);
		}
		if (!ctld_acl_allows(d, m.app_index, m.ep.family, m.ep.ip))
			ctld_remove_member(d, n->handle, "moved to an address the isolation rules "
					   "deny");
		break;
	case RTR_NOTIFY_REKEYED:
		ctld_log(d, "member %08x switched to its new keys", n->member_id);
		break;
	case RTR_NOTIFY_MEMBER_IDLE:
	case RTR_NOTIFY_MEMBER_EXPIRED:
	case RTR_NOTIFY_MEMBER_LEFT:
		if (ctld_store_del_member(d, n->handle) == 0) {
			audit_removal(d, n->handle, n->type == RTR_NOTIFY_MEMBER_IDLE ? "idle" :
				      n->type == RTR_NOTIFY_MEMBER_EXPIRED ? "expired" : "left");
			d->c.members_removed++;
			ctld_log(d, "member %08x %s", n->member_id,
				 n->type == RTR_NOTIFY_MEMBER_IDLE ? "idle" :
				 n->type == RTR_NOTIFY_MEMBER_EXPIRED ? "expired" : "left");
		}
		break;
	default:
		break;
	}
}

static void
on_signal(int sig)
{
	(void)sig;
	ctld.quit = 1;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: rtr-controld [--instance NAME] [--db PATH] [--socket PATH] [--region CODE]\n"
		"  --instance NAME   the dataplane instance to control (default: default)\n"
		"  --db PATH         the store (default: /var/lib/rtrelay/NAME.db; key file PATH.key)\n"
		"  --socket PATH     the API socket (default: /run/rtrelay/NAME.sock)\n"
		"  --region CODE     this node's region, for apps' geo-fences\n"
		"  --metrics HOST:PORT     Prometheus metrics on http://HOST:PORT/metrics, loopback\n"
		"                          only (127.0.0.0/8 or [::1]; default: off)\n"
		"  --alarm-drop-rate N     alarm above N drops/s of any one reason (default 10000)\n"
		"  --alarm-punt-backlog N  alarm above N JOINs waiting in the punt ring (default 512)\n"
		"  --alarm-heartbeat-ms N  alarm when the dataplane heartbeat is older (default 1000)\n"
		"                          (a threshold of 0 turns that alarm off)\n"
		"  XDP pre-filter, when one is pinned for the instance (rtr-xdp attach/adopt):\n"
		"  --xdp-port N            the UDP service port it guards (default 7700)\n"
		"  --xdp-src-pps N         packets/s per source address (default 10000; 0: off)\n"
		"  --xdp-src-burst N       burst per source (default 20000)\n"
		"  --xdp-prefix-pps N      packets/s per /24 or /64 (default 100000; 0: off)\n"
		"  --xdp-prefix-burst N    burst per prefix (default 200000)\n"
		"  JOIN guard in the dataplane (every port; JOINs over these are dropped before\n"
		"  they are punted, as are JOINs from sources on the global deny list):\n"
		"  --join-src-rate N       JOINs/s per source address (default 100; 0: off)\n"
		"  --join-src-burst N      burst per source (default 200)\n"
		"  --join-prefix-rate N    JOINs/s per /24 or /64 (default 1000; 0: off)\n"
		"  --join-prefix-burst N   burst per prefix (default 2000)\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "db", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "region", required_argument, NULL, 'r' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "alarm-drop-rate", required_argument, NULL, 'A' },
		{ "alarm-punt-backlog", required_argument, NULL, 'P' },
		{ "alarm-heartbeat-ms", required_argument, NULL, 'H' },
		{ "xdp-port", required_argument, NULL, 1 },
		{ "xdp-src-pps", required_argument, NULL, 2 },
		{ "xdp-src-burst", required_argument, NULL, 3 },
		{ "xdp-prefix-pps", required_argument, NULL, 4 },
		{ "xdp-prefix-burst", required_argument, NULL, 5 },
		{ "join-src-rate", required_argument, NULL, 6 },
		{ "join-src-burst", required_argument, NULL, 7 },
		{ "join-prefix-rate", required_argument, NULL, 8 },
		{ "join-prefix-burst", required_argument, NULL, 9 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctld *d = &ctld;
	struct rlimit nocore = { 0, 0 };
	uint64_t next_attach = 0, next_tick = 0, next_reconcile = 0;
	struct ctld_alarm_cfg alarm_cfg = CTLD_ALARM_CFG_DEFAULT;
	const char *metrics_addr = NULL;
	char why[160];
	int o, rc;

	/* certificates and keys live in this process: no core dumps, no ptrace */
	setrlimit(RLIMIT_CORE, &nocore);
	prctl(PR_SET_DUMPABLE, 0);
	snprintf(d->instance, sizeof(d->instance), "default");
	ctld_xdp_init(d);
	ctld_guard_init(d);
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			if (!rtr_instance_valid(optarg)) {
				fprintf(stderr, "rtr-controld: --instance: '%s' must be 1-%d of "
					"[A-Za-z0-9_-]\n", optarg, RTR_INSTANCE_MAX);
				return 2;
			}
			snprintf(d->instance, sizeof(d->instance), "%s", optarg);
			break;
		case 'd':
			snprintf(d->db_path, sizeof(d->db_path), "%s", optarg);
			break;
		case 's':
			snprintf(d->sock_path, sizeof(d->sock_path), "%s", optarg);
			break;
		case 'r':
			snprintf(d->region, sizeof(d->region), "%s", optarg);
			break;
		case 'm':
			if (ctld_metrics_addr_check(optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "rtr-controld: --metrics: %s\n", why);
				return 2;
			}
			metrics_addr = optarg;
			break;
		case 'A':
		case 'P':
		case 'H': {
			const char *which = o == 'A' ? "drop-rate" :
					    o == 'P' ? "punt-backlog" : "heartbeat-ms";

			if (ctld_alarm_set(&alarm_cfg, which, optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "rtr-controld: --alarm-%s: %s\n", which, why);
				return 2;
			}
			break;
		}
		case 1: case 2: case 3: case 4: case 5: {
			static const char *const names[] = { "", "port", "src-pps", "src-burst",
							     "prefix-pps", "prefix-burst" };

			if (ctld_xdp_set(&d->xdp, names[o], optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "rtr-controld: --xdp-%s: %s\n", names[o], why);
				return 2;
			}
			break;
		}
		case 6: case 7: case 8: case 9: {
			static const char *const names[] = { "src-rate", "src-burst", "prefix-rate",
							     "prefix-burst" };

			if (ctld_guard_set(&d->guard, names[o - 6], optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "rtr-controld: --join-%s: %s\n", names[o - 6], why);
				return 2;
			}
			break;
		}
		default:
			usage();
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rtr-controld: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!d->db_path[0])
		snprintf(d->db_path, sizeof(d->db_path), "/var/lib/rtrelay/%.32s.db", d->instance);
	snprintf(d->key_path, sizeof(d->key_path), "%.255s.key", d->db_path);
	if (!d->sock_path[0])
		snprintf(d->sock_path, sizeof(d->sock_path), "/run/rtrelay/%.32s.sock", d->instance);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	{
		uint8_t r[16];
		unsigned int i;

		if (RAND_bytes(r, sizeof(r)) != 1)
			return 1;
		for (i = 0; i < sizeof(r); i++)
			sprintf(d->dummy_cert + 2 * i, "%02x", r[i]);
		OPENSSL_cleanse(r, sizeof(r));
	}
	rc = ctld_store_open(d);
	if (rc == 0)
		rc = ctld_store_load_apps(d) == -EIO ? -EIO : 0;
	if (rc == 0)
		rc = ctld_store_load_acls(d);
	if (rc == 0)
		rc = ctld_audit_open(d);
	if (rc == 0 && metrics_addr != NULL)
		rc = ctld_metrics_start(d, metrics_addr);
	if (rc == 0)
		rc = ctld_api_open(d);
	if (rc < 0) {
		ctld_log(d, "start-up failed: %s", strerror(-rc));
		ctld_metrics_stop(d);
		ctld_store_close(d);
		return 1;
	}
	ctld_log(d, "serving %s, store %s, region %s", d->sock_path, d->db_path,
		 d->region[0] ? d->region : "(none)");

	while (!d->quit) {
		struct pollfd fds[CTLD_MAX_CLIENTS + 1];
		int n;

		if (d->seg == NULL && mono_ms() >= next_attach) {
			dp_attach(d);
			next_attach = mono_ms() + ATTACH_RETRY_MS;
			next_reconcile = mono_ms() + RECONCILE_MS;
		} else if (d->seg != NULL && mono_ms() >= next_reconcile) {
			reconcile(d);
			next_reconcile = mono_ms() + RECONCILE_MS;
		} else if (d->seg != NULL && !rtr_seg_alive(d->seg)) {
			dp_lost(d, "stopped (heartbeat or process gone)");
		}
		if (mono_ms() >= next_tick) {
			/* alarms (also while the dataplane is away) and the metrics snapshot */
			ctld_alarms_tick(d, &alarm_cfg);
			next_tick = mono_ms() + ALARM_TICK_MS;
		}
		ctld_xdp_tick(d);
		ctld_guard_tick(d);
		n = ctld_api_fds(d, fds, CTLD_MAX_CLIENTS + 1);
		/* the rings have no file descriptor: look at them every millisecond */
		if (poll(fds, (nfds_t)n, d->seg != NULL ? 1 : 50) > 0)
			ctld_api_poll(d, fds, n);
		ctld_audit_flush(d, 0);
		if (d->seg != NULL) {
			static struct rtr_punt punts[16];
			struct rtr_notify notes[64];
			int k, m;

			m = rtr_seg_punt_read(d->seg, punts, 16);
			for (k = 0; k < m && d->seg != NULL; k++)
				ctld_join(d, &punts[k]);
			OPENSSL_cleanse(punts, sizeof(punts));
			if (d->seg != NULL) {
				m = rtr_seg_notify_read(d->seg, notes, 64);
				for (k = 0; k < m; k++)
					handle_notify(d, &notes[k]);
			}
		}
	}
	ctld_log(d, "stopping");
	ctld_metrics_stop(d);
	ctld_api_close(d);
	ctld_audit_close(d);
	if (d->seg != NULL)
		rtr_seg_detach(d->seg);
	ctld_sess_clear(d);
	ctld_xdp_close(d);
	ctld_store_close(d);
	return 0;
}
