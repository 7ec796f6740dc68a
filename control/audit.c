/* SPDX-License-Identifier: BSD-3-Clause
 * The audit log: every control change and refused attempt, one JSON object
 * per line, chained with HMAC-SHA256 under a forward-evolving key.
 *
 *   line n = {"seq":n,"t":ns,"uid":..,"pid":..,"cmd":..,"args":{..},"result":..,"mac":hex}
 *   mac_n  = HMAC(K_n, line_n without mac || mac_{n-1});  K_{n+1} = SHA-256("rtrelay-audit" || K_n)
 *
 * K_1 is a node secret sealed in the store (the verifier's key); in memory
 * the daemon keeps only the current K_n. The chain head (seq and mac) is
 * anchored in the store and in syslog every ANCHOR_EVERY lines and at least
 * every minute, so editing, inserting, deleting or truncating lines is found
 * by `rtrctl audit verify`. Whoever holds both the store and the master key
 * can rebuild a chain that matches the store's anchor: the syslog copy of
 * the anchors, kept off the node, is what catches that.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "controld.h"
#include "audit.h"

#define ANCHOR_EVERY	64
#define ANCHOR_MS	60000
#define LINE_MAX_LEN	16384
#define ARGS_MAX_LEN	4096	/* larger arguments are logged as their size */

static struct {
	FILE *f;
	char path[300];
	uint8_t k[32];		/* K_seq: the key for the next line */
	uint8_t prev[32];	/* mac of the last line */
	uint64_t seq;		/* seq of the next line */
	uint64_t anchored_seq;
	uint64_t anchored_at_ms;
	/* refused JOINs, aggregated per interval */
	uint64_t join_refused[16];
	uint64_t api_limited;
	uint64_t join_window_ms;
} a;

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
evolve(uint8_t k[32])
{
	uint8_t buf[13 + 32];
	unsigned int n = 32;

	memcpy(buf, "rtrelay-audit", 13);
	memcpy(buf + 13, k, 32);
	EVP_Digest(buf, sizeof(buf), k, &n, EVP_sha256(), NULL);
	OPENSSL_cleanse(buf, sizeof(buf));
}

static void
line_mac(const uint8_t k[32], const char *body, size_t len, const uint8_t prev[32],
	 uint8_t out[32])
{
	uint8_t buf[LINE_MAX_LEN + 32];
	unsigned int n = 32;

	if (len > LINE_MAX_LEN)
		len = LINE_MAX_LEN;
	memcpy(buf, body, len);
	memcpy(buf + len, prev, 32);
	HMAC(EVP_sha256(), k, 32, buf, len + 32, out, &n);
}

static void
tohex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* The mac field is always the last one of a line, whatever the arguments hold. */
static char *
last_mac_field(char *line)
{
	char *m = NULL, *p = line;

	while ((p = strstr(p, ",\"mac\":\"")) != NULL)
		m = p++;
	return m;
}

/* Walk the file from K_0: the chain must hold line by line. Leaves the
 * state (key, prev, seq) at the end of the good part. Returns the number of
 * lines, or -(line number) of the first bad line. */
static int64_t
walk(const uint8_t k0[32], const char *path, uint8_t k[32], uint8_t prev[32], uint64_t *seq,
     char *why, size_t whylen, uint64_t at_seq, uint8_t at_mac[32])
{
	char *line = malloc(LINE_MAX_LEN);
	FILE *f = fopen(path, "r");
	int64_t n = 0;

	memcpy(k, k0, 32);
	memset(prev, 0, 32);
	*seq = 1;
	if (line == NULL) {
		if (f)
			fclose(f);
		return -ENOMEM;
	}
	if (f == NULL) {
		free(line);
		return 0;	/* no log yet */
	}
	while (fgets(line, LINE_MAX_LEN, f) != NULL) {
		char *m = last_mac_field(line);
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		uint8_t mac[32];
		char hex[65];

		n++;
		if (o == NULL || m == NULL ||
		    (uint64_t)json_integer_value(json_object_get(o, "seq")) != *seq) {
			snprintf(why, whylen, "line %lld: %s", (long long)n,
				 o == NULL ? "not JSON" : m == NULL ? "no mac" :
				 "sequence number out of order (a line was removed or inserted)");
			json_decref(o);
			n = -n;
			break;
		}
		/* the mac covers the line up to ,"mac": and the previous mac */
		line_mac(k, line, (size_t)(m - line), prev, mac);
		tohex(mac, 32, hex);
		if (!json_is_string(json_object_get(o, "mac")) ||
		    CRYPTO_memcmp(hex, json_string_value(json_object_get(o, "mac")), 64) != 0) {
			snprintf(why, whylen, "line %lld (seq %llu): mac does not match (edited)",
				 (long long)n, (unsigned long long)*seq);
			json_decref(o);
			n = -n;
			break;
		}
		json_decref(o);
		memcpy(prev, mac, 32);
		if (at_mac != NULL && *seq == at_seq)
			memcpy(at_mac, mac, 32);
		evolve(k);
		(*seq)++;
	}
	fclose(f);
	free(line);
	return n;
}

