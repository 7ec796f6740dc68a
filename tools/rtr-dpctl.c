/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-dpctl: low-level control of one rtr-dataplane instance through its
 * shared-memory segments (librtrseg). For tests, debugging and the demo;
 * operators use rtrctl, which talks to rtr-controld.
 *
 *   rtr-dpctl [--instance NAME] COMMAND [ARGS]   one command, JSON out
 *   rtr-dpctl [--instance NAME] -                 commands on stdin, one JSON line each
 *   rtr-dpctl [--instance NAME] stats [--watch S] [--count N]
 *
 * Commands: ping | app-set APP [fps=N] [bps=N] [egress=N] [disabled]
 *   | app-del APP | member-add key=value... | member-del HANDLE
 *   | member-update HANDLE key=value... | tx-frame key=value... | dump apps|members|channels
 *   | sync | resume | stats | punt [N] | notify [N] | wait KEY VALUE [TIMEOUT_MS]
 *   | deny [gen=N] [PREFIX...]     the whole global deny list (none: empty)
 *   | guard [src=RATE/BURST] [prefix=RATE/BURST]   JOIN limits (0: off)
 * Exit codes: 0 done, 1 refused by the dataplane, 2 usage, 3 dataplane unreachable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <jansson.h>

#include "rtr_seg.h"
#include "rtr_wire.h"

#define EXIT_REFUSED	1
#define EXIT_USAGE	2
#define EXIT_UNREACH	3

static const char *instance = "default";
static struct rtr_seg *seg;

struct kv {
	const char *key;
	const char *val;
};

static int
usage_err(json_t **out, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	*out = json_pack("{s:s,s:s}", "status", "usage", "error", msg);
	return EXIT_USAGE;
}

static const char *
kv_get(struct kv *kv, int n, const char *key)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].val;
	return NULL;
}

static int
split_kv(int argc, char **argv, struct kv *kv, int max)
{
	int i, n = 0;

	for (i = 0; i < argc && n < max; i++) {
		char *eq = strchr(argv[i], '=');

		kv[n].key = argv[i];
		kv[n].val = "";
		if (eq != NULL) {
			*eq = '\0';
			kv[n].val = eq + 1;
		}
		n++;
	}
	return n;
}

static int
num(const char *s, uint64_t *v)
{
	char *end;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

static int
parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];
	int i;

	if (s == NULL || sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
				&b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int
parse_addr(const char *s, uint8_t *ip, uint8_t *family)
{
	if (s == NULL)
		return -1;
	if (inet_pton(AF_INET, s, ip) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip) == 1) {
		*family = 6;
		return 0;
	}
	return -1;
}

static const char *
fmt_addr(uint8_t family, const uint8_t *ip, char *buf)
{
	inet_ntop(family == 4 ? AF_INET : AF_INET6, ip, buf, INET6_ADDRSTRLEN);
	return buf;
}

static int
need_control(json_t **out)
{
	int rc;

	if (seg != NULL && seg->control)
		return 0;
	if (seg != NULL)
		rtr_seg_detach(seg);
	seg = NULL;
	rc = rtr_seg_attach(instance, RTR_ATTACH_CONTROL | RTR_ATTACH_STATS, &seg);
	if (rc < 0) {
		*out = json_pack("{s:s,s:s,s:i}", "status", "unreachable", "error",
				 rtr_seg_strerror(rc), "errno", -rc);
		return EXIT_UNREACH;
	}
	return 0;
}

static int
need_stats(json_t **out)
{
	int rc;

	if (seg != NULL)
		return 0;
	rc = rtr_seg_attach(instance, RTR_ATTACH_STATS, &seg);
	if (rc < 0) {
		*out = json_pack("{s:s,s:s,s:i}", "status", "unreachable", "error",
				 rtr_seg_strerror(rc), "errno", -rc);
		return EXIT_UNREACH;
	}
	return 0;
}

/* Why the dataplane refused a command. */
static const char *
refusal(int rc)
{
	switch (rc) {
	case -ENOENT:
		return "not found: unknown app, member handle or channel";
	case -ENOSPC:
		return "table full: raise --max-members/--max-channels";
	case -EADDRNOTAVAIL:
		return "address refused: reserved or service port, own, zero or non-unicast address";
	case -EEXIST:
		return "that member slot is in use";
	case -EINVAL:
		return "invalid field in the command";
	case -ERANGE:
		return "rate out of range";
	case -ENOTSUP:
		return "not supported by this dataplane (encrypted members)";
	case -ENOSYS:
		return "unknown command for this dataplane";
	case -EMSGSIZE:
		return "frame larger than the port's MTU";
	case -EBUSY:
		return "busy: too many pending requests, or the slot's grace period is not over";
	case -ESTALE:
		return "stale handle: that slot has a newer generation";
	case -EAGAIN:
		return "ring full: try again";
	case -ENOBUFS:
		return "out of mbufs";
	case -EPROTONOSUPPORT:
		return "message version not supported";
	default:
		return strerror(-rc);
	}
}

