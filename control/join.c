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
#include "noise.h"

#define JOIN_SKEW_MS		30000
#define KEEPALIVE_MS		1000
#define ACK_BODY_LEN		33
#define ACK_ENC_BODY_LEN	(1 + RTR_NOISE_OVERHEAD + ACK_BODY_LEN)	/* 82 */
#define REKEY_MAC_LEN		32
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
	uint8_t has_mac;		/* a rekey JOIN's MAC is present */
	uint8_t rekey_mac[REKEY_MAC_LEN];
	const uint8_t *msg;		/* suite 1, 2: Noise message 1 */
	size_t msg_len;
};

static int parse_fields(const uint8_t *b, const uint8_t *end, struct join_req *j);

/* Parse a JOIN: header and suite, then the fields (in clear with suite 0;
 * with a suite they are read once message 1 has been opened). Any
 * deviation is a silent drop. */
static int
parse_join(const uint8_t *f, size_t len, struct join_req *j)
{
	const uint8_t *b = f + RTR_HDR_LEN;

	if (len < RTR_JOIN_MIN_PAYLOAD)
		return -EBADMSG;
	rtr_hdr_decode(f, &j->h);
	if (j->h.type != RTR_T_JOIN || (size_t)j->h.payload_len + RTR_HDR_LEN != len)
		return -EBADMSG;
	j->suite = *b++;
	if (j->suite == RTR_SUITE_NONE)
		return parse_fields(b, f + len, j);
	if (j->suite != RTR_SUITE_AES128GCM && j->suite != RTR_SUITE_AES256GCM)
		return -EBADMSG;
	j->msg = b;
	j->msg_len = (size_t)(f + len - b);
	return 0;
}

/* The JOIN fields (protocol.md 13.1), in clear or out of message 1. */
static int
parse_fields(const uint8_t *b, const uint8_t *end, struct join_req *j)
{
	uint16_t n;

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
	b += 5;
	/* a rekey JOIN (a suite and the member's id) carries its MAC next */
	if (j->suite != RTR_SUITE_NONE && j->h.member_id != 0) {
		if (end - b < REKEY_MAC_LEN)
			return -EBADMSG;
		memcpy(j->rekey_mac, b, REKEY_MAC_LEN);
		j->has_mac = 1;
	}
	return 0;
}

/* ---- sessions of encrypted members (memory only) ---------------------- */

struct ctld_sess *
ctld_sess_get(struct ctld *d, uint64_t handle)
{
	uint32_t slot = (uint32_t)handle;

	if (handle == 0 || slot >= d->sess_n || d->sess[slot].handle != handle)
		return NULL;
	return &d->sess[slot];
}

int
ctld_sess_put(struct ctld *d, uint64_t handle, uint8_t suite, uint8_t phase,
	      const uint8_t rekey[32])
{
	uint32_t slot = (uint32_t)handle;
	struct ctld_sess *s;

	if (slot >= d->sess_n) {
		uint32_t n = d->sess_n ? d->sess_n : 1024;

		while (n <= slot)
			n *= 2;
		/* not realloc(): the old array holds keys and is wiped first */
		s = calloc(n, sizeof(*s));
		if (s == NULL)
			return -ENOMEM;
		if (d->sess != NULL) {
			memcpy(s, d->sess, d->sess_n * sizeof(*s));
			OPENSSL_cleanse(d->sess, d->sess_n * sizeof(*s));
			free(d->sess);
		}
		d->sess = s;
		d->sess_n = n;
	}
	s = &d->sess[slot];
	s->handle = handle;
	s->suite = suite;
	s->phase = phase;
	memcpy(s->rekey, rekey, sizeof(s->rekey));
	return 0;
}

void
ctld_sess_del(struct ctld *d, uint64_t handle)
{
	struct ctld_sess *s = ctld_sess_get(d, handle);

	if (s != NULL)
		OPENSSL_cleanse(s, sizeof(*s));
}

void
ctld_sess_clear(struct ctld *d)
{
	if (d->sess != NULL)
		OPENSSL_cleanse(d->sess, d->sess_n * sizeof(*d->sess));
	free(d->sess);
	d->sess = NULL;
	d->sess_n = 0;
}

/*
 * The JOIN_ACK (protocol.md 13.2): in clear with suite 0; with a suite the
 * 33-byte body is sealed in Noise message 2. Returns its length, or < 0.
 */
