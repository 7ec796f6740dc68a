/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for the AccessToken2 library (crypto/token.c).
 *
 * Known answers come from ../shared/vectors/accesstoken2.tsv (or the file
 * or directory named by $RTR_VECTORS). Malformed and re-signed contents are
 * made here by a small independent encoder (its own HMAC chain, zlib and
 * base64 calls), so that a test of one check cannot be passed by another:
 * tampered contents are re-compressed and re-encoded validly, crafted
 * layouts are correctly signed. Every test asserts exact error codes.
 *
 * Build: gcc -Icrypto tests/test_token.c crypto/token.c -lcmocka -lcrypto -lz
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "token.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_VECS	64
#define TOK_BUF		(RTR_TOKEN_STR_MAX + 1)
#define BIG_BUF		4096

#define APP_A		"970CA35de60c44645bbae8a215061b33"
#define CERT_A		"5CFd2fd1755d40ecb72977518be15d3b"
#define CERT_B		"0123456789abcdef0123456789abcdef"
#define CERT_DUMMY	"00000000000000000000000000000000"
#define T0		1700000000u

struct vec {
	char app_id[64];
	char cert[64];
	char channel[128];
	uint32_t uid;
	int pub;
	uint32_t expire;
	uint32_t issue_ts;
	uint32_t salt;
	uint32_t priv_expire;
	char token[1024];
};

static struct vec vecs[MAX_VECS];
static unsigned int n_vecs;

/* ---- vectors ------------------------------------------------------------ */

static FILE *
open_vectors(void)
{
	static const char *const paths[] = {
		"../shared/vectors/accesstoken2.tsv",
		"/work/shared/vectors/accesstoken2.tsv",
	};
	const char *env = getenv("RTR_VECTORS");
	char buf[1024];
	struct stat st;
	unsigned int i;
	FILE *f;

	if (env != NULL && env[0] != '\0') {
		if (stat(env, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(buf, sizeof(buf), "%s/accesstoken2.tsv", env);
			return fopen(buf, "r");
		}
		return fopen(env, "r");
	}
	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		f = fopen(paths[i], "r");
		if (f != NULL)
			return f;
	}
	return NULL;
}

static int
load_vectors(void **state)
{
	char line[2048], role[16];
	FILE *f;

	(void)state;
	f = open_vectors();
	if (f == NULL) {
		fprintf(stderr, "test_token: accesstoken2.tsv not found (set RTR_VECTORS)\n");
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct vec *v = &vecs[n_vecs];
		unsigned long uid;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (n_vecs == MAX_VECS)
			break;
		if (sscanf(line, "%63[^\t]\t%63[^\t]\t%127[^\t]\t%lu\t%15[^\t]\t"
			   "%u\t%u\t%u\t%u\t%1023[^\t\n]",
			   v->app_id, v->cert, v->channel, &uid, role, &v->expire,
			   &v->issue_ts, &v->salt, &v->priv_expire, v->token) != 10) {
			fprintf(stderr, "test_token: bad vector line: %s", line);
			fclose(f);
			return -1;
		}
		v->uid = (uint32_t)uid;
		v->pub = strcmp(role, "pub") == 0;
		n_vecs++;
	}
	fclose(f);
	return n_vecs >= 2 ? 0 : -1;
}

static void
vec_token(const struct vec *v, struct rtr_token *t)
{
	unsigned int p;

	memset(t, 0, sizeof(*t));
	strcpy(t->app_id, v->app_id);
	t->issue_ts = v->issue_ts;
	t->expire = v->expire;
	t->salt = v->salt;
	t->service = RTR_TOKEN_SERVICE_RTC;
	t->priv_mask = v->pub ? RTR_TOKEN_PRIV_ALL_MASK : RTR_TOKEN_PRIV_BIT(RTR_TOKEN_PRIV_JOIN);
	for (p = 1; p <= RTR_TOKEN_PRIV_MAX; p++)
		if (t->priv_mask & RTR_TOKEN_PRIV_BIT(p))
			t->priv_expire[p] = v->priv_expire;
	t->channel_len = (uint8_t)strlen(v->channel);
	memcpy(t->channel, v->channel, t->channel_len);
	if (v->uid != 0)
		snprintf(t->uid, sizeof(t->uid), "%u", v->uid);
}

static struct rtr_token_check
vec_check(const struct vec *v)
{
	struct rtr_token_check c = {
		.app_id = v->app_id,
		.channel = v->channel,
		.channel_len = strlen(v->channel),
		.uid = v->uid != 0 ? v->uid : 12345,
	};
	return c;
}

/* ---- an independent encoder --------------------------------------------- */

struct buf {
	uint8_t b[BIG_BUF];
	size_t len;
};

static void
put_u16(struct buf *b, uint16_t v)
{
	assert_true(b->len + 2 <= sizeof(b->b));
	b->b[b->len++] = v & 0xff;
	b->b[b->len++] = v >> 8;
}

static void
put_u32(struct buf *b, uint32_t v)
{
	put_u16(b, v & 0xffff);
	put_u16(b, v >> 16);
}

