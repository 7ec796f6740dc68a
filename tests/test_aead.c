/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for AES-GCM (crypto/aead.c): ipsec-mb direct and job (burst)
 * APIs against NIST known answers and against OpenSSL EVP.
 *
 * - NIST CAVP known answers (gcmEncryptExtIV128.rsp, gcmEncryptExtIV256.rsp,
 *   96-bit IVs, 128-bit tags), typed in below, through all four paths.
 * - ipsec-mb vs OpenSSL for every length 0..1500, several AAD lengths
 *   (32: the relay header), both key sizes, unaligned buffers.
 * - burst vs direct on 64 frames of mixed sizes and keys, and on more
 *   frames than the job queue holds.
 * - tampering with a ciphertext, AAD or tag byte (and using the wrong nonce
 *   or key) fails with -EBADMSG and wipes the output, on every path.
 * - in-place operation; argument checks.
 *
 * RTR_BENCH=1 also prints a micro-benchmark (ns and TSC cycles per frame);
 * it asserts nothing.
 *
 * Build: gcc -Icrypto tests/test_aead.c crypto/aead.c -lcmocka -lIPSec_MB -lcrypto
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include <openssl/evp.h>

#include "aead.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_LEN		1500
#define HDR_LEN		32	/* relay header: the AAD of a transport frame */
#define BUF_LEN		(MAX_LEN + 64)

static IMB_MGR *mgr;

/* Keys live in static storage: struct rtr_aead_key is 64-byte aligned. */
static struct rtr_aead_key key_a, key_b;

/* ---- helpers -------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static void
fill(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)rng();
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode a hex string into out (capacity cap); returns the length. */
static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s), i;

	assert_int_equal(n % 2, 0);
	assert_true(n / 2 <= cap);
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		assert_true(hi >= 0 && lo >= 0);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return n / 2;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* ---- NIST known answers ---------------------------------------------------- */

/*
 * From the NIST CAVP GCM test vectors (gcmtestvectors.zip),
 * gcmEncryptExtIV128.rsp and gcmEncryptExtIV256.rsp: [IVlen = 96],
 * [Taglen = 128], two cases from each of the groups
 * PTlen/AADlen (bits) = 0/0, 0/128, 128/0, 408/160, 408/720, 104/0:
 * empty plaintext, empty AAD, a block, and lengths that are not multiples
 * of the block (51 and 13 bytes, AAD 20 and 90 bytes).
 */
struct kat {
	const char *key, *iv, *pt, *aad, *ct, *tag;
};

