/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-controld: Prometheus metrics over HTTP on a loopback port, and alarms.
 *
 * Threads. The daemon is a single-threaded poll loop; this file adds one
 * libmicrohttpd thread (MHD_USE_INTERNAL_POLLING_THREAD) that only reads:
 *  - the segments can be unmapped by the main thread at any moment (the
 *    dataplane goes away), so the HTTP thread never touches d->seg. The main
 *    thread copies everything the page shows (dataplane counters, its own
 *    counters d->c, the alarm state) into a snapshot in ctld_alarms_tick,
 *    about every 100 ms, and publishes it under `pub_lock`; the HTTP thread
 *    copies the published snapshot under the same lock and formats its copy.
 *    Both critical sections are a memcpy. Nothing in d is read from the HTTP
 *    thread (not even the plain u64 counters in d->c, which would be a benign
 *    race on x86-64 but is not needed: the snapshot has them).
 *  - member and channel counts come from the store, through the HTTP
 *    thread's own read-only SQLite connection (WAL: readers never block the
 *    daemon's writer), never through d->db.
 * The alarm state belongs to the main thread (ctld_alarms_tick writes it,
 * ctld_alarms_json reads it from the API on the same thread).
 *
 * Exposure. The listener binds to 127.0.0.0/8 or [::1] only, and requests
 * must name a loopback Host (or none): a web page that rebinds its own DNS
 * name to 127.0.0.1 gets 403, not the metrics. Responses carry
 * X-Content-Type-Options: nosniff, a CSP that allows nothing, and
 * Cache-Control: no-store. Only GET and HEAD of /metrics are served.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>
#include <rte_ring.h>
#include <sqlite3.h>

#include "controld.h"
#include "metrics.h"

#if MHD_VERSION >= 0x00097002
#define MHD_RES enum MHD_Result
#else
#define MHD_RES int
#endif

#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define CSP		"default-src 'none'; frame-ancestors 'none'"

/* Drop rates are measured over the last second of samples. */
#define RATE_WINDOW_NS		1000000000ULL
#define RATE_MIN_SPAN_NS	200000000ULL	/* no rate from less than this */
#define RATE_MIN_GAP_NS		40000000ULL	/* between kept samples */
#define RATE_RING		32

/* Alarm slots: one per drop reason, then the punt ring, then the heartbeat. */
#define AL_PUNT		RTR_DROP_SLOTS
#define AL_HB		(RTR_DROP_SLOTS + 1)
#define AL_N		(RTR_DROP_SLOTS + 2)
#define AL_NAME_LEN	(RTR_DROP_NAME_LEN + 16)

#define SNAP_MAX_PORTS	64

struct alarm {
	bool active;
	uint64_t value;		/* at the last tick */
	uint64_t peak;		/* while active */
	uint64_t threshold;
	int64_t since;		/* unix s */
	char name[AL_NAME_LEN];
};

struct snap_app {
	uint32_t app;
	struct rtr_app_stats s;
};

/* What the page shows, copied by the main thread. Variable tail: apps[]. */
struct snap {
	bool valid;
	bool attached;
	bool hb_known;
	uint64_t tick_mono_ns;
	uint64_t hb_age_ns;
	uint64_t punt_backlog;
	uint32_t n_workers;
	uint32_t n_ports;
	uint32_t n_drop;
	uint32_t apps_cfg;
	uint32_t apps_enabled;
	struct ctld_alarm_cfg cfg;
	struct ctld_counters c;
	struct rtr_worker_stats w;
	struct rtr_main_stats m;
	struct rtr_port_stats ports[SNAP_MAX_PORTS];
	char drop_names[RTR_DROP_SLOTS][RTR_DROP_NAME_LEN];
	struct alarm al[AL_N];
	bool xdp_present;
	uint32_t xdp_rules;
	uint64_t xdp_sync_errors;
	uint64_t guard_sync_errors;
	struct rtr_xdp_ctr xdp[RTR_XDP_CTR_MAX];
	uint32_t n_apps;
	struct snap_app apps[CTLD_MAX_APPS];
};

#define SNAP_BYTES(n)	(offsetof(struct snap, apps) + (size_t)(n) * sizeof(struct snap_app))

/* Main thread only. */
static struct {
	struct alarm al[AL_N];
	uint32_t n_drop;
	char drop_names[RTR_DROP_SLOTS][RTR_DROP_NAME_LEN];
	struct {
		uint64_t t;
		uint64_t drops[RTR_DROP_SLOTS];
	} ring[RATE_RING];
	unsigned int tail, n;
	uint64_t ring_gen;
	bool hb_seen;
	uint64_t last_hb;
	uint64_t first_tick;
	bool init;
	struct snap scratch;
} st;

/* Shared with the HTTP thread. */
static pthread_mutex_t pub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snap pub;		/* under pub_lock */
static bool publishing;		/* main thread: snapshots wanted (the HTTP thread runs) */

/* HTTP thread only (MHD_USE_INTERNAL_POLLING_THREAD: one thread). */
static struct MHD_Daemon *mhd;
static sqlite3 *ro_db;
static uint64_t store_errors;
static int64_t start_time_s;

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t
sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* Names from the segment end up in labels, JSON and logs: keep them tame. */
static void
tame(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i] != '\0'; i++) {
		char ch = src[i];

		dst[i] = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.') ? ch : '_';
	}
	dst[i] = '\0';
}

/* ---------------------------------------------------------------- */
/* options                                                          */

