/* SPDX-License-Identifier: BSD-3-Clause
 * AES-GCM through ipsec-mb, with an OpenSSL EVP reference. See aead.h.
 *
 * rtr_aead_seal()/rtr_aead_open() and the bursts run per frame: no
 * allocation, no logging, no system calls. The _ref functions are for
 * tests and cross-checks only.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aead.h"

/* Ops submitted between two flushes of the job manager: bounds the stack
 * used for computed tags, and stays below IMB_MAX_JOBS. */
#define BURST_CHUNK	64

_Static_assert(BURST_CHUNK < IMB_MAX_JOBS, "burst chunk exceeds the job queue");
_Static_assert(_Alignof(struct rtr_aead_key) >= RTR_AEAD_KEY_ALIGN,
	       "expanded keys must be 64-byte aligned");

/* ---- helpers ------------------------------------------------------------ */

static inline bool
key_len_ok(unsigned int key_len)
{
	return key_len == RTR_AEAD_KEY_128 || key_len == RTR_AEAD_KEY_256;
}

/* k is installed, and was expanded for m's code path. */
static inline bool
key_usable(const IMB_MGR *m, const struct rtr_aead_key *k)
{
	return k != NULL && key_len_ok(k->key_len) && k->arch == m->used_arch;
}

/* The pointers a frame needs: data pointers only when there is data. */
static inline bool
args_ok(const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
	const uint8_t *in, size_t len, const uint8_t *out, const uint8_t *tag)
{
	return nonce != NULL && tag != NULL &&
	       (aad_len == 0 || aad != NULL) &&
	       (len == 0 || (in != NULL && out != NULL));
}

static inline void
wipe(void *p, size_t len)
{
	if (p != NULL && len != 0)
		OPENSSL_cleanse(p, len);
}

/* ---- manager ------------------------------------------------------------ */

