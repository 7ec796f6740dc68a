/* SPDX-License-Identifier: BSD-3-Clause
 * AccessToken2 ("007") tokens. See token.h for the format and the rules.
 *
 * Buffers that hold a token's content (which, with its signature, is the
 * bearer credential) and key material are wiped before returning; zlib's
 * own state is allocated through z_alloc()/z_free(), which wipe on free.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "token.h"

/* Largest signing_info we can build: str(app_id) + 3 u32 + u16 + one RTC
 * service with four privileges, a 64-byte channel and a 10-digit uid. */
#define SI_BUILD_MAX	(2 + RTR_TOKEN_APP_ID_LEN + 12 + 2 + \
			 2 + 2 + RTR_TOKEN_PRIV_MAX * 6 + \
			 2 + RTR_TOKEN_CHANNEL_MAX + 2 + RTR_TOKEN_UID_MAX)
#define CONTENT_SIG_OFF	2
#define CONTENT_SI_OFF	(2 + RTR_TOKEN_SIG_LEN)
/* base64 payload of a token string at most RTR_TOKEN_STR_MAX long */
#define B64_MAX		((RTR_TOKEN_STR_MAX - 3) / 4 * 3)
#define ZBUF_MAX	512
#define Z_HDR		16	/* z_alloc() size header, keeps 16-byte alignment */

/* ---- small helpers ---------------------------------------------------- */

static int
is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

/* A NUL-terminated string of exactly n hex characters. */
static int
hex_string_ok(const char *s, size_t n)
{
	return s != NULL && strnlen(s, n + 1) == n && is_hex(s, n);
}

/* "" or canonical decimal (no leading zero), <= 10 digits, <= UINT32_MAX.
 * Returns 1 and sets *val (0 for ""), or 0. */
static int
uid_parse(const uint8_t *b, size_t n, uint32_t *val)
{
	uint64_t v = 0;
	size_t i;

	*val = 0;
	if (n == 0)
		return 1;
	if (n > RTR_TOKEN_UID_MAX || (b[0] == '0' && n > 1))
		return 0;
	for (i = 0; i < n; i++) {
		if (b[i] < '0' || b[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(b[i] - '0');
	}
	if (v > UINT32_MAX)
		return 0;
	*val = (uint32_t)v;
	return 1;
}

static voidpf
z_alloc(voidpf opaque, uInt items, uInt size)
{
	uint8_t *p;
	size_t n;

	(void)opaque;
	if (size != 0 && items > (SIZE_MAX - Z_HDR) / size)
		return Z_NULL;
	n = (size_t)items * size;
	p = malloc(n + Z_HDR);
	if (p == NULL)
		return Z_NULL;
	memcpy(p, &n, sizeof(n));
	return p + Z_HDR;
}

static void
z_free(voidpf opaque, voidpf addr)
{
	uint8_t *p;
	size_t n;

	(void)opaque;
	if (addr == Z_NULL)
		return;
	p = (uint8_t *)addr - Z_HDR;
	memcpy(&n, p, sizeof(n));
	OPENSSL_cleanse(addr, n);
	free(p);
}

/* ---- signature ---------------------------------------------------------- */

/* signature = HMAC(HMAC(u32le(salt), HMAC(u32le(issue_ts), cert)), si) */
static int
token_sign(const char *cert, uint32_t issue_ts, uint32_t salt,
	   const uint8_t *si, size_t si_len, uint8_t sig[RTR_TOKEN_SIG_LEN])
{
	uint8_t k1[32], k2[32], key[4];
	unsigned int len;
	int ret = -EIO;

	key[0] = issue_ts & 0xff;
	key[1] = (issue_ts >> 8) & 0xff;
	key[2] = (issue_ts >> 16) & 0xff;
	key[3] = issue_ts >> 24;
	len = sizeof(k1);
	if (HMAC(EVP_sha256(), key, sizeof(key), (const uint8_t *)cert,
		 RTR_TOKEN_CERT_LEN, k1, &len) == NULL || len != sizeof(k1))
		goto out;
	key[0] = salt & 0xff;
	key[1] = (salt >> 8) & 0xff;
	key[2] = (salt >> 16) & 0xff;
	key[3] = salt >> 24;
	len = sizeof(k2);
	if (HMAC(EVP_sha256(), key, sizeof(key), k1, sizeof(k1), k2, &len) == NULL ||
	    len != sizeof(k2))
		goto out;
	len = RTR_TOKEN_SIG_LEN;
	if (HMAC(EVP_sha256(), k2, sizeof(k2), si, si_len, sig, &len) == NULL ||
	    len != RTR_TOKEN_SIG_LEN)
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	if (ret != 0)
		OPENSSL_cleanse(sig, RTR_TOKEN_SIG_LEN);
	return ret;
}

/* ---- build -------------------------------------------------------------- */

struct wr {
	uint8_t *p;
	size_t cap;
	size_t off;
	int err;
};

static void
wr_bytes(struct wr *w, const void *b, size_t n)
{
	if (w->err || n > w->cap - w->off) {
		w->err = 1;
		return;
	}
	memcpy(w->p + w->off, b, n);
	w->off += n;
}

static void
wr_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = { v & 0xff, v >> 8 };

	wr_bytes(w, b, sizeof(b));
}

static void
wr_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };

	wr_bytes(w, b, sizeof(b));
}

