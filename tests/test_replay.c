/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for the anti-replay window (crypto/replay.c).
 *
 * Boundary cases in the manner of WireGuard's counter self-test (in order,
 * out of order, the window edge exactly, one beyond it, duplicates, jumps,
 * the top of the counter space), the rule that only authenticated frames
 * move the window, and a randomized run against a reference model that
 * keeps every counter it has seen (a hash set) and the largest.
 *
 * RTR_SEED=<n> replays the randomized test with another seed.
 *
 * Build: gcc -Icrypto tests/test_replay.c crypto/replay.c -lcmocka
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

#define W		((uint64_t)RTR_REPLAY_WINDOW)	/* 1984 */

/*
 * One frame that authenticated: the window must say `expect` before and
 * through rtr_replay_check_update(), and once accepted the same counter
 * must be refused.
 */
static void
frame(struct rtr_replay *r, uint64_t ctr, bool expect, int line)
{
	bool got = rtr_replay_check(r, ctr);

	if (got != expect)
		fail_msg("line %d: check(%" PRIu64 ") = %d, want %d (last %" PRIu64 ")",
			 line, ctr, got, expect, r->last);
	got = rtr_replay_check_update(r, ctr);
	if (got != expect)
		fail_msg("line %d: check_update(%" PRIu64 ") = %d, want %d",
			 line, ctr, got, expect);
	if (rtr_replay_check(r, ctr))
		fail_msg("line %d: %" PRIu64 " accepted twice", line, ctr);
}

#define T(c, e)	frame(&r, (c), (e), __LINE__)

/* ---- WireGuard-style sequence -------------------------------------------- */

static void
test_sequence(void **state)
{
	struct rtr_replay r;
	uint64_t i, big;

	(void)state;
	rtr_replay_init(&r);

	/* in order, duplicates, out of order */
	T(0, true);			/* counter 0 is accepted once */
	T(0, false);
	T(1, true);
	T(1, false);
	T(9, true);
	T(8, true);
	T(7, true);
	T(7, false);
	T(5, true);
	T(2, true);
	T(9, false);
	T(3, true);

	/* the window edge: last - c == W - 1 accepted, == W refused */
	T(W, true);			/* last = W */
	T(W - 1, true);
	T(W - 1, false);
	T(4, true);			/* last - 4 = W - 4 */
	T(1, false);			/* seen */
	T(6, true);
	T(W + 11, true);		/* last = W + 11 */
	T(11, false);			/* never seen, but W behind: beyond the edge */
	T(12, true);			/* never seen, W - 1 behind: the edge */
	T(6, false);			/* seen, and beyond */
	T(10, false);			/* W + 1 behind */
	T(W + 11, false);

	/* a big jump forward: everything before the new window is refused */
	big = 4 * W;
	T(big, true);
	T(big - (W - 1), true);		/* oldest acceptable */
	T(big - W, false);		/* one beyond */
	T(big - W - 1, false);
	T(big - (W - 2), true);
	T(13, false);
	T(W + 6, false);
	T(big - 1, true);
	T(big + 3, true);		/* last = big + 3 */
	T(big - (W - 2), false);	/* seen */
	T(big + 3 - W, false);		/* unseen, exactly W behind the new last */
	T(big + 4 - W, true);		/* unseen, W - 1 behind */

	/* moving by less than a block, by exactly a block, by a whole ring */
	rtr_replay_init(&r);
	for (i = 0; i < W; i++)
		T(i, true);
	T(W, true);
	T(0, false);			/* now W behind */
	T(W, false);
	rtr_replay_init(&r);
	T(63, true);
	T(64, true);			/* next block */
	T(63, false);
	T(64 + RTR_REPLAY_BITS, true);	/* exactly one ring ahead: same slot */
	T(64, false);			/* too old now, same bit */
	T(64 + RTR_REPLAY_BITS - 1, true);
	T(64 + RTR_REPLAY_BITS + 1, true);

	/* a full window backwards after a jump: every counter once */
	rtr_replay_init(&r);
	T(100000, true);
	for (i = 1; i < W; i++)
		T(100000 - i, true);
	T(100000 - W, false);
	for (i = 0; i < W; i++)
		T(100000 - i, false);
	T(100001, true);
	T(100000 - (W - 1), false);	/* seen, and now W behind */
}

/* ---- the top of the counter space ---------------------------------------- */

