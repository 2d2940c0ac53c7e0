/*
 * options.c — option values of the mlp program, parsed in full: a value is
 * a number only when every byte of it is part of the number (see tool.h).
 */
#include "tool.h"

#include "number.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int option_float(const char *name, const char *text, float *out)
{
	char copy[64];
	size_t len = strlen(text);
	float v = 0;
	enum number_kind kind = NUMBER_BAD;

	/* Decimal, as the data: number_parse writes (and restores) the byte
	 * after the text, so it reads a copy. */
	if (len < sizeof(copy)) {
		memcpy(copy, text, len + 1);
		kind = number_parse(copy, len, &v);
	}
	if (kind == NUMBER_BAD)
		return report_error(EXIT_USAGE, "--%s '%s': not a decimal number",
				    name, text);
	if (kind != NUMBER_OK || !isfinite(v))
		return report_error(EXIT_USAGE, "--%s %s: not a finite number "
				    "(a float is at most %g)", name, text,
				    3.4028234663852886e38);
	*out = v;
	return EXIT_OK;
}

/* Digits only, as a uint64_t: false for anything else or an overflow. */
static bool whole_number(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)text[0]))
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (*end != '\0' || errno == ERANGE)
		return false;
	*out = v;
	return true;
}

int option_size(const char *name, const char *text, size_t min, size_t max,
		size_t *out)
{
	uint64_t v;

	if (!whole_number(text, &v) || v > SIZE_MAX)
		return report_error(EXIT_USAGE, "--%s '%s': not a whole number",
				    name, text);
	if (v < min || v > max)
		return report_error(EXIT_USAGE, "--%s %s: not from %zu to %zu",
				    name, text, min, max);
	*out = (size_t)v;
	return EXIT_OK;
}

int option_u64(const char *name, const char *text, uint64_t *out)
{
	if (!whole_number(text, out))
		return report_error(EXIT_USAGE, "--%s '%s': not a whole number "
				    "from 0 to %" PRIu64, name, text, UINT64_MAX);
	return EXIT_OK;
}

int option_widths(const char *name, const char *text, size_t *sizes,
		  size_t *count)
{
	const char *s = text;
	size_t n = 0;

	for (;;) {
		size_t len = strcspn(s, ",");
		char item[32];
		uint64_t v;

		if (n == MLP_MAX_LAYERS + 1)
			return report_error(EXIT_USAGE, "--%s '%.40s...': more "
					    "than %u widths (%u layers at most)",
					    name, text, MLP_MAX_LAYERS + 1,
					    MLP_MAX_LAYERS);
		snprintf(item, sizeof(item), "%.*s", (int)(len < 31 ? len : 31), s);
		if (len >= sizeof(item) || !whole_number(item, &v))
			return report_error(EXIT_USAGE, "--%s '%s': width %zu, "
					    "'%s', is not a whole number", name,
					    text, n + 1, item);
		if (v == 0 || v > MLP_MAX_WIDTH)
			return report_error(EXIT_USAGE, "--%s '%s': width %zu is "
					    "%s; widths are 1 to %u", name, text,
					    n + 1, item, MLP_MAX_WIDTH);
		sizes[n++] = (size_t)v;
		if (s[len] != ',')
			break;
		s += len + 1;
	}
	if (n < 2)
		return report_error(EXIT_USAGE, "--%s '%s': give at least two "
				    "widths, input first (784,256,10)", name,
				    text);
	*count = n;
	return EXIT_OK;
}

int option_acts(const char *name, const char *text, mlp_act *acts, size_t max,
		size_t *count)
{
	mlp_msg msg;

	if (mlp_act_parse_list(text, acts, max, count, &msg) != MLP_OK)
		return report_error(EXIT_USAGE, "--%s '%s': %s", name, text,
				    msg.text);
	return EXIT_OK;
}

int option_precision(const char *name, const char *text, mlp_precision *out)
{
	if (strcmp(text, "fp32") == 0)
		*out = MLP_FP32;
	else if (strcmp(text, "bf16") == 0)
		*out = MLP_BF16;
	else if (strcmp(text, "int8") == 0)
		*out = MLP_INT8;
	else
		return report_error(EXIT_USAGE, "--%s '%s': want fp32, bf16 or "
				    "int8", name, text);
	if (!mlp_precision_supported(*out))
		return report_error(EXIT_USAGE, "--%s %s: this build or CPU does "
				    "not run bf16 (it needs oneDNN and a CPU with "
				    "AVX512_BF16 or AMX; see mlp --version)", name,
				    text);
	return EXIT_OK;
}