static int
call(uint16_t id, const void *body, size_t len, struct rtr_reply *r, json_t **out)
{
	int rc = need_control(out);

	if (rc)
		return rc;
	rc = rtr_seg_call(seg, id, body, len, r, 2000);
	if (rc == -ETIMEDOUT || rc == -ESRCH) {
		*out = json_pack("{s:s,s:s}", "status", "unreachable", "error", rtr_seg_strerror(rc));
		return EXIT_UNREACH;
	}
	if (rc < 0) {
		*out = json_pack("{s:s,s:i,s:s}", "status", "refused", "errno", -rc, "error",
				 refusal(rc));
		return EXIT_REFUSED;
	}
	return 0;
}

static json_t *
stats_json(void)
{
	struct rtr_worker_stats w;
	struct rtr_main_stats m;
	json_t *o, *mo, *drops, *ports, *apps;
	unsigned int i;
	uint64_t total = 0;

	rtr_seg_stats_workers(seg, &w);
	rtr_seg_stats_main(seg, &m);
	drops = json_object();
	for (i = 0; i < seg->stats->n_drop_reasons; i++) {
		total += w.drops[i];
		json_object_set_new(drops, rtr_seg_drop_name(seg, i), json_integer((json_int_t)w.drops[i]));
	}
	o = json_object();
	json_object_set_new(o, "status", json_string("ok"));
#define W(f) json_object_set_new(o, #f, json_integer((json_int_t)w.f))
	W(rx_pkts); W(rx_bytes); W(tx_pkts); W(tx_bytes); W(media_in); W(media_out);
	W(punted); W(ka_echoed); W(arp_replies); W(nd_replies); W(tx_frames); W(leaves);
	W(activations); W(busy_cycles); W(loops); W(enc_opened); W(enc_sealed);
	W(roam_candidates); W(rekeys);
#undef W
	json_object_set_new(o, "drops_total", json_integer((json_int_t)total));
	json_object_set_new(o, "drops", drops);
	mo = json_object();
#define M(f) json_object_set_new(mo, #f, json_integer((json_int_t)m.f))
	M(cmds_ok); M(cmds_failed); M(cmds_invalid); M(cmds_stale); M(replies_lost);
	M(notify_sent); M(notify_backlog); M(notify_lost); M(tx_frames_queued);
	M(tx_frames_refused); M(apps); M(channels); M(members); M(members_pending);
	M(members_active); M(members_removed_idle); M(members_removed_expired);
	M(members_left); M(rcu_pending); M(enc_members); M(enc_max); M(roams); M(rekeys);
	M(heap_used); M(deny_rules4); M(deny_rules6); M(deny_gen); M(deny_swaps6);
	M(guard_src_rate); M(guard_prefix_rate); M(roams_denied);
#undef M
	json_object_set_new(o, "main", mo);
	ports = json_array();
	for (i = 0; i < seg->stats->n_ports; i++) {
		struct rtr_port_stats p;
		char mac[32];

		rtr_seg_stats_port(seg, i, &p);
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", p.mac[0], p.mac[1],
			 p.mac[2], p.mac[3], p.mac[4], p.mac[5]);
		json_array_append_new(ports, json_pack(
			"{s:i,s:s,s:s,s:b,s:s,s:I,s:I,s:I,s:I,s:I}", "port", i, "name", p.name,
			"mac", mac, "link_up", p.link_up, "tx_mode", p.tx_chain ? "chain" : "copy",
			"ipackets", (json_int_t)p.ipackets, "opackets", (json_int_t)p.opackets,
			"imissed", (json_int_t)p.imissed, "ierrors", (json_int_t)p.ierrors,
			"oerrors", (json_int_t)p.oerrors));
	}
	json_object_set_new(o, "ports", ports);
	apps = json_object();
	for (i = 1; i < seg->stats->max_apps; i++) {
		struct rtr_app_stats a;
		char key[16];

		rtr_seg_stats_app(seg, i, &a);
		if (a.in_pkts == 0 && a.drops == 0)
			continue;
		snprintf(key, sizeof(key), "%u", i);
		json_object_set_new(apps, key, json_pack("{s:I,s:I,s:I,s:I,s:I}",
			"in_pkts", (json_int_t)a.in_pkts, "in_bytes", (json_int_t)a.in_bytes,
			"out_pkts", (json_int_t)a.out_pkts, "out_bytes", (json_int_t)a.out_bytes,
			"drops", (json_int_t)a.drops));
	}
	json_object_set_new(o, "apps", apps);
	json_object_set_new(o, "alive", json_boolean(rtr_seg_alive(seg)));
	json_object_set_new(o, "generation", json_integer((json_int_t)(seg->generation >> 1)));
	return o;
}