static void
test_near_max(void **state)
{
	struct rtr_replay r, before;

	(void)state;
	rtr_replay_init(&r);
	T(UINT64_MAX, false);		/* reserved (Noise), even first */
	T(0, true);
	T(UINT64_MAX - 2, true);	/* the largest jump there is */
	T(0, false);
	T(UINT64_MAX, false);
	T(UINT64_MAX - 1, true);
	T(UINT64_MAX - 1, false);
	T(UINT64_MAX, false);
	T(UINT64_MAX - 2, false);
	T(UINT64_MAX - 3, true);
	T(UINT64_MAX - 1 - (W - 1), true);
	T(UINT64_MAX - 1 - W, false);
	T(UINT64_MAX - 1 - W - 64, false);

	/* update() with UINT64_MAX, or with a counter too old, changes nothing */
	memcpy(&before, &r, sizeof(r));
	rtr_replay_update(&r, UINT64_MAX);
	rtr_replay_update(&r, UINT64_MAX - 1 - W);
	rtr_replay_update(&r, 5);
	assert_memory_equal(&before, &r, sizeof(r));

	/* a window that started at the top: counters below it are old */
	rtr_replay_init(&r);
	T(UINT64_MAX - 1, true);
	T(UINT64_MAX - 64, true);
	T(UINT64_MAX - 65, true);
	T(1, false);
	T(UINT64_MAX - 1 - RTR_REPLAY_BITS, false);
}

/* ---- only authenticated frames move the window ---------------------------- */

/* A frame whose authentication fails: the caller checks, opens, and does
 * not update. Nothing about the window may change. */
static void
forged(struct rtr_replay *r, uint64_t ctr)
{
	struct rtr_replay before;

	memcpy(&before, r, sizeof(*r));
	(void)rtr_replay_check(r, ctr);
	assert_memory_equal(&before, r, sizeof(*r));
}

static void
test_check_does_not_update(void **state)
{
	struct rtr_replay r;
	uint64_t i;

	(void)state;
	rtr_replay_init(&r);
	for (i = 0; i < 100; i++)
		T(i, true);

	/* forgeries far ahead do not move the window: old counters stay
	 * acceptable, and the forged counter itself stays unused */
	forged(&r, 100 + 10 * W);
	forged(&r, UINT64_MAX - 1);
	forged(&r, 150);
	forged(&r, 99);			/* a replay, refused and forgotten */
	assert_false(rtr_replay_check(&r, 99));
	T(100, true);
	T(150, true);
	T(100 + 10 * W, true);		/* the real frame with that counter */
	T(100 + 9 * W, false);

	/* and the window after a forgery at the edge */
	rtr_replay_init(&r);
	T(5000, true);
	forged(&r, 5000 + W);
	T(5000 - (W - 1), true);	/* still inside */
	T(5001, true);
}

/* ---- randomized, against a reference model -------------------------------- */

/* xorshift64*: reproducible across libcs */
static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

/* The model: every counter seen (open addressing, stored + 1 so that 0
 * marks a free slot; UINT64_MAX is never stored) and the largest. */
#define SET_BITS	20
#define SET_SIZE	(1u << SET_BITS)

struct model {
	uint64_t *slot;
	unsigned int n;
	uint64_t max;
};

static size_t
model_find(const struct model *m, uint64_t c)
{
	size_t i = (size_t)((c * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - SET_BITS));

	while (m->slot[i] != 0 && m->slot[i] != c + 1)
		i = (i + 1) & (SET_SIZE - 1);
	return i;
}

static bool
model_accepts(const struct model *m, uint64_t c)
{
	if (c == UINT64_MAX || m->slot[model_find(m, c)] != 0)
		return false;
	return c > m->max || m->max - c < W;
}

static void
model_add(struct model *m, uint64_t c)
{
	size_t i = model_find(m, c);

	assert_true(m->n < SET_SIZE / 2);
	assert_int_equal(m->slot[i], 0);
	m->slot[i] = c + 1;
	m->n++;
	if (c > m->max)
		m->max = c;
}

static void
model_reset(struct model *m)
{
	memset(m->slot, 0, SET_SIZE * sizeof(*m->slot));
	m->n = 0;
	m->max = 0;
}

/* A counter near where the traffic is, skewed towards the interesting
 * places: just behind the window edge, recent duplicates, jumps. */
