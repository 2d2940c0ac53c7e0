/* clock.h — the monotonic clock of the programs built on mlp (the tool, the
 * bench and the examples). */
#ifndef MLP_PROGRAMS_CLOCK_H
#define MLP_PROGRAMS_CLOCK_H

/* Seconds on a monotonic clock, from an arbitrary start. */
double clock_seconds(void);

#endif
