/* SPDX-License-Identifier: BSD-3-Clause
 * Noise_NK_25519_AESGCM_SHA256 handshake (Noise Protocol Framework rev. 34)
 * with OpenSSL libcrypto 3. See noise.h for the protocol, the API and the
 * transport key derivation.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "noise.h"

enum {
	ST_NONE = 0,		/* not initialised / wiped */
	ST_INIT,		/* initialised, no message yet */
	ST_MSG1,		/* message 1 written (initiator) / read (responder) */
	ST_DONE,		/* message 2 done: Split() allowed */
	ST_FAILED,		/* a message failed: dead */
};

#define K	RTR_NOISE_KEY_LEN
#define HL	RTR_NOISE_HASH_LEN

/* ---- primitives ---------------------------------------------------------- */

/* 1 if the n bytes at p are all zero; time independent of the contents. */
static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static int
x25519_pub(const uint8_t priv[K], uint8_t pub[K])
{
	EVP_PKEY *pk;
	size_t len = K;
	int ret = -EIO;

	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, K);
	if (pk == NULL)
		goto out;
	if (EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 && len == K)
		ret = 0;
out:
	EVP_PKEY_free(pk);	/* the EVP_PKEY wipes its private key */
	if (ret != 0) {
		OPENSSL_cleanse(pub, K);
		ERR_clear_error();
	}
	return ret;
}

/*
 * DH(priv, pub) = X25519(priv, pub) into out. An all-zero result (pub of
 * low order) is refused with -EINVAL; OpenSSL refuses it too (its derive
 * fails), which also maps to -EINVAL.
 */
static int
x25519_dh(const uint8_t priv[K], const uint8_t pub[K], uint8_t out[K])
{
	EVP_PKEY *sk = NULL, *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = K;
	int ret = -EIO;

	sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, K);
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, K);
	if (sk == NULL || pk == NULL)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, sk, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1)
		goto out;
	ret = -EINVAL;
	if (EVP_PKEY_derive_set_peer(ctx, pk) != 1)
		goto out;
	if (EVP_PKEY_derive(ctx, out, &len) != 1 || len != K)
		goto out;
	if (all_zero(out, K))
		goto out;
	ret = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(sk);
	if (ret != 0) {
		OPENSSL_cleanse(out, K);
		ERR_clear_error();
	}
	return ret;
}

/* out = HMAC-SHA256(key, a || b); b may be NULL with blen 0. */
static int
hmac2(const uint8_t *key, size_t klen, const uint8_t *a, size_t alen,
      const uint8_t *b, size_t blen, uint8_t out[HL])
{
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	static const uint8_t empty[1];
	size_t len = 0;
	int ret = -EIO;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		goto out;
	ctx = EVP_MAC_CTX_new(mac);
	if (ctx == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, klen ? key : empty, klen, params) != 1)
		goto out;
	if (alen && EVP_MAC_update(ctx, a, alen) != 1)
		goto out;
	if (blen && EVP_MAC_update(ctx, b, blen) != 1)
		goto out;
	if (EVP_MAC_final(ctx, out, &len, HL) != 1 || len != HL)
		goto out;
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);	/* cleanses the HMAC key schedule */
	EVP_MAC_free(mac);
	if (ret != 0) {
		OPENSSL_cleanse(out, HL);
		ERR_clear_error();
	}
	return ret;
}

/*
 * Noise HKDF (section 4.3) with two outputs:
 *   temp_key = HMAC(ck, ikm); o1 = HMAC(temp_key, 0x01);
 *   o2 = HMAC(temp_key, o1 || 0x02)
 * o1/o2 may alias ck.
 */
static int
noise_hkdf2(const uint8_t ck[HL], const uint8_t *ikm, size_t ikm_len,
	    uint8_t o1[HL], uint8_t o2[HL])
{
	static const uint8_t one = 0x01, two = 0x02;
	uint8_t tk[HL], t1[HL], t2[HL];
	int ret;

	ret = hmac2(ck, HL, ikm, ikm_len, NULL, 0, tk);
	if (ret == 0)
		ret = hmac2(tk, HL, &one, 1, NULL, 0, t1);
	if (ret == 0)
		ret = hmac2(tk, HL, t1, HL, &two, 1, t2);
	if (ret == 0) {
		memcpy(o1, t1, HL);
		memcpy(o2, t2, HL);
	}
	OPENSSL_cleanse(tk, sizeof(tk));
	OPENSSL_cleanse(t1, sizeof(t1));
	OPENSSL_cleanse(t2, sizeof(t2));
	return ret;
}