/* Look a counter up by dotted path in the stats JSON ("drops.member_unknown"). */
static int64_t
stat_value(json_t *st, const char *path)
{
	char buf[128], *tok, *save = NULL;
	json_t *cur = st;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
		cur = json_is_array(cur) ? json_array_get(cur, strtoul(tok, NULL, 10))
					 : json_object_get(cur, tok);
	if (cur != NULL && json_is_boolean(cur))
		return json_is_true(cur);
	return cur != NULL && json_is_integer(cur) ? json_integer_value(cur) : -1;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
fill_ep(struct kv *kv, int n, struct rtr_ep *ep, json_t **out)
{
	uint64_t v;
	uint8_t fam2;

	memset(ep, 0, sizeof(*ep));
	if (num(kv_get(kv, n, "port"), &v) < 0 || v > 0xffff)
		return usage_err(out, "%s: port=N required", "endpoint");
	ep->port_id = (uint16_t)v;
	if (kv_get(kv, n, "vlan") && (num(kv_get(kv, n, "vlan"), &v) < 0 || v > 0xffff))
		return usage_err(out, "%s: bad vlan", "endpoint");
	ep->vlan = kv_get(kv, n, "vlan") ? (uint16_t)v : 0;
	if (parse_mac(kv_get(kv, n, "mac"), ep->mac) < 0)
		return usage_err(out, "%s: mac=aa:bb:cc:dd:ee:ff required", "endpoint");
	if (parse_addr(kv_get(kv, n, "ip"), ep->ip, &ep->family) < 0)
		return usage_err(out, "%s: ip=ADDRESS required", "endpoint");
	if (num(kv_get(kv, n, "uport"), &v) < 0 || v > 0xffff)
		return usage_err(out, "%s: uport=N required", "endpoint");
	ep->udp_port = (uint16_t)v;
	if (kv_get(kv, n, "local") &&
	    (parse_addr(kv_get(kv, n, "local"), ep->local_ip, &fam2) < 0 || fam2 != ep->family))
		return usage_err(out, "%s: local= must be an address of the same family", "endpoint");
	return 0;
}

/* pexp=A,V,W,D: expiries (unix s) of the join, audio, video and data privileges */
static void
parse_pexp(const char *s, uint64_t *pexp)
{
	char buf[128], *tok, *save = NULL;
	int i = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok && i < RTR_N_PRIV_EXPIRE;
	     tok = strtok_r(NULL, ",", &save))
		num(tok, &pexp[i++]);
}

