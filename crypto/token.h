/* SPDX-License-Identifier: BSD-3-Clause
 * AccessToken2 ("007") tokens: build, parse and verify (DESIGN.md, "Tokens:
 * AccessToken2 compatible"). Control-plane code: OpenSSL and zlib, no EAL.
 *
 * Format, all integers little-endian:
 *
 *   token        = "007" base64(zlib(content))	(standard alphabet, padded)
 *   content      = str(signature) signing_info
 *   signing_info = str(app_id) u32 issue_ts u32 expire u32 salt
 *                  u16 n_services {service}
 *   service      = u16 type  map<u16 privilege, u32 expire>
 *                  str(channel) str(uid)		(layout of type 1, RTC)
 *   str          = u16 length, bytes
 *   map          = u16 count, count x (u16 key, u32 value), sorted by key
 *
 *   k1        = HMAC-SHA256(key = u32le(issue_ts), msg = app_certificate)
 *   k2        = HMAC-SHA256(key = u32le(salt), msg = k1)
 *   signature = HMAC-SHA256(key = k2, msg = signing_info)
 *
 * The certificate is used as its 32-character ASCII hex string, exactly as
 * issued. expire and the privilege expiries are seconds after issue_ts; a
 * privilege expire of 0 lasts as long as the token.
 *
 * Only service type 1 (RTC) is understood. The reference format gives every
 * other service (RTM, FPA, chat, ...) its own body layout, and nothing in
 * the encoding says how long a service body is, so a body we do not know
 * cannot be skipped reliably: a token carrying any non-RTC service is
 * refused with -RTR_TOKEN_E_SERVICE (-EPROTONOSUPPORT), even when it also
 * carries an RTC service (e.g. "RTC + RTM" tokens). Token servers must issue
 * RTC-only tokens. A token must carry exactly one RTC service.
 *
 * Strictness. rtr_token_parse() refuses, before any allocation-sized work:
 * strings longer than RTR_TOKEN_STR_MAX (512) characters; a prefix other
 * than "007"; base64 that is not canonical standard base64 with padding; a
 * zlib stream that does not end within RTR_TOKEN_CONTENT_MAX (1 KiB) of
 * output (inflated into a fixed buffer, so a decompression bomb costs at
 * most 1 KiB); and any content that is truncated, has trailing bytes, a
 * signature not 32 bytes, an app id not 32 hex characters, a privilege map
 * with more than 4 entries, keys outside 1..4, unsorted or duplicate keys,
 * a channel name longer than 64 bytes or containing a NUL byte, or a uid
 * that is not "" or canonical decimal (no leading zero, at most 10 digits,
 * at most UINT32_MAX).
 *
 * Errors. Every function returns 0 or a negative error code: -errno for
 * bad arguments and for the decoding layers, -RTR_TOKEN_E_* (enum
 * rtr_token_err, all above any errno value) for verification failures;
 * rtr_token_strerror() names both. The codes are for logs and counters
 * only: what a peer is told must not depend on them (security model, rule
 * 4), and neither a token nor a certificate may ever be logged (rule 9).
 * rtr_token_strerror() never includes token content.
 */
#ifndef RTR_TOKEN_H
#define RTR_TOKEN_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define RTR_TOKEN_VERSION	"007"
#define RTR_TOKEN_STR_MAX	512	/* token string, characters, without NUL */
#define RTR_TOKEN_CONTENT_MAX	1024	/* decompressed content, bytes */
#define RTR_TOKEN_SIG_LEN	32
#define RTR_TOKEN_APP_ID_LEN	32	/* hex characters */
#define RTR_TOKEN_CERT_LEN	32	/* hex characters */
#define RTR_TOKEN_CHANNEL_MAX	64	/* bytes */
#define RTR_TOKEN_UID_MAX	10	/* decimal digits */
#define RTR_TOKEN_MAX_CERTS	2	/* primary, secondary */
#define RTR_TOKEN_FUTURE_MAX	300	/* s an issue_ts may be ahead of now */
#define RTR_TOKEN_LIFETIME_DEFAULT 86400 /* s, when want->max_lifetime is 0 */