IMB_MGR *
rtr_aead_mgr_new(void)
{
	IMB_ARCH arch = IMB_ARCH_NONE;
	IMB_MGR *m;

	m = alloc_mb_mgr(0);
	if (m == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	init_mb_mgr_auto(m, &arch);
	if (imb_get_errno(m) != 0 || arch == IMB_ARCH_NONE ||
	    m->gcm128_enc == NULL || m->gcm256_enc == NULL)
		goto out_free_mgr;
	/* A FIPS build runs self-tests at init; a failed one leaves the
	 * manager usable but untrustworthy. */
	if ((m->features & IMB_FEATURE_SELF_TEST) &&
	    !(m->features & IMB_FEATURE_SELF_TEST_PASS))
		goto out_free_mgr;
	return m;

out_free_mgr:
	free_mb_mgr(m);
	errno = ENOTSUP;
	return NULL;
}

void
rtr_aead_mgr_free(IMB_MGR *m)
{
	if (m != NULL)
		free_mb_mgr(m);
}

const char *
rtr_aead_mgr_arch(const IMB_MGR *m)
{
	const uint64_t vaes = IMB_FEATURE_VAES | IMB_FEATURE_VPCLMULQDQ;

	if (m == NULL)
		return "none";
	switch (m->used_arch) {
	case IMB_ARCH_AVX512:
		return (m->features & vaes) == vaes ? "avx512+vaes" : "avx512";
	case IMB_ARCH_AVX2:
		return "avx2";
	case IMB_ARCH_AVX:
		return "avx";
	case IMB_ARCH_SSE:
		return "sse";
	case IMB_ARCH_NOAESNI:
		return "noaesni";
	default:
		return "unknown";
	}
}

/* ---- keys --------------------------------------------------------------- */

int
rtr_aead_key_init(IMB_MGR *m, struct rtr_aead_key *k, const uint8_t *key,
		  unsigned int key_len)
{
	if (m == NULL || k == NULL || key == NULL || !key_len_ok(key_len))
		return -EINVAL;
	if ((uintptr_t)k & (RTR_AEAD_KEY_ALIGN - 1))
		return -EINVAL;

	/* The code paths fill different parts of the union of GHASH key
	 * powers: start from zero so no byte of an earlier key survives. */
	OPENSSL_cleanse(k, sizeof(*k));
	if (key_len == RTR_AEAD_KEY_128)
		IMB_AES128_GCM_PRE(m, key, &k->gdata);
	else
		IMB_AES256_GCM_PRE(m, key, &k->gdata);
	k->arch = m->used_arch;
	k->key_len = key_len;
	return 0;
}

void
rtr_aead_key_wipe(struct rtr_aead_key *k)
{
	if (k != NULL)
		OPENSSL_cleanse(k, sizeof(*k));
}

/* ---- single frames -------------------------------------------------------- */

int
rtr_aead_seal(IMB_MGR *m, const struct rtr_aead_key *k,
	      const uint8_t nonce[RTR_AEAD_NONCE_LEN],
	      const uint8_t *aad, size_t aad_len,
	      const uint8_t *pt, size_t len, uint8_t *ct,
	      uint8_t tag[RTR_AEAD_TAG_LEN])
{
	struct gcm_context_data ctx;

	if (m == NULL || !key_usable(m, k) ||
	    !args_ok(nonce, aad, aad_len, pt, len, ct, tag))
		return -EINVAL;

	if (k->key_len == RTR_AEAD_KEY_128)
		IMB_AES128_GCM_ENC(m, &k->gdata, &ctx, ct, pt, len, nonce,
				   aad, aad_len, tag, RTR_AEAD_TAG_LEN);
	else
		IMB_AES256_GCM_ENC(m, &k->gdata, &ctx, ct, pt, len, nonce,
				   aad, aad_len, tag, RTR_AEAD_TAG_LEN);
	return 0;
}

int
rtr_aead_open(IMB_MGR *m, const struct rtr_aead_key *k,
	      const uint8_t nonce[RTR_AEAD_NONCE_LEN],
	      const uint8_t *aad, size_t aad_len,
	      const uint8_t *ct, size_t len, uint8_t *pt,
	      const uint8_t tag[RTR_AEAD_TAG_LEN])
{
	struct gcm_context_data ctx;
	uint8_t calc[RTR_AEAD_TAG_LEN];

	if (m == NULL || !key_usable(m, k) ||
	    !args_ok(nonce, aad, aad_len, ct, len, pt, tag))
		return -EINVAL;

	/* ipsec-mb writes the plaintext and the tag it computed; checking
	 * the tag is ours to do. */
	if (k->key_len == RTR_AEAD_KEY_128)
		IMB_AES128_GCM_DEC(m, &k->gdata, &ctx, pt, ct, len, nonce,
				   aad, aad_len, calc, RTR_AEAD_TAG_LEN);
	else
		IMB_AES256_GCM_DEC(m, &k->gdata, &ctx, pt, ct, len, nonce,
				   aad, aad_len, calc, RTR_AEAD_TAG_LEN);

	if (CRYPTO_memcmp(calc, tag, RTR_AEAD_TAG_LEN) != 0) {
		/* Unauthenticated plaintext must not be seen, nor kept in
		 * the context's last keystream block. */
		wipe(pt, len);
		OPENSSL_cleanse(&ctx, sizeof(ctx));
		return -EBADMSG;
	}
	return 0;
}

/* ---- bursts --------------------------------------------------------------- */

static inline bool
op_ok(const IMB_MGR *m, const struct rtr_aead_op *op)
{
	return key_usable(m, op->key) &&
	       args_ok(op->nonce, op->aad, op->aad_len, op->in, op->len,
		       op->out, op->tag);
}

/* Account for a job the manager handed back; 1 if its op succeeded. */
static inline unsigned int
job_done(IMB_JOB *job, bool seal)
{
	struct rtr_aead_op *op = job->user_data;

	if (job->status != IMB_STATUS_COMPLETED) {
		op->status = job->status == IMB_STATUS_INVALID_ARGS ? -EINVAL : -EIO;
		if (!seal)
			wipe(op->out, op->len);
		return 0;
	}
	if (!seal && CRYPTO_memcmp(job->user_data2, op->tag, RTR_AEAD_TAG_LEN) != 0) {
		wipe(op->out, op->len);
		op->status = -EBADMSG;
		return 0;
	}
	op->status = 0;
	return 1;
}

static inline void
job_fill(IMB_JOB *job, struct rtr_aead_op *op, bool seal, uint8_t *calc)
{
	const struct rtr_aead_key *k = op->key;

	job->cipher_mode = IMB_CIPHER_GCM;
	job->hash_alg = IMB_AUTH_AES_GMAC;
	if (seal) {
		job->cipher_direction = IMB_DIR_ENCRYPT;
		job->chain_order = IMB_ORDER_CIPHER_HASH;
		job->auth_tag_output = op->tag;
	} else {
		job->cipher_direction = IMB_DIR_DECRYPT;
		job->chain_order = IMB_ORDER_HASH_CIPHER;
		job->auth_tag_output = calc;
	}
	job->auth_tag_output_len_in_bytes = RTR_AEAD_TAG_LEN;
	job->enc_keys = &k->gdata;
	job->dec_keys = &k->gdata;
	job->key_len_in_bytes = k->key_len;
	job->src = op->in;
	job->dst = op->out;
	job->cipher_start_src_offset_in_bytes = 0;
	job->msg_len_to_cipher_in_bytes = op->len;
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = op->len;
	job->iv = op->nonce;
	job->iv_len_in_bytes = RTR_AEAD_NONCE_LEN;
	job->u.GCM.aad = op->aad;
	job->u.GCM.aad_len_in_bytes = op->aad_len;
	job->u.GCM.ctx = NULL;
	job->user_data = op;
	job->user_data2 = calc;
}

static unsigned int
aead_burst(IMB_MGR *m, struct rtr_aead_op *ops, unsigned int n, bool seal)
{
	uint8_t calc[BURST_CHUNK][RTR_AEAD_TAG_LEN];
	unsigned int base, chunk, i, ok = 0;
	IMB_JOB *job;

	if (m == NULL || ops == NULL)
		return 0;

	for (base = 0; base < n; base += chunk) {
		chunk = n - base < BURST_CHUNK ? n - base : BURST_CHUNK;
		for (i = 0; i < chunk; i++) {
			struct rtr_aead_op *op = &ops[base + i];

			if (!op_ok(m, op)) {
				op->status = -EINVAL;
				continue;
			}
			job = IMB_GET_NEXT_JOB(m);
			job_fill(job, op, seal, calc[i]);
			job = IMB_SUBMIT_JOB(m);
			while (job != NULL) {
				ok += job_done(job, seal);
				job = IMB_GET_COMPLETED_JOB(m);
			}
		}
		/* Complete the chunk before calc[] is reused. */
		while ((job = IMB_FLUSH_JOB(m)) != NULL)
			ok += job_done(job, seal);
	}
	return ok;
}

unsigned int
rtr_aead_seal_burst(IMB_MGR *m, struct rtr_aead_op *ops, unsigned int n)
{
	return aead_burst(m, ops, n, true);
}

unsigned int
rtr_aead_open_burst(IMB_MGR *m, struct rtr_aead_op *ops, unsigned int n)
{
	return aead_burst(m, ops, n, false);
}

/* ---- reference: OpenSSL EVP ------------------------------------------------ */

static const EVP_CIPHER *
ref_cipher(unsigned int key_len)
{
	if (key_len == RTR_AEAD_KEY_128)
		return EVP_aes_128_gcm();
	if (key_len == RTR_AEAD_KEY_256)
		return EVP_aes_256_gcm();
	return NULL;
}

/* Common set-up: cipher, 96-bit IV, key and nonce, then the AAD. */
static EVP_CIPHER_CTX *
ref_start(const EVP_CIPHER *cipher, bool enc, const uint8_t *key,
	  const uint8_t *nonce, const uint8_t *aad, size_t aad_len)
{
	EVP_CIPHER_CTX *c;
	int outl;

	c = EVP_CIPHER_CTX_new();
	if (c == NULL)
		return NULL;
	if (EVP_CipherInit_ex(c, cipher, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, RTR_AEAD_NONCE_LEN,
				NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1)
		goto out_free_ctx;
	if (aad_len != 0 && EVP_CipherUpdate(c, NULL, &outl, aad, (int)aad_len) != 1)
		goto out_free_ctx;
	return c;

out_free_ctx:
	EVP_CIPHER_CTX_free(c);
	return NULL;
}

int
rtr_aead_seal_ref(const uint8_t *key, unsigned int key_len,
		  const uint8_t nonce[RTR_AEAD_NONCE_LEN],
		  const uint8_t *aad, size_t aad_len,
		  const uint8_t *pt, size_t len, uint8_t *ct,
		  uint8_t tag[RTR_AEAD_TAG_LEN])
{
	const EVP_CIPHER *cipher = ref_cipher(key_len);
	uint8_t fin[RTR_AEAD_TAG_LEN];
	EVP_CIPHER_CTX *c;
	int outl, ret = -EIO;

	if (cipher == NULL || key == NULL || len > INT_MAX || aad_len > INT_MAX ||
	    !args_ok(nonce, aad, aad_len, pt, len, ct, tag))
		return -EINVAL;

	c = ref_start(cipher, true, key, nonce, aad, aad_len);
	if (c == NULL)
		return -EIO;
	if (len != 0 && EVP_EncryptUpdate(c, ct, &outl, pt, (int)len) != 1)
		goto out_free_ctx;
	/* GCM is a stream mode: Final writes nothing, but wants a buffer. */
	if (EVP_EncryptFinal_ex(c, fin, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, RTR_AEAD_TAG_LEN, tag) != 1)
		goto out_free_ctx;
	ret = 0;

out_free_ctx:
	EVP_CIPHER_CTX_free(c);
	return ret;
}

int
rtr_aead_open_ref(const uint8_t *key, unsigned int key_len,
		  const uint8_t nonce[RTR_AEAD_NONCE_LEN],
		  const uint8_t *aad, size_t aad_len,
		  const uint8_t *ct, size_t len, uint8_t *pt,
		  const uint8_t tag[RTR_AEAD_TAG_LEN])
{
	const EVP_CIPHER *cipher = ref_cipher(key_len);
	uint8_t want[RTR_AEAD_TAG_LEN], fin[RTR_AEAD_TAG_LEN];
	EVP_CIPHER_CTX *c;
	int outl, ret = -EIO;

	if (cipher == NULL || key == NULL || len > INT_MAX || aad_len > INT_MAX ||
	    !args_ok(nonce, aad, aad_len, ct, len, pt, tag))
		return -EINVAL;

	c = ref_start(cipher, false, key, nonce, aad, aad_len);
	if (c == NULL)
		return -EIO;
	if (len != 0 && EVP_DecryptUpdate(c, pt, &outl, ct, (int)len) != 1)
		goto out_wipe_pt;
	memcpy(want, tag, sizeof(want));	/* SET_TAG takes a non-const pointer */
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, RTR_AEAD_TAG_LEN, want) != 1)
		goto out_wipe_pt;
	/* Final checks the tag, in constant time. */
	if (EVP_DecryptFinal_ex(c, fin, &outl) != 1) {
		ret = -EBADMSG;
		goto out_wipe_pt;
	}
	ret = 0;
	goto out_free_ctx;

out_wipe_pt:
	wipe(pt, len);
out_free_ctx:
	EVP_CIPHER_CTX_free(c);
	return ret;
}
