/* SPDX-License-Identifier: BSD-3-Clause
 * Noise_NK_25519_AESGCM_SHA256 handshake for JOIN / JOIN_ACK (DESIGN.md,
 * "Transport encryption"). Control-plane and client code: OpenSSL libcrypto 3,
 * no EAL. This is the handshake only; transport framing lives elsewhere.
 *
 * The handshake is exactly the Noise Protocol Framework, revision 34:
 *
 *   protocol name  "Noise_NK_25519_AESGCM_SHA256" (28 bytes <= HASHLEN, so
 *                  h = the name zero-padded to 32 bytes; ck = h)
 *   MixHash(prologue)
 *   NK:
 *     <- s                       pre-message: MixHash(responder static pub)
 *     ...
 *     -> e, es                   message 1 (in JOIN, after the suite byte)
 *     <- e, ee                   message 2 (JOIN_ACK body)
 *
 *   DH        X25519 (RFC 7748); an all-zero result is refused (-EINVAL)
 *   HASH      SHA-256, HASHLEN 32, BLOCKLEN 64
 *   HKDF(ck, ikm, n)  Noise section 4.3: t = HMAC(ck, ikm);
 *             o1 = HMAC(t, 0x01); o2 = HMAC(t, o1 || 0x02)
 *   MixKey(ikm)       ck, k = HKDF(ck, ikm, 2); n = 0
 *   MixHash(d)        h = SHA-256(h || d)
 *   CIPHER    AES-256-GCM, 16-byte tag, nonce = 32 zero bits || n as 64-bit
 *             big-endian, AD = h; EncryptAndHash(p): c = ENC(k, n++, h, p);
 *             MixHash(c)
 *   Split()   k1, k2 = HKDF(ck, "", 2): k1 initiator->responder,
 *             k2 responder->initiator
 *
 * The Noise handshake cipher is always AES-256-GCM; the rtrelay suite only
 * selects the transport cipher and is bound into the prologue:
 *
 *   prologue = "rtrelay/1" (9 bytes, no NUL) || u8 suite || 32-byte JOIN
 *              header exactly as sent (42 bytes; rtr_noise_prologue())
 *
 * Wire layout:
 *   message 1 = e.pub (32) || AES-256-GCM(payload) || tag (16)
 *   message 2 = e.pub (32) || AES-256-GCM(payload) || tag (16)
 * so each message is payload length + RTR_NOISE_OVERHEAD (48) bytes, at most
 * RTR_NOISE_MSG_MAX (65535, the Noise limit).
 *
 * Transport keys (rtr_noise_split), for the caller's side of the handshake:
 *
 *   suite 2 (AES-256-GCM): the 32-byte Split() keys k1, k2 used directly.
 *   suite 1 (AES-128-GCM): each 16-byte key is
 *     key_i2r = HKDF-SHA256(salt = "" (empty), ikm = k1,
 *                           info = "rtrelay/1 aes128gcm initiator->responder",
 *                           L = 16)
 *     key_r2i = HKDF-SHA256(salt = "" (empty), ikm = k2,
 *                           info = "rtrelay/1 aes128gcm responder->initiator",
 *                           L = 16)
 *   HKDF-SHA256 is RFC 5869 (extract PRK = HMAC-SHA256(key = salt, ikm);
 *   expand T(1) = HMAC-SHA256(PRK, info || 0x01); the key is T(1)[0..15]).
 *   The info strings are ASCII, 40 bytes, without a terminating NUL.
 *
 *   initiator: send = i2r, recv = r2i;  responder: send = r2i, recv = i2r.
 *
 * Rekey key (both suites, both sides): the key of the rekey MAC that the
 * next rekey JOIN of this session carries (docs/protocol.md 16.7):
 *     rekey = HKDF-SHA256(salt = "", ikm = k1 || k2 (64 bytes),
 *                         info = "rtrelay/1 rekey" (15 bytes), L = 32)
 *
 * The handshake hash h after message 2 is exported in the keys (and by
 * rtr_noise_handshake_hash()) for channel binding.
 *
 * Use, initiator (client):
 *   rtr_noise_init_initiator(&st, prologue, 42, server_pub);
 *   rtr_noise_write_msg1(&st, fields, n, join_body + 1, cap);  -> JOIN
 *   rtr_noise_read_msg2(&st, ack_body, len, ack_fields, cap);  <- JOIN_ACK
 *   rtr_noise_split(&st, suite, &keys);
 *   rtr_noise_wipe(&st);
 * Use, responder (server), with a fresh state per JOIN:
 *   rtr_noise_init_responder(&st, prologue, 42, static_priv);
 *   rtr_noise_read_msg1(&st, msg, len, fields, cap);
 *   rtr_noise_write_msg2(&st, ack_fields, n, out, cap);
 *   rtr_noise_split(&st, suite, &keys);
 *   rtr_noise_wipe(&st);
 *
 * Every function returns 0 (or, for the message functions, the number of
 * bytes written, >= 0) or a negative errno:
 *   -EINVAL    bad argument, unknown suite, an all-zero DH result (a
 *              low-order peer key) or an invalid key
 *   -EPROTO    called out of order (e.g. write_msg1 twice, split before the
 *              handshake completed, any call after a failure)
 *   -EBADMSG   a message that does not authenticate (tampered, wrong server
 *              key, different prologue) or is shorter than 48 bytes
 *   -EMSGSIZE  a message would exceed RTR_NOISE_MSG_MAX
 *   -ENOSPC    the output buffer is too small
 *   -EIO       an OpenSSL failure (allocation, RNG)
 * Argument errors (-EINVAL for a bad argument, -EPROTO, -EMSGSIZE, -ENOSPC)
 * are found before anything changes and leave the state as it was. Every
 * other failure of a message function (-EBADMSG, a refused DH result, -EIO)
 * ends the handshake: the state's secrets are wiped and every later call
 * returns -EPROTO. When a read fails, the payload buffer's first cap bytes
 * are zeroed, so no unauthenticated plaintext is left in it. Output buffers
 * must not overlap the input message or payload.
 *
 * Secrets (static and ephemeral private keys, ck, k, DH results) are wiped
 * with OPENSSL_cleanse: intermediates on return, the state by
 * rtr_noise_wipe(), which callers must call when done (also on error paths).
 * Keys returned in struct rtr_noise_keys belong to the caller, who wipes
 * them with rtr_noise_keys_wipe(). Nothing here logs.
 *
 * A state is used by one thread; distinct states are independent.
 */