#define RTR_TOKEN_SERVICE_RTC	1

/* RTC privileges: index into priv_expire[], bit in priv_mask. */
enum rtr_token_priv {
	RTR_TOKEN_PRIV_JOIN = 1,
	RTR_TOKEN_PRIV_AUDIO = 2,
	RTR_TOKEN_PRIV_VIDEO = 3,
	RTR_TOKEN_PRIV_DATA = 4,
};
#define RTR_TOKEN_PRIV_MAX	4
#define RTR_TOKEN_PRIV_BIT(p)	(1u << (p))
#define RTR_TOKEN_PRIV_ALL_MASK	0x1eu	/* bits 1..4 */

/* Verification errors, returned negated. Values start above any errno so
 * that one int carries either kind. */
enum rtr_token_err {
	RTR_TOKEN_OK = 0,
	/* decoding (rtr_token_parse), also returned by rtr_token_verify */
	RTR_TOKEN_E_TOO_LONG = E2BIG,		/* string > 512 characters */
	RTR_TOKEN_E_ENCODING = EINVAL,		/* prefix, base64 or zlib (or bad argument) */
	RTR_TOKEN_E_TOO_BIG = EMSGSIZE,		/* content > 1 KiB decompressed */
	RTR_TOKEN_E_MALFORMED = EBADMSG,	/* content layout */
	RTR_TOKEN_E_SERVICE = EPROTONOSUPPORT,	/* a non-RTC service */
	/* verification, in the order rtr_token_verify() checks */
	RTR_TOKEN_E_SIGNATURE = 0x1000,		/* no certificate signs it */
	RTR_TOKEN_E_APP_ID,			/* app id differs */
	RTR_TOKEN_E_CHANNEL,			/* channel differs */
	RTR_TOKEN_E_UID,			/* uid differs (token uid not "") */
	RTR_TOKEN_E_FUTURE,			/* issue_ts > now + 300 s */
	RTR_TOKEN_E_LIFETIME,			/* expire > the app's maximum */
	RTR_TOKEN_E_EXPIRED,			/* now >= issue_ts + expire */
	RTR_TOKEN_E_NO_JOIN,			/* no join privilege */
	RTR_TOKEN_E_JOIN_EXPIRED,		/* join privilege expired */
};

/* A token's fields. Strings are NUL-terminated; channel may also be read
 * as channel_len bytes (it never contains a NUL). */
struct rtr_token {
	char app_id[RTR_TOKEN_APP_ID_LEN + 1];
	uint32_t issue_ts;		/* unix s */
	uint32_t expire;		/* s after issue_ts */
	uint32_t salt;
	uint16_t service;		/* RTR_TOKEN_SERVICE_RTC */
	uint8_t priv_mask;		/* RTR_TOKEN_PRIV_BIT(p): privilege p present */
	uint8_t channel_len;
	uint32_t priv_expire[RTR_TOKEN_PRIV_MAX + 1]; /* [p], s after issue_ts;
						       * 0: as long as the token */
	char channel[RTR_TOKEN_CHANNEL_MAX + 1];
	char uid[RTR_TOKEN_UID_MAX + 1];	/* "" (any uid) or decimal */
	/* Filled by rtr_token_verify() only, absolute unix s: */
	uint64_t expires_at;		/* issue_ts + expire */
	uint64_t priv_expires_at[RTR_TOKEN_PRIV_MAX + 1]; /* [p]: 0 if absent,
					 * else issue_ts + priv_expire[p] (the
					 * token's if 0), capped at expires_at */
};

/* What the caller expects of a token (from the JOIN and the app table). */
struct rtr_token_check {
	const char *app_id;		/* RTR_TOKEN_APP_ID_LEN characters */
	const char *channel;		/* channel_len bytes, compared exactly */
	size_t channel_len;
	uint32_t uid;			/* the JOIN uid */
	uint32_t max_lifetime;		/* s; 0: RTR_TOKEN_LIFETIME_DEFAULT */
};