static int
ack_build(uint8_t *out, const struct join_req *j, struct rtr_noise_state *ns,
	  uint32_t app_index, uint64_t chash, uint32_t member_id, uint64_t expires,
	  uint64_t path_token)
{
	struct rtr_hdr h = {
		.magic = RTR_MAGIC, .version = RTR_VERSION, .type = RTR_T_JOIN_ACK,
		.app_index = app_index, .channel_hash = chash, .member_id = member_id,
		.payload_len = ACK_BODY_LEN, .counter = j->h.counter,
	};
	uint8_t body[ACK_BODY_LEN];
	ssize_t n;

	body[0] = 0;
	rtr_put32(body + 1, app_index);
	rtr_put64(body + 5, chash);
	rtr_put32(body + 13, member_id);
	rtr_put32(body + 17, KEEPALIVE_MS);
	rtr_put32(body + 21, (uint32_t)expires);
	rtr_put64(body + 25, path_token);
	if (j->suite == RTR_SUITE_NONE) {
		rtr_hdr_encode(out, &h);
		memcpy(out + RTR_HDR_LEN, body, ACK_BODY_LEN);
		return RTR_HDR_LEN + ACK_BODY_LEN;
	}
	h.flags = RTR_F_ENC;
	h.payload_len = ACK_ENC_BODY_LEN;
	rtr_hdr_encode(out, &h);
	out[RTR_HDR_LEN] = j->suite;
	n = rtr_noise_write_msg2(ns, body, sizeof(body), out + RTR_HDR_LEN + 1,
				 RTR_NOISE_OVERHEAD + ACK_BODY_LEN);
	OPENSSL_cleanse(body, sizeof(body));
	return n < 0 ? (int)n : RTR_HDR_LEN + ACK_ENC_BODY_LEN;
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

/*
 * A rekey JOIN (protocol.md 16.7), its token already verified: the member
 * must exist with this uid, channel, id and suite, and the MAC must be made
 * with its session's rekey key. New keys go into the member's idle phase.
 * Every failure is silent: the client falls back to a fresh JOIN.
 */
static void
join_rekey(struct ctld *d, const struct rtr_punt *p, const struct join_req *j,
	   const struct ctld_app *app, struct rtr_noise_state *ns)
{
	struct rtr_msg_member_rekey rk;
	struct rtr_noise_keys k;
	struct ctld_member m;
	struct ctld_sess *s;
	struct rtr_reply r;
	uint8_t in[2 * RTR_HDR_LEN], mac[32], ack[RTR_HDR_LEN + ACK_ENC_BODY_LEN];
	unsigned int maclen = sizeof(mac);
	uint64_t chash = ctld_channel_hash(d, app->app_index, j->channel, j->channel_len);
	int rc, len;

	memset(&k, 0, sizeof(k));
	memset(&rk, 0, sizeof(rk));
	if (ctld_store_find_member(d, app->app_index, chash, j->uid, &m) < 0 ||
	    m.member_id != j->h.member_id || m.suite != j->suite ||
	    (s = ctld_sess_get(d, m.handle)) == NULL)
		goto drop;
	memcpy(in, p->frame, RTR_HDR_LEN);
	memcpy(in + RTR_HDR_LEN, j->msg, RTR_NOISE_KEY_LEN);	/* the JOIN's e.pub */
	if (HMAC(EVP_sha256(), s->rekey, sizeof(s->rekey), in, sizeof(in), mac, &maclen) == NULL ||
	    CRYPTO_memcmp(mac, j->rekey_mac, sizeof(mac)) != 0)
		goto drop;
	if (rtr_noise_responder_keys(ns, j->suite, &k) < 0)
		goto drop;
	rk.handle = m.handle;
	rk.phase = s->phase ^ 1;
	memcpy(rk.rx_key, k.recv, k.key_len);
	memcpy(rk.tx_key, k.send, k.key_len);
	rc = ctld_dp_call(d, RTR_MSG_MEMBER_REKEY, &rk, sizeof(rk), &r);
	OPENSSL_cleanse(&rk, sizeof(rk));
	if (rc < 0) {
		/* -EBUSY: the previous rekey's overlap is not over; the client retries */
		ctld_log(d, "rekey of member %08x refused by the dataplane: %d", m.member_id, rc);
		goto drop;
	}
	s->phase ^= 1;
	memcpy(s->rekey, k.rekey, sizeof(s->rekey));
	len = ack_build(ack, j, ns, app->app_index, chash, m.member_id, m.token_expire,
			m.path_token);
	if (len < 0)
		goto drop;	/* the dataplane has the keys; the client's retry fails: it re-joins */
	join_accepted(d, app->app_index, j->uid, j->h.counter);
	ack_store(d, p, j, ack, (uint16_t)len);
	send_frame(d, p, ack, (uint16_t)len);
	d->c.joins_rekeyed++;
	{
		json_t *args = json_pack("{s:i,s:I,s:i}", "app_index", app->app_index,
					 "member_id", (json_int_t)m.member_id, "phase", s->phase);

		ctld_audit(d, -1, 0, "member.rekey", args, "ok");
		json_decref(args);
	}
	rtr_noise_keys_wipe(&k);
	return;
drop:
	rtr_noise_keys_wipe(&k);
	d->c.joins_dropped_rekey++;
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
	uint8_t ack[RTR_HDR_LEN + ACK_ENC_BODY_LEN];
	uint8_t plain[RTR_PUNT_FRAME_MAX];
	struct rtr_noise_state ns;
	struct rtr_noise_keys keys;
	uint64_t now_ms = ctld_now_ns() / 1000000ULL, chash;
	int rc, code = 0, nch, replacing, ack_len;

	memset(&j, 0, sizeof(j));
	memset(&ns, 0, sizeof(ns));
	memset(&keys, 0, sizeof(keys));
	memset(&ma, 0, sizeof(ma));
	memset(&tok, 0, sizeof(tok));
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
	/* with a suite, the fields are in message 1: the node's static key
	 * opens it, or the JOIN was not meant for this node (or was altered) */
	if (j.suite != RTR_SUITE_NONE) {
		uint8_t pro[RTR_NOISE_PROLOGUE_LEN];
		ssize_t n;

		rtr_noise_prologue(pro, j.suite, p->frame);
		n = rtr_noise_init_responder(&ns, pro, sizeof(pro), d->node_priv);
		if (n == 0)
			n = rtr_noise_read_msg1(&ns, j.msg, j.msg_len, plain, sizeof(plain));
		if (n < 0) {
			d->c.joins_dropped_handshake++;
			goto out_wipe;
		}
		if (parse_fields(plain, plain + n, &j) < 0) {
			d->c.joins_dropped_malformed++;
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
	if (j.has_mac) {
		/* a rekey of an existing member: nothing else of a JOIN applies */
		join_rekey(d, p, &j, app, &ns);
		goto out_wipe;
	}
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
	/* the app's policy; an app that is `off` takes no encrypted member */
	if ((app->enc == CTLD_ENC_REQUIRED && j.suite == RTR_SUITE_NONE) ||
	    (app->enc == CTLD_ENC_OFF && j.suite != RTR_SUITE_NONE)) {
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
	/* a channel's mode is its first member's: never mixed */
	if (nch > 0 && (ctld_store_count(d, "SELECT COUNT(*) FROM members WHERE app_index=?1"
					 " AND channel_hash=?2 AND suite!=0", app->app_index,
					 (int64_t)chash) > 0) != (j.suite != RTR_SUITE_NONE)) {
		code = RTR_E_ENC_REQUIRED;
		goto out_refuse;
	}
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
	if (j.suite != RTR_SUITE_NONE) {
		/* the keys message 2 will lead to, installed with the member */
		if (rtr_noise_responder_keys(&ns, j.suite, &keys) < 0) {
			code = RTR_E_BUSY;
			goto out_refuse;
		}
		ma.suite = j.suite;
		memcpy(ma.rx_key, keys.recv, keys.key_len);
		memcpy(ma.tx_key, keys.send, keys.key_len);
	}
	rc = ctld_dp_call(d, RTR_MSG_MEMBER_ADD, &ma, sizeof(ma), &r);
	OPENSSL_cleanse(ma.rx_key, sizeof(ma.rx_key));
	OPENSSL_cleanse(ma.tx_key, sizeof(ma.tx_key));
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
	m.suite = j.suite;
	if (ctld_store_put_member(d, &m) < 0 ||
	    (j.suite != RTR_SUITE_NONE &&
	     ctld_sess_put(d, m.handle, j.suite, 0, keys.rekey) < 0) ||
	    (ack_len = ack_build(ack, &j, &ns, app->app_index, chash, m.member_id,
				 m.token_expire, m.path_token)) < 0) {
		struct rtr_msg_member_del del = { m.handle };

		ctld_dp_call(d, RTR_MSG_MEMBER_DEL, &del, sizeof(del), &r);
		ctld_store_del_member(d, m.handle);
		code = RTR_E_BUSY;
		goto out_refuse;
	}

	if (replacing)
		ctld_remove_member(d, old.handle, "replaced by a newer JOIN of its uid");
	join_accepted(d, app->app_index, j.uid, j.h.counter);
	ack_store(d, p, &j, ack, (uint16_t)ack_len);
	send_frame(d, p, ack, (uint16_t)ack_len);
	d->c.joins_ok++;
	{
		json_t *args;

		/* masked like the logs; the token itself never */
		ctld_mask(d, j.channel, j.channel_len, mask_ch);
		ctld_mask(d, &j.uid, sizeof(j.uid), mask_uid);
		args = json_pack("{s:i,s:s,s:s,s:I,s:i,s:i}", "app_index", app->app_index,
				 "channel", mask_ch, "uid", mask_uid,
				 "member_id", (json_int_t)m.member_id, "role", j.role,
				 "suite", j.suite);
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
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(&ma, sizeof(ma));
	rtr_noise_keys_wipe(&keys);
	rtr_noise_wipe(&ns);
}