static const struct kat kats[] = {
	/* AES-128, PTlen 0, AADlen 0 */
	{ "11754cd72aec309bf52f7687212e8957", "3c819d9a9bed087615030b65",
	  "", "", "", "250327c674aaf477aef2675748cf6971" },
	{ "ca47248ac0b6f8372a97ac43508308ed", "ffd2b598feabc9019262d2be",
	  "", "", "", "60d20404af527d248d893ae495707d1a" },
	/* AES-128, PTlen 0, AADlen 128 */
	{ "77be63708971c4e240d1cb79e8d77feb", "e0e00f19fed7ba0136a797f3",
	  "", "7a43ec1d9c0a5a78a0b16533a6213cab", "",
	  "209fcc8d3675ed938e9c7166709dd946" },
	{ "7680c5d3ca6154758e510f4d25b98820", "f8f105f9c3df4965780321f8",
	  "", "c94c410194c765e3dcc7964379758ed3", "",
	  "94dca8edfcf90bb74b153c8d48a17930" },
	/* AES-128, PTlen 128, AADlen 0 */
	{ "7fddb57453c241d03efbed3ac44e371c", "ee283a3fc75575e33efd4887",
	  "d5de42b461646c255c87bd2962d3b9a2", "",
	  "2ccda4a5415cb91e135c2a0f78c9b2fd", "b36d1df9b9d5e596f83e8b7f52971cb3" },
	{ "ab72c77b97cb5fe9a382d9fe81ffdbed", "54cc7dc2c37ec006bcc6d1da",
	  "007c5e5b3e59df24a7c355584fc1518d", "",
	  "0e1bde206a07a9c2c1b65300f8c64997", "2b4401346697138c7a4891ee59867d0c" },
	/* AES-128, PTlen 408, AADlen 160 */
	{ "fe47fcce5fc32665d2ae399e4eec72ba", "5adb9609dbaeb58cbd6e7275",
	  "7c0e88c88899a779228465074797cd4c2e1498d259b54390b85e3eef1c02df60e743f1"
	  "b840382c4bccaf3bafb4ca8429bea063",
	  "88319d6e1d3ffa5f987199166c8a9b56c2aeba5a",
	  "98f4826f05a265e6dd2be82db241c0fbbbf9ffb1c173aa83964b7cf539304373636525"
	  "3ddbc5db8778371495da76d269e5db3e",
	  "291ef1982e4defedaa2249f898556b47" },
	{ "ec0c2ba17aa95cd6afffe949da9cc3a8", "296bce5b50b7d66096d627ef",
	  "b85b3753535b825cbe5f632c0b843c741351f18aa484281aebec2f45bb9eea2d79d987"
	  "b764b9611f6c0f8641843d5d58f3a242",
	  "f8d00f05d22bf68599bcdeb131292ad6e2df5d14",
	  "a7443d31c26bdf2a1c945e29ee4bd344a99cfaf3aa71f8b3f191f83c2adfc7a0716299"
	  "5506fde6309ffc19e716eddf1a828c5a",
	  "890147971946b627c40016da1ecf3e77" },
	/* AES-128, PTlen 408, AADlen 720 */
	{ "2c1f21cf0f6fb3661943155c3e3d8492", "23cb5ff362e22426984d1907",
	  "42f758836986954db44bf37c6ef5e4ac0adaf38f27252a1b82d02ea949c8a1a2dbc0d6"
	  "8b5615ba7c1220ff6510e259f06655d8",
	  "5d3624879d35e46849953e45a32a624d6a6c536ed9857c613b572b0333e701557a713e"
	  "3f010ecdf9a6bd6c9e3e44b065208645aff4aabee611b391528514170084ccf587177f"
	  "4488f33cfb5e979e42b6e1cfc0a60238982a7aec",
	  "81824f0e0d523db30d3da369fdc0d60894c7a0a20646dd015073ad2732bd989b14a222"
	  "b6ad57af43e1895df9dca2a5344a62cc",
	  "57a3ee28136e94c74838997ae9823f3a" },
	{ "d9f7d2411091f947b4d6f1e2d1f0fb2e", "e1934f5db57cc983e6b180e7",
	  "73ed042327f70fe9c572a61545eda8b2a0c6e1d6c291ef19248e973aee6c312012f490"
	  "c2c6f6166f4a59431e182663fcaea05a",
	  "0a8a18a7150e940c3d87b38e73baee9a5c049ee21795663e264b694a949822b639092d"
	  "0e67015e86363583fcf0ca645af9f43375f05fdb4ce84f411dcbca73c2220dea03a201"
	  "15d2e51398344b16bee1ed7c499b353d6c597af8",
	  "aaadbd5c92e9151ce3db7210b8714126b73e43436d242677afa50384f2149b831f1d57"
	  "3c7891c2a91fbc48db29967ec9542b23",
	  "21b51ca862cb637cdd03b99a0f93b134" },
	/* AES-128, PTlen 104, AADlen 0 */
	{ "fe9bb47deb3a61e423c2231841cfd1fb", "4d328eb776f500a2f7fb47aa",
	  "f1cc3818e421876bb6b8bbd6c9", "", "b88c5c1977b35b517b0aeae967",
	  "43fd4727fe5cdb4b5b42818dea7ef8c9" },
	{ "6703df3701a7f54911ca72e24dca046a", "12823ab601c350ea4bc2488c",
	  "793cd125b0b84a043e3ac67717", "", "b2051c80014f42f08735a7b0cd",
	  "38e6bcd29962e5f2c13626b85a877101" },

	/* AES-256, PTlen 0, AADlen 0 */
	{ "b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4",
	  "516c33929df5a3284ff463d7", "", "", "",
	  "bdc1ac884d332457a1d2664f168c76f0" },
	{ "5fe0861cdc2690ce69b3658c7f26f8458eec1c9243c5ba0845305d897e96ca0f",
	  "770ac1a5a3d476d5d96944a1", "", "", "",
	  "196d691e1047093ca4b3d2ef4baba216" },
	/* AES-256, PTlen 0, AADlen 128 */
	{ "78dc4e0aaf52d935c3c01eea57428f00ca1fd475f5da86a49c8dd73d68c8e223",
	  "d79cf22d504cc793c3fb6c8a", "", "b96baa8c1c75a671bfb2d08d06be5f36", "",
	  "3e5d486aa2e30b22e040b85723a06e76" },
	{ "4457ff33683cca6ca493878bdc00373893a9763412eef8cddb54f91318e0da88",
	  "699d1f29d7b8c55300bb1fd2", "", "6749daeea367d0e9809e2dc2f309e6e3", "",
	  "d60c74d2517fde4a74e0cd4709ed43a9" },
	/* AES-256, PTlen 128, AADlen 0 */
	{ "31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22",
	  "0d18e06c7c725ac9e362e1ce", "2db5168e932556f8089a0622981d017d", "",
	  "fa4362189661d163fcd6a56d8bf0405a", "d636ac1bbedd5cc3ee727dc2ab4a9489" },
	{ "460fc864972261c2560e1eb88761ff1c992b982497bd2ac36c04071cbb8e5d99",
	  "8a4a16b9e210eb68bcb6f58d", "99e4e926ffe927f691893fb79a96b067", "",
	  "133fc15751621b5f325c7ff71ce08324", "ec4e87e0cf74a13618d0b68636ba9fa7" },
	/* AES-256, PTlen 408, AADlen 160 */
	{ "24501ad384e473963d476edcfe08205237acfd49b5b8f33857f8114e863fec7f",
	  "9ff18563b978ec281b3f2794",
	  "27f348f9cdc0c5bd5e66b1ccb63ad920ff2219d14e8d631b3872265cf117ee86757accb15"
	  "8bd9abb3868fdc0d0b074b5f01b2c",
	  "adb5ec720ccf9898500028bf34afccbcaca126ef",
	  "eb7cb754c824e8d96f7c6d9b76c7d26fb874ffbf1d65c6f64a698d839b0b06145dae82057"
	  "ad55994cf59ad7f67c0fa5e85fab8",
	  "bc95c532fecc594c36d1550286a7a3f0" },
	{ "fb43f5ab4a1738a30c1e053d484a94254125d55dccee1ad67c368bc1a985d235",
	  "9fbb5f8252db0bca21f1c230",
	  "34b797bb82250e23c5e796db2c37e488b3b99d1b981cea5e5b0c61a0b39adb6bd6ef1f507"
	  "22e2e4f81115cfcf53f842e2a6c08",
	  "98f8ae1735c39f732e2cbee1156dabeb854ec7a2",
	  "871cd53d95a8b806bd4821e6c4456204d27fd704ba3d07ce25872dc604ea5c5ea13322186"
	  "b7489db4fa060c1fd4159692612c8",
	  "07b48e4a32fac47e115d7ac7445d8330" },
	/* AES-256, PTlen 408, AADlen 720 */
	{ "148579a3cbca86d5520d66c0ec71ca5f7e41ba78e56dc6eebd566fed547fe691",
	  "b08a5ea1927499c6ecbfd4e0",
	  "9d0b15fdf1bd595f91f8b3abc0f7dec927dfd4799935a1795d9ce00c9b879434420fe42c2"
	  "75a7cd7b39d638fb81ca52b49dc41",
	  "e4f963f015ffbb99ee3349bbaf7e8e8e6c2a71c230a48f9d59860a29091d2747e01a5ca57"
	  "2347e247d25f56ba7ae8e05cde2be3c97931292c02370208ecd097ef692687fecf2f419d3"
	  "200162a6480a57dad408a0dfeb492e2c5d",
	  "2097e372950a5e9383c675e89eea1c314f999159f5611344b298cda45e62843716f215f82"
	  "ee663919c64002a5c198d7878fd3f",
	  "adbecdb0d5c2224d804d2886ff9a5760" },
	{ "e49af19182faef0ebeeba9f2d3be044e77b1212358366e4ef59e008aebcd9788",
	  "e7f37d79a6a487a5a703edbb",
	  "461cd0caf7427a3d44408d825ed719237272ecd503b9094d1f62c97d63ed83a0b50bdc804"
	  "ffdd7991da7a5b6dcf48d4bcd2cbc",
	  "19a9a1cfc647346781bef51ed9070d05f99a0e0192a223c5cd2522dbdf97d9739dd39fb17"
	  "8ade3339e68774b058aa03e9a20a9a205bc05f32381df4d63396ef691fefd5a71b49a2ad8"
	  "2d5ea428778ca47ee1398792762413cff4",
	  "32ca3588e3e56eb4c8301b009d8b84b8a900b2b88ca3c21944205e9dd7311757b51394ae9"
	  "0d8bb3807b471677614f4198af909",
	  "3e403d035c71d88f1be1a256c89ba6ad" },
	/* AES-256, PTlen 104, AADlen 0 */
	{ "82c4f12eeec3b2d3d157b0f992d292b237478d2cecc1d5f161389b97f999057a",
	  "7b40b20f5f397177990ef2d1", "982a296ee1cd7086afad976945", "",
	  "ec8e05a0471d6b43a59ca5335f", "113ddeafc62373cac2f5951bb9165249" },
	{ "db4340af2f835a6c6d7ea0ca9d83ca81ba02c29b7410f221cb6071114e393240",
	  "40e438357dd80a85cac3349e", "8ddb3397bd42853193cb0f80c9", "",
	  "b694118c85c41abf69e229cb0f", "c07f1b8aafbd152f697eb67f2a85fe45" },
};

