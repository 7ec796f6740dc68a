/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-client: a relay client on kernel UDP sockets (wire protocol v1,
 * docs/protocol.md section 14). It joins a channel with an AccessToken2,
 * validates its path with a KEEPALIVE, then publishes or receives MEDIA and
 * measures what arrives: loss, duplicates, reordering, one-way latency,
 * misdelivery.
 *
 *   rtr-client join --server ADDR[:PORT] --app-id HEX --token-file F --channel NAME --uid N
 *                   [--server-key HEX64 | --server-key-file F] [--enc SUITE]
 *   rtr-client pub  ... --rate FPS --count N | --duration S [--kind K] [--size B]
 *   rtr-client sub  ... --duration S [--expect N]
 *   rtr-client load --server ... --app-id ... --tokens FILE --users N --channels C
 *                   --rate R --duration D
 *
 * Plaintext (suite 0) unless the node's public key is given: then every
 * session joins with a Noise_NK handshake (JOIN carries message 1, JOIN_ACK
 * message 2, protocol.md 16.1) and every frame after it is sealed with
 * AES-GCM under the session's transport keys (16.3): the uplink counter per
 * key phase is the nonce, the downlink is checked against one replay window
 * per lane. The client follows the node's challenges (roaming, 16.6) and
 * REKEY_REQUESTED (16.7), and joins with a fresh handshake when its
 * KEEPALIVEs go unanswered (16.8). Keys and handshake states are wiped as
 * soon as a session ends or joins again; nothing secret is ever printed.
 *
 * One thread, one epoll loop and a timer heap for every command: a session
 * (one user, one socket) is a state machine WAIT -> JOIN -> PATH -> ACTIVE.
 * Everything received is checked field by field before use; the token is
 * never printed and is wiped from memory (and from argv) as soon as possible.
 *
 * Exit codes: 0 done, 1 refused (ERROR, or a JOIN_ACK with a non-zero status),
 * 2 usage, 3 failure (socket error, malformed answer, interrupted), 4 no answer.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "rtr_wire.h"
#include "noise.h"
#include "aead.h"
#include "replay.h"

#define EXIT_REFUSED	1
#define EXIT_USAGE	2
#define EXIT_FAIL	3
#define EXIT_NOANSWER	4

#define NS_PER_US	UINT64_C(1000)
#define NS_PER_MS	UINT64_C(1000000)
#define NS_PER_S	UINT64_C(1000000000)

#define TOKEN_MAX	512
#define CHANNEL_MAX	64
#define APP_ID_LEN	32
#define STAMP_LEN	20	/* MEDIA payload: u64 send ns, u32 uid, u64 channel_hash */
#define MEDIA_MAX	(RTR_MAX_UDP_PAYLOAD - RTR_HDR_LEN)
#define ACK_BODY_LEN	33
#define KA_PAYLOAD	16	/* u64 path token, u64 client timestamp */
#define KA_LEN		(RTR_HDR_LEN + KA_PAYLOAD)
#define KA_SLOTS	4
#define TRIES		3	/* JOINs (or path KEEPALIVEs) sent before giving up */
#define MISSED_MAX	3	/* consecutive keepalive echoes missed: join again */
#define KA_MIN_MS	50	/* bounds applied to the server's keepalive_ms */
#define KA_MAX_MS	3600000u
#define PEERS_MAX	65536	/* senders tracked per receiver */
#define WIN_BITS	256	/* duplicate/reorder window per sender */
#define WIN_WORDS	(WIN_BITS / 64)
#define RX_BURST	64
#define TX_BURST	64
#define TIMER_BURST	1024
#define LAT_MAX_US	(UINT64_C(60) * 1000000)	/* older stamps count as clock skew */
#define DRAIN_QUIET	(200 * NS_PER_MS)
#define DRAIN_MAX	(2 * NS_PER_S)
#define JOIN_FIELDS_MAX	(2 + TOKEN_MAX + 2 + APP_ID_LEN + 2 + CHANNEL_MAX + 4 + 1)
#define JOIN_MAX_LEN	(RTR_HDR_LEN + 1 + JOIN_FIELDS_MAX)

/* Transport encryption (protocol.md 16) */
#define TAG_LEN		RTR_TAG_LEN
#define FRAMENO_LEN	8	/* enc MEDIA: the sender's u64 frame number after the stamp */
#define STAMP_ENC_LEN	(STAMP_LEN + FRAMENO_LEN)
#define MEDIA_ENC_MAX	(MEDIA_MAX - TAG_LEN)
#define KA_ENC_PT	RTR_KA_ENC_MIN	/* u64 path token, u64 challenge, u64 client timestamp */
#define KA_ENC_LEN	(RTR_HDR_LEN + KA_ENC_PT + TAG_LEN)
#define ACK_ENC_PLEN	(1 + RTR_NOISE_OVERHEAD + ACK_BODY_LEN)	/* suite, message 2 */
#define REKEY_MAC_LEN	32
/* the sealed JOIN plaintext is padded so that the UDP payload is >= 256 bytes */
#define JOIN_ENC_PT_MIN	(RTR_JOIN_MIN_PAYLOAD - RTR_HDR_LEN - 1 - RTR_NOISE_OVERHEAD)
#define JOIN_ENC_PT_MAX	(JOIN_FIELDS_MAX + REKEY_MAC_LEN)
#define JOIN_ENC_MAX	(RTR_HDR_LEN + 1 + RTR_NOISE_OVERHEAD + JOIN_ENC_PT_MAX)
#define OLD_KEY_NS	(5 * NS_PER_S)	/* the previous phase's downlink key after a rekey */
#define ROAM_WAIT_NS	(10 * NS_PER_S)	/* join --roam-after: longest wait for the move */
#define ROAM_PROBE_NS	(20 * NS_PER_MS)	/* after a move: KEEPALIVE again this soon ... */
#define ROAM_PROBES	50			/* ... this many times, until a challenge comes */
#define LANES_MAX	256

_Static_assert(JOIN_MAX_LEN <= RTR_MAX_UDP_PAYLOAD, "JOIN fits a relay datagram");
_Static_assert(JOIN_ENC_MAX <= RTR_MAX_UDP_PAYLOAD, "encrypted JOIN fits a relay datagram");
_Static_assert(JOIN_ENC_PT_MIN > 0 && JOIN_ENC_PT_MIN <= JOIN_ENC_PT_MAX, "JOIN padding");
_Static_assert(RTR_JOIN_MIN_PAYLOAD <= RTR_MAX_UDP_PAYLOAD, "JOIN padding");
_Static_assert(KA_ENC_LEN == 72 && ACK_ENC_PLEN == 82, "protocol.md 13.2, 16.5");
_Static_assert(RTR_TAG_LEN == RTR_AEAD_TAG_LEN, "one AES-GCM tag length");

static const unsigned int retry_ms[TRIES] = { 500, 1000, 2000 };

enum {
	CMD_JOIN = 1,
	CMD_PUB = 2,
	CMD_SUB = 4,
	CMD_LOAD = 8,
};
#define CMD_ONE		(CMD_JOIN | CMD_PUB | CMD_SUB)
#define CMD_ALL		(CMD_ONE | CMD_LOAD)

static const char *const err_names[] = {
	[RTR_E_MALFORMED] = "MALFORMED",
	[RTR_E_VERSION] = "VERSION",
	[RTR_E_APP_UNKNOWN] = "APP_UNKNOWN",
	[RTR_E_APP_DISABLED] = "APP_DISABLED",
	[RTR_E_TOKEN_INVALID] = "TOKEN_INVALID",
	[RTR_E_TOKEN_EXPIRED] = "TOKEN_EXPIRED",
	[RTR_E_PRIVILEGE] = "PRIVILEGE",
	[RTR_E_CHANNEL_FULL] = "CHANNEL_FULL",
	[RTR_E_QUOTA] = "QUOTA",
	[RTR_E_GEOFENCED] = "GEOFENCED",
	[RTR_E_ACL_DENIED] = "ACL_DENIED",
	[RTR_E_RATE_LIMITED] = "RATE_LIMITED",
	[RTR_E_ENC_REQUIRED] = "ENC_REQUIRED",
	[RTR_E_BUSY] = "BUSY",
	[RTR_E_UID_CONFLICT] = "UID_CONFLICT",
};

static const char *const kind_names[] = { "audio", "video", "data", "invalid" };
static const char *const suite_names[] = { "none", "aes128gcm", "aes256gcm" };

/* ---------------------------------------------------------------------- */
/* Configuration                                                          */

struct cfg {
	unsigned int cmd;
	const char *cmd_name;
	const char *server_arg;
	struct sockaddr_storage server;
	socklen_t server_len;
	struct sockaddr_storage bind;
	socklen_t bind_len;		/* 0: no --bind */
	char app_id[APP_ID_LEN + 1];
	char *token;			/* owned, wiped at exit */
	size_t token_len;
	const char *channel;
	uint32_t uid;
	uint8_t role;
	bool json;
	double rate;
	uint64_t count;
	uint64_t duration_ns;
	uint64_t expect;
	unsigned int kind;
	unsigned int size;
	unsigned int users;
	unsigned int channels;
	const char *tokens_file;
	double join_rate;
	uint8_t suite;			/* 0 plaintext, RTR_NOISE_SUITE_* */
	uint8_t server_key[RTR_NOISE_KEY_LEN];	/* the node's public X25519 key */
	uint64_t roam_after_ns;		/* 0: never move */
};

static struct cfg cfg;

/* ---------------------------------------------------------------------- */
/* Latency histogram: exact below 128 us, then 64 buckets per octave.      */

#define HIST_LIN	128
#define HIST_SUBB	6
#define HIST_OCT	32
#define HIST_N		(HIST_LIN + (HIST_OCT << HIST_SUBB))

struct hist {
	uint64_t n, sum, min, max;
	uint64_t b[HIST_N];
};