static void
wr_str(struct wr *w, const void *b, size_t n)
{
	if (n > UINT16_MAX) {
		w->err = 1;
		return;
	}
	wr_u16(w, (uint16_t)n);
	wr_bytes(w, b, n);
}

/* zlib.compress() of the reference builder: zlib wrapper, level 6. */
static int
z_compress(const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
	z_stream zs;
	int ret;

	memset(&zs, 0, sizeof(zs));
	zs.zalloc = z_alloc;
	zs.zfree = z_free;
	if (deflateInit(&zs, Z_DEFAULT_COMPRESSION) != Z_OK)
		return -EIO;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = out;
	zs.avail_out = (uInt)*out_len;
	ret = deflate(&zs, Z_FINISH);
	*out_len = *out_len - zs.avail_out;
	deflateEnd(&zs);
	return ret == Z_STREAM_END ? 0 : -EIO;
}

int
rtr_token_build(const struct rtr_token *t, const char *app_cert, char *out, size_t outlen)
{
	uint8_t si[SI_BUILD_MAX], content[CONTENT_SI_OFF + SI_BUILD_MAX];
	uint8_t z[ZBUF_MAX];
	size_t uid_len, z_len, b64_len;
	struct wr w;
	uint32_t uid_val;
	unsigned int p, n_priv = 0;
	int ret;

	if (t == NULL || out == NULL || !hex_string_ok(app_cert, RTR_TOKEN_CERT_LEN) ||
	    !hex_string_ok(t->app_id, RTR_TOKEN_APP_ID_LEN) ||
	    t->service != RTR_TOKEN_SERVICE_RTC ||
	    (t->priv_mask & ~RTR_TOKEN_PRIV_ALL_MASK) != 0 ||
	    t->channel_len > RTR_TOKEN_CHANNEL_MAX ||
	    memchr(t->channel, '\0', t->channel_len) != NULL)
		return -EINVAL;
	uid_len = strnlen(t->uid, sizeof(t->uid));
	if (uid_len == sizeof(t->uid) ||
	    !uid_parse((const uint8_t *)t->uid, uid_len, &uid_val))
		return -EINVAL;
	for (p = 1; p <= RTR_TOKEN_PRIV_MAX; p++)
		n_priv += !!(t->priv_mask & RTR_TOKEN_PRIV_BIT(p));

	w = (struct wr){ .p = si, .cap = sizeof(si) };
	wr_str(&w, t->app_id, RTR_TOKEN_APP_ID_LEN);
	wr_u32(&w, t->issue_ts);
	wr_u32(&w, t->expire);
	wr_u32(&w, t->salt);
	wr_u16(&w, 1);			/* n_services */
	wr_u16(&w, RTR_TOKEN_SERVICE_RTC);
	wr_u16(&w, (uint16_t)n_priv);
	for (p = 1; p <= RTR_TOKEN_PRIV_MAX; p++) {
		if (!(t->priv_mask & RTR_TOKEN_PRIV_BIT(p)))
			continue;
		wr_u16(&w, (uint16_t)p);
		wr_u32(&w, t->priv_expire[p]);
	}
	wr_str(&w, t->channel, t->channel_len);
	wr_str(&w, t->uid, uid_len);
	if (w.err) {
		ret = -EIO;
		goto out;
	}

	content[0] = RTR_TOKEN_SIG_LEN;
	content[1] = 0;
	ret = token_sign(app_cert, t->issue_ts, t->salt, si, w.off,
			 content + CONTENT_SIG_OFF);
	if (ret != 0)
		goto out;
	memcpy(content + CONTENT_SI_OFF, si, w.off);

	z_len = sizeof(z);
	ret = z_compress(content, CONTENT_SI_OFF + w.off, z, &z_len);
	if (ret != 0)
		goto out;
	b64_len = (z_len + 2) / 3 * 4;
	if (outlen < 3 + b64_len + 1) {
		ret = -ENOSPC;
		goto out;
	}
	memcpy(out, RTR_TOKEN_VERSION, 3);
	if (EVP_EncodeBlock((uint8_t *)out + 3, z, (int)z_len) != (int)b64_len) {
		OPENSSL_cleanse(out, outlen);
		ret = -EIO;
		goto out;
	}
	out[3 + b64_len] = '\0';
	ret = 0;
out:
	OPENSSL_cleanse(si, sizeof(si));
	OPENSSL_cleanse(content, sizeof(content));
	OPENSSL_cleanse(z, sizeof(z));
	return ret;
}

