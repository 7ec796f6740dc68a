/* SPDX-License-Identifier: BSD-3-Clause
 * JOIN handling (rtr-controld, slow path): from a punted JOIN to a PENDING
 * member and its JOIN_ACK, or a code-only ERROR, or silence.
 *
 * Order (DESIGN.md, reply policy): format checks, silently dropped; the
 * token's signature, verified first (against a dummy certificate for an
 * unknown app, so strangers learn nothing and wait as long); then app,
 * token limits and expiry, channel name, uid, JOIN timestamp, privileges,
 * encryption policy, geo-fence, quotas, uid conflicts. Before the signature
 * has verified, the only answer is TOKEN_INVALID.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "controld.h"
#include "token.h"
#include "audit.h"

#define JOIN_SKEW_MS		30000
#define KEEPALIVE_MS		1000
#define ACK_BODY_LEN		33
#define TOKEN_MAX		512

struct join_req {
	struct rtr_hdr h;
	uint8_t suite;
	char token[TOKEN_MAX + 1];
	char app_id[CTLD_APPID_LEN + 1];
	char channel[65];
	size_t channel_len;
	uint32_t uid;
	uint8_t role;
};

/* Parse the plaintext JOIN body; any deviation is a silent drop. */
static int
parse_join(const uint8_t *f, size_t len, struct join_req *j)
{
	const uint8_t *b = f + RTR_HDR_LEN, *end;
	uint16_t n;

	if (len < RTR_JOIN_MIN_PAYLOAD)
		return -EBADMSG;
	rtr_hdr_decode(f, &j->h);
	if (j->h.type != RTR_T_JOIN || (size_t)j->h.payload_len + RTR_HDR_LEN != len)
		return -EBADMSG;
	end = f + len;
	j->suite = *b++;
	if (j->suite != 0)
		return -EPROTONOSUPPORT;	/* encrypted JOINs come with the crypto issue */
	/* token */
	if (end - b < 2)
		return -EBADMSG;
	n = rtr_get16(b);
	b += 2;
	if (n == 0 || n > TOKEN_MAX || end - b < n)
		return -EBADMSG;
	memcpy(j->token, b, n);
	j->token[n] = '\0';
	if (strlen(j->token) != n)
		return -EBADMSG;
	b += n;
	/* App ID: 32 hex characters */
	if (end - b < 2)
		return -EBADMSG;
	n = rtr_get16(b);
	b += 2;
	if (n != CTLD_APPID_LEN || end - b < n)
		return -EBADMSG;
	memcpy(j->app_id, b, n);
	j->app_id[n] = '\0';
	b += n;
	/* channel name: 1..64 bytes */
	if (end - b < 2)
		return -EBADMSG;
	n = rtr_get16(b);
	b += 2;
	if (n == 0 || n > 64 || end - b < n)
		return -EBADMSG;
	memcpy(j->channel, b, n);
	j->channel[n] = '\0';
	j->channel_len = n;
	b += n;
	if (end - b < 5)
		return -EBADMSG;
	j->uid = rtr_get32(b);
	j->role = b[4];
	if (j->role != RTR_ROLE_PUBLISHER && j->role != RTR_ROLE_SUBSCRIBER)
		return -EBADMSG;
	return 0;
}

/* The characters a channel name may hold: a-z A-Z 0-9 space and
 * !#$%&()+-:;<=.>?@[]^_{}|~, */
static int
channel_name_ok(const char *s, size_t n)
{
	static const char extra[] = " !#$%&()+-:;<=.>?@[]^_{}|~,";
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c != '\0' && strchr(extra, c) != NULL)))
			return 0;
	}
	return 1;
}

uint64_t
ctld_channel_hash(const struct ctld *d, uint32_t app_index, const char *name, size_t len)
{
	uint8_t msg[4 + 64], md[32];
	unsigned int mdlen = sizeof(md);
	uint64_t h;

	rtr_put32(msg, app_index);
	memcpy(msg + 4, name, len);
	HMAC(EVP_sha256(), d->chan_secret, sizeof(d->chan_secret), msg, 4 + len, md, &mdlen);
	h = rtr_get64(md);
	return h ? h : 1;
}

