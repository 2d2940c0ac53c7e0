/* number.h — decimal text to float, exactly as strtof (see number.c). */
#ifndef MLP_TOOL_NUMBER_H
#define MLP_TOOL_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum number_kind {
	NUMBER_OK,         /* *out set (infinite when the value overflows) */
	NUMBER_BAD,        /* not a decimal number */
	NUMBER_NOT_FINITE, /* "nan", "inf" or "infinity", any case, signed */
};

/* The decimal number that is all of s[0 .. len): [+-] digits [. digits]
 * [e [+-] digits], or [+-] . digits ...; the float strtof gives for it into
 * *out. Hexadecimal floats are not numbers here. s[len] must be writable
 * (it is restored). */
enum number_kind number_parse(char *s, size_t len, float *out);

/* w·10^e, negated where negative, into *out when one rounding of a double
 * gives strtof's float for it (w < 2^53, |e| ≤ 22, a normal float, not a
 * midpoint): whether it did; else the caller asks strtof. The fast path
 * of number_parse, for readers that have the digits already. */
bool number_exact(bool negative, uint64_t w, long e, float *out);

/* Whether s[0 .. len) is a word strtof reads as a NaN or an infinity. */
enum number_kind number_word(const char *s, size_t len);

#endif