struct kat_bin {
	uint8_t key[32], iv[12], pt[64], aad[96], ct[64], tag[16];
	size_t key_len, pt_len, aad_len;
};

static void
kat_decode(const struct kat *v, struct kat_bin *b)
{
	memset(b, 0, sizeof(*b));
	b->key_len = unhex(v->key, b->key, sizeof(b->key));
	assert_int_equal(unhex(v->iv, b->iv, sizeof(b->iv)), RTR_AEAD_NONCE_LEN);
	b->pt_len = unhex(v->pt, b->pt, sizeof(b->pt));
	b->aad_len = unhex(v->aad, b->aad, sizeof(b->aad));
	assert_int_equal(unhex(v->ct, b->ct, sizeof(b->ct)), b->pt_len);
	assert_int_equal(unhex(v->tag, b->tag, sizeof(b->tag)), RTR_AEAD_TAG_LEN);
}

static void
test_kat(void **state)
{
	struct rtr_aead_op op;
	struct kat_bin b;
	uint8_t out[64], tag[16];
	const uint8_t *aad;
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(kats); i++) {
		kat_decode(&kats[i], &b);
		assert_int_equal(rtr_aead_key_init(mgr, &key_a, b.key, b.key_len), 0);
		/* empty AAD as NULL, as a caller without one would pass it */
		aad = b.aad_len ? b.aad : NULL;

		/* ipsec-mb direct */
		memset(out, 0xa5, sizeof(out));
		assert_int_equal(rtr_aead_seal(mgr, &key_a, b.iv, aad, b.aad_len,
					       b.pt, b.pt_len, out, tag), 0);
		assert_memory_equal(out, b.ct, b.pt_len);
		assert_memory_equal(tag, b.tag, 16);
		memset(out, 0xa5, sizeof(out));
		assert_int_equal(rtr_aead_open(mgr, &key_a, b.iv, aad, b.aad_len,
					       b.ct, b.pt_len, out, b.tag), 0);
		assert_memory_equal(out, b.pt, b.pt_len);

		/* OpenSSL */
		memset(out, 0xa5, sizeof(out));
		assert_int_equal(rtr_aead_seal_ref(b.key, b.key_len, b.iv, aad, b.aad_len,
						   b.pt, b.pt_len, out, tag), 0);
		assert_memory_equal(out, b.ct, b.pt_len);
		assert_memory_equal(tag, b.tag, 16);
		memset(out, 0xa5, sizeof(out));
		assert_int_equal(rtr_aead_open_ref(b.key, b.key_len, b.iv, aad, b.aad_len,
						   b.ct, b.pt_len, out, b.tag), 0);
		assert_memory_equal(out, b.pt, b.pt_len);

		/* ipsec-mb job API, a burst of one */
		memset(out, 0xa5, sizeof(out));
		memset(tag, 0, sizeof(tag));
		op = (struct rtr_aead_op){ .key = &key_a, .nonce = b.iv, .aad = aad,
			.aad_len = b.aad_len, .in = b.pt, .out = out, .len = b.pt_len,
			.tag = tag, .status = 1 };
		assert_int_equal(rtr_aead_seal_burst(mgr, &op, 1), 1);
		assert_int_equal(op.status, 0);
		assert_memory_equal(out, b.ct, b.pt_len);
		assert_memory_equal(tag, b.tag, 16);
		memset(out, 0xa5, sizeof(out));
		op.in = b.ct;
		op.status = 1;
		assert_int_equal(rtr_aead_open_burst(mgr, &op, 1), 1);
		assert_int_equal(op.status, 0);
		assert_memory_equal(out, b.pt, b.pt_len);
	}
	rtr_aead_key_wipe(&key_a);
}