/*
 * RFC 5869 HKDF-SHA256 with an empty salt and L <= 32:
 *   PRK = HMAC-SHA256(key = "" , ikm); T(1) = HMAC-SHA256(PRK, info || 0x01)
 *   okm = T(1)[0 .. L-1]
 * (An empty HMAC key equals RFC 5869's default salt of 32 zero bytes, as
 * HMAC pads keys with zeros.)
 */
static int
hkdf_sha256_nosalt(const uint8_t *ikm, size_t ikm_len, const char *info,
		   uint8_t *okm, size_t l)
{
	static const uint8_t one = 0x01;
	uint8_t prk[HL], t[HL];
	int ret;

	if (l > HL)
		return -EINVAL;
	ret = hmac2(NULL, 0, ikm, ikm_len, NULL, 0, prk);
	if (ret == 0)
		ret = hmac2(prk, HL, (const uint8_t *)info, strlen(info), &one, 1, t);
	if (ret == 0)
		memcpy(okm, t, l);
	OPENSSL_cleanse(prk, sizeof(prk));
	OPENSSL_cleanse(t, sizeof(t));
	return ret;
}

/* AESGCM nonce: 32 bits of zeros, then n as 64-bit big-endian. */
static void
gcm_nonce(uint64_t n, uint8_t iv[12])
{
	int i;

	memset(iv, 0, 4);
	for (i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(n >> (56 - 8 * i));
}

/* out = AES-256-GCM(k, nonce(n), ad, pt) || tag; out holds ptlen + 16. */
static int
aead_seal(const uint8_t k[K], uint64_t n, const uint8_t ad[HL],
	  const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t iv[12];
	int outl, ret = -EIO;

	if (ptlen > RTR_NOISE_PAYLOAD_MAX)
		return -EMSGSIZE;
	gcm_nonce(n, iv);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		goto out;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k, iv) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &outl, ad, HL) != 1)
		goto out;
	if (ptlen > 0 && (EVP_EncryptUpdate(ctx, out, &outl, pt, (int)ptlen) != 1 ||
			  (size_t)outl != ptlen))
		goto out;
	if (EVP_EncryptFinal_ex(ctx, out + ptlen, &outl) != 1 || outl != 0)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, RTR_NOISE_TAG_LEN,
				out + ptlen) != 1)
		goto out;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);	/* cleanses the key schedule */
	if (ret != 0) {
		OPENSSL_cleanse(out, ptlen + RTR_NOISE_TAG_LEN);
		ERR_clear_error();
	}
	return ret;
}

/* pt = AES-256-GCM-Open(k, nonce(n), ad, ct || tag); -EBADMSG if forged. */
static int
aead_open(const uint8_t k[K], uint64_t n, const uint8_t ad[HL],
	  const uint8_t *ct, size_t ctlen, uint8_t *pt)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t iv[12], tag[RTR_NOISE_TAG_LEN], fin[RTR_NOISE_TAG_LEN];
	size_t ptlen;
	int outl, ret = -EIO;

	if (ctlen < RTR_NOISE_TAG_LEN)
		return -EBADMSG;
	ptlen = ctlen - RTR_NOISE_TAG_LEN;
	if (ptlen > RTR_NOISE_PAYLOAD_MAX)
		return -EBADMSG;
	memcpy(tag, ct + ptlen, sizeof(tag));
	gcm_nonce(n, iv);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		goto out;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k, iv) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &outl, ad, HL) != 1)
		goto out;
	if (ptlen > 0 && (EVP_DecryptUpdate(ctx, pt, &outl, ct, (int)ptlen) != 1 ||
			  (size_t)outl != ptlen))
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof(tag), tag) != 1)
		goto out;
	ret = -EBADMSG;
	if (EVP_DecryptFinal_ex(ctx, fin, &outl) != 1 || outl != 0)
		goto out;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (ret != 0) {
		if (pt != NULL)
			OPENSSL_cleanse(pt, ptlen);
		ERR_clear_error();
	}
	return ret;
}