#ifndef RTR_NOISE_H
#define RTR_NOISE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RTR_NOISE_PROTOCOL_NAME	"Noise_NK_25519_AESGCM_SHA256"
#define RTR_NOISE_KEY_LEN	32	/* X25519 keys, Split() keys */
#define RTR_NOISE_HASH_LEN	32	/* SHA-256 */
#define RTR_NOISE_TAG_LEN	16	/* AES-GCM tag */
#define RTR_NOISE_OVERHEAD	(RTR_NOISE_KEY_LEN + RTR_NOISE_TAG_LEN)	/* 48 */
#define RTR_NOISE_MSG_MAX	65535	/* Noise message limit */
#define RTR_NOISE_PAYLOAD_MAX	(RTR_NOISE_MSG_MAX - RTR_NOISE_OVERHEAD)

#define RTR_NOISE_PROLOGUE_TAG	"rtrelay/1"
#define RTR_NOISE_PROLOGUE_TAG_LEN 9
#define RTR_NOISE_HDR_LEN	32	/* the rtrelay frame header */
#define RTR_NOISE_PROLOGUE_LEN	(RTR_NOISE_PROLOGUE_TAG_LEN + 1 + RTR_NOISE_HDR_LEN) /* 42 */

/* rtrelay suites (the JOIN body's first byte) */
#define RTR_NOISE_SUITE_AES128GCM 1
#define RTR_NOISE_SUITE_AES256GCM 2

/* HKDF info labels for suite 1 (ASCII, no NUL; see the top of this file) */
#define RTR_NOISE_LABEL_I2R	"rtrelay/1 aes128gcm initiator->responder"
#define RTR_NOISE_LABEL_R2I	"rtrelay/1 aes128gcm responder->initiator"
#define RTR_NOISE_LABEL_REKEY	"rtrelay/1 rekey"

enum rtr_noise_role {
	RTR_NOISE_INITIATOR = 1,
	RTR_NOISE_RESPONDER = 2,
};

/* Opaque in spirit: callers use the functions below, not the fields. */
struct rtr_noise_state {
	uint8_t role;			/* enum rtr_noise_role; 0: not initialised */
	uint8_t step;			/* internal progress */
	uint8_t has_k;			/* CipherState k is set */
	uint8_t e_injected;		/* rtr_noise_set_ephemeral() was called */
	uint64_t n;			/* CipherState nonce */
	uint8_t k[RTR_NOISE_KEY_LEN];	/* CipherState key */
	uint8_t ck[RTR_NOISE_HASH_LEN];	/* chaining key */
	uint8_t h[RTR_NOISE_HASH_LEN];	/* handshake hash */
	uint8_t s_priv[RTR_NOISE_KEY_LEN]; /* responder: static private key */
	uint8_t rs[RTR_NOISE_KEY_LEN];	/* static public key of the responder */
	uint8_t e_priv[RTR_NOISE_KEY_LEN]; /* our ephemeral */
	uint8_t e_pub[RTR_NOISE_KEY_LEN];
	uint8_t re[RTR_NOISE_KEY_LEN];	/* the peer's ephemeral */
};

/* Transport keys for one side. */
struct rtr_noise_keys {
	uint8_t suite;			/* RTR_NOISE_SUITE_* */
	uint8_t key_len;		/* 16 (suite 1) or 32 (suite 2) */
	uint8_t send[RTR_NOISE_KEY_LEN];	/* first key_len bytes used */
	uint8_t recv[RTR_NOISE_KEY_LEN];
	uint8_t h[RTR_NOISE_HASH_LEN];	/* handshake hash (channel binding) */
	uint8_t rekey[RTR_NOISE_KEY_LEN];	/* authenticates this session's rekey JOIN */
};