/* ---- ipsec-mb vs OpenSSL ---------------------------------------------------- */

static const size_t aad_lens[] = { 0, 1, 12, 15, 16, 17, 31, HDR_LEN, 33, 48, 64, 100 };

static void
cross_check(unsigned int key_len)
{
	uint8_t key[32], nonce[12], aad[128];
	uint8_t pt_buf[BUF_LEN], ct_imb[BUF_LEN], ct_ref[BUF_LEN], back[BUF_LEN];
	uint8_t tag_imb[16], tag_ref[16];
	size_t len, aad_len;
	unsigned int off;

	for (len = 0; len <= MAX_LEN; len++) {
		/* a new key now and then; every AAD length at every residue */
		if (len % 97 == 0) {
			fill(key, key_len);
			assert_int_equal(rtr_aead_key_init(mgr, &key_a, key, key_len), 0);
		}
		aad_len = len % 3 == 0 ? HDR_LEN : aad_lens[(len / 3) % ARRAY_SIZE(aad_lens)];
		off = (unsigned int)(len % 13);	/* frames are rarely aligned */
		fill(nonce, sizeof(nonce));
		fill(aad, aad_len);
		fill(pt_buf + off, len);

		assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, aad, aad_len,
					       pt_buf + off, len, ct_imb + off, tag_imb), 0);
		assert_int_equal(rtr_aead_seal_ref(key, key_len, nonce, aad, aad_len,
						   pt_buf + off, len, ct_ref + off, tag_ref), 0);
		if (memcmp(ct_imb + off, ct_ref + off, len) != 0 ||
		    memcmp(tag_imb, tag_ref, 16) != 0)
			fail_msg("AES-%u len %zu aad %zu: ipsec-mb and OpenSSL differ",
				 key_len * 8, len, aad_len);

		/* each opens what the other sealed */
		memset(back, 0, sizeof(back));
		assert_int_equal(rtr_aead_open(mgr, &key_a, nonce, aad, aad_len,
					       ct_ref + off, len, back + off, tag_ref), 0);
		assert_memory_equal(back + off, pt_buf + off, len);
		memset(back, 0, sizeof(back));
		assert_int_equal(rtr_aead_open_ref(key, key_len, nonce, aad, aad_len,
						   ct_imb + off, len, back + off, tag_imb), 0);
		assert_memory_equal(back + off, pt_buf + off, len);
	}
	rtr_aead_key_wipe(&key_a);
}

static void
test_cross_128(void **state)
{
	(void)state;
	cross_check(RTR_AEAD_KEY_128);
}

static void
test_cross_256(void **state)
{
	(void)state;
	cross_check(RTR_AEAD_KEY_256);
}

/* ---- bursts ------------------------------------------------------------------ */

#define NFRAMES		300	/* > IMB_MAX_JOBS (256) and > a burst chunk */

struct frame {
	uint8_t nonce[12];
	uint8_t hdr[HDR_LEN];
	uint8_t pt[MAX_LEN];
	uint8_t ct[MAX_LEN];
	uint8_t back[MAX_LEN];
	uint8_t tag[16];
	uint8_t tag_direct[16];
	size_t aad_len;
	size_t len;
	struct rtr_aead_key *key;
};

static struct frame frames[NFRAMES];
static struct rtr_aead_op ops[NFRAMES];

static const size_t mix[] = { 0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 160, 200, 255,
			      256, 257, 511, 512, 640, 1000, 1200, 1400, 1499, 1500 };

static void
frames_make(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct frame *f = &frames[i];

		f->len = i % 3 ? mix[i % ARRAY_SIZE(mix)] : rng() % (MAX_LEN + 1);
		f->aad_len = i % 7 == 6 ? 0 : HDR_LEN;
		f->key = i % 2 ? &key_b : &key_a;
		fill(f->nonce, sizeof(f->nonce));
		fill(f->hdr, sizeof(f->hdr));
		fill(f->pt, f->len);
		memset(f->ct, 0, sizeof(f->ct));
		memset(f->back, 0, sizeof(f->back));
	}
}

static void
ops_make(unsigned int n, bool seal)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct frame *f = &frames[i];

		ops[i] = (struct rtr_aead_op){
			.key = f->key, .nonce = f->nonce,
			.aad = f->aad_len ? f->hdr : NULL, .aad_len = (uint32_t)f->aad_len,
			.in = seal ? f->pt : f->ct, .out = seal ? f->ct : f->back,
			.len = (uint32_t)f->len, .tag = f->tag, .status = 1,
		};
	}
}

static void
burst_vs_direct(unsigned int n)
{
	uint8_t k1[16], k2[32], ct[MAX_LEN];
	unsigned int i;

	fill(k1, sizeof(k1));
	fill(k2, sizeof(k2));
	assert_int_equal(rtr_aead_key_init(mgr, &key_a, k1, sizeof(k1)), 0);
	assert_int_equal(rtr_aead_key_init(mgr, &key_b, k2, sizeof(k2)), 0);
	frames_make(n);

	ops_make(n, true);
	assert_int_equal(rtr_aead_seal_burst(mgr, ops, n), n);
	for (i = 0; i < n; i++) {
		struct frame *f = &frames[i];

		assert_int_equal(ops[i].status, 0);
		assert_int_equal(rtr_aead_seal(mgr, f->key, f->nonce, f->hdr, f->aad_len,
					       f->pt, f->len, ct, f->tag_direct), 0);
		assert_memory_equal(ct, f->ct, f->len);
		assert_memory_equal(f->tag_direct, f->tag, 16);
	}

	ops_make(n, false);
	assert_int_equal(rtr_aead_open_burst(mgr, ops, n), n);
	for (i = 0; i < n; i++) {
		assert_int_equal(ops[i].status, 0);
		assert_memory_equal(frames[i].back, frames[i].pt, frames[i].len);
	}
}