static void
put_bytes(struct buf *b, const void *p, size_t n)
{
	assert_true(b->len + n <= sizeof(b->b));
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

static void
put_str(struct buf *b, const char *s)
{
	put_u16(b, (uint16_t)strlen(s));
	put_bytes(b, s, strlen(s));
}

static void
le32(uint8_t k[4], uint32_t v)
{
	k[0] = v & 0xff;
	k[1] = (v >> 8) & 0xff;
	k[2] = (v >> 16) & 0xff;
	k[3] = v >> 24;
}

/* content = str(HMAC chain over si) + si */
static void
sign_content(const char *cert, uint32_t issue_ts, uint32_t salt,
	     const struct buf *si, struct buf *content)
{
	uint8_t k1[32], k2[32], sig[32], key[4];
	unsigned int len = 32;

	le32(key, issue_ts);
	assert_non_null(HMAC(EVP_sha256(), key, 4, (const uint8_t *)cert, strlen(cert), k1, &len));
	le32(key, salt);
	assert_non_null(HMAC(EVP_sha256(), key, 4, k1, 32, k2, &len));
	assert_non_null(HMAC(EVP_sha256(), k2, 32, si->b, si->len, sig, &len));
	content->len = 0;
	put_u16(content, 32);
	put_bytes(content, sig, 32);
	put_bytes(content, si->b, si->len);
}

/* "007" + base64(zlib(data)); returns the string length. */
static size_t
encode_raw(const uint8_t *z, size_t z_len, char *out, size_t cap)
{
	assert_true(3 + (z_len + 2) / 3 * 4 + 1 <= cap);
	memcpy(out, "007", 3);
	return 3 + (size_t)EVP_EncodeBlock((uint8_t *)out + 3, z, (int)z_len);
}

static size_t
encode_content(const uint8_t *c, size_t len, char *out, size_t cap)
{
	static uint8_t z[BIG_BUF];
	uLongf z_len = sizeof(z);

	assert_int_equal(compress2(z, &z_len, c, len, Z_DEFAULT_COMPRESSION), Z_OK);
	return encode_raw(z, z_len, out, cap);
}

static void
decode_content(const char *tok, struct buf *c)
{
	static uint8_t raw[BIG_BUF];
	size_t n = strlen(tok) - 3;
	uLongf len = sizeof(c->b);
	int r;

	assert_int_equal(memcmp(tok, "007", 3), 0);
	r = EVP_DecodeBlock(raw, (const uint8_t *)tok + 3, (int)n);
	assert_true(r > 0);
	while (n > 0 && tok[3 + n - 1] == '=') {
		n--;
		r--;
	}
	assert_int_equal(uncompress(c->b, &len, raw, (uLong)r), Z_OK);
	c->len = len;
}

/* A crafted signing_info, field by field. */
struct si_spec {
	const char *app_id;
	uint32_t issue_ts, expire, salt;
	unsigned int n_services;
	uint16_t types[3];
	unsigned int n_priv;
	uint16_t keys[8];
	uint32_t vals[8];
	uint16_t count_override;	/* 0: n_priv */
	const char *channel;
	const char *uid;
};

static void
build_si(const struct si_spec *s, struct buf *si)
{
	unsigned int i, j;

	si->len = 0;
	put_str(si, s->app_id);
	put_u32(si, s->issue_ts);
	put_u32(si, s->expire);
	put_u32(si, s->salt);
	put_u16(si, (uint16_t)s->n_services);
	for (i = 0; i < s->n_services; i++) {
		put_u16(si, s->types[i]);
		put_u16(si, s->count_override ? s->count_override : (uint16_t)s->n_priv);
		for (j = 0; j < s->n_priv; j++) {
			put_u16(si, s->keys[j]);
			put_u32(si, s->vals[j]);
		}
		put_str(si, s->channel);
		put_str(si, s->uid);
	}
}

static struct si_spec
default_spec(void)
{
	struct si_spec s = {
		.app_id = APP_A, .issue_ts = T0, .expire = 3600, .salt = 77,
		.n_services = 1, .types = { 1 },
		.n_priv = 2, .keys = { 1, 2 }, .vals = { 0, 0 },
		.channel = "lobby", .uid = "42",
	};
	return s;
}

static const struct rtr_token_check default_want = {
	.app_id = APP_A, .channel = "lobby", .channel_len = 5, .uid = 42,
};

/* Crafted, correctly signed token string of spec s. */
static void
craft(const struct si_spec *s, char *tok, size_t cap)
{
	static struct buf si, content;

	build_si(s, &si);
	sign_content(CERT_A, s->issue_ts, s->salt, &si, &content);
	encode_content(content.b, content.len, tok, cap);
}

static int
verify1(const char *tok, const struct rtr_token_check *want, uint64_t now,
	struct rtr_token *out)
{
	const char *certs[] = { CERT_A };
	unsigned int idx = 99;
	int ret;

	ret = rtr_token_verify(tok, certs, 1, want, now, out, &idx);
	if (ret == 0)
		assert_int_equal(idx, 0);
	else
		assert_int_equal(idx, 99);
	return ret;
}

static void
make_token(struct rtr_token *t, uint32_t issue_ts, uint32_t expire, uint8_t mask,
	   const char *channel, const char *uid)
{
	memset(t, 0, sizeof(*t));
	strcpy(t->app_id, APP_A);
	t->issue_ts = issue_ts;
	t->expire = expire;
	t->salt = 4242;
	t->service = RTR_TOKEN_SERVICE_RTC;
	t->priv_mask = mask;
	t->channel_len = (uint8_t)strlen(channel);
	memcpy(t->channel, channel, t->channel_len);
	strcpy(t->uid, uid);
}

static void
build_ok(const struct rtr_token *t, const char *cert, char *tok)
{
	assert_int_equal(rtr_token_build(t, cert, tok, TOK_BUF), 0);
}

/* Both entry points refuse s with err. */
static void
refuse(const char *s, int err)
{
	struct rtr_token t, out;
	int ret;

	memset(&t, 0xa5, sizeof(t));
	ret = rtr_token_parse(s, &t, NULL, NULL, NULL);
	assert_int_equal(ret, err);
	assert_int_equal(t.app_id[0], 0);	/* zeroed on error */
	assert_int_equal(verify1(s, &default_want, T0 + 1, &out), err);
}

/* ---- known answers ------------------------------------------------------ */

static void
test_vectors_build(void **state)
{
	char tok[TOK_BUF];
	struct rtr_token t;
	unsigned int i;
	size_t n;

	(void)state;
	for (i = 0; i < n_vecs; i++) {
		vec_token(&vecs[i], &t);
		assert_int_equal(rtr_token_build(&t, vecs[i].cert, tok, sizeof(tok)), 0);
		assert_string_equal(tok, vecs[i].token);
		/* the exact size is enough, one less is not */
		n = strlen(vecs[i].token);
		assert_int_equal(rtr_token_build(&t, vecs[i].cert, tok, n + 1), 0);
		assert_int_equal(rtr_token_build(&t, vecs[i].cert, tok, n), -ENOSPC);
	}
}

static void
test_vectors_parse(void **state)
{
	uint8_t sig[RTR_TOKEN_SIG_LEN], si[RTR_TOKEN_CONTENT_MAX];
	struct rtr_token t, want;
	struct buf c;
	size_t si_len;
	unsigned int i;

	(void)state;
	for (i = 0; i < n_vecs; i++) {
		vec_token(&vecs[i], &want);
		si_len = sizeof(si);
		assert_int_equal(rtr_token_parse(vecs[i].token, &t, sig, si, &si_len), 0);
		assert_memory_equal(&t, &want, sizeof(t));
		decode_content(vecs[i].token, &c);
		assert_int_equal(si_len, c.len - 34);
		assert_memory_equal(sig, c.b + 2, 32);
		assert_memory_equal(si, c.b + 34, si_len);
		/* the signing_info buffer must be large enough */
		si_len--;
		assert_int_equal(rtr_token_parse(vecs[i].token, &t, sig, si, &si_len), -ENOSPC);
	}
}

static void
test_vectors_verify(void **state)
{
	struct rtr_token_check want;
	struct rtr_token out;
	unsigned int i, p, idx;
	uint64_t exp;

	(void)state;
	for (i = 0; i < n_vecs; i++) {
		const struct vec *v = &vecs[i];
		const char *certs[] = { v->cert };

		want = vec_check(v);
		idx = 99;
		assert_int_equal(rtr_token_verify(v->token, certs, 1, &want,
						  (uint64_t)v->issue_ts + 1, &out, &idx), 0);
		assert_int_equal(idx, 0);
		assert_string_equal(out.app_id, v->app_id);
		assert_string_equal(out.channel, v->channel);
		assert_int_equal(out.expires_at, (uint64_t)v->issue_ts + v->expire);
		assert_int_equal(out.priv_expires_at[0], 0);
		for (p = 1; p <= RTR_TOKEN_PRIV_MAX; p++) {
			if (p > 1 && !v->pub) {
				assert_int_equal(out.priv_expires_at[p], 0);
				continue;
			}
			exp = v->priv_expire ? (uint64_t)v->issue_ts + v->priv_expire :
			      out.expires_at;
			if (exp > out.expires_at)
				exp = out.expires_at;
			assert_int_equal(out.priv_expires_at[p], exp);
		}
	}
}

/* ---- signature ---------------------------------------------------------- */

static void
test_tamper_any_byte(void **state)
{
	static const uint8_t flips[] = { 0x01, 0x80, 0xff };
	static char tok[BIG_BUF];
	struct rtr_token t, out;
	struct buf c, m;
	unsigned int i, f, by_sig, total;
	size_t pos;
	int pr;

	(void)state;
	for (i = 0; i < n_vecs; i++) {
		const struct vec *v = &vecs[i];
		struct rtr_token_check want = vec_check(v);
		const char *certs[] = { v->cert };

		decode_content(v->token, &c);
		/* untouched re-encoding verifies: only the tampering matters */
		encode_content(c.b, c.len, tok, sizeof(tok));
		assert_int_equal(rtr_token_verify(tok, certs, 1, &want, v->issue_ts + 1,
						  &out, NULL), 0);
		by_sig = total = 0;
		for (pos = 0; pos < c.len; pos++) {
			for (f = 0; f < ARRAY_SIZE(flips); f++) {
				m = c;
				m.b[pos] ^= flips[f];
				encode_content(m.b, m.len, tok, sizeof(tok));
				total++;
				pr = rtr_token_parse(tok, &t, NULL, NULL, NULL);
				assert_int_equal(rtr_token_verify(tok, certs, 1, &want,
								  v->issue_ts + 1, &out, NULL),
						 pr == 0 ? -RTR_TOKEN_E_SIGNATURE : pr);
				if (pr == 0) {
					by_sig++;
					continue;
				}
				/* a change of layout: a length, a key, a type, a
				 * character the parser refuses */
				assert_true(pr == -EBADMSG || pr == -EPROTONOSUPPORT);
				/* the signature, issue_ts, expire and salt are
				 * free-form: only the signature can catch them */
				assert_false((pos >= 2 && pos < 34) || (pos >= 68 && pos < 80));
			}
		}
		/* most bytes are free-form */
		assert_true(by_sig * 2 > total);
		assert_true(by_sig >= 3 * (32 + 12));
	}
}

static void
test_other_certificate(void **state)
{
	const char *a[] = { CERT_A }, *b[] = { CERT_B }, *ab[] = { CERT_A, CERT_B };
	const char *ba[] = { CERT_B, CERT_A }, *bb[] = { CERT_B, CERT_B };
	const char *dummy[] = { CERT_DUMMY }, *cert_lc[] = { "5cfd2fd1755d40ecb72977518be15d3b" };
	char tok[TOK_BUF];
	struct rtr_token t, out;
	unsigned int idx;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_B, tok);

	idx = 99;
	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(rtr_token_verify(tok, a, 1, &default_want, T0 + 1, &out, &idx),
			 -RTR_TOKEN_E_SIGNATURE);
	assert_int_equal(idx, 99);
	assert_int_equal(out.app_id[0], 0);
	assert_int_equal(out.expires_at, 0);
	assert_int_equal(rtr_token_verify(tok, dummy, 1, &default_want, T0 + 1, &out, &idx),
			 -RTR_TOKEN_E_SIGNATURE);
	assert_int_equal(rtr_token_verify(tok, b, 1, &default_want, T0 + 1, &out, &idx), 0);
	assert_int_equal(idx, 0);
	/* secondary certificate */
	assert_int_equal(rtr_token_verify(tok, ab, 2, &default_want, T0 + 1, &out, &idx), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(rtr_token_verify(tok, ba, 2, &default_want, T0 + 1, &out, &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(rtr_token_verify(tok, bb, 2, &default_want, T0 + 1, &out, &idx), 0);
	assert_int_equal(idx, 0);

	/* the certificate is used as issued: case matters */
	build_ok(&t, CERT_A, tok);
	assert_int_equal(rtr_token_verify(tok, cert_lc, 1, &default_want, T0 + 1, &out, NULL),
			 -RTR_TOKEN_E_SIGNATURE);
	assert_int_equal(rtr_token_verify(tok, a, 1, &default_want, T0 + 1, &out, NULL), 0);
}

static void
test_secondary_certificate_vectors(void **state)
{
	struct rtr_token_check want;
	struct rtr_token out;
	unsigned int i, idx;

	(void)state;
	for (i = 0; i < n_vecs; i++) {
		const char *certs[] = { CERT_B, vecs[i].cert };
		const char *wrong[] = { CERT_B, CERT_DUMMY };

		want = vec_check(&vecs[i]);
		idx = 99;
		assert_int_equal(rtr_token_verify(vecs[i].token, certs, 2, &want,
						  vecs[i].issue_ts + 1, &out, &idx), 0);
		assert_int_equal(idx, 1);
		idx = 99;
		assert_int_equal(rtr_token_verify(vecs[i].token, wrong, 2, &want,
						  vecs[i].issue_ts + 1, &out, &idx),
				 -RTR_TOKEN_E_SIGNATURE);
		assert_int_equal(idx, 99);
	}
}

/* ---- time --------------------------------------------------------------- */

static void
test_expiry_boundary(void **state)
{
	char tok[TOK_BUF];
	struct rtr_token t, out;
	const uint32_t big = 0xffffff00u;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, T0 + 3599, &out), 0);
	assert_int_equal(out.expires_at, (uint64_t)T0 + 3600);
	assert_int_equal(verify1(tok, &default_want, T0 + 3600, &out), -RTR_TOKEN_E_EXPIRED);
	assert_int_equal(verify1(tok, &default_want, T0 + 100000, &out), -RTR_TOKEN_E_EXPIRED);
	/* a clock a little behind the issuer's */
	assert_int_equal(verify1(tok, &default_want, T0 - 300, &out), 0);

	/* issue_ts + expire beyond 32 bits: 64-bit arithmetic */
	make_token(&t, big, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, (uint64_t)big + 3599, &out), 0);
	assert_int_equal(out.expires_at, (uint64_t)big + 3600);
	assert_true(out.expires_at > UINT32_MAX);
	assert_int_equal(verify1(tok, &default_want, (uint64_t)big + 3600, &out),
			 -RTR_TOKEN_E_EXPIRED);
	assert_int_equal(verify1(tok, &default_want, UINT64_MAX, &out), -RTR_TOKEN_E_EXPIRED);

	/* expire 0: never valid once issued */
	make_token(&t, T0, 0, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, T0, &out), -RTR_TOKEN_E_EXPIRED);
}