static int
cmd_member_add(int argc, char **argv, json_t **out)
{
	struct rtr_msg_member_add a;
	struct rtr_reply_member_add *ar;
	struct rtr_reply r;
	struct kv kv[32];
	int n = split_kv(argc, argv, kv, 32), rc;
	const char *s;
	uint64_t v;

	memset(&a, 0, sizeof(a));
	rc = fill_ep(kv, n, &a.ep, out);
	if (rc)
		return rc;
	if (num(kv_get(kv, n, "app"), &v) < 0)
		return usage_err(out, "%s: app=N required", "member-add");
	a.app_index = (uint32_t)v;
	if (num(kv_get(kv, n, "chan"), &a.channel_hash) < 0)
		return usage_err(out, "%s: chan=N required", "member-add");
	s = kv_get(kv, n, "privs");
	a.privs = RTR_PRIV_ALL;
	if (s && num(s, &v) == 0)
		a.privs = (uint32_t)v;
	s = kv_get(kv, n, "role");
	a.role = s && strcmp(s, "sub") == 0 ? RTR_ROLE_SUBSCRIBER : RTR_ROLE_PUBLISHER;
	if (kv_get(kv, n, "token"))
		num(kv_get(kv, n, "token"), &a.path_token);
	if (kv_get(kv, n, "expire"))
		num(kv_get(kv, n, "expire"), &a.token_expire);
	if (kv_get(kv, n, "pexp"))
		parse_pexp(kv_get(kv, n, "pexp"), a.priv_expire);
	if (kv_get(kv, n, "fps") && num(kv_get(kv, n, "fps"), &v) == 0)
		a.fps = (uint32_t)v;
	if (kv_get(kv, n, "bps"))
		num(kv_get(kv, n, "bps"), &a.bps);
	if (kv_get(kv, n, "suite") && num(kv_get(kv, n, "suite"), &v) == 0)
		a.suite = (uint8_t)v;
	if (kv_get(kv, n, "handle"))
		num(kv_get(kv, n, "handle"), &a.want_handle);
	if (kv_get(kv, n, "active"))
		a.flags |= RTR_MEMBER_F_ACTIVE;
	rc = call(RTR_MSG_MEMBER_ADD, &a, sizeof(a), &r, out);
	if (rc)
		return rc;
	ar = (struct rtr_reply_member_add *)r.body;
	*out = json_pack("{s:s,s:I,s:I,s:i}", "status", "ok", "handle", (json_int_t)ar->handle,
			 "member_id", (json_int_t)ar->member_id, "channel_slot", ar->channel_slot);
	return 0;
}