/*
 * Build a token string from t (app_id, issue_ts, expire, salt, service,
 * priv_mask, priv_expire[], channel/channel_len, uid) signed with app_cert
 * (RTR_TOKEN_CERT_LEN hex characters). The output, NUL-terminated, is
 * byte-identical to the reference builder's (zlib level 6). Privileges
 * are written in key order.
 *
 * Returns 0, -EINVAL for a field the format or this library refuses (app
 * id or certificate not 32 hex characters, service not RTC, mask bits
 * outside 1..4, channel longer than 64 bytes or with a NUL, uid not ""
 * or canonical decimal), -ENOSPC if outlen is too small (RTR_TOKEN_STR_MAX
 * + 1 always suffices), -EIO if OpenSSL or zlib fail.
 */
int rtr_token_build(const struct rtr_token *t, const char *app_cert,
		    char *out, size_t outlen);

/*
 * Decode a token string s (NUL-terminated; at most RTR_TOKEN_STR_MAX + 1
 * bytes of it are read) into t, without checking its signature. Any of
 * sig, signing_info may be NULL; if signing_info is given, *si_len is its
 * capacity on entry (RTR_TOKEN_CONTENT_MAX suffices) and the signing_info
 * length on return. t->expires_at and t->priv_expires_at[] are zeroed.
 *
 * Returns 0, -E2BIG (string too long), -EINVAL (bad argument, prefix,
 * base64 or zlib stream), -EMSGSIZE (content does not fit in 1 KiB),
 * -EBADMSG (malformed content), -EPROTONOSUPPORT (non-RTC service),
 * -ENOSPC (signing_info buffer too small).
 */
int rtr_token_parse(const char *s, struct rtr_token *t, uint8_t sig[RTR_TOKEN_SIG_LEN],
		    uint8_t *signing_info, size_t *si_len);

/*
 * Verify a token string s for a JOIN described by want at time now (unix
 * s) and fill out. certs[0..n_certs-1] are the app's certificates, primary
 * first (1 <= n_certs <= RTR_TOKEN_MAX_CERTS); for an unknown app the
 * caller passes a dummy certificate so that the work done, and the error,
 * are those of a forged token.
 *
 * After decoding (errors as rtr_token_parse()), the checks run in this
 * order and the first failure is returned, negated:
 *   RTR_TOKEN_E_SIGNATURE	the signature is computed with every
 *				certificate and compared in constant time
 *				(CRYPTO_memcmp) against each, with no early
 *				exit, so timing does not tell which matched;
 *   RTR_TOKEN_E_APP_ID		app id != want->app_id (exact bytes);
 *   RTR_TOKEN_E_CHANNEL	channel != want->channel (exact bytes);
 *   RTR_TOKEN_E_UID		uid neither "" nor want->uid;
 *   RTR_TOKEN_E_FUTURE		issue_ts > now + RTR_TOKEN_FUTURE_MAX;
 *   RTR_TOKEN_E_LIFETIME	expire > want->max_lifetime (or 24 h);
 *   RTR_TOKEN_E_EXPIRED	now >= issue_ts + expire (64-bit);
 *   RTR_TOKEN_E_NO_JOIN	no join privilege;
 *   RTR_TOKEN_E_JOIN_EXPIRED	now >= the join privilege's expiry.
 *
 * On success returns 0, fills *out including expires_at and
 * priv_expires_at[], and, if cert_idx is not NULL, sets *cert_idx to the
 * index of the matching certificate (0 primary, 1 secondary; the lowest
 * if several match). On any error *out is zeroed and *cert_idx is left
 * alone. Returns -EINVAL for bad arguments (NULL pointers, n_certs out of
 * range, a certificate not 32 hex characters). Key material (k1, k2, the
 * computed signatures) is wiped before returning.
 */
int rtr_token_verify(const char *s, const char *const certs[], unsigned int n_certs,
		     const struct rtr_token_check *want, uint64_t now,
		     struct rtr_token *out, unsigned int *cert_idx);

/* A constant string naming an error code returned above (either sign). */
const char *rtr_token_strerror(int err);

#endif /* RTR_TOKEN_H */