/* ---- decode ------------------------------------------------------------- */

static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict standard base64 with padding; canonical (unused bits zero).
 * EVP_DecodeBlock() counts padding as zero bytes and skips blanks, so the
 * alphabet is checked here and the true length comes from the '=' count. */
static int
b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t pad = 0, i, len;

	if (n == 0 || n % 4 != 0)
		return -EINVAL;
	if (in[n - 1] == '=')
		pad++;
	if (in[n - 2] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (b64_val((unsigned char)in[i]) < 0)
			return -EINVAL;
	if (pad == 2 && (b64_val((unsigned char)in[n - 3]) & 0x0f) != 0)
		return -EINVAL;
	if (pad == 1 && (b64_val((unsigned char)in[n - 2]) & 0x03) != 0)
		return -EINVAL;
	len = n / 4 * 3;
	if (len > cap)
		return -EINVAL;
	if (EVP_DecodeBlock(out, (const uint8_t *)in, (int)n) != (int)len)
		return -EINVAL;
	*out_len = len - pad;
	return 0;
}

/* Inflate into the fixed content buffer; never more than its size. */
static int
z_inflate(const uint8_t *in, size_t in_len, uint8_t out[RTR_TOKEN_CONTENT_MAX],
	  size_t *out_len)
{
	z_stream zs;
	int zret, ret;

	memset(&zs, 0, sizeof(zs));
	zs.zalloc = z_alloc;
	zs.zfree = z_free;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)in_len;
	if (inflateInit(&zs) != Z_OK)
		return -ENOMEM;
	zs.next_out = out;
	zs.avail_out = RTR_TOKEN_CONTENT_MAX;
	zret = inflate(&zs, Z_FINISH);
	if (zret == Z_STREAM_END)
		ret = zs.avail_in == 0 ? 0 : -EINVAL;	/* bytes after the stream */
	else if (zs.avail_out == 0)
		ret = -EMSGSIZE;
	else
		ret = -EINVAL;				/* corrupt or truncated */
	*out_len = RTR_TOKEN_CONTENT_MAX - zs.avail_out;
	inflateEnd(&zs);
	return ret;
}

struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static int
rd_bytes(struct rd *r, size_t n, const uint8_t **b)
{
	if (n > r->len - r->off)
		return -EBADMSG;
	*b = r->p + r->off;
	r->off += n;
	return 0;
}

static int
rd_u16(struct rd *r, uint16_t *v)
{
	const uint8_t *b;

	if (rd_bytes(r, 2, &b) != 0)
		return -EBADMSG;
	*v = (uint16_t)(b[0] | b[1] << 8);
	return 0;
}

static int
rd_u32(struct rd *r, uint32_t *v)
{
	const uint8_t *b;

	if (rd_bytes(r, 4, &b) != 0)
		return -EBADMSG;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	     (uint32_t)b[3] << 24;
	return 0;
}

static int
rd_str(struct rd *r, const uint8_t **b, uint16_t *n)
{
	if (rd_u16(r, n) != 0)
		return -EBADMSG;
	return rd_bytes(r, *n, b);
}

/* One RTC service body, after its type. */
static int
parse_rtc(struct rd *r, struct rtr_token *t)
{
	const uint8_t *b;
	uint16_t count, key, n, prev = 0, i;
	uint32_t val, uid_val;

	if (rd_u16(r, &count) != 0 || count > RTR_TOKEN_PRIV_MAX)
		return -EBADMSG;
	for (i = 0; i < count; i++) {
		if (rd_u16(r, &key) != 0 || rd_u32(r, &val) != 0)
			return -EBADMSG;
		/* keys 1..4, strictly increasing: sorted, no duplicates */
		if (key <= prev || key > RTR_TOKEN_PRIV_MAX)
			return -EBADMSG;
		prev = key;
		t->priv_mask |= RTR_TOKEN_PRIV_BIT(key);
		t->priv_expire[key] = val;
	}
	if (rd_str(r, &b, &n) != 0 || n > RTR_TOKEN_CHANNEL_MAX ||
	    memchr(b, '\0', n) != NULL)
		return -EBADMSG;
	memcpy(t->channel, b, n);
	t->channel[n] = '\0';
	t->channel_len = (uint8_t)n;
	if (rd_str(r, &b, &n) != 0 || !uid_parse(b, n, &uid_val))
		return -EBADMSG;
	memcpy(t->uid, b, n);
	t->uid[n] = '\0';
	return 0;
}

static int
parse_content(const uint8_t *c, size_t len, struct rtr_token *t)
{
	struct rd r = { .p = c, .len = len };
	const uint8_t *b;
	uint16_t n, n_services, type, i;
	int ret;

	memset(t, 0, sizeof(*t));
	if (rd_str(&r, &b, &n) != 0 || n != RTR_TOKEN_SIG_LEN)
		return -EBADMSG;
	if (rd_str(&r, &b, &n) != 0 || n != RTR_TOKEN_APP_ID_LEN ||
	    !is_hex((const char *)b, n))
		return -EBADMSG;
	memcpy(t->app_id, b, n);
	t->app_id[n] = '\0';
	if (rd_u32(&r, &t->issue_ts) != 0 || rd_u32(&r, &t->expire) != 0 ||
	    rd_u32(&r, &t->salt) != 0 || rd_u16(&r, &n_services) != 0)
		return -EBADMSG;
	if (n_services == 0)
		return -EBADMSG;
	for (i = 0; i < n_services; i++) {
		if (rd_u16(&r, &type) != 0)
			return -EBADMSG;
		/* another service's body has its own layout: cannot skip it */
		if (type != RTR_TOKEN_SERVICE_RTC)
			return -EPROTONOSUPPORT;
		if (t->service == RTR_TOKEN_SERVICE_RTC)
			return -EBADMSG;	/* a second RTC service */
		t->service = RTR_TOKEN_SERVICE_RTC;
		ret = parse_rtc(&r, t);
		if (ret != 0)
			return ret;
	}
	if (r.off != r.len)
		return -EBADMSG;		/* trailing bytes */
	return 0;
}

/* String -> content, parsed into t. The signature is content[2..34), the
 * signing_info content[34..*len). */