static void
test_burst_64(void **state)
{
	(void)state;
	burst_vs_direct(64);
}

static void
test_burst_many(void **state)
{
	(void)state;
	burst_vs_direct(NFRAMES);
	burst_vs_direct(1);
	assert_int_equal(rtr_aead_seal_burst(mgr, ops, 0), 0);
}

/* Bad frames in a burst fail alone: the others still open. */
static void
test_burst_failures(void **state)
{
	const unsigned int n = 64;
	struct rtr_aead_key dead;
	unsigned int i, bad = 0;

	(void)state;
	burst_vs_direct(n);		/* frames[] sealed, keys installed */
	ops_make(n, false);
	for (i = 0; i < n; i++) {
		struct frame *f = &frames[i];

		memset(f->back, 0x5a, sizeof(f->back));
		switch (i % 8) {
		case 1:
			if (f->len) {
				f->ct[f->len / 2] ^= 0x01;
				bad++;
			}
			break;
		case 3:
			f->tag[15] ^= 0x80;
			bad++;
			break;
		case 5:
			if (f->aad_len) {
				f->hdr[HDR_LEN - 1] ^= 0x10;
				bad++;
			}
			break;
		}
	}
	/* invalid ops: refused, not counted, output untouched */
	ops[6].key = NULL;
	memset(&dead, 0, sizeof(dead));
	ops[14].key = &dead;
	ops[22].nonce = NULL;
	if (ops[30].len == 0)
		ops[30].len = 1;
	ops[30].in = NULL;

	assert_int_equal(rtr_aead_open_burst(mgr, ops, n), n - bad - 4);
	for (i = 0; i < n; i++) {
		struct frame *f = &frames[i];

		if (i == 6 || i == 14 || i == 22 || i == 30) {
			assert_int_equal(ops[i].status, -EINVAL);
			if (f->len)
				assert_int_equal(f->back[0], 0x5a);
			continue;
		}
		if ((i % 8 == 1 && f->len) || i % 8 == 3 || (i % 8 == 5 && f->aad_len)) {
			assert_int_equal(ops[i].status, -EBADMSG);
			assert_true(all_zero(f->back, f->len));
			continue;
		}
		assert_int_equal(ops[i].status, 0);
		assert_memory_equal(f->back, f->pt, f->len);
	}
}

/* ---- tampering ---------------------------------------------------------------- */

enum path { P_DIRECT, P_REF, P_BURST };

/* Open ct (len) into out through one path: 0 or a negative errno. */
static int
open_via(enum path p, const struct rtr_aead_key *k, const uint8_t *raw_key,
	 unsigned int key_len, const uint8_t *nonce, const uint8_t *aad,
	 size_t aad_len, const uint8_t *ct, size_t len, uint8_t *out,
	 const uint8_t *tag)
{
	struct rtr_aead_op op;
	unsigned int n_ok;
	uint8_t t[16];

	switch (p) {
	case P_DIRECT:
		return rtr_aead_open(mgr, k, nonce, aad, aad_len, ct, len, out, tag);
	case P_REF:
		return rtr_aead_open_ref(raw_key, key_len, nonce, aad, aad_len,
					 ct, len, out, tag);
	default:
		memcpy(t, tag, sizeof(t));
		op = (struct rtr_aead_op){ .key = k, .nonce = nonce, .aad = aad,
			.aad_len = (uint32_t)aad_len, .in = ct, .out = out,
			.len = (uint32_t)len, .tag = t, .status = 1 };
		n_ok = rtr_aead_open_burst(mgr, &op, 1);
		if (n_ok != (op.status == 0 ? 1u : 0u))
			return -EPROTO;	/* count and status disagree */
		return op.status;
	}
}

static void
expect_refused(enum path p, const struct rtr_aead_key *k, const uint8_t *raw_key,
	       unsigned int key_len, const uint8_t *nonce, const uint8_t *aad,
	       size_t aad_len, const uint8_t *ct, size_t len, const uint8_t *tag,
	       const char *what)
{
	uint8_t out[BUF_LEN];
	int rc;

	memset(out, 0xee, sizeof(out));
	rc = open_via(p, k, raw_key, key_len, nonce, aad, aad_len, ct, len, out, tag);
	if (rc != -EBADMSG)
		fail_msg("path %d AES-%u len %zu, %s: got %d, want -EBADMSG",
			 p, key_len * 8, len, what, rc);
	if (!all_zero(out, len))
		fail_msg("path %d AES-%u len %zu, %s: output not wiped",
			 p, key_len * 8, len, what);
	assert_int_equal(out[len], 0xee);	/* and nothing beyond it */
}