static int
load_k0(struct ctld *d, uint8_t k0[32])
{
	return ctld_store_secret(d, "audit_k0", k0, 32);
}

static void
anchor(struct ctld *d)
{
	char hex[65], val[96];

	/* an anchor only moves forward: a log cut short or edited while the
	 * daemon was down must not pull it back */
	if (a.seq - 1 <= a.anchored_seq)
		return;
	tohex(a.prev, 32, hex);
	snprintf(val, sizeof(val), "%llu:%s", (unsigned long long)(a.seq - 1), hex);
	ctld_store_node_set(d, "audit_anchor", val);
	syslog(LOG_NOTICE, "audit anchor instance=%s seq=%llu mac=%s", d->instance,
	       (unsigned long long)(a.seq - 1), hex);
	a.anchored_seq = a.seq - 1;
	a.anchored_at_ms = mono_ms();
}

int
ctld_audit_open(struct ctld *d)
{
	uint8_t k0[32];
	char why[160] = "";
	int64_t n;
	int rc;

	openlog("rtr-controld", LOG_PID, LOG_DAEMON);
	snprintf(a.path, sizeof(a.path), "%.290s.audit", d->db_path);
	rc = load_k0(d, k0);
	if (rc < 0)
		return rc;
	n = walk(k0, a.path, a.k, a.prev, &a.seq, why, sizeof(why), 0, NULL);
	OPENSSL_cleanse(k0, sizeof(k0));
	if (n < 0) {
		/* keep serving, but say so: the log no longer proves anything */
		ctld_log(d, "AUDIT LOG BROKEN: %s; new lines continue the good part", why);
		syslog(LOG_ALERT, "audit log of %s broken: %s", d->instance, why);
	}
	{
		char val[96];
		unsigned long long aseq;

		if (ctld_store_node_get(d, "audit_anchor", val, sizeof(val)) == 0 &&
		    sscanf(val, "%llu:", &aseq) == 1) {
			a.anchored_seq = aseq;
			if (aseq > a.seq - 1) {
				ctld_log(d, "AUDIT LOG TRUNCATED: it ends at seq %llu, anchored at %llu",
					 (unsigned long long)(a.seq - 1), aseq);
				syslog(LOG_ALERT, "audit log of %s truncated before seq %llu",
				       d->instance, aseq);
			}
		}
	}
	a.f = fopen(a.path, "a");
	if (a.f == NULL)
		return -errno;
	fchmod(fileno(a.f), 0600);
	a.anchored_at_ms = mono_ms();
	a.join_window_ms = mono_ms();
	return 0;
}

void
ctld_audit_close(struct ctld *d)
{
	if (a.f == NULL)
		return;
	ctld_audit_flush(d, 1);
	anchor(d);
	fclose(a.f);
	a.f = NULL;
	OPENSSL_cleanse(a.k, sizeof(a.k));
	closelog();
}

/* Secrets never reach the log: these argument names are masked. */
static json_t *
masked(json_t *args)
{
	static const char *const secret[] = { "cert", "token", "key", NULL };
	json_t *c = args && json_is_object(args) ? json_deep_copy(args) : json_object();
	int i;

	for (i = 0; secret[i]; i++)
		if (json_object_get(c, secret[i]) != NULL)
			json_object_set_new(c, secret[i], json_string("***"));
	return c;
}

void
ctld_audit(struct ctld *d, int uid, int pid, const char *cmd, json_t *args, const char *result)
{
	json_t *o;
	char *body, hex[65];
	uint8_t mac[32];
	size_t len;

	if (a.f == NULL)
		return;
	{
		json_t *m = masked(args);
		char *js = json_dumps(m, JSON_COMPACT);
		size_t alen = js ? strlen(js) : 0;

		free(js);
		if (alen > ARGS_MAX_LEN) {
			json_decref(m);
			m = json_pack("{s:b,s:I}", "truncated", 1, "bytes", (json_int_t)alen);
		}
		o = json_pack("{s:I,s:I,s:i,s:i,s:s,s:o,s:s}", "seq", (json_int_t)a.seq,
			      "t", (json_int_t)ctld_now_ns(), "uid", uid, "pid", pid, "cmd", cmd,
			      "args", m, "result", result ? result : "");
	}
	body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (body == NULL)
		return;
	len = strlen(body);
	/* drop the closing brace: the mac field completes the object */
	body[len - 1] = '\0';
	line_mac(a.k, body, len - 1, a.prev, mac);
	tohex(mac, 32, hex);
	fprintf(a.f, "%s,\"mac\":\"%s\"}\n", body, hex);
	fflush(a.f);
	fdatasync(fileno(a.f));
	free(body);
	memcpy(a.prev, mac, 32);
	evolve(a.k);
	a.seq++;
	if (a.seq - 1 - a.anchored_seq >= ANCHOR_EVERY)
		anchor(d);
}

