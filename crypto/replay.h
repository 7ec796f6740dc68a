/* SPDX-License-Identifier: BSD-3-Clause
 * Anti-replay window for transport frames (DESIGN.md, "Transport
 * encryption": uplink replay window of at least 1024 frames, RFC 6479
 * style, updated only after the frame authenticated).
 *
 * RFC 6479: a ring of RTR_REPLAY_BLOCKS 64-bit blocks (2048 bits) indexed by
 * counter; moving the window forward clears whole blocks, so the cost does
 * not depend on the size of the jump. One block is always the partly used
 * current one, so the window proper is RTR_REPLAY_WINDOW = 2048 - 64 = 1984
 * counters: with `last` the highest counter accepted so far, a counter c is
 *
 *   accepted	if c > last, or if last - c < RTR_REPLAY_WINDOW and c has
 *		not been seen;
 *   refused	if it has been seen, or if last - c >= RTR_REPLAY_WINDOW
 *		(too old to tell), or if c == UINT64_MAX.
 *
 * Counter 0 is an ordinary counter: a fresh window accepts it once (Noise
 * transport nonces, and the per-lane sequences, start at 0). UINT64_MAX is
 * never accepted: Noise reserves nonce 2^64 - 1, and a window whose last is
 * UINT64_MAX could not accept anything again. A sender reaching either end
 * must rekey long before (DESIGN.md: after 2^28 frames).
 *
 * Use: rtr_replay_check() before authentication (cheap, refuses replays
 * without spending an AES-GCM open on them), rtr_replay_update() only once
 * the frame authenticated, so that forged frames cannot move the window.
 * rtr_replay_check_update() does both, for callers that have already
 * authenticated the frame. Not thread-safe: one core at a time updates a
 * member's window (DESIGN.md); checks may not race with updates either.
 */
#ifndef RTR_REPLAY_H
#define RTR_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define RTR_REPLAY_BLOCK_BITS	64
#define RTR_REPLAY_BLOCKS	32	/* power of two */
#define RTR_REPLAY_BITS		(RTR_REPLAY_BLOCKS * RTR_REPLAY_BLOCK_BITS)
#define RTR_REPLAY_WINDOW	(RTR_REPLAY_BITS - RTR_REPLAY_BLOCK_BITS) /* 1984 */

struct rtr_replay {
	uint64_t last;				/* highest counter accepted */
	uint64_t bitmap[RTR_REPLAY_BLOCKS];	/* bit c % 2048: c seen */
};

/* A fresh window: nothing seen, every counter but UINT64_MAX acceptable. */
void rtr_replay_init(struct rtr_replay *r);

/* Would ctr be accepted? Does not modify r. */
bool rtr_replay_check(const struct rtr_replay *r, uint64_t ctr);

/*
 * Record ctr as seen, moving the window forward if ctr > last. Call only
 * for a counter that rtr_replay_check() accepted and whose frame then
 * authenticated; a counter the window would refuse leaves it unchanged.
 */
void rtr_replay_update(struct rtr_replay *r, uint64_t ctr);

/* rtr_replay_check() and, if it accepts, rtr_replay_update(). */
bool rtr_replay_check_update(struct rtr_replay *r, uint64_t ctr);

#endif /* RTR_REPLAY_H */