static void
test_privilege_expiry(void **state)
{
	char tok[TOK_BUF];
	struct rtr_token t, out;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	t.priv_expire[1] = 0;		/* as long as the token */
	t.priv_expire[2] = 600;
	t.priv_expire[3] = 7200;	/* beyond the token: capped */
	t.priv_expire[4] = 3599;
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, T0 + 1000, &out), 0);
	assert_int_equal(out.priv_mask, RTR_TOKEN_PRIV_ALL_MASK);
	assert_int_equal(out.priv_expire[2], 600);
	assert_int_equal(out.priv_expire[3], 7200);
	assert_int_equal(out.expires_at, T0 + 3600);
	assert_int_equal(out.priv_expires_at[0], 0);
	assert_int_equal(out.priv_expires_at[1], T0 + 3600);
	assert_int_equal(out.priv_expires_at[2], T0 + 600);
	assert_int_equal(out.priv_expires_at[3], T0 + 3600);
	assert_int_equal(out.priv_expires_at[4], T0 + 3599);

	/* absent privileges report 0 */
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_BIT(1) | RTR_TOKEN_PRIV_BIT(3), "lobby", "42");
	t.priv_expire[3] = 60;
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, T0 + 1, &out), 0);
	assert_int_equal(out.priv_mask, RTR_TOKEN_PRIV_BIT(1) | RTR_TOKEN_PRIV_BIT(3));
	assert_int_equal(out.priv_expires_at[1], T0 + 3600);
	assert_int_equal(out.priv_expires_at[2], 0);
	assert_int_equal(out.priv_expires_at[3], T0 + 60);
	assert_int_equal(out.priv_expires_at[4], 0);

	/* an expired join privilege refuses the token */
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	t.priv_expire[1] = 100;
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, T0 + 99, &out), 0);
	assert_int_equal(out.priv_expires_at[1], T0 + 100);
	assert_int_equal(verify1(tok, &default_want, T0 + 100, &out),
			 -RTR_TOKEN_E_JOIN_EXPIRED);
	/* an expired publish privilege does not */
	t.priv_expire[1] = 0;
	t.priv_expire[2] = 100;
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, T0 + 100, &out), 0);
	assert_int_equal(out.priv_expires_at[2], T0 + 100);
}