static int
token_decode(const char *s, struct rtr_token *t, uint8_t content[RTR_TOKEN_CONTENT_MAX],
	     size_t *len)
{
	uint8_t raw[B64_MAX];
	size_t n, raw_len = 0;
	int ret;

	n = strnlen(s, RTR_TOKEN_STR_MAX + 1);
	if (n > RTR_TOKEN_STR_MAX)
		return -E2BIG;
	if (n < 3 || memcmp(s, RTR_TOKEN_VERSION, 3) != 0)
		return -EINVAL;
	ret = b64_decode(s + 3, n - 3, raw, sizeof(raw), &raw_len);
	if (ret == 0)
		ret = z_inflate(raw, raw_len, content, len);
	if (ret == 0)
		ret = parse_content(content, *len, t);
	OPENSSL_cleanse(raw, sizeof(raw));
	return ret;
}

int
rtr_token_parse(const char *s, struct rtr_token *t, uint8_t sig[RTR_TOKEN_SIG_LEN],
		uint8_t *signing_info, size_t *si_len)
{
	uint8_t content[RTR_TOKEN_CONTENT_MAX];
	size_t len = 0;
	int ret;

	if (s == NULL || t == NULL || (signing_info != NULL && si_len == NULL))
		return -EINVAL;
	ret = token_decode(s, t, content, &len);
	if (ret != 0)
		goto out;
	if (signing_info != NULL) {
		if (*si_len < len - CONTENT_SI_OFF) {
			ret = -ENOSPC;
			goto out;
		}
		memcpy(signing_info, content + CONTENT_SI_OFF, len - CONTENT_SI_OFF);
		*si_len = len - CONTENT_SI_OFF;
	}
	if (sig != NULL)
		memcpy(sig, content + CONTENT_SIG_OFF, RTR_TOKEN_SIG_LEN);
out:
	if (ret != 0)
		memset(t, 0, sizeof(*t));
	OPENSSL_cleanse(content, sizeof(content));
	return ret;
}

/* ---- verify ------------------------------------------------------------- */

static int
token_check(struct rtr_token *t, const struct rtr_token_check *want, uint64_t now)
{
	uint64_t expires_at, e;
	uint32_t max_lifetime, uid_val;
	unsigned int p;

	if (strnlen(want->app_id, RTR_TOKEN_APP_ID_LEN + 1) != RTR_TOKEN_APP_ID_LEN ||
	    memcmp(t->app_id, want->app_id, RTR_TOKEN_APP_ID_LEN) != 0)
		return -RTR_TOKEN_E_APP_ID;
	if (want->channel_len != t->channel_len ||
	    (t->channel_len != 0 && memcmp(t->channel, want->channel, t->channel_len) != 0))
		return -RTR_TOKEN_E_CHANNEL;
	if (t->uid[0] != '\0') {
		/* validated by the parser */
		if (!uid_parse((const uint8_t *)t->uid, strlen(t->uid), &uid_val) ||
		    uid_val != want->uid)
			return -RTR_TOKEN_E_UID;
	}
	if (t->issue_ts > now && t->issue_ts - now > RTR_TOKEN_FUTURE_MAX)
		return -RTR_TOKEN_E_FUTURE;
	max_lifetime = want->max_lifetime ? want->max_lifetime : RTR_TOKEN_LIFETIME_DEFAULT;
	if (t->expire > max_lifetime)
		return -RTR_TOKEN_E_LIFETIME;
	expires_at = (uint64_t)t->issue_ts + t->expire;
	if (now >= expires_at)
		return -RTR_TOKEN_E_EXPIRED;
	if (!(t->priv_mask & RTR_TOKEN_PRIV_BIT(RTR_TOKEN_PRIV_JOIN)))
		return -RTR_TOKEN_E_NO_JOIN;

	t->expires_at = expires_at;
	for (p = 1; p <= RTR_TOKEN_PRIV_MAX; p++) {
		if (!(t->priv_mask & RTR_TOKEN_PRIV_BIT(p)))
			continue;
		e = t->priv_expire[p] ? (uint64_t)t->issue_ts + t->priv_expire[p] : expires_at;
		t->priv_expires_at[p] = e < expires_at ? e : expires_at;
	}
	if (now >= t->priv_expires_at[RTR_TOKEN_PRIV_JOIN])
		return -RTR_TOKEN_E_JOIN_EXPIRED;
	return 0;
}