/*
 * Build the prologue "rtrelay/1" || suite || hdr into out
 * (RTR_NOISE_PROLOGUE_LEN = 42 bytes). Returns 42, or -EINVAL.
 */
int rtr_noise_prologue(uint8_t out[RTR_NOISE_PROLOGUE_LEN], uint8_t suite,
		       const uint8_t hdr[RTR_NOISE_HDR_LEN]);

/* Generate an X25519 key pair (the node's static key). 0 or -errno. */
int rtr_noise_keygen(uint8_t priv[RTR_NOISE_KEY_LEN], uint8_t pub[RTR_NOISE_KEY_LEN]);

/* The X25519 public key of priv. 0 or -errno. */
int rtr_noise_pubkey(const uint8_t priv[RTR_NOISE_KEY_LEN], uint8_t pub[RTR_NOISE_KEY_LEN]);

/*
 * Initiator (client): Initialize(NK, initiator, prologue, rs = server_pub).
 * prologue may be NULL when prologue_len is 0. 0 or -errno.
 */
int rtr_noise_init_initiator(struct rtr_noise_state *st, const uint8_t *prologue,
			     size_t prologue_len,
			     const uint8_t server_static_pub[RTR_NOISE_KEY_LEN]);

/*
 * Responder (server): Initialize(NK, responder, prologue, s = static_priv);
 * the public key is derived from it. 0 or -errno.
 */
int rtr_noise_init_responder(struct rtr_noise_state *st, const uint8_t *prologue,
			     size_t prologue_len,
			     const uint8_t static_priv[RTR_NOISE_KEY_LEN]);

/*
 * Tests only: use priv as this side's ephemeral private key instead of a
 * fresh one from RAND_bytes. Call after init and before this side's write.
 * Never use outside known-answer tests: a reused ephemeral breaks the
 * handshake's security. 0 or -errno.
 */
int rtr_noise_set_ephemeral(struct rtr_noise_state *st, const uint8_t priv[RTR_NOISE_KEY_LEN]);

/*
 * Draw this side's ephemeral key now (RAND_priv_bytes, fresh) and return
 * its public key; this side's next write uses it. For a rekey JOIN, whose
 * sealed payload authenticates the e.pub that message 1 carries. Initiator
 * before message 1, responder before message 2. 0 or -errno.
 */
int rtr_noise_draw_ephemeral(struct rtr_noise_state *st, uint8_t pub[RTR_NOISE_KEY_LEN]);

/*
 * Initiator: write message 1 ("e, es" + payload) into out. payload may be
 * NULL when len is 0. Returns the message length (len + 48) or -errno.
 */
ssize_t rtr_noise_write_msg1(struct rtr_noise_state *st, const uint8_t *payload, size_t len,
			     uint8_t *out, size_t outcap);

/*
 * Responder: read message 1, write its payload (len - 48 bytes) into
 * payload_out. Returns the payload length or -errno.
 */
ssize_t rtr_noise_read_msg1(struct rtr_noise_state *st, const uint8_t *msg, size_t len,
			    uint8_t *payload_out, size_t cap);

/*
 * Responder: write message 2 ("e, ee" + payload). Returns the message
 * length (len + 48) or -errno. The handshake is then complete.
 */
ssize_t rtr_noise_write_msg2(struct rtr_noise_state *st, const uint8_t *payload, size_t len,
			     uint8_t *out, size_t outcap);

/*
 * Responder, after rtr_noise_read_msg1() and before rtr_noise_write_msg2():
 * the transport keys of suite that the handshake will end with, so the
 * member can be installed before message 2 (which names it) is written.
 * Draws the responder's ephemeral key now. Same keys as rtr_noise_split()
 * after the write. 0 or -errno (out zeroed).
 */
int rtr_noise_responder_keys(struct rtr_noise_state *st, uint8_t suite,
			     struct rtr_noise_keys *out);

/*
 * Initiator: read message 2, write its payload into payload_out. Returns
 * the payload length or -errno. The handshake is then complete.
 */
ssize_t rtr_noise_read_msg2(struct rtr_noise_state *st, const uint8_t *msg, size_t len,
			    uint8_t *payload_out, size_t cap);

/*
 * After a complete handshake: Split() and the transport keys of suite
 * (RTR_NOISE_SUITE_AES128GCM or _AES256GCM) for this side, plus h. Does not
 * change the state (it may be called again, e.g. for the other suite in
 * tests); call rtr_noise_wipe() afterwards. 0 or -errno (out is zeroed).
 */
int rtr_noise_split(const struct rtr_noise_state *st, uint8_t suite,
		    struct rtr_noise_keys *out);

/* The handshake hash h (after message 2: the channel binding value). */
int rtr_noise_handshake_hash(const struct rtr_noise_state *st, uint8_t h[RTR_NOISE_HASH_LEN]);

/* Wipe every secret of the state (safe on a zeroed or wiped state). */
void rtr_noise_wipe(struct rtr_noise_state *st);

/* Wipe transport keys. */
void rtr_noise_keys_wipe(struct rtr_noise_keys *keys);

#endif /* RTR_NOISE_H */
