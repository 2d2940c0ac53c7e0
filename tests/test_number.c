/*
 * test_number.c — the tool's number reader (tools/number.c) against strtof,
 * bit for bit, on millions of random and adversarial strings: random
 * digits and exponents, float midpoints written exactly and nearly,
 * integers around 2^24 and beyond, subnormals, nine or more significant
 * digits, huge and tiny exponents, printf formats; and what is not a
 * number.
 */
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include "../tools/number.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x9E3779B97F4A7C15u;

static uint64_t next(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

/* s parsed both ways: the same bits. */
static void same(const char *s)
{
	char buf[800];
	size_t len = strlen(s);
	float got, want = strtof(s, NULL);

	/* Check's assertions record every pass: on millions of strings they
	 * cost more than the test, so only failures reach Check. */
	if (len >= sizeof(buf) - 1)
		ck_abort_msg("'%s' is too long for the test", s);
	memcpy(buf, s, len + 1);
	buf[len] = ',';
	if (number_parse(buf, len, &got) != NUMBER_OK)
		ck_abort_msg("'%s' refused", s);
	if (buf[len] != ',')
		ck_abort_msg("'%s': the byte after it changed", s);
	if (memcmp(&got, &want, sizeof(float)) != 0)
		ck_abort_msg("'%s': %a, strtof %a", s, (double)got, (double)want);
}

static float random_float(bool subnormal)
{
	uint32_t u = (uint32_t)next();
	float f;

	if (subnormal)
		u &= 0x807fffffu;
	memcpy(&f, &u, 4);
	return isfinite(f) ? f : 1.5f;
}

/* Random digits, a random point, a random exponent. */
START_TEST(random_strings)
{
	char s[96];

	for (int i = 0; i < 2000000; i++) {
		int n = 1 + (int)(next() % 25), at = 0, point = (int)(next() % (n + 1));

		if (next() % 2)
			s[at++] = next() % 2 ? '-' : '+';
		for (int k = 0; k < n; k++) {
			if (k == point && k > 0)
				s[at++] = '.';
			s[at++] = (char)('0' + next() % 10);
		}
		if (next() % 3 == 0)
			at += sprintf(s + at, "e%d", (int)(next() % 110) - 60);
		s[at] = '\0';
		same(s);
	}
}
END_TEST

/* The midpoint of two neighbouring floats, written exactly (glibc prints
 * the exact decimal) and to 17 and 9 digits; and just either side. */
START_TEST(midpoints)
{
	char s[800];

	for (int i = 0; i < 300000; i++) {
		float f = fabsf(random_float(i % 10 == 0));
		double m = ((double)f + (double)nextafterf(f, INFINITY)) / 2;

		snprintf(s, sizeof(s), "%.*e", i % 10 == 0 ? 160 : 60, m);
		same(s);
		snprintf(s, sizeof(s), "%.17g", m);
		same(s);
		snprintf(s, sizeof(s), "%.9g", m);
		same(s);
		snprintf(s, sizeof(s), "%.17g", nextafter(m, 0));
		same(s);
		snprintf(s, sizeof(s), "%.17g", nextafter(m, INFINITY));
		same(s);
	}
}
END_TEST

/* Integers from 2^24 on, where floats are even, then further apart: every
 * odd one is a midpoint or near one; and the same scaled by powers of ten. */
START_TEST(integers_past_2_24)
{
	char s[64];

	for (uint64_t n = 16777200; n < 16777300; n++) {
		snprintf(s, sizeof(s), "%llu", (unsigned long long)n);
		same(s);
	}
	for (int i = 0; i < 1000000; i++) {
		unsigned long long n = (1ull << 24) + next() % (1ull << (24 + i % 29));
		int e = (int)(next() % 45) - 22;

		snprintf(s, sizeof(s), "%llu", n);
		same(s);
		snprintf(s, sizeof(s), "%llue%d", n, e);
		same(s);
		snprintf(s, sizeof(s), "%llu.5", n);
		same(s);
	}
}
END_TEST

/* printf's formats of random floats: round trips of 9 digits, more, %f. */
START_TEST(printf_formats)
{
	char s[128];

	for (int i = 0; i < 300000; i++) {
		float f = random_float(i % 7 == 0);
		double x = i % 2 ? (double)f : (double)(next() % 2000000) / 1000.0 - 1000;

		snprintf(s, sizeof(s), "%.9g", x);
		same(s);
		snprintf(s, sizeof(s), "%.10g", x);
		same(s);
		snprintf(s, sizeof(s), "%.12e", x);
		same(s);
		snprintf(s, sizeof(s), "%.6f", x);
		same(s);
		snprintf(s, sizeof(s), "%g", x);
		same(s);
		snprintf(s, sizeof(s), "%.17g", x);
		same(s);
		snprintf(s, sizeof(s), "%.3f", x);
		same(s);
	}
}
END_TEST

/* The edges: overflow, the smallest subnormal and below, long digit
 * strings, zeros of every sign and form, leading and trailing zeros. */
START_TEST(edges)
{
	static const char *const cases[] = {
		"0", "-0", "+0", "0.0", "-0.0", "0e999999", "-0e-999999", ".5", "5.",
		"+.5", "-5.", "1e39", "-1e39", "3.4028235e38", "3.40282357e38",
		"3.4028236e38", "3.4028234663852886e38", "3.4028235677973366e38",
		"1e-45", "1.4e-45", "1.401298464324817e-45", "7.006492321624085e-46",
		"7.0064923216240862e-46", "1e-46", "1e-50", "1.17549435e-38",
		"1.1754942e-38", "1.17549421e-38", "0.000000000000000000000000001",
		"123456789012345678901234567890", "1234567890123456789",
		"12345678901234567890", "9007199254740993", "9007199254740992.5",
		"16777216.5", "16777217", "16777217.000000000000000000001",
		"0.1", "0.2", "0.3", "0.5", "0.7", "1e22", "1e23", "1e-22", "1e-23",
		"4.9406564584124654e-324", "1e400", "00000000000000000000001.5",
		"1.5000000000000000000000000000000000000000000000000000000000000",
		"2.0000001192092896", "2.0000001192092895", "2.0000001192092897",
		"1E5", "1e+5", "1E-5", "33554431", "33554433", "1.00000006",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		same(cases[i]);
}
END_TEST

/* Not numbers, and the words strtof reads as NaN and infinity. */
START_TEST(refused)
{
	static const char *const bad[] = {
		"", "-", "+", ".", "-.", "e5", "1e", "1e+", "1.2.3", "--1", "1-",
		"0x1p3", "0X10", "1,5", "1 5", "abc", "1e5x", "nanx", "in", "+-1",
	};
	static const char *const words[] = {
		"nan", "NaN", "-nan", "inf", "-Inf", "+INF", "infinity", "Infinity",
	};
	char s[32];
	float v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(s, bad[i]);
		ck_assert_msg(number_parse(s, strlen(s), &v) == NUMBER_BAD,
			      "'%s' read as a number", bad[i]);
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		strcpy(s, words[i]);
		ck_assert_msg(number_parse(s, strlen(s), &v) == NUMBER_NOT_FINITE,
			      "'%s' not seen as not finite", words[i]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("number");
	TCase *tc = tcase_create("strtof");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, random_strings);
	tcase_add_test(tc, midpoints);
	tcase_add_test(tc, integers_past_2_24);
	tcase_add_test(tc, printf_formats);
	tcase_add_test(tc, edges);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