static void
test_future_issue(void **state)
{
	char tok[TOK_BUF];
	struct rtr_token t, out;
	const uint64_t now = T0;

	(void)state;
	make_token(&t, T0 + 301, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, now, &out), -RTR_TOKEN_E_FUTURE);
	assert_int_equal(verify1(tok, &default_want, now + 1, &out), 0);
	make_token(&t, T0 + 300, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, now, &out), 0);
	assert_int_equal(out.expires_at, T0 + 300 + 3600);
	make_token(&t, UINT32_MAX, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, 0, &out), -RTR_TOKEN_E_FUTURE);
}

static void
test_lifetime(void **state)
{
	struct rtr_token_check want = default_want;
	char tok[TOK_BUF];
	struct rtr_token t, out;

	(void)state;
	make_token(&t, T0, 86400, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
	make_token(&t, T0, 86401, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_LIFETIME);
	make_token(&t, T0, UINT32_MAX, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_LIFETIME);

	want.max_lifetime = 3600;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
	make_token(&t, T0, 3601, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_LIFETIME);
	want.max_lifetime = 7 * 86400;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
}

/* ---- encoding layers ---------------------------------------------------- */

static void
test_too_long(void **state)
{
	static char s[BIG_BUF];
	char tok[TOK_BUF];
	struct rtr_token t;

	(void)state;
	memcpy(s, "007", 3);
	memset(s + 3, 'A', 510);
	s[513] = '\0';
	refuse(s, -E2BIG);
	memset(s + 3, 'A', sizeof(s) - 4);
	s[sizeof(s) - 1] = '\0';
	refuse(s, -E2BIG);
	/* a valid token followed by junk up to 513 characters */
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	strcpy(s, tok);
	memset(s + strlen(tok), 'A', 513 - strlen(tok));
	s[513] = '\0';
	refuse(s, -E2BIG);
	/* 512 characters are read as base64: not too long, but invalid */
	s[512] = '\0';
	refuse(s, -EINVAL);
}

static void
test_bad_prefix(void **state)
{
	static const char *const prefixes[] = { "006", "008", "000", "7eJ", "  0", "O07" };
	char tok[TOK_BUF], s[TOK_BUF + 8];
	struct rtr_token t;
	unsigned int i;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	for (i = 0; i < ARRAY_SIZE(prefixes); i++) {
		strcpy(s, tok);
		memcpy(s, prefixes[i], 3);
		refuse(s, -EINVAL);
	}
	refuse("", -EINVAL);
	refuse("0", -EINVAL);
	refuse("00", -EINVAL);
	refuse("007", -EINVAL);		/* no payload */
	/* prefix without the version: base64 only */
	refuse(tok + 3, -EINVAL);
	/* an extra character before the base64 */
	snprintf(s, sizeof(s), "0007%s", tok + 3);
	refuse(s, -EINVAL);
}

/* The vector token with padding pad (0, 1 or 2 '='). */
static const char *
vec_with_pad(unsigned int pad)
{
	unsigned int i;
	size_t n;

	for (i = 0; i < n_vecs; i++) {
		n = strlen(vecs[i].token);
		if (pad == 0 && vecs[i].token[n - 1] != '=')
			return vecs[i].token;
		if (pad == 1 && vecs[i].token[n - 1] == '=' && vecs[i].token[n - 2] != '=')
			return vecs[i].token;
		if (pad == 2 && vecs[i].token[n - 2] == '=')
			return vecs[i].token;
	}
	return NULL;
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64v(char c)
{
	return (int)(strchr(b64_alphabet, c) - b64_alphabet);
}

static char
b64c(int v)
{
	return b64_alphabet[v];
}

static void
test_bad_base64(void **state)
{
	static const char bad[] = { '*', '-', '_', ' ', '\n', '.', '\x80', '=' };
	char s[TOK_BUF + 8], tok[TOK_BUF];
	struct rtr_token t, out;
	const char *v;
	unsigned int i, pad;
	size_t n;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	n = strlen(tok);
	/* an invalid character, at the start, in the middle, before the end */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		strcpy(s, tok);
		s[3] = bad[i];
		refuse(s, -EINVAL);
		strcpy(s, tok);
		s[n / 2] = bad[i];
		refuse(s, -EINVAL);
		strcpy(s, tok);
		s[n - 3] = bad[i];
		refuse(s, -EINVAL);
	}
	for (pad = 0; pad <= 2; pad++) {
		v = vec_with_pad(pad);
		assert_non_null(v);
		n = strlen(v);
		strcpy(s, v);
		assert_int_equal(rtr_token_parse(s, &out, NULL, NULL, NULL), 0);
		/* a missing or an extra '=' */
		if (pad > 0) {
			s[n - 1] = '\0';
			refuse(s, -EINVAL);
			strcpy(s, v);
			s[n - pad] = '\0';
			refuse(s, -EINVAL);
		}
		strcpy(s, v);
		strcat(s, "=");
		refuse(s, -EINVAL);
		strcpy(s, v);
		strcat(s, "====");
		refuse(s, -EINVAL);
		/* non-canonical: the unused bits of the last character set */
		if (pad > 0) {
			strcpy(s, v);
			assert_int_equal(b64v(s[n - pad - 1]) & (pad == 2 ? 0x0f : 0x03), 0);
			s[n - pad - 1] = b64c(b64v(s[n - pad - 1]) | 1);
			refuse(s, -EINVAL);
		}
	}
	/* three '=' */
	v = vec_with_pad(2);
	strcpy(s, v);
	n = strlen(s);
	s[n - 3] = '=';
	refuse(s, -EINVAL);
	/* a length that is not a multiple of 4 */
	strcpy(s, tok);
	strcat(s, "A");
	refuse(s, -EINVAL);
	strcpy(s, tok);
	strcat(s, "AA");
	refuse(s, -EINVAL);
	/* '=' inside the text */
	snprintf(s, sizeof(s), "007AA==%s", tok + 3);
	refuse(s, -EINVAL);
}

static void
test_bad_zlib(void **state)
{
	static uint8_t raw[BIG_BUF];
	char tok[TOK_BUF], s[TOK_BUF + 8];
	struct rtr_token t;
	uLongf len = sizeof(raw);
	struct buf c;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	decode_content(tok, &c);
	assert_int_equal(compress2(raw, &len, c.b, c.len, Z_DEFAULT_COMPRESSION), Z_OK);
	encode_raw(raw, len, s, sizeof(s));
	assert_string_equal(s, tok);
	/* truncated stream (no adler-32, or less) */
	encode_raw(raw, len - 1, s, sizeof(s));
	refuse(s, -EINVAL);
	encode_raw(raw, len - 4, s, sizeof(s));
	refuse(s, -EINVAL);
	encode_raw(raw, 2, s, sizeof(s));
	refuse(s, -EINVAL);
	/* bytes after the stream */
	raw[len] = 0;
	encode_raw(raw, len + 1, s, sizeof(s));
	refuse(s, -EINVAL);
	/* bad adler-32 */
	raw[len - 1] ^= 1;
	encode_raw(raw, len, s, sizeof(s));
	refuse(s, -EINVAL);
	raw[len - 1] ^= 1;
	/* bad header */
	raw[0] ^= 0x10;
	encode_raw(raw, len, s, sizeof(s));
	refuse(s, -EINVAL);
	raw[0] ^= 0x10;
	/* raw deflate and gzip are not the format */
	refuse("007AAAA", -EINVAL);
	encode_raw((const uint8_t *)"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00"
		   "\x00\x00\x00\x00\x00\x00\x00\x00", 20, s, sizeof(s));
	refuse(s, -EINVAL);
	encode_raw(raw + 2, len - 6, s, sizeof(s));
	refuse(s, -EINVAL);
}

static void
test_decompression_bomb(void **state)
{
	const size_t mib = 1 << 20;
	uint8_t *zeros, *z;
	char s[TOK_BUF + 8];
	uLongf z_len;
	size_t n;

	(void)state;
	zeros = calloc(1, mib);
	z = malloc(2 * compressBound(mib));
	assert_non_null(zeros);
	assert_non_null(z);

	/* 1 MiB of zeros: ~1 KiB of zlib, kept under 512 characters by
	 * sending the first 381 bytes (508 base64 characters) */
	z_len = 2 * compressBound(mib);
	assert_int_equal(compress2(z, &z_len, zeros, mib, Z_BEST_COMPRESSION), Z_OK);
	assert_true(z_len > 381);
	n = encode_raw(z, 381, s, sizeof(s));
	assert_true(n <= RTR_TOKEN_STR_MAX);
	refuse(s, -EMSGSIZE);

	/* a complete stream: 256 KiB of zeros fits in 512 characters */
	z_len = 2 * compressBound(mib);
	assert_int_equal(compress2(z, &z_len, zeros, mib / 4, Z_BEST_COMPRESSION), Z_OK);
	n = encode_raw(z, z_len, s, sizeof(s));
	assert_true(n <= RTR_TOKEN_STR_MAX);
	refuse(s, -EMSGSIZE);

	/* the cap is exactly 1 KiB: 1025 bytes are too many, 1024 inflate
	 * and are then refused as content (a zero-length signature) */
	z_len = 2 * compressBound(mib);
	assert_int_equal(compress2(z, &z_len, zeros, RTR_TOKEN_CONTENT_MAX + 1,
				   Z_DEFAULT_COMPRESSION), Z_OK);
	encode_raw(z, z_len, s, sizeof(s));
	refuse(s, -EMSGSIZE);
	z_len = 2 * compressBound(mib);
	assert_int_equal(compress2(z, &z_len, zeros, RTR_TOKEN_CONTENT_MAX,
				   Z_DEFAULT_COMPRESSION), Z_OK);
	encode_raw(z, z_len, s, sizeof(s));
	refuse(s, -EBADMSG);

	free(zeros);
	free(z);
}

/* ---- content layout ----------------------------------------------------- */

static void
test_truncated_and_trailing(void **state)
{
	static char tok[BIG_BUF];
	struct buf c, m;
	unsigned int i;
	size_t len;

	(void)state;
	for (i = 0; i < n_vecs; i++) {
		decode_content(vecs[i].token, &c);
		for (len = 0; len < c.len; len++) {
			encode_content(c.b, len, tok, sizeof(tok));
			refuse(tok, -EBADMSG);
		}
		/* one byte more, of any value */
		m = c;
		m.len++;
		m.b[c.len] = 0;
		encode_content(m.b, m.len, tok, sizeof(tok));
		refuse(tok, -EBADMSG);
		m.b[c.len] = 0xff;
		encode_content(m.b, m.len, tok, sizeof(tok));
		refuse(tok, -EBADMSG);
		/* a whole second copy of the content */
		memcpy(m.b + c.len, c.b, c.len);
		m.len = 2 * c.len;
		encode_content(m.b, m.len, tok, sizeof(tok));
		refuse(tok, -EBADMSG);
	}
}

/* Every crafted case is correctly signed, so the parser alone refuses. */
static void
test_map_order(void **state)
{
	char tok[BIG_BUF];
	struct rtr_token out;
	struct si_spec s;

	(void)state;
	/* control: the crafting itself verifies */
	s = default_spec();
	craft(&s, tok, sizeof(tok));
	assert_int_equal(verify1(tok, &default_want, T0 + 1, &out), 0);
	s.n_priv = 4;
	s.keys[0] = 1, s.keys[1] = 2, s.keys[2] = 3, s.keys[3] = 4;
	craft(&s, tok, sizeof(tok));
	assert_int_equal(verify1(tok, &default_want, T0 + 1, &out), 0);
	assert_int_equal(out.priv_mask, RTR_TOKEN_PRIV_ALL_MASK);

	/* unsorted */
	s = default_spec();
	s.keys[0] = 2, s.keys[1] = 1;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	s.n_priv = 4;
	s.keys[0] = 1, s.keys[1] = 3, s.keys[2] = 2, s.keys[3] = 4;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	/* duplicate keys */
	s = default_spec();
	s.keys[0] = 1, s.keys[1] = 1;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	/* keys outside 1..4 */
	s = default_spec();
	s.keys[0] = 0, s.keys[1] = 1;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	s.keys[0] = 1, s.keys[1] = 5;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	s.keys[0] = 1, s.keys[1] = 0xffff;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	/* too many entries (five, sorted apart from the extra) */
	s = default_spec();
	s.n_priv = 5;
	s.keys[0] = 1, s.keys[1] = 2, s.keys[2] = 3, s.keys[3] = 4, s.keys[4] = 5;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	/* a count larger than the entries present, and a huge one */
	s = default_spec();
	s.count_override = 3;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	s.count_override = 0xffff;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	/* an empty map parses; the token then lacks the join privilege */
	s = default_spec();
	s.n_priv = 0;
	craft(&s, tok, sizeof(tok));
	assert_int_equal(verify1(tok, &default_want, T0 + 1, &out), -RTR_TOKEN_E_NO_JOIN);
}

static void
test_malformed_fields(void **state)
{
	static const char *const bad_uids[] = {
		"12a", "-1", "+1", " 1", "1 ", "01", "00", "0042", "12345678901",
		"4294967296", "9999999999", "1.5", "0x10",
	};
	char tok[BIG_BUF], ch65[66], ch64[65];
	struct rtr_token_check want = default_want;
	struct rtr_token out;
	struct buf si, c;
	struct si_spec s;
	unsigned int i;

	(void)state;
	/* uid */
	for (i = 0; i < ARRAY_SIZE(bad_uids); i++) {
		s = default_spec();
		s.uid = bad_uids[i];
		craft(&s, tok, sizeof(tok));
		refuse(tok, -EBADMSG);
	}
	s = default_spec();
	s.uid = "4294967295";
	craft(&s, tok, sizeof(tok));
	want.uid = UINT32_MAX;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
	assert_string_equal(out.uid, "4294967295");
	s.uid = "0";		/* canonical: a literal uid 0 */
	craft(&s, tok, sizeof(tok));
	want.uid = 0;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
	want.uid = 42;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_UID);

	/* channel: 64 bytes ok, 65 not, no NUL */
	memset(ch64, 'c', 64);
	ch64[64] = '\0';
	memset(ch65, 'c', 65);
	ch65[65] = '\0';
	s = default_spec();
	s.channel = ch64;
	craft(&s, tok, sizeof(tok));
	want = default_want;
	want.channel = ch64;
	want.channel_len = 64;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
	assert_int_equal(out.channel_len, 64);
	assert_string_equal(out.channel, ch64);
	s.channel = ch65;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	s = default_spec();
	build_si(&s, &si);
	/* "lobby" -> "lo\0by" in place */
	for (i = 0; i + 5 <= si.len; i++)
		if (memcmp(si.b + i, "lobby", 5) == 0)
			si.b[i + 2] = '\0';
	sign_content(CERT_A, s.issue_ts, s.salt, &si, &c);
	encode_content(c.b, c.len, tok, sizeof(tok));
	refuse(tok, -EBADMSG);

	/* app id: 32 hex characters */
	s = default_spec();
	s.app_id = "970CA35de60c44645bbae8a215061b3";
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	s.app_id = "970CA35de60c44645bbae8a215061b333";
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	s.app_id = "970CA35de60c44645bbae8a215061b3g";
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	s.app_id = "";
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);

	/* signature length */
	s = default_spec();
	build_si(&s, &si);
	sign_content(CERT_A, s.issue_ts, s.salt, &si, &c);
	c.b[0] = 31;
	encode_content(c.b, c.len, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	c.b[0] = 33;
	encode_content(c.b, c.len, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	c.b[0] = 32;
	c.b[1] = 1;
	encode_content(c.b, c.len, tok, sizeof(tok));
	refuse(tok, -EBADMSG);

	/* services: none, two RTC, a non-RTC one, RTC then RTM */
	s = default_spec();
	s.n_services = 0;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	s.n_services = 2;
	s.types[0] = 1, s.types[1] = 1;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
	s.n_services = 1;
	s.types[0] = 2;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EPROTONOSUPPORT);
	s.types[0] = 0;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EPROTONOSUPPORT);
	s.n_services = 2;
	s.types[0] = 1, s.types[1] = 2;
	craft(&s, tok, sizeof(tok));
	refuse(tok, -EPROTONOSUPPORT);
	/* a count larger than the services present */
	s = default_spec();
	build_si(&s, &si);
	si.b[2 + 32 + 12] = 0xff;
	si.b[2 + 32 + 13] = 0xff;
	sign_content(CERT_A, s.issue_ts, s.salt, &si, &c);
	encode_content(c.b, c.len, tok, sizeof(tok));
	refuse(tok, -EBADMSG);
}