static int
cmd_member_update(int argc, char **argv, json_t **out)
{
	struct rtr_msg_member_update u;
	struct rtr_reply r;
	struct kv kv[16];
	int n, rc;
	uint64_t v;

	if (argc < 1 || num(argv[0], &u.handle) < 0)
		return usage_err(out, "%s: HANDLE required", "member-update");
	memset(&u, 0, sizeof(u));
	num(argv[0], &u.handle);
	n = split_kv(argc - 1, argv + 1, kv, 16);
	if (kv_get(kv, n, "privs") && num(kv_get(kv, n, "privs"), &v) == 0) {
		u.what |= RTR_UPD_PRIVS;
		u.privs = (uint32_t)v;
	}
	if (kv_get(kv, n, "expire") && num(kv_get(kv, n, "expire"), &u.token_expire) == 0)
		u.what |= RTR_UPD_EXPIRY;
	if (kv_get(kv, n, "pexp")) {
		parse_pexp(kv_get(kv, n, "pexp"), u.priv_expire);
		u.what |= RTR_UPD_EXPIRY;
	}
	if (kv_get(kv, n, "fps") && num(kv_get(kv, n, "fps"), &v) == 0) {
		u.what |= RTR_UPD_RATE;
		u.fps = (uint32_t)v;
	}
	if (kv_get(kv, n, "bps") && num(kv_get(kv, n, "bps"), &u.bps) == 0)
		u.what |= RTR_UPD_RATE;
	rc = call(RTR_MSG_MEMBER_UPDATE, &u, sizeof(u), &r, out);
	if (rc)
		return rc;
	*out = json_pack("{s:s}", "status", "ok");
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
cmd_tx_frame(int argc, char **argv, json_t **out)
{
	static struct rtr_msg_tx_frame f;
	struct rtr_reply r;
	struct rtr_ep ep;
	struct kv kv[16];
	int n = split_kv(argc, argv, kv, 16), rc;
	uint8_t fam;
	const char *hex;
	size_t i, len;

	memset(&f, 0, sizeof(f));
	rc = fill_ep(kv, n, &ep, out);
	if (rc)
		return rc;
	f.port_id = ep.port_id;
	f.vlan = ep.vlan;
	f.family = ep.family;
	memcpy(f.dst_mac, ep.mac, 6);
	memcpy(f.dst_ip, ep.ip, 16);
	f.dst_port = ep.udp_port;
	if (parse_addr(kv_get(kv, n, "src"), f.src_ip, &fam) < 0 || fam != f.family)
		return usage_err(out, "%s: src=ADDRESS of the same family required", "tx-frame");
	hex = kv_get(kv, n, "hex");
	len = hex ? strlen(hex) / 2 : 0;
	if (hex == NULL || strlen(hex) % 2 || len > RTR_TXF_PAYLOAD_MAX)
		return usage_err(out, "%s: hex=PAYLOAD (even length, at most 1400 bytes)", "tx-frame");
	for (i = 0; i < len; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return usage_err(out, "%s: hex= is not hexadecimal", "tx-frame");
		f.payload[i] = (uint8_t)(hi << 4 | lo);
	}
	f.len = (uint16_t)len;
	rc = call(RTR_MSG_TX_FRAME, &f, sizeof(f), &r, out);
	if (rc)
		return rc;
	*out = json_pack("{s:s}", "status", "ok");
	return 0;
}

static int
cmd_dump(const char *what, json_t **out)
{
	struct rtr_msg_dump q = { 0, 0 };
	struct rtr_reply r;
	json_t *arr = json_array();
	char a1[INET6_ADDRSTRLEN];
	unsigned int i;
	int rc;

	if (strcmp(what, "apps") == 0)
		q.kind = RTR_DUMP_APPS;
	else if (strcmp(what, "members") == 0)
		q.kind = RTR_DUMP_MEMBERS;
	else if (strcmp(what, "channels") == 0)
		q.kind = RTR_DUMP_CHANNELS;
	else {
		json_decref(arr);
		return usage_err(out, "dump: '%s' is not apps, members or channels", what);
	}
	do {
		struct rtr_reply_dump *d = (struct rtr_reply_dump *)r.body;

		rc = call(RTR_MSG_DUMP, &q, sizeof(q), &r, out);
		if (rc) {
			json_decref(arr);
			return rc;
		}
		for (i = 0; i < d->n; i++) {
			if (q.kind == RTR_DUMP_MEMBERS) {
				struct rtr_dump_member *m = (struct rtr_dump_member *)d->recs + i;

				json_array_append_new(arr, json_pack(
					"{s:I,s:I,s:I,s:I,s:s,s:i,s:i,s:s,s:i,s:i,s:I,s:I}",
					"handle", (json_int_t)m->handle,
					"member_id", (json_int_t)m->member_id,
					"app", (json_int_t)m->app_index,
					"chan", (json_int_t)m->channel_hash,
					"state", m->state == RTR_MS_ACTIVE ? "active" : "pending",
					"privs", m->privs, "port", m->ep.port_id,
					"ip", fmt_addr(m->ep.family, m->ep.ip, a1),
					"uport", m->ep.udp_port, "vlan", m->ep.vlan,
					"expire", (json_int_t)m->token_expire,
					"idle_ms", (json_int_t)m->idle_ms));
			} else if (q.kind == RTR_DUMP_APPS) {
				struct rtr_dump_app *a = (struct rtr_dump_app *)d->recs + i;

				json_array_append_new(arr, json_pack(
					"{s:i,s:b,s:i,s:i,s:I,s:I}", "app", a->app_index,
					"enabled", a->flags & RTR_APP_F_ENABLED, "members", a->members,
					"fps", a->member_fps, "bps", (json_int_t)a->member_bps,
					"egress", (json_int_t)a->egress_bps));
			} else {
				struct rtr_dump_channel *c = (struct rtr_dump_channel *)d->recs + i;

				json_array_append_new(arr, json_pack(
					"{s:i,s:I,s:i,s:i,s:i}", "app", c->app_index,
					"chan", (json_int_t)c->channel_hash, "slot", c->slot,
					"members", c->members, "receivers", c->receivers));
			}
		}
		q.cursor = d->next_cursor;
	} while (q.cursor != 0);
	*out = json_pack("{s:s,s:o}", "status", "ok", what, arr);
	return 0;
}

#define DENY_MAX	(2 * 4096)

/* One ADDR[/LEN] into rules[*n]. */
static int
parse_rule(const char *s, struct rtr_deny_rule (*rules)[DENY_MAX], unsigned int *n,
	   json_t **out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	struct rtr_deny_rule *r;
	uint64_t plen;

	if (*n == DENY_MAX || strlen(s) >= sizeof(buf)) {
		usage_err(out, "deny: too many rules or a bad prefix at %s", s);
		return -1;
	}
	r = &(*rules)[*n];
	memset(r, 0, sizeof(*r));
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (parse_addr(buf, r->addr, &r->family) < 0) {
		usage_err(out, "deny: '%s' is not an address/length", s);
		return -1;
	}
	plen = r->family == 4 ? 32 : 128;
	if (slash && (num(slash, &plen) < 0 || plen > (r->family == 4 ? 32u : 128u))) {
		usage_err(out, "deny: bad prefix length in '%s'", s);
		return -1;
	}
	r->plen = (uint8_t)plen;
	r->id = *n + 1;
	(*n)++;
	return 0;
}

/* deny [gen=N] PREFIX... | @FILE: the list in as many DENY_SET messages as it needs */
static int
cmd_deny(int argc, char **argv, json_t **out)
{
	static struct rtr_deny_rule rules[DENY_MAX];
	static struct rtr_msg_deny_set m;
	struct rtr_reply r;
	uint64_t gen = (uint64_t)time(NULL);
	unsigned int n = 0, sent = 0, k;
	int i, rc;

	for (i = 0; i < argc; i++) {
		char buf[128];

		if (argv[i][0] == '@') {
			/* @FILE: one prefix per line */
			FILE *f = fopen(argv[i] + 1, "r");

			if (f == NULL)
				return usage_err(out, "deny: cannot read %s", argv[i] + 1);
			while (fgets(buf, sizeof(buf), f) != NULL) {
				buf[strcspn(buf, " \t\r\n")] = '\0';
				if (buf[0] != '\0' && parse_rule(buf, &rules, &n, out) < 0) {
					fclose(f);
					return EXIT_USAGE;
				}
			}
			fclose(f);
			continue;
		}
		if (strncmp(argv[i], "gen=", 4) == 0) {
			if (num(argv[i] + 4, &gen) < 0)
				return usage_err(out, "deny: bad %s", argv[i]);
			continue;
		}
		if (parse_rule(argv[i], &rules, &n, out) < 0)
			return EXIT_USAGE;
	}
	do {
		memset(&m, 0, sizeof(m));
		m.gen = (uint32_t)gen;
		m.total = n;
		m.n = (uint16_t)(n - sent < RTR_DENY_PER_MSG ? n - sent : RTR_DENY_PER_MSG);
		m.flags = (sent == 0 ? RTR_DENY_F_FIRST : 0) |
			  (sent + m.n == n ? RTR_DENY_F_LAST : 0);
		for (k = 0; k < m.n; k++)
			m.r[k] = rules[sent + k];
		rc = call(RTR_MSG_DENY_SET, &m, sizeof(m), &r, out);
		if (rc)
			return rc;
		sent += m.n;
	} while (sent < n);
	*out = json_pack("{s:s,s:i,s:I}", "status", "ok", "rules", n, "gen", (json_int_t)gen);
	return 0;
}

/* guard [src=RATE/BURST] [prefix=RATE/BURST] */
static int
cmd_guard(int argc, char **argv, json_t **out)
{
	struct rtr_msg_guard_cfg c;
	struct rtr_reply r;
	int i, rc;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < argc; i++) {
		int src = strncmp(argv[i], "src=", 4) == 0;
		const char *v = argv[i] + (src ? 4 : 7);
		unsigned int rate, burst;
		char tail;

		if (!src && strncmp(argv[i], "prefix=", 7) != 0)
			return usage_err(out, "guard: src=RATE/BURST or prefix=RATE/BURST, not %s",
					 argv[i]);
		if (sscanf(v, "%u/%u%c", &rate, &burst, &tail) != 2)
			return usage_err(out, "guard: '%s' is not RATE/BURST", argv[i]);
		if (src) {
			c.src_rate = rate;
			c.src_burst = burst;
		} else {
			c.prefix_rate = rate;
			c.prefix_burst = burst;
		}
	}
	rc = call(RTR_MSG_GUARD_CFG, &c, sizeof(c), &r, out);
	if (rc)
		return rc;
	*out = json_pack("{s:s}", "status", "ok");
	return 0;
}