static void
tamper(unsigned int key_len)
{
	static const size_t lens[] = { 0, 1, 16, 33, 200, 1200 };
	uint8_t key[32], other[32], nonce[12], hdr[HDR_LEN], pt[BUF_LEN], ct[BUF_LEN];
	uint8_t tag[16], bad_tag[16], bad_nonce[12], bad_hdr[HDR_LEN], bad_ct[BUF_LEN];
	unsigned int li, p, i;
	size_t len;

	fill(key, sizeof(key));
	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	assert_int_equal(rtr_aead_key_init(mgr, &key_a, key, key_len), 0);
	assert_int_equal(rtr_aead_key_init(mgr, &key_b, other, key_len), 0);

	for (li = 0; li < ARRAY_SIZE(lens); li++) {
		len = lens[li];
		fill(nonce, sizeof(nonce));
		fill(hdr, sizeof(hdr));
		fill(pt, len);
		assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, hdr, HDR_LEN, pt, len,
					       ct, tag), 0);

		for (p = P_DIRECT; p <= P_BURST; p++) {
			uint8_t out[BUF_LEN];

			/* untouched: opens */
			assert_int_equal(open_via(p, &key_a, key, key_len, nonce, hdr, HDR_LEN,
						  ct, len, out, tag), 0);
			assert_memory_equal(out, pt, len);

			/* each ciphertext byte (every 7th for long frames) */
			for (i = 0; i < len; i += len > 64 ? 7 : 1) {
				memcpy(bad_ct, ct, len);
				bad_ct[i] ^= (uint8_t)(1u << (i % 8));
				expect_refused(p, &key_a, key, key_len, nonce, hdr, HDR_LEN,
					       bad_ct, len, tag, "ciphertext byte");
			}
			/* each AAD byte */
			for (i = 0; i < HDR_LEN; i++) {
				memcpy(bad_hdr, hdr, HDR_LEN);
				bad_hdr[i] ^= 0x80;
				expect_refused(p, &key_a, key, key_len, nonce, bad_hdr, HDR_LEN,
					       ct, len, tag, "AAD byte");
			}
			/* AAD dropped or shortened */
			expect_refused(p, &key_a, key, key_len, nonce, NULL, 0,
				       ct, len, tag, "no AAD");
			expect_refused(p, &key_a, key, key_len, nonce, hdr, HDR_LEN - 1,
				       ct, len, tag, "short AAD");
			/* each tag byte */
			for (i = 0; i < 16; i++) {
				memcpy(bad_tag, tag, 16);
				bad_tag[i] ^= 0x01;
				expect_refused(p, &key_a, key, key_len, nonce, hdr, HDR_LEN,
					       ct, len, bad_tag, "tag byte");
			}
			/* another nonce (counter), another key */
			memcpy(bad_nonce, nonce, 12);
			bad_nonce[11] ^= 1;
			expect_refused(p, &key_a, key, key_len, bad_nonce, hdr, HDR_LEN,
				       ct, len, tag, "nonce");
			expect_refused(p, &key_b, other, key_len, nonce, hdr, HDR_LEN,
				       ct, len, tag, "key");
			/* truncated frame */
			if (len)
				expect_refused(p, &key_a, key, key_len, nonce, hdr, HDR_LEN,
					       ct, len - 1, tag, "truncated");
		}
	}

	/* a failed in-place open leaves zeros where the ciphertext was */
	len = 200;
	fill(pt, len);
	assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, hdr, HDR_LEN, pt, len, ct, tag), 0);
	tag[0] ^= 1;
	memcpy(bad_ct, ct, len);
	assert_int_equal(rtr_aead_open(mgr, &key_a, nonce, hdr, HDR_LEN, bad_ct, len,
				       bad_ct, tag), -EBADMSG);
	assert_true(all_zero(bad_ct, len));
	memcpy(bad_ct, ct, len);
	assert_int_equal(rtr_aead_open_ref(key, key_len, nonce, hdr, HDR_LEN, bad_ct, len,
					   bad_ct, tag), -EBADMSG);
	assert_true(all_zero(bad_ct, len));

	rtr_aead_key_wipe(&key_a);
	rtr_aead_key_wipe(&key_b);
}

static void
test_tamper_128(void **state)
{
	(void)state;
	tamper(RTR_AEAD_KEY_128);
}

static void
test_tamper_256(void **state)
{
	(void)state;
	tamper(RTR_AEAD_KEY_256);
}

/* ---- in place ------------------------------------------------------------------- */

static void
test_in_place(void **state)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 200, 1200, 1500 };
	uint8_t key[32], nonce[12], hdr[HDR_LEN], pt[BUF_LEN], ct[BUF_LEN], buf[BUF_LEN];
	uint8_t tag[16], tag2[16];
	struct rtr_aead_op op;
	unsigned int key_len, li;
	size_t len;

	(void)state;
	for (key_len = 16; key_len <= 32; key_len += 16) {
		fill(key, sizeof(key));
		assert_int_equal(rtr_aead_key_init(mgr, &key_a, key, key_len), 0);
		for (li = 0; li < ARRAY_SIZE(lens); li++) {
			len = lens[li];
			fill(nonce, sizeof(nonce));
			fill(hdr, sizeof(hdr));
			fill(pt, len);
			assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, hdr, HDR_LEN,
						       pt, len, ct, tag), 0);

			/* direct */
			memcpy(buf, pt, len);
			assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, hdr, HDR_LEN,
						       buf, len, buf, tag2), 0);
			assert_memory_equal(buf, ct, len);
			assert_memory_equal(tag2, tag, 16);
			assert_int_equal(rtr_aead_open(mgr, &key_a, nonce, hdr, HDR_LEN,
						       buf, len, buf, tag2), 0);
			assert_memory_equal(buf, pt, len);

			/* OpenSSL */
			memcpy(buf, pt, len);
			assert_int_equal(rtr_aead_seal_ref(key, key_len, nonce, hdr, HDR_LEN,
							   buf, len, buf, tag2), 0);
			assert_memory_equal(buf, ct, len);
			assert_memory_equal(tag2, tag, 16);
			assert_int_equal(rtr_aead_open_ref(key, key_len, nonce, hdr, HDR_LEN,
							   buf, len, buf, tag2), 0);
			assert_memory_equal(buf, pt, len);

			/* burst */
			memcpy(buf, pt, len);
			memset(tag2, 0, sizeof(tag2));
			op = (struct rtr_aead_op){ .key = &key_a, .nonce = nonce, .aad = hdr,
				.aad_len = HDR_LEN, .in = buf, .out = buf,
				.len = (uint32_t)len, .tag = tag2, .status = 1 };
			assert_int_equal(rtr_aead_seal_burst(mgr, &op, 1), 1);
			assert_memory_equal(buf, ct, len);
			assert_memory_equal(tag2, tag, 16);
			assert_int_equal(rtr_aead_open_burst(mgr, &op, 1), 1);
			assert_memory_equal(buf, pt, len);
		}
	}
	rtr_aead_key_wipe(&key_a);
}

