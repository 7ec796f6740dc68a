/* SPDX-License-Identifier: BSD-3-Clause
 * AES-GCM for transport frames (DESIGN.md, "Transport encryption"):
 * AES-128-GCM and AES-256-GCM, 96-bit nonces, 128-bit tags, through Intel
 * ipsec-mb (1.3), with OpenSSL EVP as the reference implementation.
 *
 * Per-worker state (STYLE.md, "Crypto state per worker"): every lcore owns
 * one IMB_MGR from rtr_aead_mgr_new() and never shares it. A key is expanded
 * once, when it is installed (rtr_aead_key_init()), never per packet; the
 * expanded key is read-only afterwards and may be used by any number of
 * lcores at once, each with its own manager.
 *
 * ipsec-mb lays out the precomputed GHASH keys differently per code path
 * (SSE/AVX, AVX2/AVX512, VAES), so a key must be used with a manager of the
 * architecture that expanded it. All managers made by rtr_aead_mgr_new() in
 * one process pick the same one; the key records it and a mismatch is
 * refused (-EINVAL) rather than producing wrong tags.
 *
 * Tags. ipsec-mb 1.3 computes the tag on decryption but does not check it:
 * the open functions here compute it into a scratch buffer, compare it with
 * the received one in constant time (CRYPTO_memcmp) and, on a mismatch,
 * return -EBADMSG after wiping the output, which by then already holds the
 * unauthenticated plaintext. In-place operation (out == in) is supported;
 * after a failed in-place open the buffer holds zeros, not the ciphertext.
 * Any other overlap of input and output is undefined.
 *
 * Errors: 0 or a negative errno. -EINVAL for a NULL pointer that is needed
 * (data pointers may be NULL when their length is 0), a key that is not
 * installed (never initialised, or wiped) or was expanded for another
 * architecture; -EBADMSG for an authentication failure; -EIO if ipsec-mb
 * or OpenSSL report an internal error. Nothing here allocates, logs or
 * makes a system call on the per-frame path (the _ref functions aside).
 */
#ifndef RTR_AEAD_H
#define RTR_AEAD_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* Without this, <intel-ipsec-mb.h> defines its pre-0.55 names as macros
 * (SHA1, MD5, GCM, ENCRYPT, ...): <openssl/sha.h> or <openssl/md5.h>
 * included after it no longer compile, and any such word in the dataplane
 * silently becomes an ipsec-mb enum. */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <intel-ipsec-mb.h>

#define RTR_AEAD_KEY_128	16	/* AES-128-GCM key, bytes */
#define RTR_AEAD_KEY_256	32	/* AES-256-GCM key, bytes */
#define RTR_AEAD_NONCE_LEN	12
#define RTR_AEAD_TAG_LEN	16
#define RTR_AEAD_KEY_ALIGN	64

/*
 * An installed key: the ipsec-mb expanded key (round keys and the GHASH key
 * powers, 1008 bytes) and its length. About 1 KiB; keep them in a pool made
 * at init (DESIGN.md: sized by --max-enc-members), allocated with
 * RTR_AEAD_KEY_ALIGN alignment (rte_zmalloc(..., RTR_AEAD_KEY_ALIGN),
 * aligned_alloc()); plain malloc() is not enough and is refused.
 *
 * The alignment is spelled out here because <intel-ipsec-mb.h> only aligns
 * struct gcm_key_data when the including file defines LINUX, which nothing
 * but ipsec-mb's own build does.
 */
struct rtr_aead_key {
	struct gcm_key_data gdata __attribute__((aligned(RTR_AEAD_KEY_ALIGN)));
	uint32_t key_len;	/* 16 or 32; 0: not installed */
	uint32_t arch;		/* IMB_ARCH of the manager that expanded it */
} __attribute__((aligned(RTR_AEAD_KEY_ALIGN)));

/*
 * One frame of a burst. The caller fills everything but status (and, for
 * seal, the tag it points to); the burst functions set status to 0,
 * -EBADMSG (open: authentication failed, out wiped) or -EINVAL/-EIO.
 */
struct rtr_aead_op {
	const struct rtr_aead_key *key;
	const uint8_t *nonce;		/* RTR_AEAD_NONCE_LEN bytes */
	const uint8_t *aad;		/* may be NULL if aad_len is 0 */
	const uint8_t *in;		/* plaintext (seal) or ciphertext (open) */
	uint8_t *out;			/* may equal in */
	uint8_t *tag;			/* RTR_AEAD_TAG_LEN bytes: written by
					 * seal, read by open */
	uint32_t aad_len;
	uint32_t len;			/* of in and out */
	int status;
};