/* ---- identity ----------------------------------------------------------- */

static void
test_uid(void **state)
{
	struct rtr_token_check want = default_want;
	char tok[TOK_BUF];
	struct rtr_token t, out;
	unsigned int i;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
	want.uid = 43;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_UID);
	want.uid = 0;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_UID);
	want.uid = 42 + (1ull << 32) / 2;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_UID);

	/* "" matches any uid */
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "");
	build_ok(&t, CERT_A, tok);
	for (want.uid = 0; want.uid < 5; want.uid++)
		assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
	want.uid = UINT32_MAX;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
	assert_string_equal(out.uid, "");

	/* the vectors: a uid above INT32_MAX, and "" */
	for (i = 0; i < n_vecs; i++) {
		const char *certs[] = { vecs[i].cert };
		struct rtr_token_check w = vec_check(&vecs[i]);

		w.uid = vecs[i].uid;
		assert_int_equal(rtr_token_verify(vecs[i].token, certs, 1, &w,
						  vecs[i].issue_ts + 1, &out, NULL), 0);
		w.uid = vecs[i].uid + 1;
		assert_int_equal(rtr_token_verify(vecs[i].token, certs, 1, &w,
						  vecs[i].issue_ts + 1, &out, NULL),
				 vecs[i].uid == 0 ? 0 : -RTR_TOKEN_E_UID);
	}
}

