/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-controld's operator API: JSON lines on a Unix socket.
 *
 * Request:  {"cmd": "app.add", "args": {...}}
 * Reply:    {"ok": true, "result": ...} or {"ok": false, "code": N, "error": "..."}
 *   code 1: refused (bad arguments, not found, not allowed), 2: usage.
 *
 * Who may do what is decided from the peer's credentials (SO_PEERCRED):
 * root and members of group rtrelay-admin may change things, members of
 * group rtrelay may read, everyone else is refused. Each peer uid has a
 * request budget; beyond it requests get a clear error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "controld.h"
#include "audit.h"
#include "metrics.h"

#define LINE_MAX_BYTES	16384
#define RATE_PER_S	50
#define RATE_BURST	100

enum perm { PERM_NONE = 0, PERM_READ = 1, PERM_ADMIN = 2 };

struct client {
	int fd;
	uid_t uid;
	pid_t pid;
	enum perm perm;
	size_t len;
	char buf[LINE_MAX_BYTES];
};

static struct client clients[CTLD_MAX_CLIENTS];
static struct {
	uid_t uid;
	double tokens;
	uint64_t at_ms;
} buckets[64];

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
rate_ok(uid_t uid)
{
	uint64_t t = now_ms();
	unsigned int i, free_i = 0, oldest = 0;

	for (i = 0; i < 64; i++) {
		if (buckets[i].at_ms != 0 && buckets[i].uid == uid) {
			double add = (double)(t - buckets[i].at_ms) * RATE_PER_S / 1000.0;

			buckets[i].tokens = buckets[i].tokens + add > RATE_BURST ? RATE_BURST :
					    buckets[i].tokens + add;
			buckets[i].at_ms = t;
			if (buckets[i].tokens < 1)
				return 0;
			buckets[i].tokens -= 1;
			return 1;
		}
		if (buckets[i].at_ms == 0)
			free_i = i;
		if (buckets[i].at_ms < buckets[oldest].at_ms)
			oldest = i;
	}
	i = buckets[free_i].at_ms == 0 ? free_i : oldest;
	buckets[i].uid = uid;
	buckets[i].tokens = RATE_BURST - 1;
	buckets[i].at_ms = t;
	return 1;
}

/* Is the peer in this group? Its groups as they were when it connected
 * (SO_PEERGROUPS): no race with a pid that exits and is reused. */
static int
in_group(int fd, gid_t primary, const char *name)
{
	struct group *g = getgrnam(name);
	gid_t gids[256];
	socklen_t len = sizeof(gids);
	size_t i;

	if (g == NULL)
		return 0;
	if (primary == g->gr_gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &len) < 0)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (gids[i] == g->gr_gid)
			return 1;
	return 0;
}

