/* SPDX-License-Identifier: BSD-3-Clause
 * RFC 6479 anti-replay window. See replay.h for the acceptance rule.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "replay.h"

#define BLOCK_SHIFT	6	/* log2(RTR_REPLAY_BLOCK_BITS) */
#define BLOCK_MASK	(RTR_REPLAY_BLOCKS - 1)
#define BIT_MASK	(RTR_REPLAY_BLOCK_BITS - 1)

_Static_assert((RTR_REPLAY_BLOCKS & BLOCK_MASK) == 0, "blocks: a power of two");
_Static_assert(1u << BLOCK_SHIFT == RTR_REPLAY_BLOCK_BITS, "block shift");
_Static_assert(RTR_REPLAY_WINDOW >= 1024, "DESIGN.md: at least 1024 frames");

void
rtr_replay_init(struct rtr_replay *r)
{
	memset(r, 0, sizeof(*r));
}

bool
rtr_replay_check(const struct rtr_replay *r, uint64_t ctr)
{
	uint64_t block;

	if (ctr == UINT64_MAX)
		return false;
	if (ctr > r->last)
		return true;
	if (r->last - ctr >= RTR_REPLAY_WINDOW)
		return false;
	block = (ctr >> BLOCK_SHIFT) & BLOCK_MASK;
	return !(r->bitmap[block] & (UINT64_C(1) << (ctr & BIT_MASK)));
}

void
rtr_replay_update(struct rtr_replay *r, uint64_t ctr)
{
	uint64_t cur, next, diff, i;

	if (ctr == UINT64_MAX)
		return;
	if (ctr > r->last) {
		/* Clear the blocks the window moves into; all of them if it
		 * moves by a whole ring or more. */
		cur = r->last >> BLOCK_SHIFT;
		next = ctr >> BLOCK_SHIFT;
		diff = next - cur;
		if (diff > RTR_REPLAY_BLOCKS)
			diff = RTR_REPLAY_BLOCKS;
		for (i = 1; i <= diff; i++)
			r->bitmap[(cur + i) & BLOCK_MASK] = 0;
		r->last = ctr;
	} else if (r->last - ctr >= RTR_REPLAY_WINDOW) {
		/* Too old: its bit now stands for a newer counter. */
		return;
	}
	r->bitmap[(ctr >> BLOCK_SHIFT) & BLOCK_MASK] |= UINT64_C(1) << (ctr & BIT_MASK);
}

bool
rtr_replay_check_update(struct rtr_replay *r, uint64_t ctr)
{
	if (!rtr_replay_check(r, ctr))
		return false;
	rtr_replay_update(r, ctr);
	return true;
}