static void
test_app_id(void **state)
{
	struct rtr_token_check want = default_want;
	char tok[TOK_BUF];
	struct rtr_token t, out;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	want.app_id = "970CA35de60c44645bbae8a215061b34";
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_APP_ID);
	want.app_id = "070CA35de60c44645bbae8a215061b33";
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_APP_ID);
	/* exact bytes: case matters */
	want.app_id = "970ca35de60c44645bbae8a215061b33";
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_APP_ID);
	want.app_id = "970CA35de60c44645bbae8a215061b3";
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_APP_ID);
	want.app_id = "970CA35de60c44645bbae8a215061b333";
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_APP_ID);
	want.app_id = "";
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_APP_ID);
	want.app_id = APP_A;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
}

static void
test_channel(void **state)
{
	static const char *const others[] = { "Lobby", "lobby ", "lobb", "lobbyx", " lobby", "" };
	struct rtr_token_check want = default_want;
	char tok[TOK_BUF];
	struct rtr_token t, out;
	unsigned int i;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	for (i = 0; i < ARRAY_SIZE(others); i++) {
		want.channel = others[i];
		want.channel_len = strlen(others[i]);
		assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_CHANNEL);
	}
	/* the length counts, not a NUL */
	want.channel = "lobby\0";
	want.channel_len = 6;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_CHANNEL);
	want.channel = "lobbyist";
	want.channel_len = 5;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
	assert_int_equal(out.channel_len, 5);
	assert_string_equal(out.channel, "lobby");

	/* an empty channel name is only equal to itself */
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "", "42");
	build_ok(&t, CERT_A, tok);
	want.channel = NULL;
	want.channel_len = 0;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), 0);
	want.channel = "lobby";
	want.channel_len = 5;
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_CHANNEL);
}