static void
send_frame(struct ctld *d, const struct rtr_punt *p, const uint8_t *frame, uint16_t len)
{
	struct rtr_msg_tx_frame f;
	struct rtr_reply r;
	int rc;

	memset(&f, 0, offsetof(struct rtr_msg_tx_frame, payload));
	f.port_id = p->port_id;
	f.vlan = p->vlan;
	f.family = p->family;
	f.len = len;
	memcpy(f.dst_mac, p->src_mac, 6);
	f.dst_port = p->src_port;
	memcpy(f.dst_ip, p->src_ip, 16);
	memcpy(f.src_ip, p->dst_ip, 16);
	memcpy(f.payload, frame, len);
	rc = ctld_dp_call(d, RTR_MSG_TX_FRAME, &f, offsetof(struct rtr_msg_tx_frame, payload) + len,
			  &r);
	if (rc < 0)
		d->c.dp_cmd_errors++;
}

/* A code-only ERROR: 34 bytes, never more than the JOIN (at least 256). */
static void
send_error(struct ctld *d, const struct rtr_punt *p, const struct join_req *j, uint16_t code)
{
	struct rtr_hdr h = {
		.magic = RTR_MAGIC, .version = RTR_VERSION, .type = RTR_T_ERROR,
		.payload_len = 2, .counter = j->h.counter,
	};
	uint8_t buf[RTR_HDR_LEN + 2];

	rtr_hdr_encode(buf, &h);
	rtr_put16(buf + RTR_HDR_LEN, code);
	if (code < 16)
		d->c.joins_refused[code]++;
	send_frame(d, p, buf, sizeof(buf));
}

static struct ctld_ack *
ack_lookup(struct ctld *d, const struct rtr_punt *p, uint64_t counter)
{
	unsigned int i;

	for (i = 0; i < CTLD_ACK_CACHE; i++) {
		struct ctld_ack *a = &d->acks[i];

		if (a->len && a->join_counter == counter && a->src_port == p->src_port &&
		    a->family == p->family && memcmp(a->src_ip, p->src_ip, 16) == 0)
			return a;
	}
	return NULL;
}

static void
ack_store(struct ctld *d, const struct rtr_punt *p, const struct join_req *j,
	  const uint8_t *bytes, uint16_t len)
{
	struct ctld_ack *slot = &d->acks[0];
	unsigned int i;

	for (i = 0; i < CTLD_ACK_CACHE; i++) {
		if (d->acks[i].len == 0) {
			slot = &d->acks[i];
			break;
		}
		if (d->acks[i].at_ns < slot->at_ns)
			slot = &d->acks[i];
	}
	slot->join_counter = j->h.counter;
	slot->family = p->family;
	memcpy(slot->src_ip, p->src_ip, 16);
	slot->src_port = p->src_port;
	slot->uid = j->uid;
	slot->len = len;
	memcpy(slot->bytes, bytes, len);
	slot->at_ns = ctld_now_ns();
}

int
ctld_region_ok(const struct ctld *d, const struct ctld_app *a)
{
	char buf[sizeof(a->regions)], *tok, *save = NULL;

	if (a->regions[0] == '\0')
		return 1;
	snprintf(buf, sizeof(buf), "%s", a->regions);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, d->region) == 0)
			return 1;
	return 0;
}

/* The last accepted JOIN time of (app, uid): a JOIN must be newer. */
static int
join_is_fresh(struct ctld *d, uint32_t app_index, uint32_t uid, uint64_t ms)
{
	char key[48], val[32];

	snprintf(key, sizeof(key), "lastjoin:%u:%u", app_index, uid);
	return !(ctld_store_node_get(d, key, val, sizeof(val)) == 0 &&
		 ms <= strtoull(val, NULL, 10));
}

static void
join_accepted(struct ctld *d, uint32_t app_index, uint32_t uid, uint64_t ms)
{
	char key[48], val[32];

	snprintf(key, sizeof(key), "lastjoin:%u:%u", app_index, uid);
	snprintf(val, sizeof(val), "%llu", (unsigned long long)ms);
	ctld_store_node_set(d, key, val);
}