void
ctld_audit_join_refused(struct ctld *d, int code)
{
	(void)d;
	if (code > 0 && code < 16)
		a.join_refused[code]++;
}

void
ctld_audit_api_limited(struct ctld *d)
{
	(void)d;
	a.api_limited++;
}

/* Refusal floods become one line per kind per 10 s window; anchors at
 * least once a minute. */
void
ctld_audit_flush(struct ctld *d, int force)
{
	uint64_t now = mono_ms(), total = 0;
	unsigned int i;

	if (!force && now - a.join_window_ms < 10000)
		goto out_anchor;
	a.join_window_ms = now;
	for (i = 0; i < 16; i++)
		total += a.join_refused[i];
	if (a.api_limited) {
		json_t *args = json_pack("{s:I}", "count", (json_int_t)a.api_limited);

		ctld_audit(d, -1, 0, "api.rate_limited", args, "refused");
		json_decref(args);
		a.api_limited = 0;
	}
	if (total) {
		json_t *codes = json_object(), *args;
		char k[8];

		for (i = 0; i < 16; i++) {
			if (!a.join_refused[i])
				continue;
			snprintf(k, sizeof(k), "%u", i);
			json_object_set_new(codes, k, json_integer((json_int_t)a.join_refused[i]));
		}
		args = json_pack("{s:I,s:o}", "count", (json_int_t)total, "codes", codes);
		ctld_audit(d, -1, 0, "join.refused", args, "refused");
		json_decref(args);
		memset(a.join_refused, 0, sizeof(a.join_refused));
	}
out_anchor:
	if (now - a.anchored_at_ms >= ANCHOR_MS)
		anchor(d);
}

json_t *
ctld_audit_tail(struct ctld *d, unsigned int n)
{
	json_t *arr = json_array();
	char *line = malloc(LINE_MAX_LEN);
	FILE *f = fopen(a.path, "r");

	(void)d;
	if (f != NULL && line != NULL) {
		while (fgets(line, LINE_MAX_LEN, f) != NULL) {
			json_error_t je;
			json_t *o = json_loads(line, 0, &je);

			json_array_append_new(arr, o ? o : json_string(line));
			if (json_array_size(arr) > n)
				json_array_remove(arr, 0);
		}
	}
	if (f != NULL)
		fclose(f);
	free(line);
	return arr;
}

json_t *
ctld_audit_verify(struct ctld *d)
{
	uint8_t k0[32], k[32], prev[32], at_mac[32];
	char why[160] = "", anchor_val[96] = "", hex[65];
	unsigned long long aseq = 0;
	uint64_t seq;
	int64_t n;
	int rc;

	fflush(a.f);
	rc = load_k0(d, k0);
	if (rc < 0)
		return json_pack("{s:b,s:s}", "ok", 0, "error", "no audit key in the store");
	if (ctld_store_node_get(d, "audit_anchor", anchor_val, sizeof(anchor_val)) < 0 ||
	    sscanf(anchor_val, "%llu:", &aseq) != 1)
		aseq = 0;
	memset(at_mac, 0, sizeof(at_mac));
	n = walk(k0, a.path, k, prev, &seq, why, sizeof(why), aseq, at_mac);
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(k, sizeof(k));
	if (n < 0)
		return json_pack("{s:b,s:s,s:I}", "ok", 0, "error", why, "line", (json_int_t)-n);
	/* the anchor outside the file: the file must reach at least that far,
	 * and agree with it at that line */
	if (aseq > seq - 1)
		return json_pack("{s:b,s:s,s:I,s:I}", "ok", 0, "error",
				 "truncated: the anchor is beyond the end of the file",
				 "entries", (json_int_t)(seq - 1), "anchor_seq", (json_int_t)aseq);
	if (aseq > 0) {
		tohex(at_mac, 32, hex);
		if (strcmp(strchr(anchor_val, ':') + 1, hex) != 0)
			return json_pack("{s:b,s:s}", "ok", 0, "error",
					 "the chain differs from its anchor (rewritten)");
	}
	return json_pack("{s:b,s:I,s:I}", "ok", 1, "entries", (json_int_t)(seq - 1),
			 "anchor_seq", (json_int_t)aseq);
}