static int
run(int argc, char **argv, json_t **out)
{
	struct rtr_reply r;
	const char *cmd = argv[0];
	uint64_t v;
	int rc;

	if (strcmp(cmd, "ping") == 0) {
		struct rtr_reply_ping *p = (struct rtr_reply_ping *)r.body;

		rc = call(RTR_MSG_PING, NULL, 0, &r, out);
		if (rc)
			return rc;
		*out = json_pack("{s:s,s:I,s:i,s:i,s:i,s:b}", "status", "ok", "generation",
				 (json_int_t)(p->generation >> 1), "workers", p->n_workers,
				 "ports", p->n_ports, "max_members", p->max_members,
				 "rx_hold", p->rx_hold);
		return 0;
	}
	if (strcmp(cmd, "app-set") == 0 || strcmp(cmd, "app-del") == 0) {
		struct rtr_msg_app_set a;
		struct kv kv[8];
		int n;

		memset(&a, 0, sizeof(a));
		if (argc < 2 || num(argv[1], &v) < 0)
			return usage_err(out, "%s: APP_INDEX required", cmd);
		a.app_index = (uint32_t)v;
		if (strcmp(cmd, "app-del") == 0) {
			struct rtr_msg_app_del d = { a.app_index, 0 };

			rc = call(RTR_MSG_APP_DEL, &d, sizeof(d), &r, out);
		} else {
			n = split_kv(argc - 2, argv + 2, kv, 8);
			a.flags = kv_get(kv, n, "disabled") ? 0 : RTR_APP_F_ENABLED;
			if (kv_get(kv, n, "fps") && num(kv_get(kv, n, "fps"), &v) == 0)
				a.member_fps = (uint32_t)v;
			if (kv_get(kv, n, "bps"))
				num(kv_get(kv, n, "bps"), &a.member_bps);
			if (kv_get(kv, n, "egress"))
				num(kv_get(kv, n, "egress"), &a.egress_bps);
			rc = call(RTR_MSG_APP_SET, &a, sizeof(a), &r, out);
		}
		if (rc)
			return rc;
		*out = json_pack("{s:s}", "status", "ok");
		return 0;
	}
	if (strcmp(cmd, "member-add") == 0)
		return cmd_member_add(argc - 1, argv + 1, out);
	if (strcmp(cmd, "member-update") == 0)
		return cmd_member_update(argc - 1, argv + 1, out);
	if (strcmp(cmd, "member-del") == 0) {
		struct rtr_msg_member_del d;

		if (argc < 2 || num(argv[1], &d.handle) < 0)
			return usage_err(out, "%s: HANDLE required", cmd);
		rc = call(RTR_MSG_MEMBER_DEL, &d, sizeof(d), &r, out);
		if (rc)
			return rc;
		*out = json_pack("{s:s}", "status", "ok");
		return 0;
	}
	if (strcmp(cmd, "tx-frame") == 0)
		return cmd_tx_frame(argc - 1, argv + 1, out);
	if (strcmp(cmd, "deny") == 0)
		return cmd_deny(argc - 1, argv + 1, out);
	if (strcmp(cmd, "guard") == 0)
		return cmd_guard(argc - 1, argv + 1, out);
	if (strcmp(cmd, "dump") == 0) {
		if (argc < 2)
			return usage_err(out, "%s: apps|members|channels", cmd);
		return cmd_dump(argv[1], out);
	}
	if (strcmp(cmd, "sync") == 0 || strcmp(cmd, "resume") == 0) {
		rc = call(cmd[0] == 's' ? RTR_MSG_SYNC : RTR_MSG_RESUME, NULL, 0, &r, out);
		if (rc)
			return rc;
		*out = json_pack("{s:s}", "status", "ok");
		return 0;
	}
	if (strcmp(cmd, "stats") == 0) {
		rc = need_stats(out);
		if (rc)
			return rc;
		*out = stats_json();
		return 0;
	}
	if (strcmp(cmd, "wait") == 0) {
		uint64_t want, timeout = 10000, deadline;
		json_t *st = NULL;
		int64_t have = -1;

		if (argc < 3 || num(argv[2], &want) < 0 || (argc > 3 && num(argv[3], &timeout) < 0))
			return usage_err(out, "%s: KEY VALUE [TIMEOUT_MS]", cmd);
		rc = need_stats(out);
		if (rc)
			return rc;
		deadline = mono_ms() + timeout;
		for (;;) {
			st = stats_json();
			have = stat_value(st, argv[1]);
			json_decref(st);
			if (have >= (int64_t)want || mono_ms() >= deadline)
				break;
			usleep(2000);
		}
		*out = json_pack("{s:s,s:s,s:I,s:I}", "status",
				 have >= (int64_t)want ? "ok" : "timeout", "key", argv[1],
				 "value", (json_int_t)have, "want", (json_int_t)want);
		return have >= (int64_t)want ? 0 : EXIT_REFUSED;
	}
	if (strcmp(cmd, "punt") == 0 || strcmp(cmd, "notify") == 0) {
		json_t *arr = json_array();
		unsigned int max = 64, i;
		char a1[INET6_ADDRSTRLEN];

		if (argc > 1 && num(argv[1], &v) == 0 && v > 0 && v <= 64)
			max = (unsigned int)v;
		rc = need_control(out);
		if (rc) {
			json_decref(arr);
			return rc;
		}
		if (cmd[0] == 'p') {
			static struct rtr_punt pu[64];
			int got = rtr_seg_punt_read(seg, pu, max);

			for (i = 0; i < (unsigned int)(got > 0 ? got : 0); i++)
				json_array_append_new(arr, json_pack(
					"{s:i,s:i,s:s,s:i,s:i,s:I}", "port", pu[i].port_id,
					"vlan", pu[i].vlan, "src", fmt_addr(pu[i].family, pu[i].src_ip, a1),
					"sport", pu[i].src_port, "len", pu[i].len,
					"arrival_ns", (json_int_t)pu[i].arrival_ns));
		} else {
			struct rtr_notify no[64];
			int got = rtr_seg_notify_read(seg, no, max);

			for (i = 0; i < (unsigned int)(got > 0 ? got : 0); i++)
				json_array_append_new(arr, json_pack(
					"{s:i,s:I,s:I,s:i,s:I}", "type", no[i].type,
					"member_id", (json_int_t)no[i].member_id,
					"handle", (json_int_t)no[i].handle, "app", no[i].app_index,
					"chan", (json_int_t)no[i].channel_hash));
		}
		*out = json_pack("{s:s,s:o}", "status", "ok", "items", arr);
		return 0;
	}
	return usage_err(out, "unknown command '%s' (see the header of tools/rtr-dpctl.c)", cmd);
}