int
ctld_api_open(struct ctld *d)
{
	struct sockaddr_un sa;
	struct group *g;
	char dir[256], *slash;
	int fd;

	memset(clients, 0, sizeof(clients));
	for (fd = 0; fd < CTLD_MAX_CLIENTS; fd++)
		clients[fd].fd = -1;
	snprintf(dir, sizeof(dir), "%s", d->sock_path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	if (strlen(d->sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock_path);
	unlink(d->sock_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	/* readers and admins reach it through their groups */
	chmod(d->sock_path, 0660);
	g = getgrnam("rtrelay");
	if (g != NULL && chown(d->sock_path, (uid_t)-1, g->gr_gid) < 0)
		ctld_log(d, "socket: cannot give it to group rtrelay");
	d->listen_fd = fd;
	return 0;
}

void
ctld_api_close(struct ctld *d)
{
	int i;

	for (i = 0; i < CTLD_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			close(clients[i].fd);
	if (d->listen_fd > 0)
		close(d->listen_fd);
	unlink(d->sock_path);
}

int
ctld_api_fds(struct ctld *d, struct pollfd *fds, int max)
{
	int i, n = 0;

	fds[n].fd = d->listen_fd;
	fds[n++].events = POLLIN;
	for (i = 0; i < CTLD_MAX_CLIENTS && n < max; i++) {
		if (clients[i].fd < 0)
			continue;
		fds[n].fd = clients[i].fd;
		fds[n++].events = POLLIN;
	}
	return n;
}

/* ---------------------------------------------------------------- */

static json_t *
err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static json_t *
err(int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b,s:i,s:s}", "ok", 0, "code", code, "error", msg);
}

static json_t *
ok(json_t *result)
{
	return json_pack("{s:b,s:o}", "ok", 1, "result", result ? result : json_null());
}

static const char *
enc_name(enum ctld_enc e)
{
	return e == CTLD_ENC_REQUIRED ? "required" : e == CTLD_ENC_OPTIONAL ? "optional" : "off";
}

static int
parse_enc(const char *s, enum ctld_enc *e)
{
	if (strcmp(s, "required") == 0)
		*e = CTLD_ENC_REQUIRED;
	else if (strcmp(s, "optional") == 0)
		*e = CTLD_ENC_OPTIONAL;
	else if (strcmp(s, "off") == 0)
		*e = CTLD_ENC_OFF;
	else
		return -EINVAL;
	return 0;
}

static int
hex_ok(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static json_t *
app_json(const struct ctld_app *a)
{
	/* never a certificate: only whether one is there */
	return json_pack("{s:s,s:i,s:s,s:b,s:s,s:i,s:i,s:i,s:I,s:I,s:i,s:s,s:b}",
			 "app_id", a->app_id, "app_index", a->app_index, "name", a->name,
			 "enabled", a->enabled, "enc", enc_name(a->enc),
			 "max_channels", a->max_channels, "max_members", a->max_members,
			 "rate_fps", a->fps, "rate_bps", (json_int_t)a->bps,
			 "egress_bps", (json_int_t)a->egress, "max_lifetime", a->max_lifetime,
			 "regions", a->regions, "secondary_cert", a->cert[1][0] != '\0');
}

/* Fields app.add and app.set share. */
static json_t *
app_fields(struct ctld_app *a, json_t *args)
{
	json_t *v;

	if ((v = json_object_get(args, "name")) != NULL) {
		if (!json_is_string(v) || strlen(json_string_value(v)) >= sizeof(a->name))
			return err(2, "name: a string of at most %zu bytes", sizeof(a->name) - 1);
		snprintf(a->name, sizeof(a->name), "%s", json_string_value(v));
	}
	if ((v = json_object_get(args, "enc")) != NULL &&
	    (!json_is_string(v) || parse_enc(json_string_value(v), &a->enc) < 0))
		return err(2, "enc: required, optional or off");
#define UINT_FIELD(key, field, max)							\
	if ((v = json_object_get(args, key)) != NULL) {					\
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||			\
		    json_integer_value(v) > (json_int_t)(max))				\
			return err(2, key ": a number from 0 to %llu",			\
				   (unsigned long long)(max));				\
		a->field = (__typeof__(a->field))json_integer_value(v);			\
	}
	UINT_FIELD("max_channels", max_channels, 1000000)
	UINT_FIELD("max_members", max_members, 1000000)
	UINT_FIELD("rate_fps", fps, 10000000)
	UINT_FIELD("rate_bps", bps, 4ULL << 30)
	UINT_FIELD("egress_bps", egress, 16ULL << 30)
	UINT_FIELD("max_lifetime", max_lifetime, 30 * 86400)
#undef UINT_FIELD
	if ((v = json_object_get(args, "regions")) != NULL) {
		if (!json_is_string(v) || strlen(json_string_value(v)) >= sizeof(a->regions))
			return err(2, "regions: a comma-separated list");
		snprintf(a->regions, sizeof(a->regions), "%s", json_string_value(v));
	}
	if ((v = json_object_get(args, "enabled")) != NULL) {
		if (!json_is_boolean(v))
			return err(2, "enabled: true or false");
		a->enabled = json_is_true(v);
	}
	return NULL;
}

static const char *
arg_str(json_t *args, const char *key)
{
	json_t *v = json_object_get(args, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *
cmd_app_add(struct ctld *d, json_t *args)
{
	const char *id = arg_str(args, "app_id"), *cert = arg_str(args, "cert");
	struct ctld_app a;
	json_t *e;
	unsigned int i;

	if (id == NULL || !hex_ok(id, CTLD_APPID_LEN))
		return err(2, "app_id: 32 hexadecimal characters");
	if (cert == NULL || !hex_ok(cert, CTLD_CERT_LEN))
		return err(2, "cert: the App certificate, 32 hexadecimal characters (--cert-file)");
	if (ctld_app_by_id(d, id) != NULL)
		return err(1, "app %s exists: use app set", id);
	memset(&a, 0, sizeof(a));
	snprintf(a.app_id, sizeof(a.app_id), "%s", id);
	snprintf(a.cert[0], sizeof(a.cert[0]), "%s", cert);
	a.enabled = true;
	a.enc = CTLD_ENC_REQUIRED;
	a.max_channels = 1000;
	a.max_members = 1000;
	a.max_lifetime = 86400;
	e = app_fields(&a, args);
	if (e != NULL)
		return e;
	for (i = 1; i < CTLD_MAX_APPS && d->apps[i].in_use; i++)
		;
	if (i == CTLD_MAX_APPS)
		return err(1, "app table full (%d apps)", CTLD_MAX_APPS - 1);
	a.app_index = i;
	a.in_use = true;
	if (ctld_store_put_app(d, &a) < 0)
		return err(1, "store write failed");
	d->apps[i] = a;
	OPENSSL_cleanse(&a, sizeof(a));
	if (d->seg != NULL && ctld_dp_app_set(d, &d->apps[i]) < 0)
		ctld_log(d, "app %u: dataplane APP_SET failed", i);
	ctld_log(d, "app %u added", i);
	return ok(app_json(&d->apps[i]));
}

static json_t *
cmd_app_set(struct ctld *d, json_t *args)
{
	const char *id = arg_str(args, "app_id");
	struct ctld_app *app = id ? ctld_app_by_id(d, id) : NULL, a;
	json_t *e;

	if (app == NULL)
		return err(1, "no app %s", id ? id : "(app_id missing)");
	a = *app;
	e = app_fields(&a, args);
	if (e != NULL)
		return e;
	if (ctld_store_put_app(d, &a) < 0)
		return err(1, "store write failed");
	*app = a;
	OPENSSL_cleanse(&a, sizeof(a));
	if (d->seg != NULL)
		ctld_dp_app_set(d, app);
	ctld_enforce_policy(d, app->app_index);		/* a narrower geo-fence */
	return ok(app_json(app));
}

static json_t *
cmd_app_del(struct ctld *d, json_t *args)
{
	const char *id = arg_str(args, "app_id");
	struct ctld_app *app = id ? ctld_app_by_id(d, id) : NULL;
	struct rtr_msg_app_del del;
	struct rtr_reply r;

	if (app == NULL)
		return err(1, "no app %s", id ? id : "(app_id missing)");
	del.app_index = app->app_index;
	del.pad = 0;
	if (d->seg != NULL) {
		int rc = ctld_dp_call(d, RTR_MSG_APP_DEL, &del, sizeof(del), &r);

		if (rc < 0 && rc != -ENOENT)
			return err(1, "dataplane refused APP_DEL: %s", strerror(-rc));
	}
	if (ctld_store_del_app(d, app->app_index) < 0)
		return err(1, "store write failed");
	ctld_log(d, "app %u deleted", app->app_index);
	OPENSSL_cleanse(app, sizeof(*app));
	return ok(NULL);
}

static json_t *
cmd_app_cert(struct ctld *d, json_t *args, const char *op)
{
	const char *id = arg_str(args, "app_id"), *cert = arg_str(args, "cert");
	struct ctld_app *app = id ? ctld_app_by_id(d, id) : NULL, a;

	if (app == NULL)
		return err(1, "no app %s", id ? id : "(app_id missing)");
	a = *app;
	if (strcmp(op, "add") == 0) {
		if (cert == NULL || !hex_ok(cert, CTLD_CERT_LEN))
			return err(2, "cert: 32 hexadecimal characters (--cert-file)");
		snprintf(a.cert[1], sizeof(a.cert[1]), "%s", cert);
	} else if (strcmp(op, "promote") == 0) {
		if (!a.cert[1][0])
			return err(1, "app %s has no secondary certificate", id);
		memcpy(a.cert[0], a.cert[1], sizeof(a.cert[0]));
		a.cert[1][0] = '\0';
	} else {
		if (!a.cert[1][0])
			return err(1, "app %s has no secondary certificate", id);
		a.cert[1][0] = '\0';
	}
	if (ctld_store_put_app(d, &a) < 0) {
		OPENSSL_cleanse(&a, sizeof(a));
		return err(1, "store write failed");
	}
	*app = a;
	OPENSSL_cleanse(&a, sizeof(a));
	ctld_log(d, "app %u: certificate %s", app->app_index, op);
	return ok(app_json(app));
}

struct list_ctx {
	json_t *arr;
	uint32_t app;
};

static int
member_row(struct ctld *d, const struct ctld_member *m, void *arg)
{
	struct list_ctx *c = arg;
	char chash[20];

	(void)d;
	snprintf(chash, sizeof(chash), "%016llx", (unsigned long long)m->channel_hash);
	json_array_append_new(c->arr, json_pack(
		"{s:i,s:s,s:s,s:I,s:s,s:s,s:i,s:I,s:s,s:i}", "app_index", m->app_index,
		"channel", m->channel, "channel_hash", chash, "member_id", (json_int_t)m->member_id,
		"role", m->role == RTR_ROLE_PUBLISHER ? "pub" : "sub",
		"state", m->state == RTR_MS_ACTIVE ? "active" : "pending", "privs", m->privs,
		"uid", (json_int_t)m->uid,
		"enc", m->suite == RTR_SUITE_AES128GCM ? "aes128gcm" :
		       m->suite == RTR_SUITE_AES256GCM ? "aes256gcm" : "none",
		"udp_port", m->ep.udp_port));
	return 0;
}

static json_t *
cmd_members(struct ctld *d, json_t *args, int channels_only)
{
	const char *id = arg_str(args, "app_id"), *ch = arg_str(args, "channel");
	struct ctld_app *app = id ? ctld_app_by_id(d, id) : NULL;
	struct list_ctx c = { json_array(), 0 };

	if (id != NULL && app == NULL) {
		json_decref(c.arr);
		return err(1, "no app %s", id);
	}
	if (app != NULL && ch != NULL)
		ctld_store_each_member(d, "app_index=?1 AND channel_hash=?2", app->app_index,
				       (int64_t)ctld_channel_hash(d, app->app_index, ch, strlen(ch)),
				       member_row, &c);
	else if (app != NULL)
		ctld_store_each_member(d, "app_index=?1", app->app_index, 0, member_row, &c);
	else
		ctld_store_each_member(d, NULL, 0, 0, member_row, &c);
	if (channels_only) {
		/* fold members into channels */
		json_t *chans = json_object(), *out = json_array(), *m, *v;
		const char *key;
		size_t i;

		json_array_foreach(c.arr, i, m) {
			char k[96];
			json_t *e;

			snprintf(k, sizeof(k), "%lld/%s",
				 (long long)json_integer_value(json_object_get(m, "app_index")),
				 json_string_value(json_object_get(m, "channel_hash")));
			e = json_object_get(chans, k);
			if (e == NULL) {
				e = json_pack("{s:O,s:O,s:O,s:i,s:i}", "app_index",
					      json_object_get(m, "app_index"), "channel",
					      json_object_get(m, "channel"), "channel_hash",
					      json_object_get(m, "channel_hash"), "members", 0,
					      "active", 0);
				json_object_set_new(chans, k, e);
			}
			json_object_set_new(e, "members", json_integer(
				json_integer_value(json_object_get(e, "members")) + 1));
			if (strcmp(json_string_value(json_object_get(m, "state")), "active") == 0)
				json_object_set_new(e, "active", json_integer(
					json_integer_value(json_object_get(e, "active")) + 1));
		}
		json_object_foreach(chans, key, v)
			json_array_append(out, v);
		json_decref(chans);
		json_decref(c.arr);
		return ok(out);
	}
	return ok(c.arr);
}

static int
find_by_mid(struct ctld *d, const struct ctld_member *m, void *arg)
{
	struct ctld_member *want = arg;

	(void)d;
	if (m->member_id == want->member_id) {
		*want = *m;
		return 1;
	}
	return 0;
}

static json_t *
cmd_kick(struct ctld *d, json_t *args)
{
	json_t *v = json_object_get(args, "member_id");
	struct ctld_member m;
	int rc;

	if (!json_is_integer(v))
		return err(2, "member_id: a number");
	memset(&m, 0, sizeof(m));
	m.member_id = (uint32_t)json_integer_value(v);
	if (ctld_store_each_member(d, NULL, 0, 0, find_by_mid, &m) < 0 || m.handle == 0)
		return err(1, "no member %u", m.member_id);
	rc = ctld_remove_member(d, m.handle, "kicked by an operator");
	if (rc < 0)
		return err(1, "dataplane refused: %s", strerror(-rc));
	if (json_is_true(json_object_get(args, "ban"))) {
		/* refused at JOIN until the token it held expires */
		char key[48], val[24];

		snprintf(key, sizeof(key), "ban:%u:%u", m.app_index, m.uid);
		snprintf(val, sizeof(val), "%llu", (unsigned long long)m.token_expire);
		ctld_store_node_set(d, key, val);
	}
	return ok(NULL);
}

static json_t *
cmd_acl(struct ctld *d, const char *op, json_t *args)
{
	unsigned int i;

	if (strcmp(op, "list") == 0) {
		json_t *arr = json_array();

		for (i = 0; i < d->n_acls; i++) {
			const struct ctld_acl *r = &d->acls[i];

			/* xdp: where the rule holds besides JOIN; global deny rules
			 * also drop the source's every packet in the XDP pre-filter */
			json_array_append_new(arr, json_pack("{s:i,s:s,s:s,s:s,s:s,s:s}", "id", r->id,
				"action", r->allow ? "allow" : "deny", "prefix", r->text,
				"app_id", r->app_index ? d->apps[r->app_index].app_id : "(global)",
				"xdp", ctld_xdp_rule_loaded(d, r) ? "dropped" :
				       r->app_index == 0 && !r->allow ?
				       (d->xdp.present ? "pending" : "no pre-filter") : "join only",
				/* dataplane: global deny rules also drop the source's
				 * JOINs in the workers, before the punt (JOIN guard) */
				"dataplane", ctld_guard_rule_loaded(d, r) ? "dropped before punt" :
				       r->app_index == 0 && !r->allow ?
				       (d->seg != NULL ? "pending" : "no dataplane") : "join only"));
		}
		return ok(arr);
	}
	if (strcmp(op, "add") == 0) {
		const char *action = arg_str(args, "action"), *prefix = arg_str(args, "prefix");
		const char *id = arg_str(args, "app_id");
		struct ctld_acl r;
		struct ctld_app *app = NULL;

		memset(&r, 0, sizeof(r));
		if (action == NULL || (strcmp(action, "allow") && strcmp(action, "deny")))
			return err(2, "action: allow or deny");
		if (prefix == NULL || ctld_acl_parse(prefix, &r) < 0)
			return err(2, "prefix: an IPv4 or IPv6 address with an optional /length");
		if (id != NULL && (app = ctld_app_by_id(d, id)) == NULL)
			return err(1, "no app %s", id);
		r.allow = strcmp(action, "allow") == 0;
		r.app_index = app ? app->app_index : 0;
		if (ctld_store_add_acl(d, &r) < 0)
			return err(1, "rule table full or store write failed");
		return ok(json_pack("{s:i,s:i}", "id", r.id, "members_removed",
				    ctld_enforce_policy(d, r.app_index)));
	}
	if (strcmp(op, "del") == 0) {
		json_t *v = json_object_get(args, "id");

		if (!json_is_integer(v))
			return err(2, "id: a rule number (acl list)");
		if (ctld_store_del_acl(d, (uint32_t)json_integer_value(v)) < 0)
			return err(1, "no rule %lld", (long long)json_integer_value(v));
		/* removing an allow rule can narrow an allow list */
		return ok(json_pack("{s:i}", "members_removed", ctld_enforce_policy(d, 0)));
	}
	return err(2, "acl: add, del or list");
}

static json_t *
cmd_xdp(struct ctld *d)
{
	const struct ctld_xdp *x = &d->xdp;
	json_t *c = json_object();
	int i;

	for (i = 0; i < RTR_XDP_CTR_MAX; i++)
		json_object_set_new(c, rtr_xdp_ctr_names[i],
				    json_pack("{s:I,s:I}", "packets", (json_int_t)x->ctr[i].packets,
					      "bytes", (json_int_t)x->ctr[i].bytes));
	return ok(json_pack("{s:b,s:s,s:i,s:I,s:i,s:I,s:i,s:I,s:I,s:i,s:o}",
			    "present", x->present, "pins", RTR_XDP_PIN_ROOT, "port", x->port,
			    "src_pps", (json_int_t)x->src_pps, "src_burst", x->src_burst,
			    "prefix_pps", (json_int_t)x->pfx_pps, "prefix_burst", x->pfx_burst,
			    "syncs", (json_int_t)x->syncs, "sync_errors", (json_int_t)x->sync_errors,
			    "deny_rules", x->rules, "counters", c));
}

static json_t *
cmd_status(struct ctld *d)
{
	json_t *o = json_object(), *refused = json_object();
	unsigned int i, apps = 0;
	char k[8];

	for (i = 1; i < CTLD_MAX_APPS; i++)
		apps += d->apps[i].in_use;
	for (i = 1; i < 16; i++) {
		if (!d->c.joins_refused[i])
			continue;
		snprintf(k, sizeof(k), "%u", i);
		json_object_set_new(refused, k, json_integer((json_int_t)d->c.joins_refused[i]));
	}
	json_object_set_new(o, "instance", json_string(d->instance));
	json_object_set_new(o, "dataplane", json_string(d->seg != NULL ? "attached" : "absent"));
	json_object_set_new(o, "generation", json_integer((json_int_t)(d->dp_generation >> 1)));
	json_object_set_new(o, "apps", json_integer(apps));
	json_object_set_new(o, "members", json_integer(ctld_store_count(
		d, "SELECT COUNT(*) FROM members WHERE ?1=?2", 0, 0)));
	json_object_set_new(o, "joins_ok", json_integer((json_int_t)d->c.joins_ok));
	json_object_set_new(o, "joins_refused", refused);
	json_object_set_new(o, "joins_dropped_malformed",
			    json_integer((json_int_t)d->c.joins_dropped_malformed));
	json_object_set_new(o, "joins_dropped_replay",
			    json_integer((json_int_t)d->c.joins_dropped_replay));
	json_object_set_new(o, "joins_retransmit", json_integer((json_int_t)d->c.joins_retransmit));
	json_object_set_new(o, "joins_dropped_handshake",
			    json_integer((json_int_t)d->c.joins_dropped_handshake));
	json_object_set_new(o, "joins_dropped_rekey",
			    json_integer((json_int_t)d->c.joins_dropped_rekey));
	json_object_set_new(o, "joins_rekeyed", json_integer((json_int_t)d->c.joins_rekeyed));
	json_object_set_new(o, "members_roamed", json_integer((json_int_t)d->c.members_roamed));
	json_object_set_new(o, "joins_dropped_policy",
			    json_integer((json_int_t)d->c.joins_dropped_policy));
	json_object_set_new(o, "members_removed", json_integer((json_int_t)d->c.members_removed));
	json_object_set_new(o, "dp_reprogrammed", json_integer((json_int_t)d->c.dp_reprogrammed));
	json_object_set_new(o, "api_refused", json_integer((json_int_t)d->c.api_refused));
	json_object_set_new(o, "alarms", ctld_alarms_json(d));
	return ok(o);
}

static int
is_read_only(const char *cmd)
{
	static const char *const readers[] = {
		"status", "app.list", "app.show", "channel.list", "channel.show", "member.list",
		"node.show", "audit.tail", "audit.verify", "acl.list", "xdp.show", NULL,
	};
	int i;

	for (i = 0; readers[i]; i++)
		if (strcmp(cmd, readers[i]) == 0)
			return 1;
	return 0;
}

static json_t *
dispatch(struct ctld *d, struct client *cl, const char *cmd, json_t *args)
{
	int read_only = is_read_only(cmd), i;

	if (cl->perm == PERM_NONE || (!read_only && cl->perm != PERM_ADMIN)) {
		d->c.api_refused++;
		ctld_log(d, "api: uid %u refused %s", (unsigned int)cl->uid, cmd);
		return err(1, "permission denied: %s needs group %s", cmd,
			   read_only ? "rtrelay" : "rtrelay-admin");
	}
	if (strcmp(cmd, "status") == 0)
		return cmd_status(d);
	if (strcmp(cmd, "audit.tail") == 0) {
		json_t *n = json_object_get(args, "n");

		return ok(ctld_audit_tail(d, json_is_integer(n) && json_integer_value(n) > 0 ?
					  (unsigned int)json_integer_value(n) : 20));
	}
	if (strcmp(cmd, "audit.verify") == 0) {
		json_t *v = ctld_audit_verify(d);

		if (json_is_true(json_object_get(v, "ok")))
			return ok(v);
		{
			json_t *e = err(1, "audit log: %s",
					json_string_value(json_object_get(v, "error")));

			json_decref(v);
			return e;
		}
	}
	if (strcmp(cmd, "app.add") == 0)
		return cmd_app_add(d, args);
	if (strcmp(cmd, "app.set") == 0)
		return cmd_app_set(d, args);
	if (strcmp(cmd, "app.del") == 0)
		return cmd_app_del(d, args);
	if (strncmp(cmd, "app.cert.", 9) == 0 &&
	    (!strcmp(cmd + 9, "add") || !strcmp(cmd + 9, "promote") || !strcmp(cmd + 9, "del")))
		return cmd_app_cert(d, args, cmd + 9);
	if (strcmp(cmd, "app.list") == 0 || strcmp(cmd, "app.show") == 0) {
		const char *id = arg_str(args, "app_id");
		json_t *arr = json_array();

		for (i = 1; i < CTLD_MAX_APPS; i++)
			if (d->apps[i].in_use && (id == NULL || !strcasecmp(id, d->apps[i].app_id)))
				json_array_append_new(arr, app_json(&d->apps[i]));
		if (id != NULL && json_array_size(arr) == 0) {
			json_decref(arr);
			return err(1, "no app %s", id);
		}
		return ok(arr);
	}
	if (strcmp(cmd, "channel.list") == 0)
		return cmd_members(d, args, 1);
	if (strcmp(cmd, "channel.show") == 0 || strcmp(cmd, "member.list") == 0)
		return cmd_members(d, args, 0);
	if (strcmp(cmd, "member.kick") == 0)
		return cmd_kick(d, args);
	if (strncmp(cmd, "acl.", 4) == 0)
		return cmd_acl(d, cmd + 4, args);
	if (strcmp(cmd, "xdp.show") == 0)
		return cmd_xdp(d);
	if (strcmp(cmd, "node.show") == 0) {
		char pub[65];

		for (i = 0; i < 32; i++)
			sprintf(pub + 2 * i, "%02x", d->node_pub[i]);
		return ok(json_pack("{s:s,s:s,s:s,s:s,s:s}", "instance", d->instance, "region",
				    d->region, "store", d->db_path, "socket", d->sock_path,
				    "public_key", pub));
	}
	if (strcmp(cmd, "node.set") == 0) {
		const char *r = arg_str(args, "region");

		if (r == NULL || strlen(r) == 0 || strlen(r) >= sizeof(d->region))
			return err(2, "region: a code of 1-%zu characters", sizeof(d->region) - 1);
		snprintf(d->region, sizeof(d->region), "%s", r);
		ctld_store_node_set(d, "region", d->region);
		ctld_enforce_policy(d, 0);
		return ok(json_pack("{s:s}", "region", d->region));
	}
	return err(2, "unknown command '%s'", cmd);
}

/* Every reply whole, in order. The socket blocks on writes for at most a
 * second (SO_SNDTIMEO): a peer that does not read is dropped, it cannot
 * stall the daemon. */
static void
respond(struct client *cl, json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT);
	size_t n, off = 0;

	json_decref(reply);
	if (s == NULL || cl->fd < 0) {
		free(s);
		return;
	}
	n = strlen(s);
	s[n] = '\n';	/* json_dumps leaves room for the NUL we overwrite */
	while (off < n + 1) {
		ssize_t w = write(cl->fd, s + off, n + 1 - off);

		if (w <= 0) {
			close(cl->fd);	/* gone, or not reading */
			cl->fd = -1;
			break;
		}
		off += (size_t)w;
	}
	free(s);
}

static void
handle_line(struct ctld *d, struct client *cl, char *line)
{
	json_error_t je;
	json_t *req, *reply;
	const char *cmd;

	d->c.api_requests++;
	if (!rate_ok(cl->uid)) {
		d->c.api_refused++;
		ctld_audit_api_limited(d);
		respond(cl, err(1, "rate limited: more than %d requests/s from uid %u", RATE_PER_S,
				(unsigned int)cl->uid));
		return;
	}
	req = json_loads(line, 0, &je);
	OPENSSL_cleanse(line, strlen(line));	/* it may have carried a certificate */
	if (req == NULL || !json_is_object(req) ||
	    (cmd = json_string_value(json_object_get(req, "cmd"))) == NULL) {
		json_decref(req);
		respond(cl, err(2, "bad request: one JSON object per line with \"cmd\""));
		return;
	}
	reply = dispatch(d, cl, cmd, json_object_get(req, "args"));
	/* every change, and every refused attempt, goes into the audit log */
	if (!is_read_only(cmd) || !json_is_true(json_object_get(reply, "ok")))
		ctld_audit(d, (int)cl->uid, (int)cl->pid, cmd, json_object_get(req, "args"),
			   json_is_true(json_object_get(reply, "ok")) ? "ok" :
			   json_string_value(json_object_get(reply, "error")));
	{
		/* wipe a certificate in the request before freeing it */
		json_t *a = json_object_get(req, "args"), *c = json_object_get(a, "cert");

		if (json_is_string(c))
			OPENSSL_cleanse((char *)json_string_value(c), strlen(json_string_value(c)));
	}
	json_decref(req);
	respond(cl, reply);
}

void
ctld_api_poll(struct ctld *d, struct pollfd *fds, int n)
{
	int i, k;

	if (fds[0].revents & POLLIN) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0) {
			struct timeval tmo = { 1, 0 };
			struct ucred cr;
			socklen_t len = sizeof(cr);

			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
			for (k = 0; k < CTLD_MAX_CLIENTS && clients[k].fd >= 0; k++)
				;
			if (k == CTLD_MAX_CLIENTS ||
			    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
				close(fd);
			} else {
				struct client *cl = &clients[k];

				cl->fd = fd;
				cl->uid = cr.uid;
				cl->pid = cr.pid;
				cl->len = 0;
				cl->perm = cr.uid == 0 || in_group(fd, cr.gid, "rtrelay-admin") ?
					   PERM_ADMIN : in_group(fd, cr.gid, "rtrelay") ?
					   PERM_READ : PERM_NONE;
			}
		}
	}
	for (i = 1; i < n; i++) {
		struct client *cl = NULL;
		ssize_t got;
		char *nl;

		if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		for (k = 0; k < CTLD_MAX_CLIENTS; k++)
			if (clients[k].fd == fds[i].fd)
				cl = &clients[k];
		if (cl == NULL)
			continue;
		got = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len);
		if (got <= 0) {
			close(cl->fd);
			cl->fd = -1;
			continue;
		}
		cl->len += (size_t)got;
		cl->buf[cl->len] = '\0';
		while (cl->fd >= 0 && (nl = strchr(cl->buf, '\n')) != NULL) {
			size_t used = (size_t)(nl - cl->buf) + 1;

			*nl = '\0';
			handle_line(d, cl, cl->buf);
			memmove(cl->buf, cl->buf + used, cl->len - used);
			cl->len -= used;
			cl->buf[cl->len] = '\0';
		}
		if (cl->fd >= 0 && cl->len == sizeof(cl->buf) - 1) {
			respond(cl, err(2, "request longer than %d bytes", LINE_MAX_BYTES - 1));
			close(cl->fd);
			cl->fd = -1;
		}
	}
}
