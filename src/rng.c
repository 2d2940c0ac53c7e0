/*
 * rng.c — the seeded generator behind initialisation and shuffling.
 *
 * xoshiro256** (Blackman and Vigna), its state filled from the seed by
 * SplitMix64 as its authors recommend. Integer arithmetic only, so a seed
 * gives the same stream on every machine.
 */
#include "rng.h"

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void mlpi_rng_seed(struct mlpi_rng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&seed);
}

uint64_t mlpi_rng_next(struct mlpi_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double mlpi_rng_uniform(struct mlpi_rng *rng)
{
	/* The top 53 bits, scaled by 2^-53: exact in a double. */
	return (double)(mlpi_rng_next(rng) >> 11) * 0x1.0p-53;
}