static uint64_t
pick(const struct model *m, uint64_t prev)
{
	uint64_t r = rng(), max = m->max, d;

	switch (r % 16) {
	case 0:
	case 1:
		return prev;				/* duplicate */
	case 2:					/* around the edge */
		d = W - 2 + rng() % 4;
		return max >= d ? max - d : rng() % (max + 1);
	case 3:					/* forward jump */
		return max + 64 + rng() % (4 * RTR_REPLAY_BITS);
	case 4:
		if (rng() % 64 == 0)
			return max + (UINT64_C(1) << (20 + rng() % 20));
		/* fall through */
	case 5:
	case 6:
	case 7:
	case 8:
		return max + 1 + rng() % 8;		/* in order, with gaps */
	default:				/* reordered within ~ a window */
		d = rng() % (W + 128);
		return max >= d ? max - d : rng() % (max + 1);
	}
}

/* Compare every counter from below the window to just above it. */
static void
sweep(const struct rtr_replay *r, const struct model *m, uint64_t seed)
{
	uint64_t c, lo = m->max > W + 130 ? m->max - W - 130 : 0;

	for (c = lo; c <= m->max + 4; c++)
		if (rtr_replay_check(r, c) != model_accepts(m, c))
			fail_msg("seed %" PRIu64 ": sweep %" PRIu64 " (max %" PRIu64
				 "): window %d, model %d", seed, c, m->max,
				 rtr_replay_check(r, c), model_accepts(m, c));
}

static void
run_random(uint64_t seed, unsigned int steps)
{
	struct model m = { .slot = calloc(SET_SIZE, sizeof(uint64_t)) };
	struct rtr_replay r, before;
	uint64_t c = 0;
	unsigned int i;
	bool want, got;

	assert_non_null(m.slot);
	rng_state = seed | 1;
	model_reset(&m);
	rtr_replay_init(&r);

	for (i = 0; i < steps; i++) {
		if (m.n > SET_SIZE / 4) {	/* keep the model small */
			model_reset(&m);
			rtr_replay_init(&r);
		}
		c = pick(&m, c);
		want = model_accepts(&m, c);
		got = rtr_replay_check(&r, c);
		if (got != want)
			fail_msg("seed %" PRIu64 " step %u: check(%" PRIu64 ") = %d,"
				 " model %d (max %" PRIu64 ")", seed, i, c, got,
				 want, m.max);
		if (!got)
			continue;
		if (rng() % 5 == 0) {
			/* authentication fails: nothing may move */
			memcpy(&before, &r, sizeof(r));
			(void)rtr_replay_check(&r, c);
			assert_memory_equal(&before, &r, sizeof(r));
			continue;
		}
		rtr_replay_update(&r, c);
		model_add(&m, c);
		if (m.n % 1024 == 0)
			sweep(&r, &m, seed);
	}
	sweep(&r, &m, seed);
	free(m.slot);
}

static void
test_random(void **state)
{
	const char *env = getenv("RTR_SEED");
	uint64_t seed;

	(void)state;
	if (env != NULL) {
		seed = strtoull(env, NULL, 0);
		print_message("replay: RTR_SEED=%" PRIu64 "\n", seed);
		run_random(seed, 400000);
		return;
	}
	for (seed = 1; seed <= 8; seed++)
		run_random(seed * UINT64_C(0x5851f42d4c957f2d), 100000);
}

/* The same model, started near the top of the counter space. */
static void
test_random_near_max(void **state)
{
	struct model m = { .slot = calloc(SET_SIZE, sizeof(uint64_t)) };
	struct rtr_replay r;
	uint64_t c, base = UINT64_MAX - 3 * W;
	unsigned int i;

	(void)state;
	assert_non_null(m.slot);
	rng_state = 0x1234567;
	model_reset(&m);
	rtr_replay_init(&r);
	/* both start empty with max 0, so the first jump is to base */
	for (i = 0; i < 20000; i++) {
		c = base + rng() % (3 * W + 1);	/* up to UINT64_MAX itself */
		assert_int_equal(rtr_replay_check(&r, c), model_accepts(&m, c));
		if (rtr_replay_check_update(&r, c))
			model_add(&m, c);
	}
	sweep(&r, &m, 0);
	assert_false(rtr_replay_check(&r, UINT64_MAX));
	free(m.slot);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_near_max),
		cmocka_unit_test(test_check_does_not_update),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_random_near_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