static void
test_no_join(void **state)
{
	char tok[TOK_BUF];
	struct rtr_token t, out;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK & ~RTR_TOKEN_PRIV_BIT(1),
		   "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, T0 + 1, &out), -RTR_TOKEN_E_NO_JOIN);
	make_token(&t, T0, 3600, 0, "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, T0 + 1, &out), -RTR_TOKEN_E_NO_JOIN);
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_BIT(1), "lobby", "42");
	build_ok(&t, CERT_A, tok);
	assert_int_equal(verify1(tok, &default_want, T0 + 1, &out), 0);
	assert_int_equal(out.priv_mask, RTR_TOKEN_PRIV_BIT(1));
}

/* With several faults, the first in the documented order is reported. */
static void
test_check_order(void **state)
{
	struct rtr_token_check want;
	const char *b[] = { CERT_B };
	char tok[TOK_BUF];
	struct rtr_token t, out;

	(void)state;
	/* expired (now far ahead), no join, wrong everything */
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_BIT(2), "lobby", "42");
	build_ok(&t, CERT_A, tok);
	want = default_want;
	want.app_id = CERT_B;
	want.channel = "x";
	want.channel_len = 1;
	want.uid = 7;
	want.max_lifetime = 10;
	assert_int_equal(rtr_token_verify(tok, b, 1, &want, T0 + 9999, &out, NULL),
			 -RTR_TOKEN_E_SIGNATURE);
	assert_int_equal(verify1(tok, &want, T0 + 9999, &out), -RTR_TOKEN_E_APP_ID);
	want.app_id = APP_A;
	assert_int_equal(verify1(tok, &want, T0 + 9999, &out), -RTR_TOKEN_E_CHANNEL);
	want.channel = "lobby";
	want.channel_len = 5;
	assert_int_equal(verify1(tok, &want, T0 + 9999, &out), -RTR_TOKEN_E_UID);
	want.uid = 42;
	assert_int_equal(verify1(tok, &want, T0 - 1000, &out), -RTR_TOKEN_E_FUTURE);
	assert_int_equal(verify1(tok, &want, T0 + 9999, &out), -RTR_TOKEN_E_LIFETIME);
	want.max_lifetime = 0;
	assert_int_equal(verify1(tok, &want, T0 + 9999, &out), -RTR_TOKEN_E_EXPIRED);
	assert_int_equal(verify1(tok, &want, T0 + 1, &out), -RTR_TOKEN_E_NO_JOIN);
}

/* ---- API ---------------------------------------------------------------- */

static void
test_round_trip(void **state)
{
	uint8_t sig[RTR_TOKEN_SIG_LEN];
	char tok[TOK_BUF];
	struct rtr_token t, p;
	unsigned int mask, i;

	(void)state;
	for (mask = 0; mask <= RTR_TOKEN_PRIV_ALL_MASK; mask += 2) {
		make_token(&t, T0 + mask, 100 + mask, (uint8_t)mask, "room #7/é", "4000000000");
		t.salt = 0xdeadbeef;
		t.priv_expire[1] = mask & 2 ? 11 : 0;
		t.priv_expire[2] = mask & 4 ? 22 : 0;
		t.priv_expire[3] = mask & 8 ? 33 : 0;
		t.priv_expire[4] = mask & 16 ? 0xffffffff : 0;
		build_ok(&t, CERT_B, tok);
		assert_int_equal(rtr_token_parse(tok, &p, sig, NULL, NULL), 0);
		assert_memory_equal(&p, &t, sizeof(t));
	}
	/* the largest token we can build stays well inside the limits */
	make_token(&t, UINT32_MAX, UINT32_MAX, RTR_TOKEN_PRIV_ALL_MASK, "", "4294967295");
	for (i = 0; i < RTR_TOKEN_CHANNEL_MAX; i++)
		t.channel[i] = (char)(0x80 + i * 7 % 127);	/* poorly compressible */
	t.channel_len = RTR_TOKEN_CHANNEL_MAX;
	t.salt = UINT32_MAX;
	t.priv_expire[1] = t.priv_expire[2] = t.priv_expire[3] = t.priv_expire[4] = UINT32_MAX;
	build_ok(&t, CERT_B, tok);
	assert_true(strlen(tok) < RTR_TOKEN_STR_MAX);
	assert_int_equal(rtr_token_parse(tok, &p, NULL, NULL, NULL), 0);
	assert_memory_equal(&p, &t, sizeof(t));
}

