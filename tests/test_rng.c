/*
 * test_rng.c — the seeded generator against the published outputs of its two
 * algorithms, so that initialisation is the same on every machine.
 */
#include "support.h"

#include "internal.h"

/* SplitMix64 from seed 0 (Vigna's splitmix64.c) fills the four words. */
START_TEST(seeding_is_splitmix64)
{
	struct mlpi_rng rng;

	mlpi_rng_seed(&rng, 0);
	ck_assert_uint_eq(rng.s[0], 0xe220a8397b1dcdafu);
	ck_assert_uint_eq(rng.s[1], 0x6e789e6aa1b965f4u);
	ck_assert_uint_eq(rng.s[2], 0x06c45d188009454fu);
	ck_assert_uint_eq(rng.s[3], 0xf88bb8a8724c81ecu);
}
END_TEST

/* xoshiro256** from the state {1, 2, 3, 4}. The first two follow by hand:
 * rotl(2·5, 7)·9 = 11520, and after one step s[1] = 0. */
START_TEST(stream_is_xoshiro256starstar)
{
	static const uint64_t want[] = {
		11520u,
		0u,
		1509978240u,
		1215971899390074240u,
		1216172134540287360u,
		607988272756665600u,
		16172922978634559625u,
		8476171486693032832u,
		10595114339597558777u,
		2904607092377533576u,
	};
	struct mlpi_rng rng = { { 1, 2, 3, 4 } };

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_uint_eq(mlpi_rng_next(&rng), want[i]);
}
END_TEST

START_TEST(uniform_in_unit_interval)
{
	struct mlpi_rng rng;
	double lo = 1, hi = 0, sum = 0;
	enum { N = 100000 };

	mlpi_rng_seed(&rng, 5);
	for (int i = 0; i < N; i++) {
		double u = mlpi_rng_uniform(&rng);
		ck_assert(u >= 0 && u < 1);
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
		sum += u;
	}
	/* The mean of N uniforms has standard error 1/√(12N) ≈ 0.0009. */
	ck_assert(lo < 1e-3 && hi > 1 - 1e-3);
	ck_assert(sum / N > 0.495 && sum / N < 0.505);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rng");
	TCase *tc = tcase_create("rng");

	tcase_add_test(tc, seeding_is_splitmix64);
	tcase_add_test(tc, stream_is_xoshiro256starstar);
	tcase_add_test(tc, uniform_in_unit_interval);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