/* ---- arguments ------------------------------------------------------------------- */

static void
test_args(void **state)
{
	static struct {
		uint8_t pad[16];
		struct rtr_aead_key k;
	} holder;
	struct rtr_aead_key *mis = (struct rtr_aead_key *)(void *)(holder.pad + 8);
	uint8_t key[32] = { 1 }, nonce[12] = { 0 }, buf[64] = { 0 }, tag[16];

	(void)state;
	assert_int_equal(rtr_aead_key_init(mgr, &key_a, key, 24), -EINVAL);
	assert_int_equal(rtr_aead_key_init(mgr, &key_a, key, 0), -EINVAL);
	assert_int_equal(rtr_aead_key_init(NULL, &key_a, key, 16), -EINVAL);
	assert_int_equal(rtr_aead_key_init(mgr, NULL, key, 16), -EINVAL);
	assert_int_equal(rtr_aead_key_init(mgr, &key_a, NULL, 16), -EINVAL);
	assert_int_equal(rtr_aead_key_init(mgr, mis, key, 16), -EINVAL);

	/* a wiped key is not installed: refused, never used as all zeros */
	assert_int_equal(rtr_aead_key_init(mgr, &key_a, key, 16), 0);
	assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, NULL, 0, buf, 16, buf, tag), 0);
	rtr_aead_key_wipe(&key_a);
	assert_true(all_zero((const uint8_t *)&key_a, sizeof(key_a)));
	assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, NULL, 0, buf, 16, buf, tag),
			 -EINVAL);
	assert_int_equal(rtr_aead_open(mgr, &key_a, nonce, NULL, 0, buf, 16, buf, tag),
			 -EINVAL);
	rtr_aead_key_wipe(NULL);

	/* a key expanded for another code path */
	assert_int_equal(rtr_aead_key_init(mgr, &key_a, key, 32), 0);
	key_a.arch ^= 1;
	assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, NULL, 0, buf, 16, buf, tag),
			 -EINVAL);
	key_a.arch ^= 1;

	/* NULL pointers: data only when its length is 0 */
	assert_int_equal(rtr_aead_seal(mgr, &key_a, NULL, NULL, 0, buf, 16, buf, tag),
			 -EINVAL);
	assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, NULL, 0, buf, 16, buf, NULL),
			 -EINVAL);
	assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, NULL, 1, buf, 16, buf, tag),
			 -EINVAL);
	assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, NULL, 0, NULL, 16, buf, tag),
			 -EINVAL);
	assert_int_equal(rtr_aead_open(mgr, &key_a, nonce, NULL, 0, buf, 16, NULL, tag),
			 -EINVAL);
	assert_int_equal(rtr_aead_seal(NULL, &key_a, nonce, NULL, 0, buf, 16, buf, tag),
			 -EINVAL);
	assert_int_equal(rtr_aead_seal(mgr, NULL, nonce, NULL, 0, buf, 16, buf, tag),
			 -EINVAL);
	assert_int_equal(rtr_aead_seal_ref(key, 24, nonce, NULL, 0, buf, 16, buf, tag),
			 -EINVAL);
	/* empty frame, no AAD, all data pointers NULL: a valid GCM message */
	assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, NULL, 0, NULL, 0, NULL, tag), 0);
	assert_int_equal(rtr_aead_open(mgr, &key_a, nonce, NULL, 0, NULL, 0, NULL, tag), 0);
	assert_int_equal(rtr_aead_open_ref(key, 32, nonce, NULL, 0, NULL, 0, NULL, tag), 0);
	assert_int_equal(rtr_aead_seal_burst(NULL, ops, 1), 0);
	rtr_aead_key_wipe(&key_a);
}

/* ---- micro-benchmark (RTR_BENCH=1) ---------------------------------------------- */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum bench_kind { B_IMB_SEAL, B_IMB_OPEN, B_IMB_BURST, B_EVP_SEAL, B_EVP_OPEN, B_REF_SEAL };

static const char *const bench_names[] = {
	[B_IMB_SEAL] = "ipsec-mb seal (direct)",
	[B_IMB_OPEN] = "ipsec-mb open (direct)",
	[B_IMB_BURST] = "ipsec-mb seal (burst 32)",
	[B_EVP_SEAL] = "OpenSSL EVP seal",
	[B_EVP_OPEN] = "OpenSSL EVP open",
	[B_REF_SEAL] = "rtr_aead_seal_ref",
};

#define BENCH_BURST	32

