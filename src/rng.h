/*
 * rng.h — the random numbers of initialisation and shuffling (rng.c).
 */
#ifndef MLP_RNG_H
#define MLP_RNG_H

#include <stdint.h>

/* A xoshiro256** generator, seeded through SplitMix64. */
struct mlpi_rng {
	uint64_t s[4];
};
void mlpi_rng_seed(struct mlpi_rng *rng, uint64_t seed);
uint64_t mlpi_rng_next(struct mlpi_rng *rng);
/* Uniform on [0, 1) with 53 random bits. */
double mlpi_rng_uniform(struct mlpi_rng *rng);

#endif /* MLP_RNG_H */