/* ---- per-lcore manager -------------------------------------------------- */

/*
 * A multi-buffer manager for the calling lcore: alloc_mb_mgr(0) and
 * init_mb_mgr_auto(), which picks the best code path the CPU supports
 * (rtr_aead_mgr_arch() names it). About 200 KiB. Returns NULL and sets
 * errno (ENOMEM, or ENOTSUP if ipsec-mb cannot run on this CPU).
 */
IMB_MGR *rtr_aead_mgr_new(void);
void rtr_aead_mgr_free(IMB_MGR *m);

/*
 * A constant string naming the manager's code path, for the start-up log:
 * "avx512+vaes", "avx512", "avx2", "avx", "sse", or "noaesni" (AES in
 * software: correct but slow, worth a warning).
 */
const char *rtr_aead_mgr_arch(const IMB_MGR *m);

/* ---- keys --------------------------------------------------------------- */

/*
 * Expand key (key_len 16 or 32 bytes) into k with manager m. Done once, when
 * a member's key is installed. Returns 0, or -EINVAL for a NULL argument, a
 * bad key length or k not RTR_AEAD_KEY_ALIGN-aligned.
 */
int rtr_aead_key_init(IMB_MGR *m, struct rtr_aead_key *k, const uint8_t *key,
		      unsigned int key_len);

/* Wipe k (OPENSSL_cleanse); it is no longer installed. NULL is a no-op. */
void rtr_aead_key_wipe(struct rtr_aead_key *k);

/* ---- single frames, ipsec-mb direct API ---------------------------------- */

/*
 * Encrypt len bytes of pt into ct (pt == ct allowed) and authenticate them
 * with aad; write the 16-byte tag. Returns 0 or -EINVAL.
 */
int rtr_aead_seal(IMB_MGR *m, const struct rtr_aead_key *k,
		  const uint8_t nonce[RTR_AEAD_NONCE_LEN],
		  const uint8_t *aad, size_t aad_len,
		  const uint8_t *pt, size_t len, uint8_t *ct,
		  uint8_t tag[RTR_AEAD_TAG_LEN]);

/*
 * Decrypt len bytes of ct into pt (ct == pt allowed) and check tag.
 * Returns 0, -EBADMSG (pt wiped) or -EINVAL.
 */
int rtr_aead_open(IMB_MGR *m, const struct rtr_aead_key *k,
		  const uint8_t nonce[RTR_AEAD_NONCE_LEN],
		  const uint8_t *aad, size_t aad_len,
		  const uint8_t *ct, size_t len, uint8_t *pt,
		  const uint8_t tag[RTR_AEAD_TAG_LEN]);

/* ---- bursts, ipsec-mb job API -------------------------------------------- */

/*
 * Seal or open ops[0..n-1] through the job manager, setting each op's
 * status. Every op is completed on return (the manager is flushed), so ops
 * and their buffers may be reused at once. Ops may use different keys (of
 * either size). Returns the number of ops whose status is 0.
 */
unsigned int rtr_aead_seal_burst(IMB_MGR *m, struct rtr_aead_op *ops, unsigned int n);
unsigned int rtr_aead_open_burst(IMB_MGR *m, struct rtr_aead_op *ops, unsigned int n);

/* ---- reference, OpenSSL EVP ---------------------------------------------- */

/*
 * The same operations with EVP_aes_{128,256}_gcm() and a raw key, for tests
 * and cross-checks; they allocate an EVP context per call and are not for
 * the fast path. Same return values as rtr_aead_seal()/rtr_aead_open()
 * (-EIO if OpenSSL fails).
 */
int rtr_aead_seal_ref(const uint8_t *key, unsigned int key_len,
		      const uint8_t nonce[RTR_AEAD_NONCE_LEN],
		      const uint8_t *aad, size_t aad_len,
		      const uint8_t *pt, size_t len, uint8_t *ct,
		      uint8_t tag[RTR_AEAD_TAG_LEN]);
int rtr_aead_open_ref(const uint8_t *key, unsigned int key_len,
		      const uint8_t nonce[RTR_AEAD_NONCE_LEN],
		      const uint8_t *aad, size_t aad_len,
		      const uint8_t *ct, size_t len, uint8_t *pt,
		      const uint8_t tag[RTR_AEAD_TAG_LEN]);

#endif /* RTR_AEAD_H */