static int
why_fail(char *why, size_t len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
why_fail(char *why, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* hostport -> a loopback socket address. */
static int
parse_addr(const char *hostport, struct sockaddr_storage *ss, socklen_t *sl, char *why,
	   size_t len)
{
	char host[64];
	const char *port_s;
	char *end;
	unsigned long port;
	size_t hl;

	if (hostport == NULL || *hostport == '\0')
		return why_fail(why, len, -EINVAL, "expected HOST:PORT, e.g. 127.0.0.1:9100");
	if (hostport[0] == '[') {
		const char *rb = strchr(hostport, ']');

		if (rb == NULL || rb[1] != ':')
			return why_fail(why, len, -EINVAL,
					"'%s': expected [::1]:PORT for IPv6", hostport);
		hl = (size_t)(rb - hostport - 1);
		if (hl >= sizeof(host))
			return why_fail(why, len, -EINVAL, "'%s': address too long", hostport);
		memcpy(host, hostport + 1, hl);
		host[hl] = '\0';
		port_s = rb + 2;
	} else {
		const char *colon = strrchr(hostport, ':');

		if (colon == NULL)
			return why_fail(why, len, -EINVAL,
					"'%s': expected HOST:PORT, e.g. 127.0.0.1:9100", hostport);
		if (memchr(hostport, ':', (size_t)(colon - hostport)) != NULL)
			return why_fail(why, len, -EINVAL,
					"'%s': write an IPv6 address in brackets, [::1]:PORT",
					hostport);
		hl = (size_t)(colon - hostport);
		if (hl >= sizeof(host))
			return why_fail(why, len, -EINVAL, "'%s': address too long", hostport);
		memcpy(host, hostport, hl);
		host[hl] = '\0';
		port_s = colon + 1;
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (*port_s < '0' || *port_s > '9' || *end != '\0' || errno != 0 || port == 0 ||
	    port > 65535)
		return why_fail(why, len, -EINVAL, "'%s': the port must be 1-65535", hostport);

	memset(ss, 0, sizeof(*ss));
	if (hostport[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return why_fail(why, len, -EINVAL, "'%s': not an IPv6 address", host);
		if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return why_fail(why, len, -EINVAL,
					"'%s' is not a loopback address: metrics are served on "
					"127.0.0.0/8 or [::1] only", host);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return why_fail(why, len, -EINVAL,
					"'%s': not an IPv4 address (names are not resolved; use "
					"127.0.0.1 or [::1])", host);
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127)
			return why_fail(why, len, -EINVAL,
					"'%s' is not a loopback address: metrics are served on "
					"127.0.0.0/8 or [::1] only", host);
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*s4);
	}
	return 0;
}

int
ctld_metrics_addr_check(const char *hostport, char *why, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	return parse_addr(hostport, &ss, &sl, why, len);
}

int
ctld_alarm_set(struct ctld_alarm_cfg *cfg, const char *which, const char *value, char *why,
	       size_t len)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (value[0] < '0' || value[0] > '9' || *end != '\0')
		return why_fail(why, len, -EINVAL, "'%s' is not a number (0 disables the alarm)",
				value);
	if (errno != 0)
		return why_fail(why, len, -ERANGE, "'%s' is out of range", value);
	if (strcmp(which, "drop-rate") == 0) {
		if (v > 1000000000000ULL)
			return why_fail(why, len, -ERANGE, "%llu drops/s: at most 10^12", v);
		cfg->drop_rate = v;
	} else if (strcmp(which, "punt-backlog") == 0) {
		/* an rte_ring of N slots holds at most N - 1 */
		if (v >= RTR_PUNT_RING_SIZE - 1)
			return why_fail(why, len, -ERANGE,
					"%llu: the punt ring holds %u entries, the threshold must be "
					"below %u", v, RTR_PUNT_RING_SIZE - 1, RTR_PUNT_RING_SIZE - 1);
		cfg->punt_backlog = (uint32_t)v;
	} else if (strcmp(which, "heartbeat-ms") == 0) {
		/* the dataplane beats every <= 100 ms and the alarms tick every ~100 ms */
		if (v != 0 && (v < 200 || v > 3600000))
			return why_fail(why, len, -ERANGE, "%llu ms: use 200-3600000 (or 0)", v);
		cfg->heartbeat_ms = (uint32_t)v;
	} else {
		return why_fail(why, len, -EINVAL, "no alarm '%s'", which);
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* alarms (main thread)                                             */

static void
names_init(void)
{
	unsigned int i;

	if (st.init)
		return;
	st.init = true;
	st.first_tick = mono_ns();
	st.n_drop = RTR_DROP_MAX;
	for (i = 0; i < RTR_DROP_MAX; i++)
		tame(st.drop_names[i], RTR_DROP_NAME_LEN, rtr_drop_name(i));
	for (i = 0; i < RTR_DROP_SLOTS; i++)
		snprintf(st.al[i].name, AL_NAME_LEN, "drop_rate:%s",
			 i < st.n_drop ? st.drop_names[i] : "unknown");
	snprintf(st.al[AL_PUNT].name, AL_NAME_LEN, "punt_backlog");
	snprintf(st.al[AL_HB].name, AL_NAME_LEN, "dataplane_heartbeat");
}

/* The drop-reason names of the attached dataplane (they name the alarms). */
static void
names_from_seg(const struct rtr_seg *seg)
{
	uint32_t n = seg->stats->n_drop_reasons, i;

	if (n > RTR_DROP_SLOTS)
		n = RTR_DROP_SLOTS;
	for (i = 0; i < n; i++) {
		char name[RTR_DROP_NAME_LEN];

		tame(name, sizeof(name), rtr_seg_drop_name(seg, i));
		if (strcmp(name, st.drop_names[i]) == 0)
			continue;
		memcpy(st.drop_names[i], name, sizeof(name));
		if (!st.al[i].active)	/* an active alarm keeps the name it was raised with */
			snprintf(st.al[i].name, AL_NAME_LEN, "drop_rate:%s", name);
	}
	st.n_drop = n;
}

/* Rates over the last second; 0 when there is not enough history yet. */
static int
drop_rates(uint64_t now, const uint64_t *cur, uint64_t *rate)
{
	unsigned int i, newest;
	uint64_t span;

	newest = (st.tail + st.n - 1) % RATE_RING;
	if (st.n == 0 || now - st.ring[newest].t >= RATE_MIN_GAP_NS) {
		unsigned int slot;

		if (st.n == RATE_RING) {
			st.tail = (st.tail + 1) % RATE_RING;
			st.n--;
		}
		slot = (st.tail + st.n) % RATE_RING;
		st.ring[slot].t = now;
		memcpy(st.ring[slot].drops, cur, sizeof(st.ring[slot].drops));
		st.n++;
	}
	/* keep as the base the newest sample that is at least a window old */
	while (st.n >= 2 && now - st.ring[(st.tail + 1) % RATE_RING].t >= RATE_WINDOW_NS) {
		st.tail = (st.tail + 1) % RATE_RING;
		st.n--;
	}
	span = now - st.ring[st.tail].t;
	if (span < RATE_MIN_SPAN_NS)
		return 0;
	for (i = 0; i < RTR_DROP_SLOTS; i++) {
		uint64_t base = st.ring[st.tail].drops[i];

		rate[i] = cur[i] > base ?
			  (uint64_t)((double)(cur[i] - base) * 1e9 / (double)span + 0.5) : 0;
	}
	return 1;
}

/*
 * Raise above thr, clear below 80 % of it. known = false: nothing to measure
 * (the dataplane is away), which clears an active alarm.
 */
static void
judge(struct ctld *d, struct alarm *a, bool known, uint64_t value, uint64_t thr,
      const char *what, const char *unit, const char *note)
{
	uint64_t clear_below = thr - thr / 5;

	if (!a->active) {
		if (thr == 0 || !known || value <= thr)
			return;
		a->active = true;
		a->value = a->peak = value;
		a->threshold = thr;
		a->since = (int64_t)time(NULL);
		ctld_log(d, "ALARM raised: %s %" PRIu64 "%s > %" PRIu64 "%s%s", what, value, unit,
			 thr, unit, note);
		return;
	}
	if (thr == 0 || !known) {
		a->active = false;
		ctld_log(d, "ALARM cleared: %s (%s)", what,
			 thr == 0 ? "alarm disabled" : "no dataplane to measure");
		return;
	}
	a->value = value;
	if (value > a->peak)
		a->peak = value;
	if (value < clear_below) {
		a->active = false;
		ctld_log(d, "ALARM cleared: %s %" PRIu64 "%s < %" PRIu64 "%s (peak %" PRIu64 "%s)",
			 what, value, unit, clear_below, unit, a->peak, unit);
	}
}

static void
snapshot(struct ctld *d, const struct ctld_alarm_cfg *cfg, uint64_t now, bool hb_known,
	 uint64_t hb_age, uint64_t backlog, const struct rtr_worker_stats *w)
{
	struct snap *s = &st.scratch;
	unsigned int i;

	s->valid = true;
	s->tick_mono_ns = now;
	s->attached = d->seg != NULL;
	s->hb_known = hb_known;
	s->hb_age_ns = hb_age;
	s->punt_backlog = backlog;
	s->cfg = *cfg;
	s->c = d->c;
	s->xdp_present = d->xdp.present;
	s->xdp_rules = d->xdp.rules;
	s->xdp_sync_errors = d->xdp.sync_errors;
	s->guard_sync_errors = d->guard.sync_errors;
	memcpy(s->xdp, d->xdp.ctr, sizeof(s->xdp));
	s->apps_cfg = s->apps_enabled = 0;
	for (i = 1; i < CTLD_MAX_APPS; i++) {
		s->apps_cfg += d->apps[i].in_use;
		s->apps_enabled += d->apps[i].in_use && d->apps[i].enabled;
	}
	s->n_drop = st.n_drop;
	memcpy(s->drop_names, st.drop_names, sizeof(s->drop_names));
	memcpy(s->al, st.al, sizeof(s->al));
	s->n_workers = s->n_ports = s->n_apps = 0;
	if (d->seg != NULL) {
		const struct rtr_stats_hdr *h = d->seg->stats;
		uint32_t max_apps = h->max_apps;

		s->w = *w;
		s->n_workers = h->n_workers;
		rtr_seg_stats_main(d->seg, &s->m);
		for (i = 0; i < h->n_ports && i < SNAP_MAX_PORTS; i++)
			if (rtr_seg_stats_port(d->seg, i, &s->ports[i]) == 0)
				s->n_ports = i + 1;
		for (i = 0; i < max_apps && s->n_apps < CTLD_MAX_APPS; i++) {
			struct snap_app *a = &s->apps[s->n_apps];

			if (rtr_seg_stats_app(d->seg, i, &a->s) < 0)
				break;
			if (a->s.in_pkts | a->s.out_pkts | a->s.drops | a->s.in_bytes | a->s.out_bytes) {
				a->app = i;
				s->n_apps++;
			}
		}
	}
	pthread_mutex_lock(&pub_lock);
	memcpy(&pub, s, SNAP_BYTES(s->n_apps));
	pthread_mutex_unlock(&pub_lock);
}

void
ctld_alarms_tick(struct ctld *d, const struct ctld_alarm_cfg *cfg)
{
	struct rtr_worker_stats w;
	uint64_t now, rate[RTR_DROP_SLOTS];
	uint64_t hb_age = 0, backlog = 0;
	bool hb_known = false, rates_ok = false;
	const char *hb_note = "";
	char what[AL_NAME_LEN + 16];
	unsigned int i;

	names_init();
	now = mono_ns();
	memset(&w, 0, sizeof(w));
	if (d->seg != NULL) {
		uint64_t hb;

		if (d->seg->ctl != NULL)
			hb = __atomic_load_n(&d->seg->ctl->heartbeat_ns, __ATOMIC_ACQUIRE);
		else
			hb = __atomic_load_n(&rtr_stats_mainp(d->seg->stats)->heartbeat_ns,
					     __ATOMIC_ACQUIRE);
		st.hb_seen = true;
		st.last_hb = hb;
		hb_known = true;
		hb_age = sat_sub(now, hb);
		if (d->seg->punt != NULL)
			backlog = rte_ring_count(d->seg->punt);
		if (st.ring_gen != d->seg->generation) {
			/* another dataplane: its counters start again */
			st.ring_gen = d->seg->generation;
			st.n = st.tail = 0;
			names_from_seg(d->seg);
		}
		rtr_seg_stats_workers(d->seg, &w);
		rates_ok = drop_rates(now, w.drops, rate) != 0;
	} else {
		st.n = st.tail = 0;
		st.ring_gen = 0;
		/* the heartbeat keeps ageing while the dataplane is away */
		hb_known = true;
		hb_age = sat_sub(now, st.hb_seen ? st.last_hb : st.first_tick);
		hb_note = st.hb_seen ? " (dataplane away)" : " (no dataplane yet)";
	}

	for (i = 0; i < st.n_drop; i++) {
		snprintf(what, sizeof(what), "drop rate %s", st.drop_names[i]);
		/* no rate yet (just attached): hold the current state */
		if (d->seg != NULL && !rates_ok)
			continue;
		judge(d, &st.al[i], d->seg != NULL, d->seg != NULL ? rate[i] : 0, cfg->drop_rate,
		      what, "/s", "");
	}
	judge(d, &st.al[AL_PUNT], d->seg != NULL, backlog, cfg->punt_backlog, "punt backlog",
	      " entries", "");
	judge(d, &st.al[AL_HB], hb_known, hb_age / 1000000ULL, cfg->heartbeat_ms,
	      "dataplane heartbeat", " ms", hb_note);

	if (publishing)
		snapshot(d, cfg, now, hb_known, hb_age, backlog, &w);
}

json_t *
ctld_alarms_json(struct ctld *d)
{
	json_t *arr = json_array();
	unsigned int i;

	(void)d;
	for (i = 0; i < AL_N; i++) {
		const struct alarm *a = &st.al[i];

		if (!a->active)
			continue;
		json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:I,s:I}", "alarm", a->name,
						     "value", (json_int_t)a->value, "threshold",
						     (json_int_t)a->threshold, "since",
						     (json_int_t)a->since, "peak",
						     (json_int_t)a->peak));
	}
	return arr;
}