static void
watch(unsigned int every, unsigned int count)
{
	uint64_t last_rx = 0, last_tx = 0, last_drop = 0;
	unsigned int i;

	printf("%-10s %12s %12s %12s %10s %10s %10s %8s\n", "time", "rx_pkts", "tx_pkts",
	       "drops", "rx/s", "tx/s", "drop/s", "members");
	for (i = 0; count == 0 || i < count; i++) {
		struct rtr_worker_stats w;
		struct rtr_main_stats m;
		uint64_t drops = 0;
		unsigned int k;
		char ts[16];
		time_t t = time(NULL);

		rtr_seg_stats_workers(seg, &w);
		rtr_seg_stats_main(seg, &m);
		for (k = 0; k < RTR_DROP_MAX; k++)
			drops += w.drops[k];
		strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&t));
		printf("%-10s %12lu %12lu %12lu %10lu %10lu %10lu %8lu\n", ts,
		       (unsigned long)w.rx_pkts, (unsigned long)w.tx_pkts, (unsigned long)drops,
		       (unsigned long)(i ? (w.rx_pkts - last_rx) / every : 0),
		       (unsigned long)(i ? (w.tx_pkts - last_tx) / every : 0),
		       (unsigned long)(i ? (drops - last_drop) / every : 0),
		       (unsigned long)m.members);
		fflush(stdout);
		last_rx = w.rx_pkts;
		last_tx = w.tx_pkts;
		last_drop = drops;
		if (!rtr_seg_alive(seg)) {
			printf("dataplane stopped\n");
			return;
		}
		if (count == 0 || i + 1 < count)
			sleep(every);
	}
}