/* ---- SymmetricState ------------------------------------------------------- */

/* h = SHA-256(h || data) */
static int
mix_hash(struct rtr_noise_state *st, const uint8_t *data, size_t len)
{
	EVP_MD_CTX *ctx;
	unsigned int olen = 0;
	int ret = -EIO;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -EIO;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, st->h, HL) == 1 &&
	    (len == 0 || EVP_DigestUpdate(ctx, data, len) == 1) &&
	    EVP_DigestFinal_ex(ctx, st->h, &olen) == 1 && olen == HL)
		ret = 0;
	EVP_MD_CTX_free(ctx);
	if (ret != 0)
		ERR_clear_error();
	return ret;
}

/* ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k) (HASHLEN = 32: no truncation) */
static int
mix_key(struct rtr_noise_state *st, const uint8_t ikm[K])
{
	int ret;

	ret = noise_hkdf2(st->ck, ikm, K, st->ck, st->k);
	if (ret != 0)
		return ret;
	st->has_k = 1;
	st->n = 0;
	return 0;
}

/* out = EncryptWithAd(h, p) (k is always set in NK); MixHash(out) */
static int
encrypt_and_hash(struct rtr_noise_state *st, const uint8_t *p, size_t len, uint8_t *out)
{
	int ret;

	if (!st->has_k || st->n == UINT64_MAX)
		return -EPROTO;
	ret = aead_seal(st->k, st->n, st->h, p, len, out);
	if (ret != 0)
		return ret;
	st->n++;
	return mix_hash(st, out, len + RTR_NOISE_TAG_LEN);
}

/* out = DecryptWithAd(h, c); MixHash(c) */
static int
decrypt_and_hash(struct rtr_noise_state *st, const uint8_t *c, size_t len, uint8_t *out)
{
	int ret;

	if (!st->has_k || st->n == UINT64_MAX)
		return -EPROTO;
	ret = aead_open(st->k, st->n, st->h, c, len, out);
	if (ret != 0)
		return ret;
	st->n++;
	return mix_hash(st, c, len);
}

/* ---- HandshakeState -------------------------------------------------------- */

/* A message failed: wipe everything, remember only that it failed. */
static void
fail(struct rtr_noise_state *st)
{
	uint8_t role = st->role;

	OPENSSL_cleanse(st, sizeof(*st));
	st->role = role;
	st->step = ST_FAILED;
}

/*
 * InitializeSymmetric(protocol_name): the name (28 bytes) fits HASHLEN, so
 * h = name zero-padded to 32 bytes; ck = h. Then MixHash(prologue) and the
 * NK pre-message "<- s": MixHash(rs).
 */
static int
init_common(struct rtr_noise_state *st, const uint8_t *prologue, size_t prologue_len)
{
	static const char name[] = RTR_NOISE_PROTOCOL_NAME;
	int ret;

	_Static_assert(sizeof(name) - 1 <= HL, "protocol name fits HASHLEN");
	memset(st->h, 0, HL);
	memcpy(st->h, name, sizeof(name) - 1);
	memcpy(st->ck, st->h, HL);
	st->has_k = 0;
	st->n = 0;
	ret = mix_hash(st, prologue, prologue_len);
	if (ret == 0)
		ret = mix_hash(st, st->rs, K);
	return ret;
}

int
rtr_noise_prologue(uint8_t out[RTR_NOISE_PROLOGUE_LEN], uint8_t suite,
		   const uint8_t hdr[RTR_NOISE_HDR_LEN])
{
	if (out == NULL || hdr == NULL)
		return -EINVAL;
	memcpy(out, RTR_NOISE_PROLOGUE_TAG, RTR_NOISE_PROLOGUE_TAG_LEN);
	out[RTR_NOISE_PROLOGUE_TAG_LEN] = suite;
	memcpy(out + RTR_NOISE_PROLOGUE_TAG_LEN + 1, hdr, RTR_NOISE_HDR_LEN);
	return RTR_NOISE_PROLOGUE_LEN;
}

