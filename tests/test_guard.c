/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests of the JOIN guard's bucket cache (dataplane/guard.h): the GCRA
 * per key, prefix keys, and eviction inside a set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "guard.h"

#define HZ	1000000000ULL	/* cycles per second in these tests */

static struct rtr_guard_cache cache;

static void
key4(const char *a, unsigned int plen, uint64_t *k0, uint64_t *k1)
{
	uint8_t ip[4];

	assert_int_equal(inet_pton(AF_INET, a, ip), 1);
	rtr_guard_key(4, ip, plen, k0, k1);
}

static void
key6(const char *a, unsigned int plen, uint64_t *k0, uint64_t *k1)
{
	uint8_t ip[16];

	assert_int_equal(inet_pton(AF_INET6, a, ip), 1);
	rtr_guard_key(6, ip, plen, k0, k1);
}

static int
setup(void **state)
{
	(void)state;
	memset(&cache, 0, sizeof(cache));
	return 0;
}

static void
test_off_always_conforms(void **state)
{
	struct rtr_guard_limit l;
	uint64_t k0, k1;
	int i;

	(void)state;
	rtr_guard_limit_set(&l, HZ, 0, 0);
	key4("198.51.100.7", 32, &k0, &k1);
	for (i = 0; i < 100000; i++)
		assert_int_equal(rtr_guard_charge(&cache, &l, 1, k0, k1, 5), 1);
	/* nothing was even cached */
	assert_int_equal(cache.evictions, 0);
}

static void
test_burst_then_rate(void **state)
{
	struct rtr_guard_limit l;
	uint64_t k0, k1, t = 1000;
	int i, passed = 0;

	(void)state;
	rtr_guard_limit_set(&l, HZ, 10, 5);	/* 10/s, burst 5 */
	key4("198.51.100.7", 32, &k0, &k1);
	for (i = 0; i < 20; i++)
		passed += rtr_guard_charge(&cache, &l, 1, k0, k1, t);
	assert_int_equal(passed, 5);
	/* 100 ms later: exactly one more */
	t += HZ / 10;
	assert_int_equal(rtr_guard_charge(&cache, &l, 1, k0, k1, t), 1);
	assert_int_equal(rtr_guard_charge(&cache, &l, 1, k0, k1, t), 0);
	/* a second idle: the burst again, never more */
	t += HZ;
	for (passed = 0, i = 0; i < 20; i++)
		passed += rtr_guard_charge(&cache, &l, 1, k0, k1, t);
	assert_int_equal(passed, 5);
	/* a steady 10/s conforms for ever */
	t += HZ;
	for (i = 0; i < 1000; i++, t += HZ / 10)
		assert_int_equal(rtr_guard_charge(&cache, &l, 1, k0, k1, t), 1);
}

static void
test_keys_separate_sources_and_share_prefixes(void **state)
{
	struct rtr_guard_limit l;
	uint64_t a0, a1, b0, b1;

	(void)state;
	rtr_guard_limit_set(&l, HZ, 1, 1);
	/* two hosts: separate buckets */
	key4("198.51.100.7", 32, &a0, &a1);
	key4("198.51.100.8", 32, &b0, &b1);
	assert_true(a0 != b0 || a1 != b1);
	assert_int_equal(rtr_guard_charge(&cache, &l, 1, a0, a1, 10), 1);
	assert_int_equal(rtr_guard_charge(&cache, &l, 1, a0, a1, 10), 0);
	assert_int_equal(rtr_guard_charge(&cache, &l, 1, b0, b1, 10), 1);
	/* their /24: one key, the next /24 another */
	key4("198.51.100.7", 24, &a0, &a1);
	key4("198.51.100.250", 24, &b0, &b1);
	assert_true(a0 == b0 && a1 == b1);
	key4("198.51.101.7", 24, &b0, &b1);
	assert_true(a0 != b0 || a1 != b1);
	/* odd lengths cut inside a byte */
	key4("198.51.100.7", 29, &a0, &a1);
	key4("198.51.100.1", 29, &b0, &b1);
	assert_true(a0 == b0 && a1 == b1);
	key4("198.51.100.9", 29, &b0, &b1);
	assert_true(a0 != b0 || a1 != b1);
	/* IPv6 /64: the interface id does not matter, the subnet does */
	key6("2001:db8:1:2::1", 64, &a0, &a1);
	key6("2001:db8:1:2:ffff::9", 64, &b0, &b1);
	assert_true(a0 == b0 && a1 == b1 && a1 == 0);
	key6("2001:db8:1:3::1", 64, &b0, &b1);
	assert_true(a0 != b0);
	/* IPv6 /128: all of it */
	key6("2001:db8:1:2::1", 128, &a0, &a1);
	key6("2001:db8:1:2::2", 128, &b0, &b1);
	assert_true(a0 == b0 && a1 != b1);
}

static void
test_set_eviction_takes_the_oldest(void **state)
{
	struct rtr_guard_limit l;
	uint64_t k[RTR_GUARD_WAYS + 1][2], t = 100;
	uint32_t set = UINT32_MAX;
	unsigned int n = 0, i;
	char a[32];

	(void)state;
	rtr_guard_limit_set(&l, HZ, 1, 1);
	/* RTR_GUARD_WAYS + 1 sources that share a set */
	for (i = 0; n < RTR_GUARD_WAYS + 1 && i < 1000000; i++) {
		uint64_t k0, k1;

		snprintf(a, sizeof(a), "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
		key4(a, 32, &k0, &k1);
		if (set == UINT32_MAX)
			set = rtr_guard_set_of(k0, k1, 7);
		if (rtr_guard_set_of(k0, k1, 7) != set)
			continue;
		k[n][0] = k0;
		k[n][1] = k1;
		n++;
	}
	assert_int_equal(n, RTR_GUARD_WAYS + 1);
	/* each spends its one token, oldest first */
	for (i = 0; i < RTR_GUARD_WAYS; i++)
		assert_int_equal(rtr_guard_charge(&cache, &l, 7, k[i][0], k[i][1], t + i), 1);
	assert_int_equal(cache.evictions, 0);
	for (i = 0; i < RTR_GUARD_WAYS; i++)
		assert_int_equal(rtr_guard_charge(&cache, &l, 7, k[i][0], k[i][1], t + 10), 0);
	/* a newcomer evicts the least recently seen (k[0], charged at t + 10
	 * like the others, but first) */
	assert_int_equal(rtr_guard_charge(&cache, &l, 7, k[RTR_GUARD_WAYS][0],
					  k[RTR_GUARD_WAYS][1], t + 11), 1);
	assert_int_equal(cache.evictions, 1);
	/* the others are still over; the evicted one starts with a full bucket */
	for (i = 1; i < RTR_GUARD_WAYS; i++)
		assert_int_equal(rtr_guard_charge(&cache, &l, 7, k[i][0], k[i][1], t + 12), 0);
	assert_int_equal(rtr_guard_charge(&cache, &l, 7, k[0][0], k[0][1], t + 12), 1);
	assert_int_equal(cache.evictions, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_off_always_conforms, setup),
		cmocka_unit_test_setup(test_burst_then_rate, setup),
		cmocka_unit_test_setup(test_keys_separate_sources_and_share_prefixes, setup),
		cmocka_unit_test_setup(test_set_eviction_takes_the_oldest, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