static void
test_bad_arguments(void **state)
{
	const char *a[] = { CERT_A }, *three[] = { CERT_A, CERT_A, CERT_A };
	const char *short_cert[] = { "5CFd2fd1755d40ecb72977518be15d3" };
	const char *long_cert[] = { "5CFd2fd1755d40ecb72977518be15d3bb" };
	const char *nonhex_cert[] = { "5CFd2fd1755d40ecb72977518be15d3x" };
	const char *null_cert[] = { NULL };
	struct rtr_token_check want = default_want;
	char tok[TOK_BUF], small[8];
	struct rtr_token t, bad, out;
	unsigned int idx = 99;

	(void)state;
	make_token(&t, T0, 3600, RTR_TOKEN_PRIV_ALL_MASK, "lobby", "42");
	build_ok(&t, CERT_A, tok);

	assert_int_equal(rtr_token_verify(NULL, a, 1, &want, T0, &out, &idx), -EINVAL);
	assert_int_equal(rtr_token_verify(tok, NULL, 1, &want, T0, &out, &idx), -EINVAL);
	assert_int_equal(rtr_token_verify(tok, a, 0, &want, T0, &out, &idx), -EINVAL);
	assert_int_equal(rtr_token_verify(tok, three, 3, &want, T0, &out, &idx), -EINVAL);
	assert_int_equal(rtr_token_verify(tok, a, 1, NULL, T0, &out, &idx), -EINVAL);
	assert_int_equal(rtr_token_verify(tok, a, 1, &want, T0, NULL, &idx), -EINVAL);
	assert_int_equal(rtr_token_verify(tok, short_cert, 1, &want, T0, &out, &idx), -EINVAL);
	assert_int_equal(rtr_token_verify(tok, long_cert, 1, &want, T0, &out, &idx), -EINVAL);
	assert_int_equal(rtr_token_verify(tok, nonhex_cert, 1, &want, T0, &out, &idx), -EINVAL);
	assert_int_equal(rtr_token_verify(tok, null_cert, 1, &want, T0, &out, &idx), -EINVAL);
	want.app_id = NULL;
	assert_int_equal(rtr_token_verify(tok, a, 1, &want, T0, &out, &idx), -EINVAL);
	want = default_want;
	want.channel = NULL;
	assert_int_equal(rtr_token_verify(tok, a, 1, &want, T0, &out, &idx), -EINVAL);
	assert_int_equal(idx, 99);
	/* cert_idx is optional */
	assert_int_equal(rtr_token_verify(tok, a, 1, &default_want, T0, &out, NULL), 0);

	assert_int_equal(rtr_token_parse(NULL, &out, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(rtr_token_parse(tok, NULL, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(rtr_token_parse(tok, &out, NULL, (uint8_t *)small, NULL), -EINVAL);

	assert_int_equal(rtr_token_build(NULL, CERT_A, tok, sizeof(tok)), -EINVAL);
	assert_int_equal(rtr_token_build(&t, NULL, tok, sizeof(tok)), -EINVAL);
	assert_int_equal(rtr_token_build(&t, CERT_A, NULL, sizeof(tok)), -EINVAL);
	assert_int_equal(rtr_token_build(&t, short_cert[0], tok, sizeof(tok)), -EINVAL);
	assert_int_equal(rtr_token_build(&t, nonhex_cert[0], tok, sizeof(tok)), -EINVAL);
	assert_int_equal(rtr_token_build(&t, CERT_A, small, sizeof(small)), -ENOSPC);
	bad = t;
	bad.app_id[31] = 'x';
	assert_int_equal(rtr_token_build(&bad, CERT_A, tok, sizeof(tok)), -EINVAL);
	bad = t;
	bad.app_id[31] = '\0';
	assert_int_equal(rtr_token_build(&bad, CERT_A, tok, sizeof(tok)), -EINVAL);
	bad = t;
	bad.service = 2;
	assert_int_equal(rtr_token_build(&bad, CERT_A, tok, sizeof(tok)), -EINVAL);
	bad = t;
	bad.priv_mask = 0x01;
	assert_int_equal(rtr_token_build(&bad, CERT_A, tok, sizeof(tok)), -EINVAL);
	bad = t;
	bad.priv_mask = 0x20;
	assert_int_equal(rtr_token_build(&bad, CERT_A, tok, sizeof(tok)), -EINVAL);
	bad = t;
	bad.channel_len = 65;
	assert_int_equal(rtr_token_build(&bad, CERT_A, tok, sizeof(tok)), -EINVAL);
	bad = t;
	bad.channel[1] = '\0';
	assert_int_equal(rtr_token_build(&bad, CERT_A, tok, sizeof(tok)), -EINVAL);
	bad = t;
	strcpy(bad.uid, "042");
	assert_int_equal(rtr_token_build(&bad, CERT_A, tok, sizeof(tok)), -EINVAL);
	bad = t;
	strcpy(bad.uid, "4294967296");
	assert_int_equal(rtr_token_build(&bad, CERT_A, tok, sizeof(tok)), -EINVAL);
	bad = t;
	memset(bad.uid, '1', sizeof(bad.uid));	/* no NUL */
	assert_int_equal(rtr_token_build(&bad, CERT_A, tok, sizeof(tok)), -EINVAL);
}

static void
test_strerror(void **state)
{
	static const int codes[] = {
		RTR_TOKEN_E_TOO_LONG, RTR_TOKEN_E_ENCODING, RTR_TOKEN_E_TOO_BIG,
		RTR_TOKEN_E_MALFORMED, RTR_TOKEN_E_SERVICE, ENOSPC, ENOMEM, EIO,
		RTR_TOKEN_E_SIGNATURE, RTR_TOKEN_E_APP_ID, RTR_TOKEN_E_CHANNEL,
		RTR_TOKEN_E_UID, RTR_TOKEN_E_FUTURE, RTR_TOKEN_E_LIFETIME,
		RTR_TOKEN_E_EXPIRED, RTR_TOKEN_E_NO_JOIN, RTR_TOKEN_E_JOIN_EXPIRED,
	};
	const char *unknown = rtr_token_strerror(-9999);
	unsigned int i, j;

	(void)state;
	assert_string_equal(rtr_token_strerror(0), "ok");
	for (i = 0; i < ARRAY_SIZE(codes); i++) {
		assert_true(codes[i] > 0);
		assert_ptr_equal(rtr_token_strerror(codes[i]), rtr_token_strerror(-codes[i]));
		assert_string_not_equal(rtr_token_strerror(-codes[i]), unknown);
		for (j = 0; j < i; j++) {
			assert_int_not_equal(codes[i], codes[j]);
			assert_string_not_equal(rtr_token_strerror(-codes[i]),
						rtr_token_strerror(-codes[j]));
		}
	}
	/* verification codes sit above every errno */
	assert_true(RTR_TOKEN_E_SIGNATURE > 4095);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_build),
		cmocka_unit_test(test_vectors_parse),
		cmocka_unit_test(test_vectors_verify),
		cmocka_unit_test(test_tamper_any_byte),
		cmocka_unit_test(test_other_certificate),
		cmocka_unit_test(test_secondary_certificate_vectors),
		cmocka_unit_test(test_expiry_boundary),
		cmocka_unit_test(test_privilege_expiry),
		cmocka_unit_test(test_future_issue),
		cmocka_unit_test(test_lifetime),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_bad_prefix),
		cmocka_unit_test(test_bad_base64),
		cmocka_unit_test(test_bad_zlib),
		cmocka_unit_test(test_decompression_bomb),
		cmocka_unit_test(test_truncated_and_trailing),
		cmocka_unit_test(test_map_order),
		cmocka_unit_test(test_malformed_fields),
		cmocka_unit_test(test_uid),
		cmocka_unit_test(test_app_id),
		cmocka_unit_test(test_channel),
		cmocka_unit_test(test_no_join),
		cmocka_unit_test(test_check_order),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, load_vectors, NULL);
}