void
ctld_join(struct ctld *d, const struct rtr_punt *p)
{
	struct join_req j;
	struct rtr_token tok;
	struct rtr_token_check want;
	struct rtr_msg_member_add ma;
	struct rtr_reply r;
	struct ctld_member m, old;
	struct ctld_app *app;
	const char *certs[2];
	unsigned int n_certs = 0, i, matched = 0;
	char mask_uid[20], mask_src[20], mask_ch[20];
	uint8_t ack[RTR_HDR_LEN + ACK_BODY_LEN];
	uint64_t now_ms = ctld_now_ns() / 1000000ULL, chash;
	int rc, code = 0, nch, replacing;

	memset(&j, 0, sizeof(j));
	if (p->len > sizeof(p->frame) || parse_join(p->frame, p->len, &j) < 0) {
		d->c.joins_dropped_malformed++;
		goto out_wipe;
	}
	/* the reply policy: nothing to low ports, a service port or ourselves
	 * (the dataplane drops those sources too, and refuses such TX_FRAMEs) */
	if (p->src_port < 1024 || p->src_port == p->dst_port) {
		d->c.joins_dropped_policy++;
		goto out_wipe;
	}
	/* a retransmitted JOIN gets the same JOIN_ACK bytes, to the same place only */
	{
		struct ctld_ack *a = ack_lookup(d, p, j.h.counter);

		if (a != NULL) {
			d->c.joins_retransmit++;
			send_frame(d, p, a->bytes, a->len);
			goto out_wipe;
		}
	}

	/* signature first: an unknown app is checked against a dummy certificate */
	/* always two certificates, so every JOIN costs the same: an app's
	 * primary and secondary, padded (and an unknown app's made up) with
	 * this process's own random dummy, which no token can be signed with */
	app = ctld_app_by_id(d, j.app_id);
	if (app != NULL && app->cert[0][0]) {
		certs[n_certs++] = app->cert[0];
		certs[n_certs++] = app->cert[1][0] ? app->cert[1] : d->dummy_cert;
	} else {
		certs[n_certs++] = d->dummy_cert;
		certs[n_certs++] = d->dummy_cert;
	}
	memset(&want, 0, sizeof(want));
	want.app_id = j.app_id;
	want.channel = j.channel;
	want.channel_len = j.channel_len;
	want.uid = j.uid;
	want.max_lifetime = app != NULL ? app->max_lifetime : 0;
	rc = rtr_token_verify(j.token, certs, n_certs, &want, now_ms / 1000, &tok, &matched);
	/* undecodable, unsigned by this app, or an app we do not serve: all alike */
	if (rc == -RTR_TOKEN_E_SIGNATURE || (rc < 0 && -rc < RTR_TOKEN_E_SIGNATURE) ||
	    app == NULL || !app->cert[0][0]) {
		code = RTR_E_TOKEN_INVALID;
		goto out_refuse;
	}
	/* from here the caller holds a token this node's app signed */
	if (!app->enabled) {
		code = RTR_E_APP_DISABLED;
		goto out_refuse;
	}
	if (rc == -RTR_TOKEN_E_EXPIRED || rc == -RTR_TOKEN_E_JOIN_EXPIRED) {
		code = RTR_E_TOKEN_EXPIRED;
		goto out_refuse;
	}
	if (rc == -RTR_TOKEN_E_NO_JOIN) {
		code = RTR_E_PRIVILEGE;
		goto out_refuse;
	}
	if (rc < 0 || !channel_name_ok(j.channel, j.channel_len)) {
		code = RTR_E_TOKEN_INVALID;
		goto out_refuse;
	}
	/* the client's clock: within 30 s, newer than its last accepted JOIN */
	if (j.h.counter + JOIN_SKEW_MS < now_ms || j.h.counter > now_ms + JOIN_SKEW_MS ||
	    !join_is_fresh(d, app->app_index, j.uid, j.h.counter)) {
		d->c.joins_dropped_replay++;
		goto out_wipe;
	}
	{
		/* banned by an operator until the kicked member's token expires */
		char key[48], val[24];

		snprintf(key, sizeof(key), "ban:%u:%u", app->app_index, j.uid);
		if (ctld_store_node_get(d, key, val, sizeof(val)) == 0 &&
		    now_ms / 1000 < strtoull(val, NULL, 10)) {
			code = RTR_E_ACL_DENIED;
			goto out_refuse;
		}
	}
	memset(&ma, 0, sizeof(ma));
	ma.privs = RTR_PRIV_BIT(RTR_PRIV_JOIN);
	if (j.role == RTR_ROLE_PUBLISHER) {
		for (i = RTR_PRIV_PUB_AUDIO; i <= RTR_PRIV_PUB_DATA; i++)
			if (tok.priv_mask & RTR_PRIV_BIT(i))
				ma.privs |= RTR_PRIV_BIT(i);
		if (ma.privs == RTR_PRIV_BIT(RTR_PRIV_JOIN)) {
			code = RTR_E_PRIVILEGE;
			goto out_refuse;
		}
	}
	if (app->enc == CTLD_ENC_REQUIRED && j.suite == 0) {
		code = RTR_E_ENC_REQUIRED;
		goto out_refuse;
	}
	if (!ctld_region_ok(d, app)) {
		code = RTR_E_GEOFENCED;
		goto out_refuse;
	}
	if (!ctld_acl_allows(d, app->app_index, p->family, p->src_ip)) {
		code = RTR_E_ACL_DENIED;
		goto out_refuse;
	}
	chash = ctld_channel_hash(d, app->app_index, j.channel, j.channel_len);
	{
		char name[65];

		if (ctld_store_channel_name(d, app->app_index, chash, name, sizeof(name)) == 0 &&
		    strcmp(name, j.channel) != 0) {
			ctld_log(d, "channel hash collision in app %u: refused", app->app_index);
			code = RTR_E_BUSY;
			goto out_refuse;
		}
	}
	nch = ctld_store_count(d, "SELECT COUNT(*) FROM members WHERE app_index=?1 AND"
			       " channel_hash=?2", app->app_index, (int64_t)chash);
	if (nch == 0 && ctld_store_count(d, "SELECT COUNT(DISTINCT channel_hash) FROM members"
					 " WHERE app_index=?1 AND ?2=0", app->app_index, 0) >=
			(int)app->max_channels) {
		code = RTR_E_QUOTA;
		goto out_refuse;
	}
	replacing = 0;
	if (ctld_store_find_member(d, app->app_index, chash, j.uid, &old) == 0) {
		/* replace only with a uid-bound token and a newer JOIN; the old
		 * member goes once the new one is in */
		if (tok.uid[0] == '\0' || j.h.counter <= old.join_ms) {
			code = RTR_E_UID_CONFLICT;
			goto out_refuse;
		}
		replacing = 1;
		nch--;
	}
	if (nch >= (int)app->max_members) {
		code = RTR_E_CHANNEL_FULL;
		goto out_refuse;
	}

	/* a PENDING member: it receives nothing until its path token comes back */
	ma.app_index = app->app_index;
	ma.channel_hash = chash;
	ma.role = j.role;
	ma.ep.family = p->family;
	ma.ep.port_id = p->port_id;
	ma.ep.vlan = p->vlan;
	ma.ep.udp_port = p->src_port;
	memcpy(ma.ep.mac, p->src_mac, 6);
	memcpy(ma.ep.ip, p->src_ip, 16);
	memcpy(ma.ep.local_ip, p->dst_ip, 16);
	ma.token_expire = tok.expires_at;
	for (i = 0; i < RTR_N_PRIV_EXPIRE; i++)
		ma.priv_expire[i] = tok.priv_expires_at[i + 1];
	if (RAND_bytes((uint8_t *)&ma.path_token, sizeof(ma.path_token)) != 1) {
		code = RTR_E_BUSY;
		goto out_refuse;
	}
	rc = ctld_dp_call(d, RTR_MSG_MEMBER_ADD, &ma, sizeof(ma), &r);
	if (rc < 0) {
		ctld_log(d, "join: dataplane refused the member: %d", rc);
		code = rc == -ENOSPC ? RTR_E_QUOTA : RTR_E_BUSY;
		goto out_refuse;
	}
	memset(&m, 0, sizeof(m));
	m.handle = ((struct rtr_reply_member_add *)r.body)->handle;
	m.member_id = ((struct rtr_reply_member_add *)r.body)->member_id;
	m.app_index = app->app_index;
	m.channel_hash = chash;
	snprintf(m.channel, sizeof(m.channel), "%s", j.channel);
	m.uid = j.uid;
	m.role = j.role;
	m.state = RTR_MS_PENDING;
	m.uid_bound = tok.uid[0] != '\0';
	m.privs = ma.privs;
	m.ep = ma.ep;
	m.token_expire = ma.token_expire;
	memcpy(m.priv_expire, ma.priv_expire, sizeof(m.priv_expire));
	m.path_token = ma.path_token;
	m.join_ms = j.h.counter;
	if (ctld_store_put_member(d, &m) < 0) {
		struct rtr_msg_member_del del = { m.handle };

		ctld_dp_call(d, RTR_MSG_MEMBER_DEL, &del, sizeof(del), &r);
		code = RTR_E_BUSY;
		goto out_refuse;
	}

	{
		struct rtr_hdr h = {
			.magic = RTR_MAGIC, .version = RTR_VERSION, .type = RTR_T_JOIN_ACK,
			.app_index = app->app_index, .channel_hash = chash,
			.member_id = m.member_id, .payload_len = ACK_BODY_LEN,
			.counter = j.h.counter,
		};
		uint8_t *b = ack + RTR_HDR_LEN;

		rtr_hdr_encode(ack, &h);
		b[0] = 0;
		rtr_put32(b + 1, app->app_index);
		rtr_put64(b + 5, chash);
		rtr_put32(b + 13, m.member_id);
		rtr_put32(b + 17, KEEPALIVE_MS);
		rtr_put32(b + 21, (uint32_t)m.token_expire);
		rtr_put64(b + 25, m.path_token);
	}
	if (replacing)
		ctld_remove_member(d, old.handle, "replaced by a newer JOIN of its uid");
	join_accepted(d, app->app_index, j.uid, j.h.counter);
	ack_store(d, p, &j, ack, sizeof(ack));
	send_frame(d, p, ack, sizeof(ack));
	d->c.joins_ok++;
	{
		json_t *args;

		/* masked like the logs; the token itself never */
		ctld_mask(d, j.channel, j.channel_len, mask_ch);
		ctld_mask(d, &j.uid, sizeof(j.uid), mask_uid);
		args = json_pack("{s:i,s:s,s:s,s:I,s:i}", "app_index", app->app_index,
				 "channel", mask_ch, "uid", mask_uid,
				 "member_id", (json_int_t)m.member_id, "role", j.role);
		ctld_audit(d, -1, 0, "member.join", args, "ok");
		json_decref(args);
	}
	ctld_log(d, "join ok app=%u cert=%u channel=%s uid=%s from %s member=%08x",
		 app->app_index, matched,
		 ctld_mask(d, j.channel, j.channel_len, mask_ch),
		 ctld_mask(d, &j.uid, sizeof(j.uid), mask_uid),
		 ctld_mask(d, p->src_ip, 16, mask_src), m.member_id);
	goto out_wipe;

out_refuse:
	/* BUSY (like MALFORMED, VERSION, RATE_LIMITED) is never answered */
	if (code != RTR_E_BUSY)
		send_error(d, p, &j, (uint16_t)code);
	else
		d->c.joins_refused[code]++;
	ctld_audit_join_refused(d, code);
	{
		/* a flood of forged JOINs must not flood the journal: ten lines a
		 * second, then one line saying how many were left out */
		static uint64_t window_s, lines, suppressed;
		uint64_t s = now_ms / 1000;

		if (s != window_s) {
			if (suppressed)
				ctld_log(d, "join refused: %llu more refusals not logged",
					 (unsigned long long)suppressed);
			window_s = s;
			lines = suppressed = 0;
		}
		if (lines++ < 10)
			ctld_log(d, "join refused code=%d app=%s uid=%s from %s", code,
				 app != NULL && code != RTR_E_TOKEN_INVALID ? app->name : "-",
				 ctld_mask(d, &j.uid, sizeof(j.uid), mask_uid),
				 ctld_mask(d, p->src_ip, 16, mask_src));
		else
			suppressed++;
	}
out_wipe:
	OPENSSL_cleanse(&j, sizeof(j));
	OPENSSL_cleanse(&tok, sizeof(tok));
}