int
rtr_noise_keygen(uint8_t priv[K], uint8_t pub[K])
{
	int ret;

	if (priv == NULL || pub == NULL)
		return -EINVAL;
	if (RAND_priv_bytes(priv, K) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	ret = x25519_pub(priv, pub);
	if (ret != 0)
		OPENSSL_cleanse(priv, K);
	return ret;
}

int
rtr_noise_pubkey(const uint8_t priv[K], uint8_t pub[K])
{
	if (priv == NULL || pub == NULL)
		return -EINVAL;
	return x25519_pub(priv, pub);
}

int
rtr_noise_init_initiator(struct rtr_noise_state *st, const uint8_t *prologue,
			 size_t prologue_len, const uint8_t server_static_pub[K])
{
	int ret;

	if (st == NULL || server_static_pub == NULL || (prologue == NULL && prologue_len))
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	memcpy(st->rs, server_static_pub, K);
	ret = init_common(st, prologue, prologue_len);
	if (ret != 0) {
		rtr_noise_wipe(st);
		return ret;
	}
	st->role = RTR_NOISE_INITIATOR;
	st->step = ST_INIT;
	return 0;
}

int
rtr_noise_init_responder(struct rtr_noise_state *st, const uint8_t *prologue,
			 size_t prologue_len, const uint8_t static_priv[K])
{
	int ret;

	if (st == NULL || static_priv == NULL || (prologue == NULL && prologue_len))
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	memcpy(st->s_priv, static_priv, K);
	ret = x25519_pub(st->s_priv, st->rs);
	if (ret == 0)
		ret = init_common(st, prologue, prologue_len);
	if (ret != 0) {
		rtr_noise_wipe(st);
		return ret;
	}
	st->role = RTR_NOISE_RESPONDER;
	st->step = ST_INIT;
	return 0;
}

int
rtr_noise_set_ephemeral(struct rtr_noise_state *st, const uint8_t priv[K])
{
	if (st == NULL || priv == NULL)
		return -EINVAL;
	if (!((st->role == RTR_NOISE_INITIATOR && st->step == ST_INIT) ||
	      (st->role == RTR_NOISE_RESPONDER &&
	       (st->step == ST_INIT || st->step == ST_MSG1))))
		return -EPROTO;
	memcpy(st->e_priv, priv, K);
	st->e_injected = 1;
	return 0;
}

/*
 * Draw this side's ephemeral key now, before its message is written, and
 * give its public key (a rekey JOIN authenticates e.pub inside the very
 * message that carries it). The write then uses this key.
 */
int
rtr_noise_draw_ephemeral(struct rtr_noise_state *st, uint8_t pub[K])
{
	if (st == NULL || pub == NULL)
		return -EINVAL;
	if (!((st->role == RTR_NOISE_INITIATOR && st->step == ST_INIT) ||
	      (st->role == RTR_NOISE_RESPONDER && st->step == ST_MSG1)))
		return -EPROTO;
	if (!st->e_injected) {
		if (RAND_priv_bytes(st->e_priv, K) != 1) {
			ERR_clear_error();
			return -EIO;
		}
		st->e_injected = 1;
	}
	return x25519_pub(st->e_priv, pub);
}

/* GENERATE_KEYPAIR() (or the injected key); write e.pub; MixHash(e.pub). */
static int
write_e(struct rtr_noise_state *st, uint8_t out[K])
{
	int ret;

	if (!st->e_injected && RAND_priv_bytes(st->e_priv, K) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	ret = x25519_pub(st->e_priv, st->e_pub);
	if (ret != 0)
		return ret;
	memcpy(out, st->e_pub, K);
	return mix_hash(st, st->e_pub, K);
}

/* "<token> e ; dh" then EncryptAndHash(payload): shared by both writes. */
static ssize_t
write_msg(struct rtr_noise_state *st, int role, int step, const uint8_t *payload,
	  size_t len, uint8_t *out, size_t outcap)
{
	uint8_t dh[K];
	int ret;

	if (st == NULL || out == NULL || (payload == NULL && len))
		return -EINVAL;
	if (st->role != role || st->step != step)
		return -EPROTO;
	if (len > RTR_NOISE_PAYLOAD_MAX)
		return -EMSGSIZE;
	if (outcap < len + RTR_NOISE_OVERHEAD)
		return -ENOSPC;

	ret = write_e(st, out);
	if (ret != 0)
		goto out;
	/* message 1: es = DH(e, rs); message 2: ee = DH(e, re) */
	ret = x25519_dh(st->e_priv, role == RTR_NOISE_INITIATOR ? st->rs : st->re, dh);
	if (ret != 0)
		goto out;
	ret = mix_key(st, dh);
	if (ret != 0)
		goto out;
	ret = encrypt_and_hash(st, payload, len, out + K);
out:
	OPENSSL_cleanse(dh, sizeof(dh));
	if (ret != 0) {
		OPENSSL_cleanse(out, len + RTR_NOISE_OVERHEAD);
		fail(st);
		return ret;
	}
	st->step++;
	return (ssize_t)(len + RTR_NOISE_OVERHEAD);
}

/* re = msg[0..31]; MixHash(re); MixKey(dh); DecryptAndHash(rest) */
static ssize_t
read_msg(struct rtr_noise_state *st, int role, int step, const uint8_t *msg,
	 size_t len, uint8_t *payload_out, size_t cap)
{
	uint8_t dh[K];
	size_t plen;
	int ret;

	if (st == NULL || msg == NULL || (payload_out == NULL && cap))
		return -EINVAL;
	if (st->role != role || st->step != step)
		return -EPROTO;
	if (len >= RTR_NOISE_OVERHEAD && len <= RTR_NOISE_MSG_MAX &&
	    cap < len - RTR_NOISE_OVERHEAD)
		return -ENOSPC;

	ret = -EBADMSG;
	if (len < RTR_NOISE_OVERHEAD || len > RTR_NOISE_MSG_MAX)
		goto out;
	plen = len - RTR_NOISE_OVERHEAD;
	memcpy(st->re, msg, K);
	ret = mix_hash(st, st->re, K);
	if (ret != 0)
		goto out;
	/* message 1 (responder): es = DH(s, re); message 2 (initiator): ee = DH(e, re) */
	ret = x25519_dh(role == RTR_NOISE_RESPONDER ? st->s_priv : st->e_priv, st->re, dh);
	if (ret != 0)
		goto out;
	ret = mix_key(st, dh);
	if (ret != 0)
		goto out;
	ret = decrypt_and_hash(st, msg + K, len - K, payload_out);
out:
	OPENSSL_cleanse(dh, sizeof(dh));
	if (ret != 0) {
		if (payload_out != NULL)
			OPENSSL_cleanse(payload_out, cap);
		fail(st);
		return ret;
	}
	st->step++;
	return (ssize_t)plen;
}

ssize_t
rtr_noise_write_msg1(struct rtr_noise_state *st, const uint8_t *payload, size_t len,
		     uint8_t *out, size_t outcap)
{
	return write_msg(st, RTR_NOISE_INITIATOR, ST_INIT, payload, len, out, outcap);
}

ssize_t
rtr_noise_read_msg1(struct rtr_noise_state *st, const uint8_t *msg, size_t len,
		    uint8_t *payload_out, size_t cap)
{
	return read_msg(st, RTR_NOISE_RESPONDER, ST_INIT, msg, len, payload_out, cap);
}

ssize_t
rtr_noise_write_msg2(struct rtr_noise_state *st, const uint8_t *payload, size_t len,
		     uint8_t *out, size_t outcap)
{
	return write_msg(st, RTR_NOISE_RESPONDER, ST_MSG1, payload, len, out, outcap);
}

/*
 * Responder, after message 1: the transport keys message 2 will lead to,
 * before it is written. The ephemeral key is drawn now (and used by the
 * write); "e, ee" run on a copy of the state, which is split and wiped.
 * Costs one X25519 more than waiting for the write.
 */
int
rtr_noise_responder_keys(struct rtr_noise_state *st, uint8_t suite, struct rtr_noise_keys *out)
{
	struct rtr_noise_state c;
	uint8_t epub[K], dh[K];
	int ret;

	if (out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return -EINVAL;
	if (st->role != RTR_NOISE_RESPONDER || st->step != ST_MSG1)
		return -EPROTO;
	ret = rtr_noise_draw_ephemeral(st, epub);
	if (ret != 0)
		return ret;
	memcpy(&c, st, sizeof(c));
	ret = write_e(&c, epub);
	if (ret == 0)
		ret = x25519_dh(c.e_priv, c.re, dh);
	if (ret == 0)
		ret = mix_key(&c, dh);
	if (ret == 0) {
		c.step = ST_DONE;
		ret = rtr_noise_split(&c, suite, out);
	}
	OPENSSL_cleanse(dh, sizeof(dh));
	OPENSSL_cleanse(&c, sizeof(c));
	return ret;
}

ssize_t
rtr_noise_read_msg2(struct rtr_noise_state *st, const uint8_t *msg, size_t len,
		    uint8_t *payload_out, size_t cap)
{
	return read_msg(st, RTR_NOISE_INITIATOR, ST_MSG1, msg, len, payload_out, cap);
}

/*
 * Split(): k1, k2 = HKDF(ck, zero-length, 2); k1 initiator->responder,
 * k2 responder->initiator. Suite 2 uses them as they are; suite 1 uses
 *   i2r = HKDF-SHA256(salt = "", ikm = k1,
 *                     info = "rtrelay/1 aes128gcm initiator->responder")[0..15]
 *   r2i = HKDF-SHA256(salt = "", ikm = k2,
 *                     info = "rtrelay/1 aes128gcm responder->initiator")[0..15]
 */
int
rtr_noise_split(const struct rtr_noise_state *st, uint8_t suite, struct rtr_noise_keys *out)
{
	static const uint8_t empty[1];
	uint8_t k1[K], k2[K], i2r[K], r2i[K];
	size_t kl;
	int ret;

	if (out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (st == NULL || (suite != RTR_NOISE_SUITE_AES128GCM &&
			   suite != RTR_NOISE_SUITE_AES256GCM))
		return -EINVAL;
	if (st->step != ST_DONE ||
	    (st->role != RTR_NOISE_INITIATOR && st->role != RTR_NOISE_RESPONDER))
		return -EPROTO;

	ret = noise_hkdf2(st->ck, empty, 0, k1, k2);
	if (ret != 0)
		goto out;
	if (suite == RTR_NOISE_SUITE_AES256GCM) {
		kl = 32;
		memcpy(i2r, k1, K);
		memcpy(r2i, k2, K);
	} else {
		kl = 16;
		memset(i2r, 0, K);
		memset(r2i, 0, K);
		ret = hkdf_sha256_nosalt(k1, K, RTR_NOISE_LABEL_I2R, i2r, kl);
		if (ret == 0)
			ret = hkdf_sha256_nosalt(k2, K, RTR_NOISE_LABEL_R2I, r2i, kl);
		if (ret != 0)
			goto out;
	}
	{
		uint8_t both[2 * K];

		memcpy(both, k1, K);
		memcpy(both + K, k2, K);
		ret = hkdf_sha256_nosalt(both, sizeof(both), RTR_NOISE_LABEL_REKEY,
					   out->rekey, K);
		OPENSSL_cleanse(both, sizeof(both));
		if (ret != 0)
			goto out;
	}
	out->suite = suite;
	out->key_len = (uint8_t)kl;
	if (st->role == RTR_NOISE_INITIATOR) {
		memcpy(out->send, i2r, K);
		memcpy(out->recv, r2i, K);
	} else {
		memcpy(out->send, r2i, K);
		memcpy(out->recv, i2r, K);
	}
	memcpy(out->h, st->h, HL);
out:
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(i2r, sizeof(i2r));
	OPENSSL_cleanse(r2i, sizeof(r2i));
	if (ret != 0)
		rtr_noise_keys_wipe(out);
	return ret;
}

int
rtr_noise_handshake_hash(const struct rtr_noise_state *st, uint8_t h[HL])
{
	if (st == NULL || h == NULL)
		return -EINVAL;
	if (st->step == ST_NONE || st->step == ST_FAILED)
		return -EPROTO;
	memcpy(h, st->h, HL);
	return 0;
}

void
rtr_noise_wipe(struct rtr_noise_state *st)
{
	if (st != NULL)
		OPENSSL_cleanse(st, sizeof(*st));
}

void
rtr_noise_keys_wipe(struct rtr_noise_keys *keys)
{
	if (keys != NULL)
		OPENSSL_cleanse(keys, sizeof(*keys));
}