/* ---------------------------------------------------------------- */
/* exposition                                                       */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
bput(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
bput(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = b->cap * 2 + (size_t)n;
			char *p = realloc(b->p, cap);

			if (p == NULL) {
				b->oom = true;
				return;
			}
			b->p = p;
			b->cap = cap;
		}
	}
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	bput(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* {key="value"} with the exposition format's escapes. */
static const char *
label(char *out, size_t len, const char *key, const char *value)
{
	size_t o;

	o = (size_t)snprintf(out, len, "{%s=\"", key);
	for (; *value != '\0' && o + 4 < len; value++) {
		if (*value == '\\' || *value == '"') {
			out[o++] = '\\';
			out[o++] = *value;
		} else if (*value == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *value;
		}
	}
	out[o++] = '"';
	out[o++] = '}';
	out[o] = '\0';
	return out;
}

static void
u64(struct buf *b, const char *name, const char *labels, uint64_t v)
{
	bput(b, "%s%s %" PRIu64 "\n", name, labels != NULL ? labels : "", v);
}

static void
one(struct buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	family(b, name, type, help);
	u64(b, name, NULL, v);
}

static const char *const err_names[16] = {
	[RTR_E_MALFORMED] = "MALFORMED", [RTR_E_VERSION] = "VERSION",
	[RTR_E_APP_UNKNOWN] = "APP_UNKNOWN", [RTR_E_APP_DISABLED] = "APP_DISABLED",
	[RTR_E_TOKEN_INVALID] = "TOKEN_INVALID", [RTR_E_TOKEN_EXPIRED] = "TOKEN_EXPIRED",
	[RTR_E_PRIVILEGE] = "PRIVILEGE", [RTR_E_CHANNEL_FULL] = "CHANNEL_FULL",
	[RTR_E_QUOTA] = "QUOTA", [RTR_E_GEOFENCED] = "GEOFENCED",
	[RTR_E_ACL_DENIED] = "ACL_DENIED", [RTR_E_RATE_LIMITED] = "RATE_LIMITED",
	[RTR_E_ENC_REQUIRED] = "ENC_REQUIRED", [RTR_E_BUSY] = "BUSY",
	[RTR_E_UID_CONFLICT] = "UID_CONFLICT",
};

/* One integer from the read-only store connection; -1 on error. */
static int64_t
store_int(const char *sql, int col_filter, int64_t filter)
{
	sqlite3_stmt *q = NULL;
	int64_t v = -1;

	if (ro_db == NULL)
		return -1;
	if (sqlite3_prepare_v2(ro_db, sql, -1, &q, NULL) == SQLITE_OK &&
	    (!col_filter || sqlite3_bind_int64(q, 1, filter) == SQLITE_OK) &&
	    sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (v < 0)
		store_errors++;
	return v;
}

static void
page_store(struct buf *b)
{
	int64_t pending, active, channels;

	pending = store_int("SELECT COUNT(*) FROM members WHERE state = ?1", 1, RTR_MS_PENDING);
	active = store_int("SELECT COUNT(*) FROM members WHERE state = ?1", 1, RTR_MS_ACTIVE);
	channels = store_int("SELECT COUNT(*) FROM (SELECT 1 FROM members "
			     "GROUP BY app_index, channel_hash)", 0, 0);
	if (pending >= 0 && active >= 0) {
		family(b, "rtrelay_members", "gauge", "Members in the store, by state.");
		u64(b, "rtrelay_members", "{state=\"pending\"}", (uint64_t)pending);
		u64(b, "rtrelay_members", "{state=\"active\"}", (uint64_t)active);
	}
	if (channels >= 0)
		one(b, "rtrelay_channels", "gauge", "Channels with at least one member.",
		    (uint64_t)channels);
	one(b, "rtrelay_metrics_store_errors_total", "counter",
	    "Failed store queries while serving metrics.", store_errors);
}

static void
page_controld(struct buf *b, const struct snap *s)
{
	char l[96];
	unsigned int i;

	one(b, "rtrelay_apps", "gauge", "Apps configured on this node.", s->apps_cfg);
	one(b, "rtrelay_apps_enabled", "gauge", "Apps configured and enabled.", s->apps_enabled);

	family(b, "rtrelay_controld_joins_total", "counter",
	       "JOINs answered, by result: ok or the ERROR code sent.");
	u64(b, "rtrelay_controld_joins_total", "{result=\"ok\"}", s->c.joins_ok);
	for (i = 1; i < 16; i++) {
		if (err_names[i] == NULL)
			continue;
		u64(b, "rtrelay_controld_joins_total", label(l, sizeof(l), "result", err_names[i]),
		    s->c.joins_refused[i]);
	}
	family(b, "rtrelay_controld_joins_dropped_total", "counter",
	       "JOINs dropped without an answer, by reason.");
	u64(b, "rtrelay_controld_joins_dropped_total", "{reason=\"malformed\"}",
	    s->c.joins_dropped_malformed);
	u64(b, "rtrelay_controld_joins_dropped_total", "{reason=\"replay\"}",
	    s->c.joins_dropped_replay);
	u64(b, "rtrelay_controld_joins_dropped_total", "{reason=\"policy\"}",
	    s->c.joins_dropped_policy);
	u64(b, "rtrelay_controld_joins_dropped_total", "{reason=\"handshake\"}",
	    s->c.joins_dropped_handshake);
	u64(b, "rtrelay_controld_joins_dropped_total", "{reason=\"rekey\"}",
	    s->c.joins_dropped_rekey);
	one(b, "rtrelay_controld_rekeys_total", "counter",
	    "Rekey JOINs accepted (new keys installed).", s->c.joins_rekeyed);
	one(b, "rtrelay_controld_members_roamed_total", "counter",
	    "Encrypted members moved to a validated new endpoint.", s->c.members_roamed);
	one(b, "rtrelay_controld_joins_retransmitted_total", "counter",
	    "Retransmitted JOINs answered with the cached JOIN_ACK.", s->c.joins_retransmit);
	one(b, "rtrelay_controld_members_removed_total", "counter",
	    "Members removed (left, idle, expired, kicked).", s->c.members_removed);
	one(b, "rtrelay_controld_api_requests_total", "counter", "Operator API requests.",
	    s->c.api_requests);
	one(b, "rtrelay_controld_api_refused_total", "counter",
	    "Operator API requests refused (permissions, rate limit).", s->c.api_refused);
	one(b, "rtrelay_controld_dataplane_reprogrammed_total", "counter",
	    "Members re-installed into a new dataplane generation.", s->c.dp_reprogrammed);
	one(b, "rtrelay_controld_dataplane_command_errors_total", "counter",
	    "Dataplane commands that failed.", s->c.dp_cmd_errors);
}

static void
page_xdp(struct buf *b, const struct snap *s)
{
	char l[96];
	int i;

	one(b, "rtrelay_xdp_present", "gauge",
	    "1: the instance has an XDP pre-filter pinned (rtr-xdp attach or adopt).",
	    s->xdp_present);
	if (!s->xdp_present)
		return;
	one(b, "rtrelay_xdp_deny_rules", "gauge", "Global deny prefixes loaded into the XDP tries.",
	    s->xdp_rules);
	one(b, "rtrelay_xdp_sync_errors_total", "counter",
	    "Failed writes of rules or settings into the XDP maps.", s->xdp_sync_errors);
	family(b, "rtrelay_xdp_packets_total", "counter",
	       "Packets the XDP pre-filter judged, by verdict (pass_*, drop_*, redirect_xsk).");
	for (i = 0; i < RTR_XDP_CTR_MAX; i++)
		u64(b, "rtrelay_xdp_packets_total", label(l, sizeof(l), "verdict", rtr_xdp_ctr_names[i]),
		    s->xdp[i].packets);
	family(b, "rtrelay_xdp_bytes_total", "counter", "Bytes the XDP pre-filter judged, by verdict.");
	for (i = 0; i < RTR_XDP_CTR_MAX; i++)
		u64(b, "rtrelay_xdp_bytes_total", label(l, sizeof(l), "verdict", rtr_xdp_ctr_names[i]),
		    s->xdp[i].bytes);
}

static void
page_dataplane(struct buf *b, const struct snap *s)
{
	const struct rtr_worker_stats *w = &s->w;
	const struct rtr_main_stats *m = &s->m;
	char l[160], port[16];
	unsigned int i;

	one(b, "rtrelay_dataplane_workers", "gauge", "Dataplane worker lcores.", s->n_workers);
	one(b, "rtrelay_dataplane_rx_packets_total", "counter", "Packets received by the workers.",
	    w->rx_pkts);
	one(b, "rtrelay_dataplane_rx_bytes_total", "counter", "Bytes received by the workers.",
	    w->rx_bytes);
	one(b, "rtrelay_dataplane_tx_packets_total", "counter", "Packets sent by the workers.",
	    w->tx_pkts);
	one(b, "rtrelay_dataplane_tx_bytes_total", "counter", "Bytes sent by the workers.",
	    w->tx_bytes);
	one(b, "rtrelay_dataplane_media_in_total", "counter",
	    "MEDIA frames accepted for fan-out.", w->media_in);
	one(b, "rtrelay_dataplane_media_out_total", "counter", "MEDIA copies sent.",
	    w->media_out);
	one(b, "rtrelay_dataplane_punted_total", "counter",
	    "JOIN frames put on the punt ring.", w->punted);
	one(b, "rtrelay_dataplane_keepalives_echoed_total", "counter", "KEEPALIVEs echoed.",
	    w->ka_echoed);
	one(b, "rtrelay_dataplane_leaves_total", "counter", "LEAVEs accepted.", w->leaves);
	one(b, "rtrelay_dataplane_activations_total", "counter",
	    "Paths validated by PENDING members.", w->activations);
	one(b, "rtrelay_dataplane_enc_opened_total", "counter",
	    "Encrypted uplink frames that authenticated.", w->enc_opened);
	one(b, "rtrelay_dataplane_enc_sealed_total", "counter",
	    "Downlink frames sealed for encrypted members.", w->enc_sealed);
	one(b, "rtrelay_dataplane_roam_candidates_total", "counter",
	    "Authenticated frames from a new endpoint that proposed a move.", w->roam_candidates);
	one(b, "rtrelay_dataplane_key_switches_total", "counter",
	    "Downlinks switched to a member's new keys.", w->rekeys);
	one(b, "rtrelay_dataplane_arp_replies_total", "counter", "ARP replies sent.",
	    w->arp_replies);
	one(b, "rtrelay_dataplane_nd_replies_total", "counter", "Neighbour advertisements sent.",
	    w->nd_replies);
	one(b, "rtrelay_dataplane_control_frames_sent_total", "counter",
	    "Frames sent for the control plane (JOIN_ACK, ERROR).", w->tx_frames);

	family(b, "rtrelay_dataplane_drops_total", "counter", "Frames dropped, by reason.");
	for (i = 0; i < s->n_drop; i++)
		u64(b, "rtrelay_dataplane_drops_total",
		    label(l, sizeof(l), "reason", s->drop_names[i]), w->drops[i]);
	family(b, "rtrelay_punt_drops_total", "counter",
	       "JOIN frames not punted: rate limit or a full punt ring.");
	u64(b, "rtrelay_punt_drops_total", "{reason=\"rate_limited\"}",
	    w->drops[RTR_DROP_PUNT_RATE]);
	u64(b, "rtrelay_punt_drops_total", "{reason=\"ring_full\"}", w->drops[RTR_DROP_PUNT_FULL]);
	one(b, "rtrelay_punt_ring_backlog", "gauge", "JOIN frames waiting in the punt ring.",
	    s->punt_backlog);

	/* the dataplane's own view of its tables */
	one(b, "rtrelay_dataplane_apps", "gauge", "Apps installed in the dataplane.", m->apps);
	one(b, "rtrelay_dataplane_channels", "gauge", "Channels in the dataplane.", m->channels);
	family(b, "rtrelay_dataplane_members", "gauge", "Members in the dataplane, by state.");
	u64(b, "rtrelay_dataplane_members", "{state=\"pending\"}", m->members_pending);
	u64(b, "rtrelay_dataplane_members", "{state=\"active\"}", m->members_active);
	family(b, "rtrelay_dataplane_members_removed_total", "counter",
	       "Members the dataplane removed, by reason.");
	u64(b, "rtrelay_dataplane_members_removed_total", "{reason=\"idle\"}",
	    m->members_removed_idle);
	u64(b, "rtrelay_dataplane_members_removed_total", "{reason=\"expired\"}",
	    m->members_removed_expired);
	u64(b, "rtrelay_dataplane_members_removed_total", "{reason=\"left\"}", m->members_left);
	family(b, "rtrelay_dataplane_commands_total", "counter",
	       "Control commands seen by the dataplane, by outcome.");
	u64(b, "rtrelay_dataplane_commands_total", "{result=\"ok\"}", m->cmds_ok);
	u64(b, "rtrelay_dataplane_commands_total", "{result=\"failed\"}", m->cmds_failed);
	u64(b, "rtrelay_dataplane_commands_total", "{result=\"invalid\"}", m->cmds_invalid);
	u64(b, "rtrelay_dataplane_commands_total", "{result=\"stale\"}", m->cmds_stale);
	one(b, "rtrelay_dataplane_notify_backlog", "gauge", "Events waiting in the notify ring.",
	    m->notify_backlog);
	one(b, "rtrelay_dataplane_notify_lost_total", "counter", "Events the dataplane lost.",
	    m->notify_lost);
	one(b, "rtrelay_dataplane_rcu_pending", "gauge", "Table entries waiting for RCU.",
	    m->rcu_pending);
	one(b, "rtrelay_dataplane_enc_members", "gauge", "Key slots in use.", m->enc_members);
	one(b, "rtrelay_dataplane_enc_members_max", "gauge", "Key slots (--max-enc-members).",
	    m->enc_max);
	one(b, "rtrelay_dataplane_roams_total", "counter", "Validated moves of members.",
	    m->roams);
	one(b, "rtrelay_dataplane_heap_used_bytes", "gauge",
	    "DPDK heap the dataplane holds (tables, rings, key slots).", m->heap_used);
	family(b, "rtrelay_dataplane_deny_rules", "gauge",
	       "Global deny prefixes in the dataplane's JOIN guard, by family.");
	u64(b, "rtrelay_dataplane_deny_rules", "{family=\"ipv4\"}", m->deny_rules4);
	u64(b, "rtrelay_dataplane_deny_rules", "{family=\"ipv6\"}", m->deny_rules6);
	one(b, "rtrelay_dataplane_join_src_rate", "gauge",
	    "JOINs/s the dataplane punts per source address (0: no limit).", m->guard_src_rate);
	one(b, "rtrelay_dataplane_join_prefix_rate", "gauge",
	    "JOINs/s the dataplane punts per /24 or /64 (0: no limit).", m->guard_prefix_rate);
	one(b, "rtrelay_controld_guard_sync_errors_total", "counter",
	    "Failed syncs of the deny list and JOIN limits into the dataplane.",
	    s->guard_sync_errors);

	if (s->n_apps > 0) {
		static const struct {
			const char *name, *help;
			size_t off;
		} af[] = {
			{ "rtrelay_app_in_packets_total", "MEDIA frames in, per app.",
			  offsetof(struct rtr_app_stats, in_pkts) },
			{ "rtrelay_app_in_bytes_total", "MEDIA bytes in, per app.",
			  offsetof(struct rtr_app_stats, in_bytes) },
			{ "rtrelay_app_out_packets_total", "MEDIA copies out, per app.",
			  offsetof(struct rtr_app_stats, out_pkts) },
			{ "rtrelay_app_out_bytes_total", "MEDIA bytes out, per app.",
			  offsetof(struct rtr_app_stats, out_bytes) },
			{ "rtrelay_app_drops_total", "Frames dropped, per app.",
			  offsetof(struct rtr_app_stats, drops) },
		};
		unsigned int f;

		for (f = 0; f < sizeof(af) / sizeof(af[0]); f++) {
			family(b, af[f].name, "counter", af[f].help);
			for (i = 0; i < s->n_apps; i++) {
				uint64_t v;
				char app[16];

				memcpy(&v, (const uint8_t *)&s->apps[i].s + af[f].off, sizeof(v));
				snprintf(app, sizeof(app), "%u", s->apps[i].app);
				u64(b, af[f].name, label(l, sizeof(l), "app", app), v);
			}
		}
	}

	if (s->n_ports > 0) {
		static const struct {
			const char *name, *help;
			size_t off;
		} pf[] = {
			{ "rtrelay_port_ipackets_total", "Packets received by the port.",
			  offsetof(struct rtr_port_stats, ipackets) },
			{ "rtrelay_port_opackets_total", "Packets sent by the port.",
			  offsetof(struct rtr_port_stats, opackets) },
			{ "rtrelay_port_ibytes_total", "Bytes received by the port.",
			  offsetof(struct rtr_port_stats, ibytes) },
			{ "rtrelay_port_obytes_total", "Bytes sent by the port.",
			  offsetof(struct rtr_port_stats, obytes) },
			{ "rtrelay_port_imissed_total", "Packets the port missed (RX queue full).",
			  offsetof(struct rtr_port_stats, imissed) },
			{ "rtrelay_port_ierrors_total", "Erroneous packets received.",
			  offsetof(struct rtr_port_stats, ierrors) },
			{ "rtrelay_port_oerrors_total", "Packets the port failed to send.",
			  offsetof(struct rtr_port_stats, oerrors) },
			{ "rtrelay_port_rx_nombuf_total", "RX mbuf allocation failures.",
			  offsetof(struct rtr_port_stats, rx_nombuf) },
		};
		unsigned int f;

		family(b, "rtrelay_port_info", "gauge", "Dataplane ports: 1 per port, with its name.");
		for (i = 0; i < s->n_ports; i++) {
			char name[40];

			tame(name, sizeof(name), s->ports[i].name);
			snprintf(l, sizeof(l), "{port=\"%u\",name=\"%s\"}", i, name);
			u64(b, "rtrelay_port_info", l, 1);
		}
		family(b, "rtrelay_port_link_up", "gauge", "Port link state (1 up).");
		for (i = 0; i < s->n_ports; i++) {
			snprintf(port, sizeof(port), "%u", i);
			u64(b, "rtrelay_port_link_up", label(l, sizeof(l), "port", port),
			    s->ports[i].link_up);
		}
		for (f = 0; f < sizeof(pf) / sizeof(pf[0]); f++) {
			family(b, pf[f].name, "counter", pf[f].help);
			for (i = 0; i < s->n_ports; i++) {
				uint64_t v;

				memcpy(&v, (const uint8_t *)&s->ports[i] + pf[f].off, sizeof(v));
				snprintf(port, sizeof(port), "%u", i);
				u64(b, pf[f].name, label(l, sizeof(l), "port", port), v);
			}
		}
	}
}

static void
page_alarms(struct buf *b, const struct snap *s)
{
	char l[AL_NAME_LEN + 16];
	unsigned int i, n = 0;

	family(b, "rtrelay_alarm_active", "gauge", "Alarms: 1 while raised.");
	for (i = 0; i < AL_N; i++) {
		if (i >= s->n_drop && i < AL_PUNT)
			continue;
		n += s->al[i].active;
		u64(b, "rtrelay_alarm_active", label(l, sizeof(l), "alarm", s->al[i].name),
		    s->al[i].active);
	}
	one(b, "rtrelay_alarms_active", "gauge", "Alarms raised now.", n);
	one(b, "rtrelay_alarm_drop_rate_threshold", "gauge",
	    "Drops/s of one reason that raise an alarm (0: off).", s->cfg.drop_rate);
	one(b, "rtrelay_alarm_punt_backlog_threshold", "gauge",
	    "Punt ring entries that raise an alarm (0: off).", s->cfg.punt_backlog);
	family(b, "rtrelay_alarm_heartbeat_threshold_seconds", "gauge",
	       "Dataplane heartbeat age that raises an alarm (0: off).");
	bput(b, "rtrelay_alarm_heartbeat_threshold_seconds %.3f\n", s->cfg.heartbeat_ms / 1000.0);
}

static struct buf
page(const struct snap *s)
{
	struct buf b = { malloc(65536), 0, 65536, false };
	uint64_t now = mono_ns();

	if (b.p == NULL) {
		b.oom = true;
		return b;
	}
	one(&b, "rtrelay_controld_up", "gauge", "1: rtr-controld serves metrics.", 1);
	one(&b, "rtrelay_controld_start_time_seconds", "gauge",
	    "When rtr-controld started, unix seconds.", (uint64_t)start_time_s);
	one(&b, "rtrelay_dataplane_attached", "gauge",
	    "1: rtr-controld is attached to a live dataplane.", s->valid && s->attached);
	if (s->valid) {
		family(&b, "rtrelay_controld_loop_lag_seconds", "gauge",
		       "Time since rtr-controld's main loop last refreshed these numbers.");
		bput(&b, "rtrelay_controld_loop_lag_seconds %.3f\n",
		     (double)sat_sub(now, s->tick_mono_ns) / 1e9);
		if (s->hb_known) {
			family(&b, "rtrelay_dataplane_heartbeat_age_seconds", "gauge",
			       "Age of the dataplane's heartbeat (grows while it is away).");
			bput(&b, "rtrelay_dataplane_heartbeat_age_seconds %.3f\n",
			     (double)s->hb_age_ns / 1e9);
		}
		page_controld(&b, s);
	}
	page_store(&b);
	if (s->valid) {
		if (s->attached)
			page_dataplane(&b, s);
		page_alarms(&b, s);
		page_xdp(&b, s);
	}
	return b;
}

/* ---------------------------------------------------------------- */
/* HTTP                                                             */

static void
secure_headers(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy", CSP);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static MHD_RES
reply_text(struct MHD_Connection *conn, unsigned int status, const char *text)
{
	struct MHD_Response *r;
	MHD_RES rc;

	r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
					    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	secure_headers(r, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* Host: absent, or a loopback literal or localhost, with an optional port. */
static bool
host_ok(const char *host)
{
	char h[64];
	const char *end, *colon;
	size_t n;
	struct in_addr a4;

	if (host == NULL)
		return true;
	if (host[0] == '[') {
		struct in6_addr a6;

		end = strchr(host, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return false;
		n = (size_t)(end - host - 1);
		if (n >= sizeof(h))
			return false;
		memcpy(h, host + 1, n);
		h[n] = '\0';
		return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	colon = strchr(host, ':');
	n = colon != NULL ? (size_t)(colon - host) : strlen(host);
	if (n >= sizeof(h))
		return false;
	memcpy(h, host, n);
	h[n] = '\0';
	if (strcasecmp(h, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

static MHD_RES
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
	static int started;
	struct MHD_Response *r;
	struct snap *s;
	struct buf b;
	MHD_RES rc;

	(void)cls;
	(void)version;
	(void)upload;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (*req_cls == NULL) {
		*req_cls = &started;
		return MHD_YES;
	}
	if (*upload_size != 0) {	/* a GET with a body: ignore the body */
		*upload_size = 0;
		return MHD_YES;
	}
	if (!host_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST)))
		return reply_text(conn, MHD_HTTP_FORBIDDEN, "forbidden: not a loopback Host\n");
	if (strcmp(url, "/metrics") != 0)
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");

	s = malloc(sizeof(*s));
	if (s == NULL)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	pthread_mutex_lock(&pub_lock);
	memcpy(s, &pub, SNAP_BYTES(pub.n_apps));
	pthread_mutex_unlock(&pub_lock);
	b = page(s);
	free(s);
	if (b.oom) {
		free(b.p);
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	}
	r = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(b.p);
		return MHD_NO;
	}
	secure_headers(r, CONTENT_TYPE);
	rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

int
ctld_metrics_start(struct ctld *d, const char *hostport)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	sigset_t block, old;
	char why[160];
	int fd, one_ = 1, rc;

	if (mhd != NULL)
		return -EALREADY;
	rc = parse_addr(hostport, &ss, &sl, why, sizeof(why));
	if (rc < 0) {
		ctld_log(d, "metrics: %s", why);
		return rc;
	}
	/* our own listener: a bind error comes back as its errno */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		ctld_log(d, "metrics: socket: %s", strerror(-rc));
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof(one_));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one_, sizeof(one_));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0) {
		rc = -errno;
		ctld_log(d, "metrics: cannot listen on %s: %s", hostport, strerror(-rc));
		close(fd);
		return rc;
	}

	/* the store, read-only, for the HTTP thread alone */
	if (sqlite3_open_v2(d->db_path, &ro_db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		ctld_log(d, "metrics: store %s: %s", d->db_path,
			 ro_db ? sqlite3_errmsg(ro_db) : "cannot open");
		sqlite3_close(ro_db);
		ro_db = NULL;
		close(fd);
		return -EIO;
	}
	sqlite3_busy_timeout(ro_db, 200);

	start_time_s = (int64_t)time(NULL);
	pthread_mutex_lock(&pub_lock);
	memset(&pub, 0, offsetof(struct snap, apps));
	pthread_mutex_unlock(&pub_lock);
	publishing = true;

	/* SIGINT/SIGTERM are for the main thread: the HTTP thread inherits this mask */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
			       (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			       0, NULL, NULL, handle, NULL,
			       MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			       MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16,
			       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
			       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
			       MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (mhd == NULL) {
		publishing = false;
		sqlite3_close(ro_db);
		ro_db = NULL;
		close(fd);
		ctld_log(d, "metrics: libmicrohttpd did not start on %s", hostport);
		return -EIO;
	}
	ctld_log(d, "metrics on http://%s/metrics", hostport);
	return 0;
}

void
ctld_metrics_stop(struct ctld *d)
{
	(void)d;
	if (mhd == NULL)
		return;
	MHD_stop_daemon(mhd);	/* joins the thread, closes the listener */
	mhd = NULL;
	publishing = false;
	sqlite3_close(ro_db);
	ro_db = NULL;
}