int
main(int argc, char **argv)
{
	json_t *out = NULL;
	int rc = 0, i = 1;

	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--instance") == 0 && i + 1 < argc) {
			instance = argv[i + 1];
			i += 2;
		} else {
			fprintf(stderr, "rtr-dpctl: unknown option '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: rtr-dpctl [--instance NAME] COMMAND [ARGS] | - (stdin)\n");
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "stats") == 0 && i + 2 < argc && strcmp(argv[i + 1], "--watch") == 0) {
		unsigned int every = (unsigned int)atoi(argv[i + 2]), count = 0;

		if (i + 4 < argc && strcmp(argv[i + 3], "--count") == 0)
			count = (unsigned int)atoi(argv[i + 4]);
		rc = need_stats(&out);
		if (rc) {
			fprintf(stderr, "rtr-dpctl: %s\n", json_string_value(json_object_get(out, "error")));
			return rc;
		}
		watch(every ? every : 1, count);
		rtr_seg_detach(seg);
		return 0;
	}
	if (strcmp(argv[i], "-") == 0) {
		char line[8192];

		while (fgets(line, sizeof(line), stdin) != NULL) {
			char *args[64], *save = NULL, *tok;
			int n = 0;

			for (tok = strtok_r(line, " \t\r\n", &save); tok && n < 64;
			     tok = strtok_r(NULL, " \t\r\n", &save))
				args[n++] = tok;
			if (n == 0)
				continue;
			out = NULL;
			rc = run(n, args, &out);
			if (out == NULL)
				out = json_pack("{s:s}", "status", "error");
			json_dumpf(out, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			fflush(stdout);
			json_decref(out);
		}
		rtr_seg_detach(seg);
		return 0;
	}
	rc = run(argc - i, argv + i, &out);
	if (out != NULL) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(out);
	}
	rtr_seg_detach(seg);
	return rc;
}
