/*
 * number.c — decimal numbers of text data to float, bit for bit what
 * strtof gives, several times faster.
 *
 * The digits go into a 64-bit integer w with a decimal exponent e. When w
 * < 2^53 and |e| ≤ 22, w and 10^|e| are exact doubles, so w·10^e (or
 * w / 10^−e) is one correctly rounded double operation. Rounding that
 * double to float gives strtof's float unless the double lies exactly
 * halfway between two floats, where the first rounding may have hidden
 * which way the exact value leans (a double nearest the exact value cannot
 * be on the far side of a float midpoint, which is itself a double). Those
 * midpoints, results outside the normal floats, and everything else (more
 * digits, larger exponents) go to strtof.
 */
#define _POSIX_C_SOURCE 200809L
#include "number.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double powers[] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* strtof on s[0 .. len), which the grammar has matched: the byte after it
 * is set to NUL for the call and put back. */
static float slow(char *s, size_t len)
{
	char keep = s[len];
	float v;

	s[len] = '\0';
	v = strtof(s, NULL);
	s[len] = keep;
	return v;
}

enum number_kind number_parse(char *s, size_t len, float *out)
{
	const char *p = s, *end = s + len;
	bool negative = false, exact = true;
	uint64_t w = 0;
	long e = 0, exp = 0;
	size_t digits = 0;

	if (p < end && (*p == '+' || *p == '-'))
		negative = *p++ == '-';
	/* The integer part, then the fraction: at most 19 significant digits
	 * go into w, the rest only move the exponent and spoil exactness. */
	for (int part = 0; part < 2; part++) {
		while (p < end && *p >= '0' && *p <= '9') {
			unsigned k = (unsigned)(*p++ - '0');

			digits++;
			if (w < 1000000000000000000u) {
				w = w * 10 + k;
				e -= part;
			} else {
				exact &= k == 0;
				e += 1 - part;
			}
		}
		if (part == 0) {
			if (p == end || *p != '.')
				break;
			p++;
		}
	}
	if (digits == 0)
		return number_word(s, len);
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool minus = false;
		const char *at;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			minus = *p++ == '-';
		at = p;
		while (p < end && *p >= '0' && *p <= '9') {
			if (exp < 100000)
				exp = exp * 10 + (*p - '0');
			p++;
		}
		if (p == at)
			return NUMBER_BAD;
		e += minus ? -exp : exp;
	}
	if (p != end)
		return NUMBER_BAD;
	if (w == 0 && exact) {
		*out = negative ? -0.0f : 0.0f;
		return NUMBER_OK;
	}
	if (!exact || !number_exact(negative, w, e, out))
		*out = slow(s, len);
	return NUMBER_OK;
}

bool number_exact(bool negative, uint64_t w, long e, float *out)
{
	double d;
	union {
		double d;
		uint64_t u;
	} bits;

	if (w >= (1ull << 53) || e < -22 || e > 22)
		return false;
	d = e >= 0 ? (double)w * powers[e] : (double)w / powers[-e];
	bits.d = d;
	/* Below the normal floats, past them, or on a float midpoint (the 29
	 * bits a float drops are 1 then zeros). */
	if (d < FLT_MIN || d >= 0x1p127 ||
	    (bits.u & 0x1fffffffu) == 0x10000000u)
		return false;
	*out = negative ? -(float)d : (float)d;
	return true;
}

enum number_kind number_word(const char *s, size_t len)
{
	static const char *const words[] = { "nan", "inf", "infinity" };

	if (len > 0 && (*s == '+' || *s == '-'))
		s++, len--;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i]), k = 0;

		while (k < n && k < len && (s[k] | 0x20) == words[i][k])
			k++;
		if (k == n && len == n)
			return NUMBER_NOT_FINITE;
	}
	return NUMBER_BAD;
}