/* One timed loop: iters frames of len bytes with 32 bytes of AAD. */
static void
bench_one(enum bench_kind kind, unsigned int key_len, size_t len, unsigned int iters,
	  double *ns, double *cyc)
{
	static uint8_t pt[BENCH_BURST][MAX_LEN], ct[BENCH_BURST][MAX_LEN];
	static uint8_t tags[BENCH_BURST][16];
	struct rtr_aead_op bops[BENCH_BURST];
	uint8_t key[32], nonce[12] = { 0 }, hdr[HDR_LEN], tag[16], fin[16];
	const EVP_CIPHER *cipher = key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	EVP_CIPHER_CTX *c = NULL;
	uint64_t t0, c0, ctr = 0;
	unsigned int i, j;
	int outl;

	fill(key, sizeof(key));
	fill(hdr, sizeof(hdr));
	fill(pt[0], len);
	assert_int_equal(rtr_aead_key_init(mgr, &key_a, key, key_len), 0);
	/* what the open loops open: a real frame, so the tag matches */
	assert_int_equal(rtr_aead_seal(mgr, &key_a, nonce, hdr, HDR_LEN, pt[0], len,
				       ct[0], tag), 0);
	if (kind == B_EVP_SEAL || kind == B_EVP_OPEN) {
		/* the fair OpenSSL set-up: key schedule once, IV per frame */
		c = EVP_CIPHER_CTX_new();
		assert_non_null(c);
		assert_int_equal(EVP_CipherInit_ex(c, cipher, NULL, key, NULL,
						   kind == B_EVP_SEAL), 1);
	}
	for (j = 0; j < BENCH_BURST; j++) {
		memcpy(pt[j], pt[0], len);
		bops[j] = (struct rtr_aead_op){ .key = &key_a, .nonce = nonce,
			.aad = hdr, .aad_len = HDR_LEN, .in = pt[j], .out = ct[j] + 0,
			.len = (uint32_t)len, .tag = tags[j] };
	}
	if (kind == B_IMB_BURST)
		iters -= iters % BENCH_BURST;

	t0 = now_ns();
	c0 = __rdtsc();
	for (i = 0; i < iters; i++) {
		switch (kind) {
		case B_IMB_SEAL:
			memcpy(nonce + 4, &ctr, 8);
			ctr++;
			rtr_aead_seal(mgr, &key_a, nonce, hdr, HDR_LEN, pt[0], len, ct[1], tag);
			break;
		case B_IMB_OPEN:
			if (rtr_aead_open(mgr, &key_a, nonce, hdr, HDR_LEN, ct[0], len,
					  pt[1], tag) != 0)
				fail_msg("bench: open failed");
			break;
		case B_IMB_BURST:
			if (i % BENCH_BURST == 0)
				rtr_aead_seal_burst(mgr, bops, BENCH_BURST);
			break;
		case B_EVP_SEAL:
			memcpy(nonce + 4, &ctr, 8);
			ctr++;
			EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce);
			EVP_EncryptUpdate(c, NULL, &outl, hdr, HDR_LEN);
			EVP_EncryptUpdate(c, ct[1], &outl, pt[0], (int)len);
			EVP_EncryptFinal_ex(c, fin, &outl);
			EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
			break;
		case B_EVP_OPEN:
			EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce);
			EVP_DecryptUpdate(c, NULL, &outl, hdr, HDR_LEN);
			EVP_DecryptUpdate(c, pt[1], &outl, ct[0], (int)len);
			EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag);
			if (EVP_DecryptFinal_ex(c, fin, &outl) != 1)
				fail_msg("bench: EVP open failed");
			break;
		case B_REF_SEAL:
			rtr_aead_seal_ref(key, key_len, nonce, hdr, HDR_LEN, pt[0], len,
					  ct[1], tag);
			break;
		}
	}
	*cyc = (double)(__rdtsc() - c0) / iters;
	*ns = (double)(now_ns() - t0) / iters;
	EVP_CIPHER_CTX_free(c);
	rtr_aead_key_wipe(&key_a);
}

static void
bench(void)
{
	static const size_t sizes[] = { 64, 200, 1200 };
	unsigned int key_len, k, s;
	double ns, cyc;

	printf("\nAES-GCM micro-benchmark: 32-byte AAD, one core, ipsec-mb %s (%s)\n",
	       imb_get_version_str(), rtr_aead_mgr_arch(mgr));
	printf("cycles are TSC ticks (reference cycles, not core clocks)\n");
	for (key_len = 16; key_len <= 32; key_len += 16) {
		printf("\nAES-%u-GCM %28s", key_len * 8, "");
		for (s = 0; s < ARRAY_SIZE(sizes); s++)
			printf("  %5zu B: ns  cyc ", sizes[s]);
		printf("\n");
		for (k = 0; k < ARRAY_SIZE(bench_names); k++) {
			printf("  %-36s", bench_names[k]);
			for (s = 0; s < ARRAY_SIZE(sizes); s++) {
				unsigned int iters = sizes[s] > 500 ? 100000 : 400000;

				if (k == B_REF_SEAL)
					iters /= 4;
				bench_one(k, key_len, sizes[s], iters / 8, &ns, &cyc);	/* warm */
				bench_one(k, key_len, sizes[s], iters, &ns, &cyc);
				printf("  %7.1f %6.0f  ", ns, cyc);
			}
			printf("\n");
		}
	}
	printf("\n(EVP rows reuse one context: key schedule once, IV per frame;\n"
	       " rtr_aead_seal_ref allocates and keys a context per frame)\n");
}

/* ---- main --------------------------------------------------------------------- */

static int
setup(void **state)
{
	(void)state;
	mgr = rtr_aead_mgr_new();
	if (mgr == NULL)
		return -1;
	print_message("ipsec-mb %s, code path %s\n", imb_get_version_str(),
		      rtr_aead_mgr_arch(mgr));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	rtr_aead_mgr_free(mgr);
	mgr = NULL;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat),
		cmocka_unit_test(test_cross_128),
		cmocka_unit_test(test_cross_256),
		cmocka_unit_test(test_burst_64),
		cmocka_unit_test(test_burst_many),
		cmocka_unit_test(test_burst_failures),
		cmocka_unit_test(test_tamper_128),
		cmocka_unit_test(test_tamper_256),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_args),
	};
	const char *b = getenv("RTR_BENCH");
	int rc;

	rc = cmocka_run_group_tests(tests, setup, teardown);
	if (b != NULL && strcmp(b, "1") == 0) {
		mgr = rtr_aead_mgr_new();
		if (mgr == NULL) {
			perror("rtr_aead_mgr_new");
			return 1;
		}
		bench();
		rtr_aead_mgr_free(mgr);
	}
	return rc;
}