int
rtr_token_verify(const char *s, const char *const certs[], unsigned int n_certs,
		 const struct rtr_token_check *want, uint64_t now,
		 struct rtr_token *out, unsigned int *cert_idx)
{
	uint8_t content[RTR_TOKEN_CONTENT_MAX], mine[RTR_TOKEN_SIG_LEN];
	struct rtr_token t;
	unsigned int i, matched = 0;
	size_t len = 0;
	int ret, err = 0;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (s == NULL || certs == NULL || want == NULL || out == NULL ||
	    want->app_id == NULL || (want->channel == NULL && want->channel_len != 0) ||
	    n_certs == 0 || n_certs > RTR_TOKEN_MAX_CERTS)
		return -EINVAL;
	for (i = 0; i < n_certs; i++)
		if (!hex_string_ok(certs[i], RTR_TOKEN_CERT_LEN))
			return -EINVAL;

	ret = token_decode(s, &t, content, &len);
	if (ret != 0)
		goto out;

	/* Every certificate, no early exit: the work does not depend on
	 * which one (if any) matches. */
	for (i = 0; i < n_certs; i++) {
		err |= token_sign(certs[i], t.issue_ts, t.salt, content + CONTENT_SI_OFF,
				  len - CONTENT_SI_OFF, mine);
		matched |= (unsigned int)(CRYPTO_memcmp(mine, content + CONTENT_SIG_OFF,
							RTR_TOKEN_SIG_LEN) == 0) << i;
		OPENSSL_cleanse(mine, sizeof(mine));
	}
	if (err != 0) {
		ret = -EIO;
		goto out;
	}
	if (matched == 0) {
		ret = -RTR_TOKEN_E_SIGNATURE;
		goto out;
	}

	ret = token_check(&t, want, now);
	if (ret != 0)
		goto out;
	*out = t;
	if (cert_idx != NULL)
		*cert_idx = (unsigned int)__builtin_ctz(matched);
out:
	OPENSSL_cleanse(content, sizeof(content));
	OPENSSL_cleanse(&t, sizeof(t));
	return ret;
}

const char *
rtr_token_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case RTR_TOKEN_OK:
		return "ok";
	case RTR_TOKEN_E_TOO_LONG:
		return "token string too long";
	case RTR_TOKEN_E_ENCODING:
		return "bad token encoding (prefix, base64 or zlib) or bad argument";
	case RTR_TOKEN_E_TOO_BIG:
		return "token content too large when decompressed";
	case RTR_TOKEN_E_MALFORMED:
		return "malformed token content";
	case RTR_TOKEN_E_SERVICE:
		return "token carries a non-RTC service";
	case ENOSPC:
		return "output buffer too small";
	case ENOMEM:
		return "out of memory";
	case EIO:
		return "internal crypto or compression failure";
	case RTR_TOKEN_E_SIGNATURE:
		return "bad token signature";
	case RTR_TOKEN_E_APP_ID:
		return "token app id mismatch";
	case RTR_TOKEN_E_CHANNEL:
		return "token channel mismatch";
	case RTR_TOKEN_E_UID:
		return "token uid mismatch";
	case RTR_TOKEN_E_FUTURE:
		return "token issued in the future";
	case RTR_TOKEN_E_LIFETIME:
		return "token lifetime above the maximum";
	case RTR_TOKEN_E_EXPIRED:
		return "token expired";
	case RTR_TOKEN_E_NO_JOIN:
		return "token has no join privilege";
	case RTR_TOKEN_E_JOIN_EXPIRED:
		return "token join privilege expired";
	default:
		return "unknown token error";
	}
}