static void
hist_add(struct hist *h, uint64_t v)
{
	unsigned int i;

	if (v < HIST_LIN) {
		i = (unsigned int)v;
	} else {
		unsigned int e = 63 - (unsigned int)__builtin_clzll(v);	/* >= 7 */
		unsigned int oct = e - 7;

		if (oct >= HIST_OCT)
			i = HIST_N - 1;
		else
			i = HIST_LIN + (oct << HIST_SUBB) +
			    (unsigned int)((v >> (e - HIST_SUBB)) & ((1u << HIST_SUBB) - 1));
	}
	h->b[i]++;
	if (h->n == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->n++;
	h->sum += v;
}

static uint64_t
hist_value(unsigned int i)
{
	unsigned int oct, sub, shift;

	if (i < HIST_LIN)
		return i;
	i -= HIST_LIN;
	oct = i >> HIST_SUBB;
	sub = i & ((1u << HIST_SUBB) - 1);
	shift = oct + 7 - HIST_SUBB;
	return ((((uint64_t)1 << HIST_SUBB) + sub) << shift) + (((uint64_t)1 << shift) >> 1);
}

/* Nearest-rank percentile, clamped to the exact minimum and maximum. */
static uint64_t
hist_pct(const struct hist *h, unsigned int pct)
{
	uint64_t rank = (h->n * pct + 99) / 100, seen = 0, v = h->max;
	unsigned int i;

	if (rank == 0)
		rank = 1;
	for (i = 0; i < HIST_N; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			v = hist_value(i);
			break;
		}
	}
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

static void
hist_merge(struct hist *d, const struct hist *s)
{
	unsigned int i;

	if (s->n == 0)
		return;
	for (i = 0; i < HIST_N; i++)
		d->b[i] += s->b[i];
	if (d->n == 0 || s->min < d->min)
		d->min = s->min;
	if (s->max > d->max)
		d->max = s->max;
	d->n += s->n;
	d->sum += s->sum;
}

/* ---------------------------------------------------------------------- */
/* Per-sender receive state                                               */

struct peer {
	uint32_t uid;
	uint32_t member_id;	/* last seen */
	uint64_t first, max;	/* lowest and highest counter seen */
	uint64_t unique, dups, reordered, late;
	uint64_t transit;	/* last rx - send, ns (modular) */
	uint64_t jitter;	/* RFC 3550 estimate, ns */
	uint64_t win[WIN_WORDS];	/* bit i: counter max - i seen */
};

struct peers {
	struct peer *v;
	uint32_t n, cap;
	uint32_t *idx;		/* open addressing: peer index + 1; 0 empty */
	uint32_t mask;
};

static uint32_t
hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static int
peers_grow(struct peers *ps)
{
	uint32_t size = ps->idx != NULL ? (ps->mask + 1) * 2 : 16, i, h;
	uint32_t *idx = calloc(size, sizeof(*idx));

	if (idx == NULL)
		return -1;
	for (i = 0; i < ps->n; i++) {
		for (h = hash32(ps->v[i].uid) & (size - 1); idx[h] != 0; h = (h + 1) & (size - 1))
			;
		idx[h] = i + 1;
	}
	free(ps->idx);
	ps->idx = idx;
	ps->mask = size - 1;
	return 0;
}

/* The sender with this uid, created on first sight; NULL past PEERS_MAX. */
static struct peer *
peer_get(struct peers *ps, uint32_t uid)
{
	struct peer *p;
	uint32_t h, i;

	if (ps->idx != NULL)
		for (h = hash32(uid) & ps->mask; (i = ps->idx[h]) != 0; h = (h + 1) & ps->mask)
			if (ps->v[i - 1].uid == uid)
				return &ps->v[i - 1];
	if (ps->n >= PEERS_MAX)
		return NULL;
	if ((ps->idx == NULL || (ps->n + 1) * 2 > ps->mask + 1) && peers_grow(ps) < 0)
		return NULL;
	if (ps->n == ps->cap) {
		uint32_t cap = ps->cap ? ps->cap * 2 : 8;
		struct peer *v = realloc(ps->v, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		ps->v = v;
		ps->cap = cap;
	}
	for (h = hash32(uid) & ps->mask; ps->idx[h] != 0; h = (h + 1) & ps->mask)
		;
	ps->idx[h] = ++ps->n;
	p = &ps->v[ps->n - 1];
	memset(p, 0, sizeof(*p));
	p->uid = uid;
	return p;
}

static void
peers_free(struct peers *ps)
{
	free(ps->v);
	free(ps->idx);
	memset(ps, 0, sizeof(*ps));
}

static void
win_shift(uint64_t *w, uint64_t k)
{
	unsigned int ws, bs, i;

	if (k >= WIN_BITS) {
		memset(w, 0, WIN_WORDS * sizeof(*w));
		return;
	}
	ws = (unsigned int)(k / 64);
	bs = (unsigned int)(k % 64);
	for (i = WIN_WORDS; i-- > 0;) {
		uint64_t v = 0;

		if (i >= ws) {
			v = w[i - ws] << bs;
			if (bs != 0 && i > ws)
				v |= w[i - ws - 1] >> (64 - bs);
		}
		w[i] = v;
	}
}

enum { SEQ_NEW, SEQ_DUP, SEQ_LATE };

static int
peer_seq(struct peer *p, uint64_t seq)
{
	uint64_t d;

	if (p->unique == 0 && p->dups == 0 && p->late == 0) {
		p->first = p->max = seq;
		p->win[0] = 1;
		p->unique = 1;
		return SEQ_NEW;
	}
	if (seq > p->max) {
		win_shift(p->win, seq - p->max);
		p->win[0] |= 1;
		p->max = seq;
		p->unique++;
		return SEQ_NEW;
	}
	d = p->max - seq;
	if (d >= WIN_BITS) {
		p->late++;		/* too old to tell a duplicate from a late frame */
		return SEQ_LATE;
	}
	if (p->win[d / 64] & (1ull << (d % 64))) {
		p->dups++;
		return SEQ_DUP;
	}
	p->win[d / 64] |= 1ull << (d % 64);
	p->unique++;
	p->reordered++;
	if (seq < p->first)
		p->first = seq;
	return SEQ_NEW;
}

/* Frames missing between the lowest and the highest counter seen. */
static uint64_t
peer_gaps(const struct peer *p)
{
	uint64_t range = p->max - p->first;

	if (p->unique == 0 || range < p->unique)
		return 0;
	return range - p->unique + 1;
}

/* ---------------------------------------------------------------------- */
/* Sessions                                                               */

enum sess_state { S_WAIT, S_JOIN, S_PATH, S_ACTIVE, S_DONE };

enum sess_fail {
	F_NONE,
	F_REFUSED,	/* ERROR: err_code */
	F_STATUS,	/* JOIN_ACK with a non-zero status: err_code */
	F_NOANSWER,	/* no JOIN_ACK or ERROR */
	F_NOPATH,	/* no KEEPALIVE echo */
	F_BADANSWER,	/* only malformed JOIN_ACKs or ERRORs */
	F_CRYPTO,	/* the handshake could not be made or its keys installed */
	F_NOROAM,	/* join --roam-after: the move was not confirmed */
};

struct ka_slot {
	uint64_t counter, stamp, sent;
	uint64_t challenge;		/* enc: the challenge it carried */
	bool used;
};

/* One replay window per downlink lane (the counter's top 8 bits). */
struct lane_win {
	struct rtr_replay win;
	uint8_t lane;
};

/* The downlink key of one key phase, with its windows (new key, new windows). */
struct rx_phase {
	struct rtr_aead_key *key;	/* NULL: no key for this phase */
	uint64_t expires;		/* mono ns; 0: the current phase */
	struct lane_win *lanes;		/* allocated as lanes are seen */
	unsigned int nlanes, cap;
};

/*
 * An outstanding JOIN with a suite: its handshake state, and the datagram
 * itself, so that a retransmission is the same bytes. Wiped and freed once
 * answered or given up.
 */
struct hs {
	struct rtr_noise_state noise;
	size_t len;
	uint8_t buf[JOIN_ENC_MAX];
};

struct sess {
	int fd;
	unsigned int id;		/* user index */
	unsigned int chan;		/* channel index (load) */
	enum sess_state state;
	enum sess_fail fail;
	unsigned int err_code;
	const char *fail_detail;
	const char *bad_answer;		/* last malformed JOIN_ACK/ERROR seen */
	bool ever_active, member, resolved;
	const char *token;
	size_t token_len;
	const char *channel;
	uint32_t uid;
	uint8_t role;

	uint64_t start_at;		/* S_WAIT: first JOIN */
	uint64_t join_ms;		/* the JOIN's counter */
	uint64_t join_sent;		/* mono ns of its first send */
	unsigned int tries;
	uint64_t deadline;

	uint32_t app_index, member_id, keepalive_ms, expires_at;
	uint64_t channel_hash, path_token;

	uint64_t ka_seq, ka_next;
	struct ka_slot ka[KA_SLOTS];
	bool ka_echoed;
	unsigned int ka_missed;
	uint64_t ka_sent, ka_echoes, rtt_min, rtt_max, rtt_sum;
	unsigned int rejoins;

	bool publishing;
	uint64_t media_seq, media_next, media_limit;
	uint64_t sent, sent_bytes, send_errors, late_sends;

	uint64_t received, misdelivered, malformed, own, bad, ignored, unexpected;
	uint64_t untracked, clock_skew, icmp, rx_errors;
	struct peers peers;
	struct hist *lat;

	/* transport encryption (cfg.suite != 0); tries and deadline also time a rekey JOIN */
	struct hs *hs;
	bool rekeying;			/* a rekey JOIN is outstanding (state stays ACTIVE) */
	struct rtr_aead_key *tx_key;
	uint64_t tx_ctr;		/* next uplink counter of the current phase */
	unsigned int tx_phase;		/* KEY_PHASE of the uplink */
	struct rx_phase rx[2];		/* downlink, by KEY_PHASE */
	uint8_t rekey_key[RTR_NOISE_KEY_LEN];
	uint64_t challenge;		/* the last non-zero challenge the node echoed */
	uint64_t auth_failed, replayed, no_key, cleartext;
	unsigned int rekeys;

	/* --roam-after */
	uint64_t roam_at;		/* mono ns; 0: not scheduled */
	bool roam_pending;		/* moved; no echo of a challenge from the new port yet */
	unsigned int roam_probes;	/* quick KEEPALIVEs sent since the move */
	unsigned int roams, roams_confirmed;

	uint64_t when;
	unsigned int hidx;
};

enum { P_JOIN, P_RUN, P_DRAIN };

struct chan {
	char *name;
	unsigned int users, joined;
	unsigned int cursor;		/* next token line to hand out */
	struct hist lat;
};

struct tline {
	char *channel;
	char *token;
	size_t token_len;
	uint32_t uid;
	unsigned int chan;
	unsigned int lineno;
	bool used;
};

static struct {
	int ep;
	sigset_t waitmask;
	struct sess *sess;
	unsigned int nsess;
	struct sess **heap;
	unsigned int nheap;
	uint8_t tx[RTR_MAX_UDP_PAYLOAD];	/* MEDIA template: filler preset */
	uint64_t media_interval;

	bool done, interrupted;
	unsigned int phase;
	uint64_t started, end, stopped;
	uint64_t drain_end, last_rx;
	unsigned int resolved, joined, failed;
	struct hist join_time;		/* us, JOIN to JOIN_ACK */
	struct hist single_lat;

	struct chan *chans;
	unsigned int nchans;
	struct tline *lines;
	unsigned int nlines;

	IMB_MGR *mgr;			/* AES-GCM: one manager, one thread */
	uint64_t roam_end;		/* join --roam-after: give up on the move */
} L;

static volatile sig_atomic_t stop_sig;

static void
on_signal(int sig)
{
	stop_sig = sig;
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t
mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t
real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static const char *
err_name(unsigned int code)
{
	if (code < sizeof(err_names) / sizeof(err_names[0]) && err_names[code] != NULL)
		return err_names[code];
	return "UNKNOWN";
}

static bool
single(void)
{
	return cfg.cmd != CMD_LOAD;
}

/* ---------------------------------------------------------------------- */
/* Timer heap: every session is in it, keyed by its next deadline.         */

static void
heap_set(unsigned int i, struct sess *s)
{
	L.heap[i] = s;
	s->hidx = i;
}

static void
heap_up(unsigned int i)
{
	struct sess *s = L.heap[i];

	while (i > 0) {
		unsigned int p = (i - 1) / 2;

		if (L.heap[p]->when <= s->when)
			break;
		heap_set(i, L.heap[p]);
		i = p;
	}
	heap_set(i, s);
}

static void
heap_down(unsigned int i)
{
	struct sess *s = L.heap[i];

	for (;;) {
		unsigned int c = 2 * i + 1;

		if (c >= L.nheap)
			break;
		if (c + 1 < L.nheap && L.heap[c + 1]->when < L.heap[c]->when)
			c++;
		if (s->when <= L.heap[c]->when)
			break;
		heap_set(i, L.heap[c]);
		i = c;
	}
	heap_set(i, s);
}

static uint64_t
sess_next(const struct sess *s)
{
	unsigned int i;
	uint64_t t;

	switch (s->state) {
	case S_WAIT:
		return s->start_at;
	case S_JOIN:
	case S_PATH:
		return s->deadline;
	case S_ACTIVE:
		t = s->ka_next;
		if (s->publishing && s->media_next < t)
			t = s->media_next;
		if (s->rekeying && s->deadline < t)
			t = s->deadline;
		if (s->roam_at != 0 && s->roam_at < t)
			t = s->roam_at;
		for (i = 0; i < 2; i++)
			if (s->rx[i].key != NULL && s->rx[i].expires != 0 && s->rx[i].expires < t)
				t = s->rx[i].expires;
		return t;
	case S_DONE:
		break;
	}
	return UINT64_MAX;
}

static void
sess_rearm(struct sess *s)
{
	uint64_t old = s->when;

	s->when = sess_next(s);
	if (s->when < old)
		heap_up(s->hidx);
	else if (s->when > old)
		heap_down(s->hidx);
}

/* ---------------------------------------------------------------------- */
/* Transport encryption: keys, windows, sealing and opening (16.3)          */

static bool
enc(void)
{
	return cfg.suite != 0;
}

/* nonce = 32 zero bits || the header's 64-bit counter, as on the wire */
static void
nonce_of(uint8_t nonce[RTR_AEAD_NONCE_LEN], const uint8_t *hdr)
{
	memset(nonce, 0, RTR_AEAD_NONCE_LEN - 8);
	memcpy(nonce + RTR_AEAD_NONCE_LEN - 8, hdr + RTR_OFF_COUNTER, 8);
}

/* An expanded AES-GCM key (ipsec-mb wants it 64-byte aligned); NULL on failure. */
static struct rtr_aead_key *
key_new(const uint8_t *raw, unsigned int len)
{
	struct rtr_aead_key *k = aligned_alloc(RTR_AEAD_KEY_ALIGN, sizeof(*k));

	if (k == NULL)
		return NULL;
	if (rtr_aead_key_init(L.mgr, k, raw, len) != 0) {
		rtr_aead_key_wipe(k);
		free(k);
		return NULL;
	}
	return k;
}

static void
key_free(struct rtr_aead_key **k)
{
	if (*k == NULL)
		return;
	rtr_aead_key_wipe(*k);
	free(*k);
	*k = NULL;
}

static void
rx_phase_clear(struct rx_phase *r)
{
	key_free(&r->key);
	free(r->lanes);
	memset(r, 0, sizeof(*r));
}

/* The replay window of a lane, made the first time the lane authenticates. */
static struct rtr_replay *
lane_win(struct rx_phase *r, uint8_t lane)
{
	unsigned int i;

	for (i = 0; i < r->nlanes; i++)
		if (r->lanes[i].lane == lane)
			return &r->lanes[i].win;
	if (r->nlanes == r->cap) {
		unsigned int cap = r->cap != 0 ? r->cap * 2 : 4;
		struct lane_win *v;

		if (cap > LANES_MAX)
			cap = LANES_MAX;
		v = realloc(r->lanes, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		r->lanes = v;
		r->cap = cap;
	}
	r->lanes[r->nlanes].lane = lane;
	rtr_replay_init(&r->lanes[r->nlanes].win);
	return &r->lanes[r->nlanes++].win;
}

/* Wipe and drop the outstanding JOIN's handshake state. */
static void
hs_free(struct sess *s)
{
	if (s->hs != NULL) {
		rtr_noise_wipe(&s->hs->noise);
		OPENSSL_cleanse(s->hs, sizeof(*s->hs));
		free(s->hs);
		s->hs = NULL;
	}
	s->rekeying = false;
}

/* Forget every key and handshake state: the session ends or joins again. */
static void
enc_reset(struct sess *s)
{
	hs_free(s);
	key_free(&s->tx_key);
	rx_phase_clear(&s->rx[0]);
	rx_phase_clear(&s->rx[1]);
	OPENSSL_cleanse(s->rekey_key, sizeof(s->rekey_key));
	s->tx_ctr = 0;
	s->tx_phase = 0;
	s->challenge = 0;
}

/*
 * Install the keys of a completed handshake as key phase `phase`: the uplink
 * from counter 0, a downlink key with new windows. After a rekey the other
 * phase's downlink key stays OLD_KEY_NS longer (the node moves its downlink
 * only after our first frame under the new keys). Nothing changes on failure.
 */
static int
enc_install(struct sess *s, const struct rtr_noise_keys *k, unsigned int phase, uint64_t now)
{
	struct rtr_aead_key *tx = key_new(k->send, k->key_len);
	struct rtr_aead_key *rx = key_new(k->recv, k->key_len);

	if (tx == NULL || rx == NULL) {
		key_free(&tx);
		key_free(&rx);
		return -1;
	}
	key_free(&s->tx_key);
	s->tx_key = tx;
	s->tx_ctr = 0;
	s->tx_phase = phase;
	rx_phase_clear(&s->rx[phase]);
	s->rx[phase].key = rx;
	if (s->rx[phase ^ 1].key != NULL)
		s->rx[phase ^ 1].expires = now + OLD_KEY_NS;
	memcpy(s->rekey_key, k->rekey, sizeof(s->rekey_key));
	return 0;
}

/* The next uplink counter of the current phase (2^64 - 1 is never used). */
static int
tx_counter(struct sess *s, uint64_t *ctr)
{
	if (s->tx_key == NULL || s->tx_ctr == UINT64_MAX)
		return -1;
	*ctr = s->tx_ctr++;
	return 0;
}

/*
 * Seal len bytes of pt (may be buf's own payload) into buf's payload, tag
 * after it; buf's 32-byte header, already encoded, is the AAD.
 */
static int
seal(const struct sess *s, uint8_t *buf, const uint8_t *pt, size_t len)
{
	uint8_t nonce[RTR_AEAD_NONCE_LEN];

	nonce_of(nonce, buf);
	return rtr_aead_seal(L.mgr, s->tx_key, nonce, buf, RTR_HDR_LEN, pt, len,
			     buf + RTR_HDR_LEN, buf + RTR_HDR_LEN + len);
}

/*
 * Authenticate and decrypt a downlink frame in place (len bytes: header
 * and payload). Returns the plaintext length, or -1 with the reason counted.
 * The key is chosen by KEY_PHASE; the lane's window is checked and updated
 * only once the frame authenticated, so forgeries cannot move it and only
 * authentic repeats count as replayed.
 */
static int
enc_open(struct sess *s, const struct rtr_hdr *h, uint8_t *buf, size_t len)
{
	struct rx_phase *r = &s->rx[(h->flags & RTR_F_KEY_PHASE) ? 1 : 0];
	uint8_t nonce[RTR_AEAD_NONCE_LEN];
	struct rtr_replay *w;
	size_t n;

	if (!(h->flags & RTR_F_ENC)) {
		s->cleartext++;		/* nothing reaches an encrypted member in clear */
		return -1;
	}
	if (len < RTR_HDR_LEN + TAG_LEN) {
		s->bad++;
		return -1;
	}
	if (r->key == NULL) {
		s->no_key++;
		return -1;
	}
	n = len - RTR_HDR_LEN - TAG_LEN;
	nonce_of(nonce, buf);
	if (rtr_aead_open(L.mgr, r->key, nonce, buf, RTR_HDR_LEN, buf + RTR_HDR_LEN, n,
			  buf + RTR_HDR_LEN, buf + RTR_HDR_LEN + n) != 0) {
		s->auth_failed++;
		return -1;
	}
	w = lane_win(r, (uint8_t)(h->counter >> RTR_LANE_SHIFT));
	if (w == NULL) {
		s->rx_errors++;		/* out of memory */
		return -1;
	}
	if (!rtr_replay_check_update(w, h->counter)) {
		s->replayed++;
		return -1;
	}
	return (int)n;
}

/* ---------------------------------------------------------------------- */
/* Sending                                                                */

static int
sess_send(struct sess *s, const uint8_t *buf, size_t len)
{
	int i;

	for (i = 0; i < 3; i++) {
		ssize_t n = send(s->fd, buf, len, 0);

		if (n == (ssize_t)len)
			return 0;
		if (n < 0 && errno == ECONNREFUSED) {
			/* an earlier datagram met ICMP port unreachable; this one was not sent */
			s->icmp++;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	s->send_errors++;
	return -1;
}

static uint8_t *
put_str(uint8_t *p, const char *s, size_t len)
{
	rtr_put16(p, (uint16_t)len);
	memcpy(p + 2, s, len);
	return p + 2 + len;
}

/* The JOIN fields of 13.1 (token, App ID, channel, uid, role); their length. */
static size_t
join_fields(const struct sess *s, uint8_t *p0)
{
	uint8_t *p = p0;

	p = put_str(p, s->token, s->token_len);
	p = put_str(p, cfg.app_id, APP_ID_LEN);
	p = put_str(p, s->channel, strlen(s->channel));
	rtr_put32(p, s->uid);
	p += 4;
	*p++ = s->role;
	return (size_t)(p - p0);
}

/* The plaintext JOIN: the same bytes on every retransmission (same counter). */
static size_t
join_build(const struct sess *s, uint8_t *buf)
{
	struct rtr_hdr h = {
		.magic = RTR_MAGIC, .version = RTR_VERSION, .type = RTR_T_JOIN,
		.counter = s->join_ms,
	};
	uint8_t *p = buf + RTR_HDR_LEN;
	size_t len;

	*p++ = 0;		/* suite: none */
	p += join_fields(s, p);
	len = (size_t)(p - buf);
	if (len < RTR_JOIN_MIN_PAYLOAD) {
		memset(p, 0, RTR_JOIN_MIN_PAYLOAD - len);
		len = RTR_JOIN_MIN_PAYLOAD;
	}
	h.payload_len = (uint16_t)(len - RTR_HDR_LEN);
	rtr_hdr_encode(buf, &h);
	return len;
}

/*
 * A JOIN with a suite (13.1, 16.1) into a new s->hs: the header (member_id
 * 0, or the current id for a rekey JOIN; flags 0), the suite, then Noise
 * message 1 with a fresh ephemeral key, whose payload is the fields, for a
 * rekey JOIN the rekey MAC (16.7), then zeros so that the UDP payload is at
 * least 256 bytes. The prologue binds the header exactly as sent. The
 * datagram is made once; retransmissions send the same bytes. 0 or -1.
 */
static int
hs_start(struct sess *s, bool rekey)
{
	uint8_t pt[JOIN_ENC_PT_MAX], prologue[RTR_NOISE_PROLOGUE_LEN];
	uint8_t e_pub[RTR_NOISE_KEY_LEN];
	uint8_t mac_in[RTR_HDR_LEN + RTR_NOISE_KEY_LEN];
	struct rtr_hdr h = {
		.magic = RTR_MAGIC, .version = RTR_VERSION, .type = RTR_T_JOIN,
		.member_id = rekey ? s->member_id : 0, .counter = s->join_ms,
	};
	unsigned int mac_len = 0;
	struct hs *hs;
	size_t n, mac_off = 0;
	ssize_t m;
	int rc = -1;

	hs_free(s);
	hs = calloc(1, sizeof(*hs));
	if (hs == NULL)
		return -1;
	n = join_fields(s, pt);
	if (rekey) {
		mac_off = n;
		n += REKEY_MAC_LEN;
	}
	if (n < JOIN_ENC_PT_MIN) {
		memset(pt + n, 0, JOIN_ENC_PT_MIN - n);
		n = JOIN_ENC_PT_MIN;
	}
	h.payload_len = (uint16_t)(1 + RTR_NOISE_OVERHEAD + n);
	rtr_hdr_encode(hs->buf, &h);
	hs->buf[RTR_HDR_LEN] = cfg.suite;
	if (rtr_noise_prologue(prologue, cfg.suite, hs->buf) < 0 ||
	    rtr_noise_init_initiator(&hs->noise, prologue, sizeof(prologue), cfg.server_key) != 0)
		goto out;
	if (rekey) {
		/*
		 * rekey_mac = HMAC-SHA256(rekey_key, header || e.pub) is sealed in
		 * the message that carries e.pub: the handshake draws its fresh
		 * ephemeral key first and tells us its public half.
		 */
		if (rtr_noise_draw_ephemeral(&hs->noise, e_pub) != 0)
			goto out;
		memcpy(mac_in, hs->buf, RTR_HDR_LEN);
		memcpy(mac_in + RTR_HDR_LEN, e_pub, RTR_NOISE_KEY_LEN);
		if (HMAC(EVP_sha256(), s->rekey_key, sizeof(s->rekey_key), mac_in, sizeof(mac_in),
			 pt + mac_off, &mac_len) == NULL || mac_len != REKEY_MAC_LEN)
			goto out;
	}
	m = rtr_noise_write_msg1(&hs->noise, pt, n, hs->buf + RTR_HDR_LEN + 1,
				 sizeof(hs->buf) - RTR_HDR_LEN - 1);
	if (m != (ssize_t)(n + RTR_NOISE_OVERHEAD))
		goto out;
	if (rekey && memcmp(hs->buf + RTR_HDR_LEN + 1, e_pub, RTR_NOISE_KEY_LEN) != 0)
		goto out;
	hs->len = RTR_HDR_LEN + 1 + (size_t)m;
	s->hs = hs;
	hs = NULL;
	rc = 0;
out:
	OPENSSL_cleanse(pt, sizeof(pt));	/* the token */
	if (hs != NULL) {
		rtr_noise_wipe(&hs->noise);
		OPENSSL_cleanse(hs, sizeof(*hs));
		free(hs);
	}
	return rc;
}

static void
join_send(struct sess *s, uint64_t now)
{
	if (enc()) {
		if (s->hs != NULL)
			sess_send(s, s->hs->buf, s->hs->len);
	} else {
		uint8_t buf[JOIN_MAX_LEN > RTR_JOIN_MIN_PAYLOAD ? JOIN_MAX_LEN :
			    RTR_JOIN_MIN_PAYLOAD];
		size_t len = join_build(s, buf);

		sess_send(s, buf, len);
		explicit_bzero(buf, sizeof(buf));	/* it holds the token */
	}
	if (s->tries == 0)
		s->join_sent = now;
	s->deadline = now + retry_ms[s->tries] * NS_PER_MS;
	s->tries++;
}

static void
member_hdr(const struct sess *s, struct rtr_hdr *h, uint8_t type)
{
	memset(h, 0, sizeof(*h));
	h->magic = RTR_MAGIC;
	h->version = RTR_VERSION;
	h->type = type;
	h->app_index = s->app_index;
	h->channel_hash = s->channel_hash;
	h->member_id = s->member_id;
}

/* A sealed frame's header: ENC, KEY_PHASE of the uplink, plaintext + tag. */
static void
sealed_hdr(const struct sess *s, struct rtr_hdr *h, uint8_t type, size_t pt_len)
{
	member_hdr(s, h, type);
	h->flags = RTR_F_ENC | (s->tx_phase ? RTR_F_KEY_PHASE : 0);
	h->payload_len = (uint16_t)(pt_len + TAG_LEN);
}

static void
ka_build(const struct sess *s, const struct ka_slot *k, uint8_t *buf)
{
	struct rtr_hdr h;

	member_hdr(s, &h, RTR_T_KEEPALIVE);
	h.payload_len = KA_PAYLOAD;
	h.counter = k->counter;
	rtr_hdr_encode(buf, &h);
	rtr_put64(buf + RTR_HDR_LEN, s->path_token);
	rtr_put64(buf + RTR_HDR_LEN + 8, k->stamp);
}

/* 16.5: path_token || challenge || send time, sealed; 72 bytes. */
static int
ka_build_enc(const struct sess *s, const struct ka_slot *k, uint8_t *buf)
{
	uint8_t *p = buf + RTR_HDR_LEN;
	struct rtr_hdr h;

	sealed_hdr(s, &h, RTR_T_KEEPALIVE, KA_ENC_PT);
	h.counter = k->counter;
	rtr_hdr_encode(buf, &h);
	rtr_put64(p, s->path_token);
	rtr_put64(p + 8, k->challenge);
	rtr_put64(p + 16, k->stamp);
	return seal(s, buf, p, KA_ENC_PT);
}

static void
ka_send(struct sess *s, uint64_t now)
{
	struct ka_slot *k = &s->ka[s->ka_seq % KA_SLOTS];
	uint8_t buf[KA_ENC_LEN > KA_LEN ? KA_ENC_LEN : KA_LEN];
	uint64_t ctr = 0;

	/* the counter: sealed, the uplink nonce; in clear, the keepalive number */
	if (enc() && tx_counter(s, &ctr) < 0) {
		s->send_errors++;
		return;
	}
	s->ka_seq++;
	k->counter = enc() ? ctr : s->ka_seq;
	k->challenge = s->challenge;
	k->stamp = real_ns();
	k->sent = now;
	k->used = true;
	if (!enc()) {
		ka_build(s, k, buf);
	} else if (ka_build_enc(s, k, buf) != 0) {
		s->send_errors++;
		return;
	}
	if (sess_send(s, buf, enc() ? KA_ENC_LEN : KA_LEN) == 0)
		s->ka_sent++;
}

static void
leave_send(struct sess *s)
{
	uint8_t buf[RTR_HDR_LEN + TAG_LEN];
	struct rtr_hdr h;
	uint64_t ctr;

	if (!s->member)
		return;
	s->member = false;
	if (!enc()) {
		member_hdr(s, &h, RTR_T_LEAVE);
		rtr_hdr_encode(buf, &h);
		sess_send(s, buf, RTR_HDR_LEN);
		return;
	}
	/* sealed, empty plaintext: the payload is the tag alone */
	if (tx_counter(s, &ctr) < 0)
		return;
	sealed_hdr(s, &h, RTR_T_LEAVE, 0);
	h.counter = ctr;
	rtr_hdr_encode(buf, &h);
	if (seal(s, buf, NULL, 0) == 0)
		sess_send(s, buf, sizeof(buf));
}

/*
 * MEDIA. Plaintext: the counter is the frame number. Sealed: the counter is
 * the uplink nonce, so the frame number goes into the payload after the
 * stamp, and every counter is used once, even for a frame the socket
 * refused (a nonce is never reused).
 */
static void
media_send(struct sess *s)
{
	uint8_t *buf = L.tx, out[RTR_MAX_UDP_PAYLOAD];
	struct rtr_hdr h;
	uint64_t ctr;

	rtr_put64(buf + RTR_HDR_LEN, real_ns());
	rtr_put32(buf + RTR_HDR_LEN + 8, s->uid);
	rtr_put64(buf + RTR_HDR_LEN + 12, s->channel_hash);
	if (!enc()) {
		member_hdr(s, &h, RTR_T_MEDIA);
		h.flags = (uint16_t)(cfg.kind << RTR_F_KIND_SHIFT);
		h.payload_len = (uint16_t)cfg.size;
		h.counter = s->media_seq + 1;
		rtr_hdr_encode(buf, &h);
	} else {
		if (tx_counter(s, &ctr) < 0) {
			s->send_errors++;
			return;
		}
		sealed_hdr(s, &h, RTR_T_MEDIA, cfg.size);
		h.flags |= (uint16_t)(cfg.kind << RTR_F_KIND_SHIFT);
		h.counter = ctr;
		rtr_hdr_encode(out, &h);
		rtr_put64(buf + RTR_HDR_LEN + STAMP_LEN, s->media_seq + 1);
		if (seal(s, out, buf + RTR_HDR_LEN, cfg.size) != 0) {
			s->send_errors++;
			return;
		}
		buf = out;
	}
	/* a frame that could not be sent does not use up a frame number */
	if (sess_send(s, buf, RTR_HDR_LEN + cfg.size + (enc() ? TAG_LEN : 0)) == 0) {
		s->media_seq++;
		s->sent++;
		s->sent_bytes += cfg.size;
	}
}

/* ---------------------------------------------------------------------- */
/* Session state machine                                                  */

static void run_on_active(struct sess *s, uint64_t now, bool first);
static void run_on_fail(struct sess *s);
static void run_on_moved(struct sess *s);
static int sock_open(struct sess *s, unsigned int roam);

static void
ka_clear(struct sess *s)
{
	memset(s->ka, 0, sizeof(s->ka));
}

static void
sess_fail(struct sess *s, enum sess_fail why, unsigned int code, const char *detail)
{
	leave_send(s);
	enc_reset(s);
	s->state = S_DONE;
	s->fail = why;
	s->err_code = code;
	s->fail_detail = detail;
	run_on_fail(s);
}

static uint64_t
join_stamp(const struct sess *s)
{
	uint64_t ms = real_ns() / NS_PER_MS;

	/* a new JOIN must carry a newer timestamp than the previous one */
	return ms > s->join_ms ? ms : s->join_ms + 1;
}

static void
join_start(struct sess *s, uint64_t now)
{
	s->join_ms = join_stamp(s);
	s->state = S_JOIN;
	s->tries = 0;
	s->bad_answer = NULL;
	ka_clear(s);
	if (enc()) {
		/* a new member: a fresh handshake, new keys, new windows */
		enc_reset(s);
		if (hs_start(s, false) < 0) {
			sess_fail(s, F_CRYPTO, 0, "cannot make the JOIN's handshake message");
			return;
		}
	}
	join_send(s, now);
}

/* Path lost (3 echoes missed) or a re-JOIN unanswered: leave, join anew. */
static void
rejoin(struct sess *s, uint64_t now, const char *why)
{
	if (single())
		fprintf(stderr, "rtr-client: %s; joining again\n", why);
	leave_send(s);
	s->rejoins++;
	join_start(s, now);
}

/*
 * REKEY_REQUESTED (16.7): a rekey JOIN under the current member id, timed
 * like any JOIN (tries, deadline). The session stays ACTIVE on its current
 * keys until the JOIN_ACK; no answer: LEAVE and a fresh JOIN.
 */
static void
rekey_start(struct sess *s, uint64_t now)
{
	s->join_ms = join_stamp(s);
	if (hs_start(s, true) < 0) {
		if (single())
			fprintf(stderr, "rtr-client: cannot make a rekey JOIN; "
				"the next request tries again\n");
		return;
	}
	s->rekeying = true;
	s->tries = 0;
	join_send(s, now);
}

/*
 * --roam-after: a new socket on another local port (opened before the old
 * one is closed, so the port differs), the session kept as it is; a
 * KEEPALIVE at once shows the node the new endpoint (16.6).
 */
static void
sess_roam(struct sess *s, uint64_t now)
{
	int fd = sock_open(s, s->roams + 1);

	s->roam_at = 0;
	if (fd < 0)
		return;
	epoll_ctl(L.ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = fd;
	s->roams++;
	s->roam_pending = true;
	s->roam_probes = 0;
	if (cfg.cmd == CMD_JOIN)
		L.roam_end = now + ROAM_WAIT_NS;
	if (single()) {
		struct sockaddr_storage a;
		socklen_t al = sizeof(a);
		unsigned int port = 0;

		if (getsockname(fd, (struct sockaddr *)&a, &al) == 0)
			port = ntohs(a.ss_family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port :
				     ((struct sockaddr_in6 *)&a)->sin6_port);
		fprintf(stderr, "rtr-client: moved to local port %u\n", port);
	}
	ka_send(s, now);
}

static void
path_send(struct sess *s, uint64_t now)
{
	ka_send(s, now);
	s->deadline = now + retry_ms[s->tries] * NS_PER_MS;
	s->tries++;
}

static void
sess_active(struct sess *s, uint64_t now)
{
	bool first = !s->ever_active;

	s->state = S_ACTIVE;
	s->ever_active = true;
	s->ka_echoed = true;
	s->ka_missed = 0;
	s->ka_next = now + s->keepalive_ms * NS_PER_MS;
	s->media_next = now;
	run_on_active(s, now, first);
}

static void
ka_tick(struct sess *s, uint64_t now)
{
	uint64_t period = s->keepalive_ms * NS_PER_MS;

	if (!s->ka_echoed && ++s->ka_missed >= MISSED_MAX) {
		rejoin(s, now, "3 KEEPALIVE echoes missed");
		return;
	}
	ka_send(s, now);
	s->ka_echoed = false;
	s->ka_next += period;
	if (s->ka_next <= now)
		s->ka_next = now + period;
}

static void
media_tick(struct sess *s, uint64_t now)
{
	unsigned int n = 0;

	if (s->media_next + NS_PER_S < now) {
		/* more than a second behind (stalled): do not burst it all out */
		s->late_sends++;
		s->media_next = now;
	}
	while (s->publishing && s->media_next <= now && n++ < TX_BURST) {
		if (L.end != 0 && s->media_next >= L.end) {
			s->publishing = false;	/* the run ends before this frame is due */
			break;
		}
		media_send(s);
		s->media_next += L.media_interval;
		if (s->media_limit != 0 && s->sent >= s->media_limit)
			s->publishing = false;
	}
}

static void
active_timer(struct sess *s, uint64_t now)
{
	unsigned int i;

	if (s->rekeying && now >= s->deadline) {
		if (s->tries < TRIES) {
			join_send(s, now);
		} else {
			rejoin(s, now, "no answer to the rekey JOIN");
			return;
		}
	}
	for (i = 0; i < 2; i++)
		if (s->rx[i].key != NULL && s->rx[i].expires != 0 && now >= s->rx[i].expires)
			rx_phase_clear(&s->rx[i]);	/* the previous phase's key */
	if (s->roam_at != 0 && now >= s->roam_at)
		sess_roam(s, now);
	if (now >= s->ka_next)
		ka_tick(s, now);
	if (s->state == S_ACTIVE && s->publishing)
		media_tick(s, now);
}

static void
sess_timer(struct sess *s, uint64_t now)
{
	switch (s->state) {
	case S_WAIT:
		join_start(s, now);
		break;
	case S_JOIN:
		if (now < s->deadline)
			break;
		if (s->tries < TRIES) {
			join_send(s, now);
		} else if (!s->ever_active) {
			if (s->bad_answer != NULL)
				sess_fail(s, F_BADANSWER, 0, s->bad_answer);
			else
				sess_fail(s, F_NOANSWER, 0, NULL);
		} else {
			rejoin(s, now, "no answer to the JOIN");
		}
		break;
	case S_PATH:
		if (now < s->deadline)
			break;
		if (s->tries < TRIES)
			path_send(s, now);
		else if (!s->ever_active)
			sess_fail(s, F_NOPATH, 0, NULL);
		else
			rejoin(s, now, "no KEEPALIVE echo after the JOIN_ACK");
		break;
	case S_ACTIVE:
		active_timer(s, now);
		break;
	case S_DONE:
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* Receiving                                                              */

/*
 * An encrypted JOIN_ACK (13.2): ENC, payload_len 82, suite || message 2.
 * Message 2 is read on a copy of the handshake state, so that a forged
 * answer (the counter it must echo is only a timestamp) cannot end the
 * handshake that the real answer still needs. On success the 33 fields are
 * in body and the transport keys in keys. 0, or -1 with bad_answer set.
 */
static int
ack_open(struct sess *s, const struct rtr_hdr *h, const uint8_t *p,
	 uint8_t body[ACK_BODY_LEN], struct rtr_noise_keys *keys)
{
	struct rtr_noise_state st;
	int rc = -1;

	if (!(h->flags & RTR_F_ENC)) {
		s->bad_answer = "JOIN_ACK in clear to an encrypted JOIN";
		return -1;
	}
	if (h->payload_len != ACK_ENC_PLEN) {
		s->bad_answer = "encrypted JOIN_ACK of the wrong length";
		return -1;
	}
	if (p[0] != cfg.suite || s->hs == NULL) {
		s->bad_answer = "encrypted JOIN_ACK of another suite";
		return -1;
	}
	st = s->hs->noise;
	if (rtr_noise_read_msg2(&st, p + 1, ACK_ENC_PLEN - 1, body, ACK_BODY_LEN) ==
	    ACK_BODY_LEN && rtr_noise_split(&st, cfg.suite, keys) == 0)
		rc = 0;
	else
		s->bad_answer = "JOIN_ACK that does not authenticate";
	rtr_noise_wipe(&st);
	return rc;
}

/* The JOIN_ACK of a rekey JOIN: the new keys become the other key phase. */
static void
rekey_done(struct sess *s, const struct rtr_noise_keys *keys, const uint8_t *p, uint32_t ka,
	   uint64_t now)
{
	if (enc_install(s, keys, s->tx_phase ^ 1, now) < 0) {
		/* still on the current keys; the node asks again */
		hs_free(s);
		return;
	}
	hs_free(s);
	s->expires_at = rtr_get32(p + 21);
	s->path_token = rtr_get64(p + 25);
	s->keepalive_ms = ka < KA_MIN_MS ? KA_MIN_MS : ka > KA_MAX_MS ? KA_MAX_MS : ka;
	s->rekeys++;
	if (single())
		fprintf(stderr, "rtr-client: rekeyed: key phase %u\n", s->tx_phase);
	/* the node moves the downlink to the new keys after our first frame under them */
	ka_send(s, now);
}

static void
rx_ack(struct sess *s, const struct rtr_hdr *h, const uint8_t *p, uint64_t now)
{
	bool rekey = s->state == S_ACTIVE && s->rekeying;
	struct rtr_noise_keys keys = { 0 };
	uint8_t body[ACK_BODY_LEN];
	char why[64];
	uint32_t ka;

	if ((s->state != S_JOIN && !rekey) || h->counter != s->join_ms) {
		s->ignored++;		/* a retransmitted or stale answer */
		return;
	}
	/*
	 * A malformed answer is ignored (it may be spoofed: the counter is a
	 * timestamp); it is reported only if no good one comes.
	 */
	if (enc()) {
		if (ack_open(s, h, p, body, &keys) < 0) {
			s->bad++;
			return;
		}
		p = body;
	} else if (h->payload_len < ACK_BODY_LEN) {
		s->bad++;
		s->bad_answer = "JOIN_ACK body too short";
		return;
	}
	if (p[0] != 0) {
		if (rekey) {
			snprintf(why, sizeof(why), "rekey JOIN_ACK with status %u", p[0]);
			rejoin(s, now, why);
		} else {
			sess_fail(s, F_STATUS, p[0], NULL);
		}
		goto out;
	}
	ka = rtr_get32(p + 17);
	if (rtr_get32(p + 1) == 0 || rtr_get32(p + 13) == 0 || ka == 0) {
		s->bad++;
		s->bad_answer = rtr_get32(p + 1) == 0 ? "JOIN_ACK with app_index 0" :
				rtr_get32(p + 13) == 0 ? "JOIN_ACK with member_id 0" :
				"JOIN_ACK with keepalive_ms 0";
		goto out;
	}
	if (rekey) {
		if (rtr_get32(p + 1) != s->app_index || rtr_get64(p + 5) != s->channel_hash ||
		    rtr_get32(p + 13) != s->member_id) {
			s->bad++;	/* a rekey keeps the membership; no answer: leave, join */
			goto out;
		}
		rekey_done(s, &keys, p, ka, now);
		goto out;
	}
	if (enc()) {
		if (enc_install(s, &keys, 0, now) < 0) {
			sess_fail(s, F_CRYPTO, 0, "cannot install the session keys");
			goto out;
		}
		hs_free(s);
	}
	s->app_index = rtr_get32(p + 1);
	s->channel_hash = rtr_get64(p + 5);
	s->member_id = rtr_get32(p + 13);
	s->expires_at = rtr_get32(p + 21);
	s->path_token = rtr_get64(p + 25);
	s->keepalive_ms = ka < KA_MIN_MS ? KA_MIN_MS : ka > KA_MAX_MS ? KA_MAX_MS : ka;
	s->member = true;
	hist_add(&L.join_time, (now - s->join_sent) / NS_PER_US);
	s->state = S_PATH;
	s->tries = 0;
	ka_clear(s);
	path_send(s, now);
out:
	rtr_noise_keys_wipe(&keys);
	OPENSSL_cleanse(body, sizeof(body));
}

static void
rx_error(struct sess *s, const struct rtr_hdr *h, const uint8_t *p, uint64_t now)
{
	bool rekey = s->state == S_ACTIVE && s->rekeying;
	char why[64];

	if ((s->state != S_JOIN && !rekey) || h->counter != s->join_ms) {
		s->ignored++;
		return;
	}
	if (h->payload_len < 2) {
		s->bad++;
		s->bad_answer = "ERROR without a code";
		return;
	}
	if (rekey) {
		/* in clear, so possibly spoofed: a fresh JOIN tells */
		snprintf(why, sizeof(why), "rekey JOIN refused: %s", err_name(rtr_get16(p)));
		rejoin(s, now, why);
		return;
	}
	sess_fail(s, F_REFUSED, rtr_get16(p), NULL);
}

/* An echo was ours: RTT, path validated, keepalive misses cleared. */
static void
ka_matched(struct sess *s, struct ka_slot *k, uint64_t now)
{
	uint64_t rtt = now - k->sent;

	k->used = false;
	if (s->ka_echoes == 0 || rtt < s->rtt_min)
		s->rtt_min = rtt;
	if (rtt > s->rtt_max)
		s->rtt_max = rtt;
	s->rtt_sum += rtt;
	s->ka_echoes++;
	s->ka_echoed = true;
	s->ka_missed = 0;
	if (s->roam_pending && k->challenge != 0) {
		/* a KEEPALIVE from the new port carried the node's challenge: moved */
		s->roam_pending = false;
		s->roams_confirmed++;
		run_on_moved(s);
	}
	if (s->state == S_PATH)
		sess_active(s, now);
}

static void
rx_keepalive(struct sess *s, const struct rtr_hdr *h, const uint8_t *buf, size_t len,
	     uint64_t now)
{
	uint8_t want[KA_LEN];
	unsigned int i;

	if ((s->state != S_PATH && s->state != S_ACTIVE) || len != KA_LEN) {
		s->ignored++;
		return;
	}
	for (i = 0; i < KA_SLOTS; i++) {
		struct ka_slot *k = &s->ka[i];

		if (!k->used || k->counter != h->counter)
			continue;
		ka_build(s, k, want);
		/* the echo is our datagram, byte for byte (REKEY_REQUESTED aside) */
		if (memcmp(buf, want, RTR_OFF_FLAGS) != 0 ||
		    ((rtr_get16(buf + RTR_OFF_FLAGS) & ~RTR_F_REKEY_REQUESTED) !=
		     rtr_get16(want + RTR_OFF_FLAGS)) ||
		    memcmp(buf + RTR_OFF_PLEN, want + RTR_OFF_PLEN, KA_LEN - RTR_OFF_PLEN) != 0)
			break;
		ka_matched(s, k, now);
		return;
	}
	s->ignored++;
}

/*
 * A sealed KEEPALIVE echo (16.5), authenticated: ours if it names this
 * membership and path token and carries the send time of one of the last
 * KEEPALIVEs sent. Its challenge (16.6) and REKEY_REQUESTED (16.7) are
 * followed whatever the send time.
 */
static void
rx_keepalive_enc(struct sess *s, const struct rtr_hdr *h, const uint8_t *p, size_t n,
		 uint64_t now)
{
	unsigned int i, phase = (h->flags & RTR_F_KEY_PHASE) ? 1 : 0;
	uint64_t challenge, stamp;

	if (n != KA_ENC_PT || h->app_index != s->app_index ||
	    h->channel_hash != s->channel_hash || h->member_id != s->member_id ||
	    rtr_get64(p) != s->path_token) {
		s->ignored++;
		return;
	}
	challenge = rtr_get64(p + 8);
	stamp = rtr_get64(p + 16);
	for (i = 0; i < KA_SLOTS; i++)
		if (s->ka[i].used && s->ka[i].stamp == stamp)
			break;
	if (i < KA_SLOTS)
		ka_matched(s, &s->ka[i], now);
	else
		s->ignored++;
	if (s->state != S_PATH && s->state != S_ACTIVE)
		return;
	if (challenge != 0 && challenge != s->challenge) {
		/* the node validates a new endpoint: answer with its challenge at once */
		s->challenge = challenge;
		ka_send(s, now);
	} else if (challenge == 0 && s->roam_pending && s->roam_probes < ROAM_PROBES) {
		/* moved, and the node has not drawn a challenge for the new port
		 * yet (it does so off its fast path): ask again shortly rather than
		 * a whole keepalive period later */
		s->roam_probes++;
		if (s->ka_next > now + ROAM_PROBE_NS)
			s->ka_next = now + ROAM_PROBE_NS;
	}
	/*
	 * Only under the current phase (older echoes predate the last rekey),
	 * and once the previous rekey's overlap is over (its old downlink key
	 * retired): the new keys go into that phase, and the node refuses them
	 * until its own overlap ended. The node asks again in every echo.
	 */
	if ((h->flags & RTR_F_REKEY_REQUESTED) && s->state == S_ACTIVE && !s->rekeying &&
	    phase == s->tx_phase && s->rx[phase ^ 1].key == NULL && !L.done)
		rekey_start(s, now);
}

static void
rx_media(struct sess *s, const struct rtr_hdr *h, const uint8_t *p, size_t len,
	 uint64_t rx_real)
{
	struct peer *pr;
	uint64_t ts, d, seq;
	uint32_t uid;

	s->received++;
	L.last_rx = mono_ns();
	if (h->app_index != s->app_index || h->channel_hash != s->channel_hash) {
		s->misdelivered++;
		return;
	}
	if (len < (enc() ? STAMP_ENC_LEN : STAMP_LEN)) {
		s->malformed++;
		return;
	}
	ts = rtr_get64(p);
	uid = rtr_get32(p + 8);
	if (rtr_get64(p + 12) != s->channel_hash) {
		s->misdelivered++;
		return;
	}
	if (uid == s->uid && h->member_id == s->member_id) {
		s->own++;		/* the relay must not send a frame back to its sender */
		return;
	}
	pr = peer_get(&s->peers, uid);
	if (pr == NULL) {
		s->untracked++;
		return;
	}
	pr->member_id = h->member_id;
	/* sealed, the header counter is the relay's nonce: the frame number is inside */
	seq = enc() ? rtr_get64(p + STAMP_LEN) : h->counter;
	if (peer_seq(pr, seq) != SEQ_NEW)
		return;
	if (ts > rx_real || (rx_real - ts) / NS_PER_US > LAT_MAX_US) {
		s->clock_skew++;
		return;
	}
	hist_add(s->lat, (rx_real - ts) / NS_PER_US);
	/* RFC 3550 interarrival jitter, in unsigned arithmetic */
	d = (rx_real - ts) - pr->transit;
	if ((int64_t)d < 0)
		d = -d;
	if (pr->transit != 0 && pr->unique > 1) {
		if (d > LAT_MAX_US * NS_PER_US)
			d = LAT_MAX_US * NS_PER_US;
		if (d > pr->jitter)
			pr->jitter += (d - pr->jitter) / 16;
		else
			pr->jitter -= (pr->jitter - d) / 16;
	}
	pr->transit = rx_real - ts;
}

static void
sess_rx(struct sess *s, uint8_t *buf, size_t len, uint64_t rx_real, uint64_t now)
{
	uint8_t *p = buf + RTR_HDR_LEN;
	struct rtr_hdr h;
	int n;

	if (len < RTR_HDR_LEN) {
		s->bad++;
		return;
	}
	rtr_hdr_decode(buf, &h);
	if (h.magic != RTR_MAGIC || h.version != RTR_VERSION ||
	    (size_t)h.payload_len != len - RTR_HDR_LEN) {
		s->bad++;
		return;
	}
	switch (h.type) {
	case RTR_T_JOIN_ACK:
		rx_ack(s, &h, p, now);
		break;
	case RTR_T_ERROR:
		rx_error(s, &h, p, now);
		break;
	case RTR_T_KEEPALIVE:
		if (!enc()) {
			rx_keepalive(s, &h, buf, len, now);
			break;
		}
		if (s->state != S_PATH && s->state != S_ACTIVE) {
			s->ignored++;
			break;
		}
		n = enc_open(s, &h, buf, len);
		if (n >= 0)
			rx_keepalive_enc(s, &h, p, (size_t)n, now);
		break;
	case RTR_T_MEDIA:
		if (!s->ever_active && s->state != S_PATH) {
			s->unexpected++;	/* not a member yet: nothing can be checked */
			break;
		}
		n = enc() ? enc_open(s, &h, buf, len) : (int)h.payload_len;
		if (n >= 0)
			rx_media(s, &h, p, (size_t)n, rx_real);
		break;
	default:
		s->ignored++;
		break;
	}
}

static void
sess_readable(struct sess *s)
{
	uint8_t buf[2048];
	union {
		char b[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	unsigned int i;

	for (i = 0; i < RX_BURST; i++) {
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b),
		};
		struct cmsghdr *cm;
		uint64_t rx_real = 0;
		ssize_t n = recvmsg(s->fd, &mh, MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED) {
				s->icmp++;
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				s->rx_errors++;
			break;
		}
		if ((size_t)n > sizeof(buf) || (mh.msg_flags & MSG_TRUNC)) {
			s->bad++;
			continue;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
			struct timespec ts;

			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS &&
			    cm->cmsg_len >= CMSG_LEN(sizeof(ts))) {
				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				rx_real = (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
			}
		}
		if (rx_real == 0)
			rx_real = real_ns();
		sess_rx(s, buf, (size_t)n, rx_real, mono_ns());
		if (s->state == S_DONE && single())
			break;
	}
}

/* ---------------------------------------------------------------------- */
/* Run control: when to start publishing, when to stop.                    */

static void
run_on_active(struct sess *s, uint64_t now, bool first)
{
	if (first && cfg.roam_after_ns != 0)
		s->roam_at = now + cfg.roam_after_ns;
	switch (cfg.cmd) {
	case CMD_JOIN:
		/* --roam-after: stay until the move, then until it is confirmed */
		if (cfg.roam_after_ns == 0 || s->roams > 0)
			L.done = true;
		break;
	case CMD_PUB:
	case CMD_SUB:
		if (first) {
			L.started = now;
			if (cfg.duration_ns != 0)
				L.end = now + cfg.duration_ns;
			s->publishing = cfg.cmd == CMD_PUB && cfg.rate > 0;
			s->media_limit = cfg.count;
			fprintf(stderr, "rtr-client: joined: member_id %" PRIu32
				" channel_hash 0x%016" PRIx64 " app_index %" PRIu32 "\n",
				s->member_id, s->channel_hash, s->app_index);
		} else {
			fprintf(stderr, "rtr-client: joined again: member_id %" PRIu32 "\n",
				s->member_id);
		}
		break;
	case CMD_LOAD:
		if (first) {
			s->resolved = true;
			L.resolved++;
			L.joined++;
			L.chans[s->chan].joined++;
		}
		break;
	}
}

/* --roam-after: an echo from the new port answered the node's challenge. */
static void
run_on_moved(struct sess *s)
{
	fprintf(stderr, "rtr-client: the node answered the new port's challenge: member_id %"
		PRIu32 " moved\n", s->member_id);
	if (cfg.cmd == CMD_JOIN)
		L.done = true;
}

static void
run_on_fail(struct sess *s)
{
	if (single()) {
		L.done = true;
		return;
	}
	if (!s->resolved) {
		s->resolved = true;
		L.resolved++;
		L.failed++;
	}
}

static void
load_start(uint64_t now)
{
	unsigned int i;

	L.phase = P_RUN;
	L.started = now;
	L.end = now + cfg.duration_ns;
	for (i = 0; i < L.nsess; i++) {
		struct sess *s = &L.sess[i];

		if (!s->ever_active || s->state == S_DONE || cfg.rate <= 0)
			continue;
		s->publishing = true;
		/* spread the users over one frame interval */
		s->media_next = now + L.media_interval * i / L.nsess;
		sess_rearm(s);
	}
}

static void
load_stop(uint64_t now)
{
	unsigned int i;

	L.phase = P_DRAIN;
	L.stopped = now;
	L.last_rx = now;
	L.drain_end = now + DRAIN_MAX;
	for (i = 0; i < L.nsess; i++) {
		L.sess[i].publishing = false;
		sess_rearm(&L.sess[i]);
	}
}

static void
run_check(uint64_t now)
{
	struct sess *s = &L.sess[0];

	switch (cfg.cmd) {
	case CMD_JOIN:
		if (L.roam_end != 0 && now >= L.roam_end) {
			s->fail = F_NOROAM;
			L.done = true;
		}
		break;
	case CMD_PUB:
		if (L.started && ((L.end && now >= L.end) || (cfg.count && s->sent >= cfg.count)))
			L.done = true;
		break;
	case CMD_SUB:
		if (L.started && (now >= L.end || (cfg.expect && s->received >= cfg.expect)))
			L.done = true;
		break;
	case CMD_LOAD:
		if (L.phase == P_JOIN && L.resolved == L.nsess)
			load_start(now);
		else if (L.phase == P_RUN && now >= L.end)
			load_stop(now);
		else if (L.phase == P_DRAIN &&
			 (now >= L.drain_end || now >= L.last_rx + DRAIN_QUIET))
			L.done = true;
		break;
	}
}

static uint64_t
run_next(void)
{
	switch (cfg.cmd) {
	case CMD_JOIN:
		if (L.roam_end != 0)
			return L.roam_end;
		break;
	case CMD_PUB:
	case CMD_SUB:
		if (L.started && L.end)
			return L.end;
		break;
	case CMD_LOAD:
		if (L.phase == P_RUN)
			return L.end;
		if (L.phase == P_DRAIN)
			return L.drain_end < L.last_rx + DRAIN_QUIET ? L.drain_end :
			       L.last_rx + DRAIN_QUIET;
		break;
	}
	return UINT64_MAX;
}

static int
loop_run(void)
{
	struct epoll_event ev[256];

	for (;;) {
		uint64_t now = mono_ns(), next;
		unsigned int fired = 0;
		int n, i, tmo;

		while (L.nheap > 0 && L.heap[0]->when <= now && fired++ < TIMER_BURST) {
			struct sess *s = L.heap[0];

			sess_timer(s, now);
			sess_rearm(s);
		}
		run_check(now);
		if (L.done)
			return 0;
		if (stop_sig) {
			L.interrupted = true;
			return 0;
		}
		next = L.nheap > 0 ? L.heap[0]->when : UINT64_MAX;
		if (run_next() < next)
			next = run_next();
		if (next <= now)
			tmo = 0;
		else if (next == UINT64_MAX || next - now > 60 * NS_PER_S)
			tmo = 60000;
		else
			tmo = (int)((next - now + NS_PER_MS - 1) / NS_PER_MS);
		n = epoll_pwait(L.ep, ev, sizeof(ev) / sizeof(ev[0]), tmo, &L.waitmask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "rtr-client: epoll_wait: %s\n", strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++) {
			struct sess *s = ev[i].data.ptr;

			sess_readable(s);
			sess_rearm(s);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Sockets                                                                */

/*
 * A UDP socket connected to the relay, in the epoll set. With --bind
 * ADDR:PORT, user i takes PORT + i, and its n-th move (--roam-after) PORT + i
 * + n. Returns the descriptor or -1.
 */
static int
sock_open(struct sess *s, unsigned int roam)
{
	struct sockaddr_storage local;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	int one = 1, rcvbuf = single() ? 4 << 20 : 256 << 10;
	int fd = socket(cfg.server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		fprintf(stderr, "rtr-client: socket: %s\n", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (cfg.bind_len != 0) {
		in_port_t *port;
		unsigned int pn;

		local = cfg.bind;
		port = local.ss_family == AF_INET ? &((struct sockaddr_in *)&local)->sin_port :
		       &((struct sockaddr_in6 *)&local)->sin6_port;
		pn = ntohs(*port);
		if (pn != 0) {
			pn += s->id + roam;
			if (pn > 65535) {
				fprintf(stderr, "rtr-client: --bind: port %u is past 65535\n", pn);
				goto err;
			}
			*port = htons((uint16_t)pn);
		}
		if (bind(fd, (struct sockaddr *)&local, cfg.bind_len) < 0) {
			fprintf(stderr, "rtr-client: --bind: %s\n", strerror(errno));
			goto err;
		}
	}
	/* connected: the kernel passes up only datagrams from the server */
	if (connect(fd, (struct sockaddr *)&cfg.server, cfg.server_len) < 0) {
		fprintf(stderr, "rtr-client: connect to %s: %s\n", cfg.server_arg, strerror(errno));
		goto err;
	}
	if (epoll_ctl(L.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		fprintf(stderr, "rtr-client: epoll_ctl: %s\n", strerror(errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

static int
sess_open(struct sess *s)
{
	s->fd = sock_open(s, 0);
	return s->fd < 0 ? -1 : 0;
}

static int
sessions_init(unsigned int n)
{
	unsigned int i;

	L.sess = calloc(n, sizeof(*L.sess));
	L.heap = calloc(n, sizeof(*L.heap));
	if (L.sess == NULL || L.heap == NULL) {
		fprintf(stderr, "rtr-client: out of memory\n");
		return -1;
	}
	L.nsess = n;
	for (i = 0; i < n; i++)
		L.sess[i].fd = -1;
	return 0;
}

static int
sessions_open(uint64_t now)
{
	unsigned int i;

	for (i = 0; i < L.nsess; i++) {
		struct sess *s = &L.sess[i];

		s->id = i;
		if (s->lat == NULL)
			s->lat = &L.single_lat;
		if (sess_open(s) < 0)
			return -1;
		s->state = S_WAIT;
		s->start_at = cfg.join_rate > 0 ?
			      now + (uint64_t)((double)i * (double)NS_PER_S / cfg.join_rate) : now;
		s->when = s->start_at;
		heap_set(L.nheap++, s);
		heap_up(s->hidx);
	}
	return 0;
}

static void
sessions_close(void)
{
	unsigned int i;

	for (i = 0; i < L.nsess; i++) {
		struct sess *s = &L.sess[i];

		if (s->state != S_DONE)
			leave_send(s);
		enc_reset(s);
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
	}
}

static void
sessions_free(void)
{
	unsigned int i;

	for (i = 0; i < L.nsess; i++)
		peers_free(&L.sess[i].peers);
	free(L.sess);
	free(L.heap);
}

/* ---------------------------------------------------------------------- */
/* Reports                                                                */

struct rxsum {
	uint64_t received, delivered, lost, dups, reordered, late, misdelivered;
	uint64_t malformed, own, untracked, clock_skew, bad, ignored, socket_errors;
	uint64_t auth_failed, replayed, no_key, cleartext;	/* sealed frames */
};

static void
rxsum_add(struct rxsum *r, const struct sess *s, bool gap_loss)
{
	uint32_t i;

	r->received += s->received;
	r->misdelivered += s->misdelivered;
	r->malformed += s->malformed;
	r->own += s->own;
	r->untracked += s->untracked;
	r->clock_skew += s->clock_skew;
	r->bad += s->bad;
	r->ignored += s->ignored + s->unexpected;
	r->socket_errors += s->rx_errors;
	r->auth_failed += s->auth_failed;
	r->replayed += s->replayed;
	r->no_key += s->no_key;
	r->cleartext += s->cleartext;
	for (i = 0; i < s->peers.n; i++) {
		const struct peer *p = &s->peers.v[i];

		r->delivered += p->unique;
		r->dups += p->dups;
		r->reordered += p->reordered;
		r->late += p->late;
		if (gap_loss)
			r->lost += peer_gaps(p);
	}
}

static json_t *
jint(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *
jhex(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%016" PRIx64, v);
	return json_string(b);
}

static json_t *
lat_json(const struct hist *h)
{
	if (h->n == 0)
		return json_null();
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}",
			 "p50", jint(hist_pct(h, 50)), "p99", jint(hist_pct(h, 99)),
			 "min", jint(h->min), "max", jint(h->max), "mean", jint(h->sum / h->n),
			 "samples", jint(h->n));
}

static void
rxsum_json(json_t *o, const struct rxsum *r)
{
	json_object_set_new(o, "received", jint(r->received));
	json_object_set_new(o, "delivered", jint(r->delivered));
	json_object_set_new(o, "lost", jint(r->lost));
	json_object_set_new(o, "duplicated", jint(r->dups));
	json_object_set_new(o, "reordered", jint(r->reordered));
	json_object_set_new(o, "late", jint(r->late));
	json_object_set_new(o, "misdelivered", jint(r->misdelivered));
	json_object_set_new(o, "malformed", jint(r->malformed));
	json_object_set_new(o, "own", jint(r->own));
	json_object_set_new(o, "clock_skew", jint(r->clock_skew));
	if (r->untracked)
		json_object_set_new(o, "untracked", jint(r->untracked));
	json_object_set_new(o, "bad_frames", jint(r->bad));
	if (r->socket_errors)
		json_object_set_new(o, "socket_errors", jint(r->socket_errors));
	json_object_set_new(o, "ignored", jint(r->ignored));
	if (enc()) {
		json_object_set_new(o, "auth_failed", jint(r->auth_failed));
		json_object_set_new(o, "replayed", jint(r->replayed));
		json_object_set_new(o, "no_key", jint(r->no_key));
		json_object_set_new(o, "cleartext", jint(r->cleartext));
	}
}

/* The sums of one report over another (load: channels into the total). */
static void
rxsum_sum(struct rxsum *d, const struct rxsum *r)
{
	d->received += r->received;
	d->delivered += r->delivered;
	d->lost += r->lost;
	d->dups += r->dups;
	d->reordered += r->reordered;
	d->late += r->late;
	d->misdelivered += r->misdelivered;
	d->malformed += r->malformed;
	d->own += r->own;
	d->untracked += r->untracked;
	d->clock_skew += r->clock_skew;
	d->bad += r->bad;
	d->ignored += r->ignored;
	d->socket_errors += r->socket_errors;
	d->auth_failed += r->auth_failed;
	d->replayed += r->replayed;
	d->no_key += r->no_key;
	d->cleartext += r->cleartext;
}

static json_t *
ka_json(const struct sess *s)
{
	json_t *o = json_pack("{s:o,s:o,s:o}", "sent", jint(s->ka_sent),
			      "echoed", jint(s->ka_echoes), "rejoins", jint(s->rejoins));

	if (enc())
		json_object_set_new(o, "rekeys", jint(s->rekeys));
	if (cfg.roam_after_ns != 0) {
		json_object_set_new(o, "roams", jint(s->roams));
		json_object_set_new(o, "roams_confirmed", jint(s->roams_confirmed));
	}

	if (s->ka_echoes)
		json_object_set_new(o, "rtt_us",
				    json_pack("{s:o,s:o,s:o}",
					      "min", jint(s->rtt_min / NS_PER_US),
					      "avg", jint(s->rtt_sum / s->ka_echoes / NS_PER_US),
					      "max", jint(s->rtt_max / NS_PER_US)));
	return o;
}

static void
print_json(json_t *o)
{
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(o);
}

/* Status of a single session, on stderr (and in o when given). */
static int
sess_status(const struct sess *s, json_t *o)
{
	const char *status = "ok", *err = NULL;
	char msg[256];
	int rc = 0;

	msg[0] = '\0';
	switch (s->fail) {
	case F_NONE:
		if (L.interrupted && !s->ever_active) {
			status = "interrupted";
			snprintf(msg, sizeof(msg), "interrupted before the join completed");
			rc = EXIT_FAIL;
		}
		break;
	case F_REFUSED:
		status = "refused";
		err = err_name(s->err_code);
		snprintf(msg, sizeof(msg), "refused: %s (%u)", err, s->err_code);
		rc = EXIT_REFUSED;
		break;
	case F_STATUS:
		status = "refused";
		err = "JOIN_ACK_STATUS";
		snprintf(msg, sizeof(msg), "refused: JOIN_ACK with status %u", s->err_code);
		rc = EXIT_REFUSED;
		break;
	case F_NOANSWER:
		status = "no_answer";
		err = "join";
		snprintf(msg, sizeof(msg), "no answer from %s to %u JOINs%s", cfg.server_arg, TRIES,
			 s->icmp ? " (ICMP port unreachable: nothing listens there)" : "");
		rc = EXIT_NOANSWER;
		break;
	case F_NOPATH:
		status = "no_answer";
		err = "path";
		snprintf(msg, sizeof(msg), "JOIN_ACK received but no KEEPALIVE echo from %s to %u "
			 "KEEPALIVEs: path not validated", cfg.server_arg, TRIES);
		rc = EXIT_NOANSWER;
		break;
	case F_BADANSWER:
		status = "error";
		err = s->fail_detail;
		snprintf(msg, sizeof(msg), "malformed answer from %s: %s", cfg.server_arg,
			 s->fail_detail);
		rc = EXIT_FAIL;
		break;
	case F_CRYPTO:
		status = "error";
		err = "crypto";
		snprintf(msg, sizeof(msg), "%s", s->fail_detail);
		rc = EXIT_FAIL;
		break;
	case F_NOROAM:
		status = "no_answer";
		err = "roam";
		snprintf(msg, sizeof(msg), "moved to a new local port, but no KEEPALIVE echo "
			 "confirmed the move within %u s", (unsigned int)(ROAM_WAIT_NS / NS_PER_S));
		rc = EXIT_NOANSWER;
		break;
	}
	if (msg[0] != '\0')
		fprintf(stderr, "rtr-client: %s\n", msg);
	if (o != NULL) {
		json_object_set_new(o, "status", json_string(status));
		if (err != NULL)
			json_object_set_new(o, "error", json_string(err));
		if (s->fail == F_REFUSED || s->fail == F_STATUS)
			json_object_set_new(o, "code", jint(s->err_code));
	}
	return rc;
}

static void
member_json(json_t *o, const struct sess *s)
{
	json_object_set_new(o, "member_id", jint(s->member_id));
	json_object_set_new(o, "channel_hash", jhex(s->channel_hash));
	json_object_set_new(o, "app_index", jint(s->app_index));
	json_object_set_new(o, "expires_at", jint(s->expires_at));
	json_object_set_new(o, "keepalive_ms", jint(s->keepalive_ms));
	if (enc())
		json_object_set_new(o, "enc", json_string(suite_names[cfg.suite]));
}

static void
print_lat_text(const char *label, const struct hist *h)
{
	if (h->n == 0) {
		printf("%-14s-\n", label);
		return;
	}
	printf("%-14sp50 %" PRIu64 "  p99 %" PRIu64 "  min %" PRIu64 "  max %" PRIu64
	       "  (%" PRIu64 " samples)\n", label, hist_pct(h, 50), hist_pct(h, 99),
	       h->min, h->max, h->n);
}

static void
print_rx_text(const struct sess *s, const struct rxsum *r)
{
	uint32_t i;

	printf("received      %" PRIu64 " frames: delivered %" PRIu64 ", misdelivered %" PRIu64
	       ", malformed %" PRIu64 ", own %" PRIu64 "\n", r->received, r->delivered,
	       r->misdelivered, r->malformed, r->own);
	printf("lost          %" PRIu64 "\n", r->lost);
	printf("duplicated    %" PRIu64 "\n", r->dups);
	printf("reordered     %" PRIu64 "\n", r->reordered);
	if (r->late)
		printf("late          %" PRIu64 " (too far behind to tell from duplicates)\n", r->late);
	print_lat_text("latency_us", s->lat);
	if (enc())
		printf("sealed        auth_failed %" PRIu64 ", replayed %" PRIu64 ", no_key %" PRIu64
		       ", cleartext %" PRIu64 "\n", r->auth_failed, r->replayed, r->no_key,
		       r->cleartext);
	if (r->clock_skew)
		printf("clock_skew    %" PRIu64 " frames stamped in the future or > 60 s ago\n",
		       r->clock_skew);
	printf("senders       %" PRIu32 "\n", s->peers.n);
	for (i = 0; i < s->peers.n && i < 32; i++) {
		const struct peer *p = &s->peers.v[i];

		printf("  uid %" PRIu32 " member_id %" PRIu32 ": %" PRIu64 " frames, counters %"
		       PRIu64 "-%" PRIu64 ", lost %" PRIu64 ", duplicated %" PRIu64 ", reordered %"
		       PRIu64 ", jitter %" PRIu64 " us\n", p->uid, p->member_id, p->unique,
		       p->first, p->max, peer_gaps(p), p->dups, p->reordered, p->jitter / NS_PER_US);
	}
	if (s->peers.n > 32)
		printf("  ... %" PRIu32 " more\n", s->peers.n - 32);
}

static json_t *
senders_json(const struct sess *s)
{
	json_t *a = json_array();
	uint32_t i;

	for (i = 0; i < s->peers.n; i++) {
		const struct peer *p = &s->peers.v[i];

		json_array_append_new(a, json_pack(
			"{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
			"uid", jint(p->uid), "member_id", jint(p->member_id),
			"delivered", jint(p->unique), "first", jint(p->first), "last", jint(p->max),
			"lost", jint(peer_gaps(p)), "duplicated", jint(p->dups),
			"reordered", jint(p->reordered), "late", jint(p->late),
			"jitter_us", jint(p->jitter / NS_PER_US)));
	}
	return a;
}

static int
report_join(struct sess *s)
{
	json_t *o = cfg.json ? json_object() : NULL;
	int rc = sess_status(s, o);

	if (rc == 0) {
		if (o != NULL) {
			member_json(o, s);
			json_object_set_new(o, "rtt_us", jint(s->rtt_min / NS_PER_US));
			if (cfg.roam_after_ns != 0)
				json_object_set_new(o, "keepalives", ka_json(s));
		} else {
			char when[64] = "";
			time_t t = (time_t)s->expires_at;
			struct tm tm;

			if (gmtime_r(&t, &tm) != NULL)
				strftime(when, sizeof(when), " (%Y-%m-%dT%H:%M:%SZ)", &tm);
			printf("member_id     %" PRIu32 "\n", s->member_id);
			printf("channel_hash  0x%016" PRIx64 "\n", s->channel_hash);
			printf("app_index     %" PRIu32 "\n", s->app_index);
			printf("expires_at    %" PRIu32 "%s\n", s->expires_at, when);
			printf("keepalive_ms  %" PRIu32 "\n", s->keepalive_ms);
			printf("rtt_us        %" PRIu64 "\n", s->rtt_min / NS_PER_US);
			if (enc())
				printf("enc           %s\n", suite_names[cfg.suite]);
			if (cfg.roam_after_ns != 0)
				printf("roams         %u, confirmed %u, rejoins %u\n", s->roams,
				       s->roams_confirmed, s->rejoins);
		}
	}
	if (o != NULL)
		print_json(o);
	return rc;
}

static double
secs(uint64_t ns)
{
	return (double)ns / (double)NS_PER_S;
}

static int
report_single(struct sess *s, uint64_t now)
{
	json_t *o = cfg.json ? json_object() : NULL;
	int rc = sess_status(s, o);
	double dur = L.started ? secs(now - L.started) : 0;
	struct rxsum r = { 0 };

	if (!s->ever_active) {
		if (o != NULL)
			print_json(o);
		return rc;
	}
	rxsum_add(&r, s, true);
	if (o != NULL) {
		member_json(o, s);
		json_object_set_new(o, "duration_s", json_real(dur));
		if (cfg.cmd == CMD_PUB) {
			json_object_set_new(o, "kind", json_string(kind_names[cfg.kind]));
			json_object_set_new(o, "size", jint(cfg.size));
			json_object_set_new(o, "sent", jint(s->sent));
			json_object_set_new(o, "bytes", jint(s->sent_bytes));
			json_object_set_new(o, "rate", json_real(dur > 0 ? (double)s->sent / dur : 0));
			json_object_set_new(o, "send_errors", jint(s->send_errors));
			json_object_set_new(o, "late_sends", jint(s->late_sends));
		}
		rxsum_json(o, &r);
		json_object_set_new(o, "latency_us", lat_json(s->lat));
		json_object_set_new(o, "senders", senders_json(s));
		if (cfg.cmd == CMD_SUB && cfg.expect) {
			json_object_set_new(o, "expect", jint(cfg.expect));
			json_object_set_new(o, "expect_met", json_boolean(s->received >= cfg.expect));
		}
		json_object_set_new(o, "keepalives", ka_json(s));
		print_json(o);
		return rc;
	}
	printf("member_id     %" PRIu32 "  channel_hash 0x%016" PRIx64 "  app_index %" PRIu32 "%s%s\n",
	       s->member_id, s->channel_hash, s->app_index, enc() ? "  enc " : "",
	       enc() ? suite_names[cfg.suite] : "");
	if (cfg.cmd == CMD_PUB)
		printf("sent          %" PRIu64 " %s frames of %u bytes in %.3f s (%.1f frames/s)"
		       ", %" PRIu64 " send errors\n", s->sent, kind_names[cfg.kind], cfg.size, dur,
		       dur > 0 ? (double)s->sent / dur : 0.0, s->send_errors);
	else
		printf("duration      %.3f s\n", dur);
	if (cfg.cmd == CMD_SUB || r.received)
		print_rx_text(s, &r);
	if (cfg.cmd == CMD_SUB && cfg.expect)
		printf("expect        %" PRIu64 " %s\n", cfg.expect,
		       s->received >= cfg.expect ? "met" : "NOT met");
	printf("keepalives    %" PRIu64 " sent, %" PRIu64 " echoed", s->ka_sent, s->ka_echoes);
	if (s->ka_echoes)
		printf(", rtt min/avg/max %" PRIu64 "/%" PRIu64 "/%" PRIu64 " us",
		       s->rtt_min / NS_PER_US, s->rtt_sum / s->ka_echoes / NS_PER_US,
		       s->rtt_max / NS_PER_US);
	printf(", rejoins %u", s->rejoins);
	if (enc())
		printf(", rekeys %u", s->rekeys);
	if (cfg.roam_after_ns != 0)
		printf(", roams %u (confirmed %u)", s->roams, s->roams_confirmed);
	printf("\n");
	fflush(stdout);
	return rc;
}

static int
report_load(uint64_t now)
{
	json_t *o = json_object(), *chans = json_array(), *fails = json_object(), *t;
	struct rxsum total = { 0 };
	struct hist *all = calloc(1, sizeof(*all));
	uint64_t sent_total = 0, expected_total = 0, rejoins = 0, rekeys = 0, icmp = 0;
	unsigned int c, i, refused = 0, noanswer = 0;
	int rc;

	if (all == NULL) {
		fprintf(stderr, "rtr-client: out of memory\n");
		return EXIT_FAIL;
	}
	for (c = 0; c < L.nchans; c++) {
		struct chan *ch = &L.chans[c];
		struct rxsum r = { 0 };
		uint64_t sent = 0, expected = 0;
		json_t *co;

		for (i = 0; i < L.nsess; i++) {
			struct sess *s = &L.sess[i];

			if (s->chan != c)
				continue;
			rxsum_add(&r, s, false);
			sent += s->sent;
			/* every frame should reach every other member that joined */
			if (ch->joined > 0)
				expected += s->sent * (ch->joined - 1);
		}
		r.lost = expected > r.delivered ? expected - r.delivered : 0;
		co = json_pack("{s:s,s:o,s:o,s:o,s:o}", "channel", ch->name,
			       "users", jint(ch->users), "joined", jint(ch->joined),
			       "sent", jint(sent), "expected", jint(expected));
		rxsum_json(co, &r);
		json_object_set_new(co, "latency_us", lat_json(&ch->lat));
		json_array_append_new(chans, co);
		hist_merge(all, &ch->lat);
		sent_total += sent;
		expected_total += expected;
		rxsum_sum(&total, &r);
	}
	for (i = 0; i < L.nsess; i++) {
		struct sess *s = &L.sess[i];
		const char *key = NULL;
		char name[32];

		rejoins += s->rejoins;
		rekeys += s->rekeys;
		icmp += s->icmp;
		switch (s->fail) {
		case F_NONE:
			if (!s->ever_active)
				key = "interrupted";
			break;
		case F_REFUSED:
			key = err_name(s->err_code);
			if (strcmp(key, "UNKNOWN") == 0) {
				snprintf(name, sizeof(name), "UNKNOWN_%u", s->err_code);
				key = name;
			}
			refused++;
			break;
		case F_STATUS:
			key = "JOIN_ACK_STATUS";
			refused++;
			break;
		case F_NOANSWER:
			key = "no_answer";
			noanswer++;
			break;
		case F_NOPATH:
			key = "no_path";
			noanswer++;
			break;
		case F_BADANSWER:
			key = "malformed_answer";
			break;
		case F_CRYPTO:
			key = "crypto";
			break;
		case F_NOROAM:
			key = "no_roam";
			break;
		}
		if (key != NULL) {
			json_int_t n = json_integer_value(json_object_get(fails, key));

			json_object_set_new(fails, key, json_integer(n + 1));
		}
	}
	t = json_pack("{s:o,s:o}", "sent", jint(sent_total), "expected", jint(expected_total));
	rxsum_json(t, &total);
	json_object_set_new(t, "latency_us", lat_json(all));
	if (refused)
		rc = EXIT_REFUSED;
	else if (noanswer)
		rc = EXIT_NOANSWER;
	else if (L.joined < L.nsess)
		rc = EXIT_FAIL;
	else
		rc = 0;
	json_object_set_new(o, "status", json_string(rc == 0 ? "ok" : L.joined ? "partial" :
							  "failed"));
	json_object_set_new(o, "users", jint(L.nsess));
	json_object_set_new(o, "channels", jint(L.nchans));
	json_object_set_new(o, "rate", json_real(cfg.rate));
	json_object_set_new(o, "kind", json_string(kind_names[cfg.kind]));
	json_object_set_new(o, "size", jint(cfg.size));
	json_object_set_new(o, "duration_s",
			    json_real(L.started ? secs((L.stopped ? L.stopped : now) - L.started) : 0));
	json_object_set_new(o, "joined", jint(L.joined));
	json_object_set_new(o, "failed", fails);
	json_object_set_new(o, "rejoins", jint(rejoins));
	if (enc()) {
		json_object_set_new(o, "enc", json_string(suite_names[cfg.suite]));
		json_object_set_new(o, "rekeys", jint(rekeys));
	}
	if (icmp)
		json_object_set_new(o, "icmp_unreachable", jint(icmp));
	json_object_set_new(o, "join_ms", L.join_time.n == 0 ? json_null() :
			    json_pack("{s:f,s:f,s:f}",
				      "p50", (double)hist_pct(&L.join_time, 50) / 1000,
				      "p99", (double)hist_pct(&L.join_time, 99) / 1000,
				      "max", (double)L.join_time.max / 1000));
	json_object_set_new(o, "per_channel", chans);
	json_object_set_new(o, "total", t);
	print_json(o);
	if (rc != 0)
		fprintf(stderr, "rtr-client: %u of %u users joined%s\n", L.joined, L.nsess,
			icmp ? " (ICMP port unreachable: nothing listens there)" : "");
	free(all);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Option parsing                                                         */

enum opt_id {
	O_SERVER = 256, O_BIND, O_APP_ID, O_TOKEN, O_TOKEN_FILE, O_CHANNEL, O_UID, O_ROLE,
	O_JSON, O_RATE, O_COUNT, O_DURATION, O_EXPECT, O_KIND, O_SIZE, O_USERS, O_CHANNELS,
	O_TOKENS, O_JOIN_RATE, O_ENC, O_SERVER_KEY, O_SERVER_KEY_FILE, O_ROAM_AFTER, O_END
};
#define O_N	(O_END - O_SERVER)

struct optdef {
	const char *name;
	int has_arg;
	unsigned int cmds;
};

#define OD(id, n, a, c)	[(id) - O_SERVER] = { n, a, c }
static const struct optdef optdefs[O_N] = {
	OD(O_SERVER, "server", required_argument, CMD_ALL),
	OD(O_BIND, "bind", required_argument, CMD_ALL),
	OD(O_APP_ID, "app-id", required_argument, CMD_ALL),
	OD(O_TOKEN, "token", required_argument, CMD_ONE),
	OD(O_TOKEN_FILE, "token-file", required_argument, CMD_ONE),
	OD(O_CHANNEL, "channel", required_argument, CMD_ONE),
	OD(O_UID, "uid", required_argument, CMD_ONE),
	OD(O_ROLE, "role", required_argument, CMD_ONE),
	OD(O_JSON, "json", no_argument, CMD_ALL),
	OD(O_RATE, "rate", required_argument, CMD_PUB | CMD_LOAD),
	OD(O_COUNT, "count", required_argument, CMD_PUB),
	OD(O_DURATION, "duration", required_argument, CMD_PUB | CMD_SUB | CMD_LOAD),
	OD(O_EXPECT, "expect", required_argument, CMD_SUB),
	OD(O_KIND, "kind", required_argument, CMD_PUB | CMD_LOAD),
	OD(O_SIZE, "size", required_argument, CMD_PUB | CMD_LOAD),
	OD(O_USERS, "users", required_argument, CMD_LOAD),
	OD(O_CHANNELS, "channels", required_argument, CMD_LOAD),
	OD(O_TOKENS, "tokens", required_argument, CMD_LOAD),
	OD(O_JOIN_RATE, "join-rate", required_argument, CMD_LOAD),
	OD(O_ENC, "enc", required_argument, CMD_ALL),
	OD(O_SERVER_KEY, "server-key", required_argument, CMD_ALL),
	OD(O_SERVER_KEY_FILE, "server-key-file", required_argument, CMD_ALL),
	OD(O_ROAM_AFTER, "roam-after", required_argument, CMD_ONE),
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: rtr-client join|pub|sub [OPTIONS]   one user\n"
"       rtr-client load [OPTIONS]           many users, JSON report\n"
"\n"
"  join   join a channel, validate the path, print the membership, leave\n"
"  pub    join, publish MEDIA frames, print a summary\n"
"  sub    join, receive MEDIA frames: loss, duplicates, reordering, latency\n"
"  load   N users over C channels, each on its own socket, publishing and receiving\n"
"\n"
"common:\n"
"  --server ADDR[:PORT]  the relay: IPv4, [IPv6] or a host name; port %d by default\n"
"  --bind ADDR[:PORT]    local address and port (load: port + i for user i)\n"
"  --app-id HEX          the App ID, 32 hex characters\n"
"  --json                JSON on stdout\n"
"  --server-key HEX      the node's public X25519 key, 64 hex characters (rtrctl node\n"
"                        show): join with a Noise handshake, every frame sealed\n"
"  --server-key-file F   the same from a file: the key alone, or rtrctl's JSON\n"
"  --enc none|aes128gcm|aes256gcm   default aes128gcm with a server key, else none\n"
"join, pub, sub:\n"
"  --token-file FILE     file whose first line is the AccessToken2 ('-': stdin)\n"
"  (tokens are never taken on the command line: other local users could read it)\n"
"  --channel NAME        channel name, 1-64 bytes\n"
"  --uid N               user id, 0-4294967295\n"
"  --role pub|sub        default: sub for 'sub', pub otherwise\n"
"  --roam-after S        S s after joining, move to another local port (new socket),\n"
"                        keeping the session (join: then wait for the move to be\n"
"                        confirmed)\n"
"pub:  --rate FPS (default 50) --count N and/or --duration S\n"
"      --kind audio|video|data (default audio) --size BYTES (payload, %d-%d, default 200;\n"
"      sealed: the plaintext, %d-%d)\n"
"sub:  --duration S (default 10) --expect N (stop once N frames arrived)\n"
"load: --tokens FILE (lines 'channel uid token') --users N --channels C --rate R\n"
"      --duration D [--kind K] [--size B] [--join-rate JOINS/S (default 500)]\n"
"      user i is in the (i %% C)-th channel named in FILE and takes its next line\n"
"\n"
"exit: 0 done, 1 refused (ERROR), 2 usage, 3 failure, 4 no answer\n",
		RTR_DEFAULT_PORT, STAMP_LEN, MEDIA_MAX, STAMP_ENC_LEN, MEDIA_ENC_MAX);
}

static int
bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
bad(const char *fmt, ...)
{
	va_list ap;

	fputs("rtr-client: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (rtr-client --help)\n", stderr);
	return -1;
}

static int
parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		goto err;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto err;
	*out = v;
	return 0;
err:
	return bad("--%s: '%s' is not a whole number in %" PRIu64 "..%" PRIu64, opt, s, min, max);
}

static int
parse_num(const char *opt, const char *s, double min, double max, bool min_open, double *out)
{
	char *end;
	double v;

	errno = 0;
	if (!isdigit((unsigned char)s[0]) && s[0] != '.')
		goto err;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > max ||
	    (min_open && v <= min))
		goto err;
	*out = v;
	return 0;
err:
	return bad("--%s: '%s' is not a number %s %.15g and <= %.15g", opt, s,
		   min_open ? ">" : ">=", min, max);
}

static int
parse_addr(const char *opt, const char *arg, uint16_t defport, bool port0,
	   struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	const char *port = NULL, *c;
	char host[256];
	uint64_t pn = defport;
	size_t hl;
	int rc;

	if (arg[0] == '[') {
		c = strchr(arg, ']');
		if (c == NULL)
			return bad("--%s: '%s': missing ']'", opt, arg);
		hl = (size_t)(c - arg - 1);
		memcpy(host, arg + 1, hl < sizeof(host) ? hl : 0);
		if (c[1] == ':')
			port = c + 2;
		else if (c[1] != '\0')
			return bad("--%s: '%s': expected ':PORT' after ']'", opt, arg);
	} else {
		c = strchr(arg, ':');
		if (c != NULL && strchr(c + 1, ':') == NULL) {
			hl = (size_t)(c - arg);
			port = c + 1;
		} else {
			hl = strlen(arg);	/* no port, or a bare IPv6 address */
		}
		memcpy(host, arg, hl < sizeof(host) ? hl : 0);
	}
	if (hl == 0 || hl >= sizeof(host))
		return bad("--%s: '%s': no address", opt, arg);
	host[hl] = '\0';
	if (port != NULL && parse_u64(opt, port, port0 ? 0 : 1, 65535, &pn) < 0)
		return -1;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0 || ai == NULL)
		return bad("--%s: '%s': %s", opt, host, rc ? gai_strerror(rc) : "no address");
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)pn);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)pn);
	else
		rc = -1;
	freeaddrinfo(ai);
	if (rc != 0)
		return bad("--%s: '%s': not an IP address", opt, host);
	return 0;
}

static bool
token_ok(const char *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i] < 0x21 || t[i] > 0x7e)
			return false;
	return n > 0 && n <= TOKEN_MAX;
}

static int
read_token_file(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char buf[TOKEN_MAX + 64];
	size_t n;

	if (f == NULL)
		return bad("--token-file: cannot open '%s': %s", path, strerror(errno));
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	if (f != stdin)
		fclose(f);
	n = strlen(buf);
	if (n > 0 && buf[n - 1] != '\n' && n == sizeof(buf) - 1) {
		explicit_bzero(buf, sizeof(buf));
		return bad("--token-file: '%s': token longer than %d bytes", path, TOKEN_MAX);
	}
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
	if (n == 0)
		return bad("--token-file: '%s': no token on the first line", path);
	if (n > TOKEN_MAX || !token_ok(buf, n)) {
		explicit_bzero(buf, sizeof(buf));
		return bad("--token-file: '%s': not a token (1-%d printable characters, no spaces)",
			   path, TOKEN_MAX);
	}
	cfg.token = strdup(buf);
	cfg.token_len = n;
	explicit_bzero(buf, sizeof(buf));
	return cfg.token != NULL ? 0 : bad("out of memory");
}

static bool
app_id_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return i == APP_ID_LEN;
}

/* The tokens file of 'load': "channel uid token" lines, '#' comments. */
static int
read_tokens(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *save;
	size_t cap = 0;
	unsigned int lineno = 0, c;
	int rc = -1;

	if (f == NULL)
		return bad("--tokens: cannot open '%s': %s", path, strerror(errno));
	while (getline(&line, &cap, f) >= 0) {
		char *ch, *uid, *tok, *extra;
		struct tline *tl;
		uint64_t u;

		lineno++;
		ch = strtok_r(line, " \t\r\n", &save);
		if (ch == NULL || ch[0] == '#')
			continue;
		uid = strtok_r(NULL, " \t\r\n", &save);
		tok = strtok_r(NULL, " \t\r\n", &save);
		extra = strtok_r(NULL, " \t\r\n", &save);
		if (uid == NULL || tok == NULL || extra != NULL) {
			bad("--tokens: %s line %u: expected 'channel uid token'", path, lineno);
			goto out;
		}
		if (strlen(ch) > CHANNEL_MAX) {
			bad("--tokens: %s line %u: channel name longer than %d bytes", path, lineno,
			    CHANNEL_MAX);
			goto out;
		}
		if (!token_ok(ch, strlen(ch))) {
			bad("--tokens: %s line %u: channel name not printable ASCII", path, lineno);
			goto out;
		}
		errno = 0;
		u = isdigit((unsigned char)uid[0]) ? strtoull(uid, &extra, 10) : UINT64_MAX;
		if (errno != 0 || *extra != '\0' || u > UINT32_MAX) {
			bad("--tokens: %s line %u: uid '%s' is not a number in 0..4294967295", path,
			    lineno, uid);
			goto out;
		}
		if (!token_ok(tok, strlen(tok))) {
			bad("--tokens: %s line %u: not a token (1-%d printable characters)", path,
			    lineno, TOKEN_MAX);
			goto out;
		}
		if (L.nlines % 64 == 0) {
			tl = realloc(L.lines, (L.nlines + 64) * sizeof(*tl));
			if (tl == NULL) {
				bad("out of memory");
				goto out;
			}
			L.lines = tl;
		}
		tl = &L.lines[L.nlines];
		memset(tl, 0, sizeof(*tl));
		tl->channel = strdup(ch);
		tl->token = strdup(tok);
		tl->token_len = strlen(tok);
		tl->uid = (uint32_t)u;
		tl->lineno = lineno;
		L.nlines++;
		if (tl->channel == NULL || tl->token == NULL) {
			bad("out of memory");
			goto out;
		}
		/* channels in the order the file first names them */
		for (c = 0; c < L.nchans && strcmp(L.chans[c].name, ch) != 0; c++)
			;
		if (c == L.nchans) {
			struct chan *v = realloc(L.chans, (L.nchans + 1) * sizeof(*v));

			if (v == NULL) {
				bad("out of memory");
				goto out;
			}
			L.chans = v;
			memset(&L.chans[c], 0, sizeof(L.chans[c]));
			L.chans[c].name = tl->channel;
			L.nchans++;
		}
		tl->chan = c;
	}
	rc = 0;
out:
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(f);
	return rc;
}

/* Give user i a line of channel i % C. */
static int
load_assign(void)
{
	unsigned int i, j, c, n;

	if (L.nchans < cfg.channels)
		return bad("--tokens: %s names %u channels, --channels asks for %u",
			   cfg.tokens_file, L.nchans, cfg.channels);
	L.nchans = cfg.channels;	/* the first C channels of the file */
	for (i = 0; i < L.nsess; i++) {
		struct sess *s = &L.sess[i];
		struct chan *ch = &L.chans[i % cfg.channels];

		c = i % cfg.channels;
		while (ch->cursor < L.nlines &&
		       (L.lines[ch->cursor].chan != c || L.lines[ch->cursor].used))
			ch->cursor++;
		if (ch->cursor == L.nlines) {
			for (n = 0, j = 0; j < L.nlines; j++)
				n += L.lines[j].chan == c;
			return bad("--tokens: %s has %u tokens for channel '%s'; %u users need %u",
				   cfg.tokens_file, n, ch->name, cfg.users,
				   cfg.users / cfg.channels + (c < cfg.users % cfg.channels));
		}
		L.lines[ch->cursor].used = true;
		s->token = L.lines[ch->cursor].token;
		s->token_len = L.lines[ch->cursor].token_len;
		s->channel = ch->name;
		s->uid = L.lines[ch->cursor].uid;
		s->role = RTR_ROLE_PUBLISHER;
		s->chan = c;
		s->lat = &ch->lat;
		ch->users++;
	}
	return 0;
}

/* 64 hex characters into the 32-byte key; -1 if they are not that. */
static int
parse_key_hex(const char *hex, size_t n, uint8_t key[RTR_NOISE_KEY_LEN])
{
	size_t i;

	if (n != 2 * RTR_NOISE_KEY_LEN)
		return -1;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return -1;
	for (i = 0; i < RTR_NOISE_KEY_LEN; i++) {
		char b[3] = { hex[2 * i], hex[2 * i + 1], '\0' };

		key[i] = (uint8_t)strtoul(b, NULL, 16);
	}
	return 0;
}

/*
 * --server-key-file: the hex key on the first line, or the JSON object that
 * rtrctl node show prints (its "public_key").
 */
static int
read_server_key(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	const char *hex;
	size_t n;
	int rc;

	if (f == NULL)
		return bad("--server-key-file: cannot open '%s': %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	hex = buf + strspn(buf, " \t\r\n");
	if (hex[0] == '{') {
		json_t *o = json_loads(hex, 0, NULL);
		const char *v = json_string_value(json_object_get(o, "public_key"));

		rc = v != NULL ? parse_key_hex(v, strlen(v), cfg.server_key) : -1;
		json_decref(o);
	} else {
		rc = parse_key_hex(hex, strcspn(hex, " \t\r\n"), cfg.server_key);
	}
	if (rc < 0)
		return bad("--server-key-file: '%s' holds no key (64 hex characters, or JSON "
			   "with \"public_key\")", path);
	return 0;
}

/*
 * A key a handshake can use: message 1 needs DH(e, key), which refuses the
 * all-zero result of a low-order point. Tried once, here, with a throw-away
 * state.
 */
static bool
server_key_ok(void)
{
	uint8_t msg[RTR_NOISE_OVERHEAD];
	struct rtr_noise_state st;
	bool ok;

	ok = rtr_noise_init_initiator(&st, NULL, 0, cfg.server_key) == 0 &&
	     rtr_noise_write_msg1(&st, NULL, 0, msg, sizeof(msg)) == RTR_NOISE_OVERHEAD;
	rtr_noise_wipe(&st);
	return ok;
}

static int
raise_nofile(unsigned int need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		return bad("--users %u needs %u open files; the limit is %llu", cfg.users, need,
			   (unsigned long long)rl.rlim_max);
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return bad("--users %u needs %u open files: %s", cfg.users, need, strerror(errno));
	return 0;
}

static int
parse_args(int argc, char **argv)
{
	struct option lo[O_N + 2];
	char *val[O_N] = { 0 };
	uint64_t u;
	int i, o;

	for (i = 0; i < O_N; i++) {
		lo[i].name = optdefs[i].name;
		lo[i].has_arg = optdefs[i].has_arg;
		lo[i].flag = NULL;
		lo[i].val = O_SERVER + i;
	}
	lo[O_N] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[O_N + 1] = (struct option){ 0 };
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		const char *arg = argv[optind - 1];
		char name[48];

		/* never echo a value: the culprit might be a token */
		snprintf(name, sizeof(name), "%s", arg);
		name[strcspn(name, "=")] = '\0';
		if (o == 'h') {
			usage(stdout);
			exit(0);
		}
		if (o == '?' && optopt != 0 && optopt < 256)
			return bad("unknown option '-%c'", optopt);
		if (o == '?')
			return bad("unknown option '%s'", name);
		if (o == ':')
			return bad("option '%s' needs a value", name);
		i = o - O_SERVER;
		if (val[i] != NULL && optdefs[i].has_arg != no_argument)
			return bad("--%s given twice", optdefs[i].name);
		val[i] = optarg != NULL ? optarg : (char *)"";
		if (o == O_TOKEN) {
			/* a secret on a command line is readable by every local user */
			explicit_bzero(optarg, strlen(optarg));
			return bad("--token: tokens are not taken on the command line; "
				   "use --token-file FILE (or - for standard input)");
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -1;
	}
	cfg.cmd_name = argv[optind];
	if (strcmp(cfg.cmd_name, "join") == 0)
		cfg.cmd = CMD_JOIN;
	else if (strcmp(cfg.cmd_name, "pub") == 0)
		cfg.cmd = CMD_PUB;
	else if (strcmp(cfg.cmd_name, "sub") == 0)
		cfg.cmd = CMD_SUB;
	else if (strcmp(cfg.cmd_name, "load") == 0)
		cfg.cmd = CMD_LOAD;
	else
		return bad("unknown command '%s' (join, pub, sub or load)", cfg.cmd_name);
	if (optind + 1 < argc)
		return bad("unexpected argument '%s'", argv[optind + 1]);
	for (i = 0; i < O_N; i++)
		if (val[i] != NULL && !(optdefs[i].cmds & cfg.cmd))
			return bad("--%s is not an option of '%s'", optdefs[i].name, cfg.cmd_name);

	/* common */
	if (val[O_SERVER - O_SERVER] == NULL)
		return bad("missing --server ADDR[:PORT]");
	cfg.server_arg = val[O_SERVER - O_SERVER];
	if (parse_addr("server", cfg.server_arg, RTR_DEFAULT_PORT, false, &cfg.server,
		       &cfg.server_len) < 0)
		return -1;
	if (val[O_BIND - O_SERVER] != NULL) {
		if (parse_addr("bind", val[O_BIND - O_SERVER], 0, true, &cfg.bind,
			       &cfg.bind_len) < 0)
			return -1;
		if (cfg.bind.ss_family != cfg.server.ss_family)
			return bad("--bind and --server are of different address families");
	}
	if (val[O_APP_ID - O_SERVER] == NULL)
		return bad("missing --app-id");
	if (!app_id_ok(val[O_APP_ID - O_SERVER]))
		return bad("--app-id: '%s' is not 32 hex characters", val[O_APP_ID - O_SERVER]);
	memcpy(cfg.app_id, val[O_APP_ID - O_SERVER], APP_ID_LEN);
	cfg.json = val[O_JSON - O_SERVER] != NULL;

	/* encryption: with the node's key, aes128gcm unless --enc says otherwise */
	if (val[O_SERVER_KEY - O_SERVER] != NULL && val[O_SERVER_KEY_FILE - O_SERVER] != NULL)
		return bad("give --server-key or --server-key-file, not both");
	if (val[O_SERVER_KEY - O_SERVER] != NULL) {
		const char *k = val[O_SERVER_KEY - O_SERVER];

		if (parse_key_hex(k, strlen(k), cfg.server_key) < 0)
			return bad("--server-key: not 64 hex characters (rtrctl node show: public_key)");
		cfg.suite = RTR_NOISE_SUITE_AES128GCM;
	} else if (val[O_SERVER_KEY_FILE - O_SERVER] != NULL) {
		if (read_server_key(val[O_SERVER_KEY_FILE - O_SERVER]) < 0)
			return -1;
		cfg.suite = RTR_NOISE_SUITE_AES128GCM;
	}
	if (val[O_ENC - O_SERVER] != NULL) {
		const char *e = val[O_ENC - O_SERVER];
		bool have_key = cfg.suite != 0;

		for (i = 0; i < 3 && strcmp(e, suite_names[i]) != 0; i++)
			;
		if (i == 3)
			return bad("--enc: '%s' is not none, aes128gcm or aes256gcm", e);
		cfg.suite = (uint8_t)i;
		if (cfg.suite != 0 && !have_key)
			return bad("--enc %s needs the node's public key: --server-key HEX or "
				   "--server-key-file FILE", e);
	}
	if (cfg.suite != 0 && !server_key_ok())
		return bad("the server key is not a usable X25519 public key");
	cfg.kind = RTR_KIND_AUDIO;
	cfg.size = 200;
	cfg.rate = 50;

	if (val[O_KIND - O_SERVER] != NULL) {
		const char *k = val[O_KIND - O_SERVER];

		for (cfg.kind = 0; cfg.kind < 4 && strcmp(k, kind_names[cfg.kind]) != 0; cfg.kind++)
			;
		if (cfg.kind == 4) {
			if (parse_u64("kind", k, 0, 3, &u) < 0)
				return bad("--kind: use audio, video or data");
			cfg.kind = (unsigned int)u;
		}
	}
	if (val[O_SIZE - O_SERVER] != NULL) {
		/* sealed: the plaintext, with the frame number, and room for the tag */
		if (parse_u64("size", val[O_SIZE - O_SERVER], cfg.suite ? STAMP_ENC_LEN : STAMP_LEN,
			      cfg.suite ? MEDIA_ENC_MAX : MEDIA_MAX, &u) < 0)
			return -1;
		cfg.size = (unsigned int)u;
	}
	if (val[O_RATE - O_SERVER] != NULL &&
	    parse_num("rate", val[O_RATE - O_SERVER], 0, 1000000, cfg.cmd == CMD_PUB, &cfg.rate) < 0)
		return -1;
	if (val[O_DURATION - O_SERVER] != NULL) {
		double d;

		if (parse_num("duration", val[O_DURATION - O_SERVER], 0, 31 * 86400, true, &d) < 0)
			return -1;
		cfg.duration_ns = (uint64_t)(d * (double)NS_PER_S);
		if (cfg.duration_ns == 0)
			cfg.duration_ns = 1;
	}

	if (cfg.cmd == CMD_LOAD) {
		if (val[O_TOKENS - O_SERVER] == NULL)
			return bad("missing --tokens FILE");
		if (val[O_USERS - O_SERVER] == NULL)
			return bad("missing --users N");
		if (val[O_CHANNELS - O_SERVER] == NULL)
			return bad("missing --channels C");
		if (val[O_DURATION - O_SERVER] == NULL)
			return bad("missing --duration D");
		if (parse_u64("users", val[O_USERS - O_SERVER], 1, 100000, &u) < 0)
			return -1;
		cfg.users = (unsigned int)u;
		if (parse_u64("channels", val[O_CHANNELS - O_SERVER], 1, cfg.users, &u) < 0)
			return -1;
		cfg.channels = (unsigned int)u;
		cfg.join_rate = 500;
		if (val[O_JOIN_RATE - O_SERVER] != NULL &&
		    parse_num("join-rate", val[O_JOIN_RATE - O_SERVER], 0, 1000000, true,
			      &cfg.join_rate) < 0)
			return -1;
		cfg.tokens_file = val[O_TOKENS - O_SERVER];
		return 0;
	}

	/* join, pub, sub */
	if (val[O_TOKEN - O_SERVER] != NULL && val[O_TOKEN_FILE - O_SERVER] != NULL)
		return bad("give --token or --token-file, not both");
	if (val[O_TOKEN_FILE - O_SERVER] != NULL) {
		if (read_token_file(val[O_TOKEN_FILE - O_SERVER]) < 0)
			return -1;
	} else if (cfg.token == NULL) {
		return bad("missing --token-file FILE (or --token)");
	} else if (!token_ok(cfg.token, cfg.token_len)) {
		return bad("--token: not a token (1-%d printable characters, no spaces)", TOKEN_MAX);
	}
	if (val[O_CHANNEL - O_SERVER] == NULL)
		return bad("missing --channel NAME");
	cfg.channel = val[O_CHANNEL - O_SERVER];
	if (strlen(cfg.channel) == 0 || strlen(cfg.channel) > CHANNEL_MAX)
		return bad("--channel: the name must be 1-%d bytes", CHANNEL_MAX);
	if (val[O_UID - O_SERVER] == NULL)
		return bad("missing --uid N");
	if (parse_u64("uid", val[O_UID - O_SERVER], 0, UINT32_MAX, &u) < 0)
		return -1;
	cfg.uid = (uint32_t)u;
	if (val[O_ROAM_AFTER - O_SERVER] != NULL) {
		double d;

		if (parse_num("roam-after", val[O_ROAM_AFTER - O_SERVER], 0, 31 * 86400, true,
			      &d) < 0)
			return -1;
		cfg.roam_after_ns = (uint64_t)(d * (double)NS_PER_S);
		if (cfg.roam_after_ns == 0)
			cfg.roam_after_ns = 1;
	}
	cfg.role = cfg.cmd == CMD_SUB ? RTR_ROLE_SUBSCRIBER : RTR_ROLE_PUBLISHER;
	if (val[O_ROLE - O_SERVER] != NULL) {
		const char *r = val[O_ROLE - O_SERVER];

		if (strcmp(r, "pub") == 0 || strcmp(r, "publisher") == 0)
			cfg.role = RTR_ROLE_PUBLISHER;
		else if (strcmp(r, "sub") == 0 || strcmp(r, "subscriber") == 0)
			cfg.role = RTR_ROLE_SUBSCRIBER;
		else
			return bad("--role: '%s' is neither pub nor sub", r);
	}
	if (cfg.cmd == CMD_PUB) {
		if (val[O_COUNT - O_SERVER] != NULL &&
		    parse_u64("count", val[O_COUNT - O_SERVER], 1, UINT64_MAX, &cfg.count) < 0)
			return -1;
		if (cfg.count == 0 && cfg.duration_ns == 0)
			return bad("pub needs --count N or --duration S");
	}
	if (cfg.cmd == CMD_SUB) {
		if (val[O_EXPECT - O_SERVER] != NULL &&
		    parse_u64("expect", val[O_EXPECT - O_SERVER], 1, UINT64_MAX, &cfg.expect) < 0)
			return -1;
		if (cfg.duration_ns == 0)
			cfg.duration_ns = 10 * NS_PER_S;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */

static unsigned int
bind_port(void)
{
	if (cfg.bind_len == 0)
		return 0;
	if (cfg.bind.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&cfg.bind)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&cfg.bind)->sin6_port);
}

static void
wipe_secrets(void)
{
	unsigned int i;

	if (cfg.token != NULL) {
		explicit_bzero(cfg.token, cfg.token_len);
		free(cfg.token);
		cfg.token = NULL;
	}
	for (i = 0; i < L.nlines; i++) {
		if (L.lines[i].token != NULL)
			explicit_bzero(L.lines[i].token, L.lines[i].token_len);
		free(L.lines[i].token);
		L.lines[i].token = NULL;
	}
}

static void
free_lines(void)
{
	unsigned int i;

	for (i = 0; i < L.nlines; i++)
		free(L.lines[i].channel);
	free(L.lines);
	L.lines = NULL;
	L.nlines = 0;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;
	uint64_t now;
	unsigned int i;
	int rc;

	if (parse_args(argc, argv) < 0) {
		wipe_secrets();
		return EXIT_USAGE;
	}
	if (cfg.cmd == CMD_LOAD) {
		if (bind_port() != 0 && bind_port() + cfg.users - 1 > 65535) {
			bad("--bind: port %u + %u users goes past 65535", bind_port(), cfg.users);
			wipe_secrets();
			return EXIT_USAGE;
		}
		if (read_tokens(cfg.tokens_file) < 0 || sessions_init(cfg.users) < 0 ||
		    load_assign() < 0) {
			wipe_secrets();
			return EXIT_USAGE;
		}
		if (raise_nofile(cfg.users + 64) < 0) {
			wipe_secrets();
			return EXIT_FAIL;
		}
	} else {
		if (sessions_init(1) < 0) {
			wipe_secrets();
			return EXIT_FAIL;
		}
		L.sess[0].token = cfg.token;
		L.sess[0].token_len = cfg.token_len;
		L.sess[0].channel = cfg.channel;
		L.sess[0].uid = cfg.uid;
		L.sess[0].role = cfg.role;
	}

	if (cfg.suite != 0) {
		L.mgr = rtr_aead_mgr_new();
		if (L.mgr == NULL) {
			fprintf(stderr, "rtr-client: AES-GCM (ipsec-mb) unavailable: %s\n",
				strerror(errno));
			wipe_secrets();
			return EXIT_FAIL;
		}
	}

	/* the MEDIA template: a recognisable filler after the 20-byte stamp */
	for (i = RTR_HDR_LEN + STAMP_LEN; i < sizeof(L.tx); i++)
		L.tx[i] = (uint8_t)(i - RTR_HDR_LEN);
	L.media_interval = cfg.rate > 0 ? (uint64_t)((double)NS_PER_S / cfg.rate) : UINT64_MAX;
	/* rounded up, so that --duration S at R frames/s sends S * R frames, not one more */
	if (cfg.rate > 0 && (double)L.media_interval * cfg.rate < (double)NS_PER_S)
		L.media_interval++;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &L.waitmask);
	sigdelset(&L.waitmask, SIGINT);
	sigdelset(&L.waitmask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	L.ep = epoll_create1(EPOLL_CLOEXEC);
	if (L.ep < 0) {
		fprintf(stderr, "rtr-client: epoll_create1: %s\n", strerror(errno));
		wipe_secrets();
		return EXIT_FAIL;
	}
	now = mono_ns();
	if (sessions_open(now) < 0 || loop_run() < 0) {
		sessions_close();
		wipe_secrets();
		return EXIT_FAIL;
	}
	now = mono_ns();
	if (L.phase == P_RUN)
		L.stopped = now;
	sessions_close();
	wipe_secrets();
	if (cfg.cmd == CMD_JOIN)
		rc = report_join(&L.sess[0]);
	else if (cfg.cmd == CMD_LOAD)
		rc = report_load(now);
	else
		rc = report_single(&L.sess[0], now);
	sessions_free();
	free_lines();
	free(L.chans);
	close(L.ep);
	rtr_aead_mgr_free(L.mgr);
	return rc;
}
