/* progress.c — the training progress line (see tool.h). */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_begin(struct progress *p)
{
	p->tty = isatty(STDERR_FILENO);
	p->start = now_seconds();
	p->last_draw = 0;
}

void progress_draw(struct progress *p, size_t e, size_t E, size_t b, size_t B,
		   double loss, double rate)
{
	enum { WIDTH = 24 };
	double t = now_seconds(), left;
	char bar[WIDTH + 1];
	size_t fill;

	/* Five redraws a second are enough to read. */
	if (!p->tty || (t - p->last_draw < 0.2 && b < B))
		return;
	p->last_draw = t;
	fill = B > 0 ? b * WIDTH / B : WIDTH;
	for (size_t i = 0; i < WIDTH; i++)
		bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
	bar[WIDTH] = '\0';
	/* Time left in this run: the epochs to go at this epoch's pace. */
	left = b > 0 ? (t - p->start) / (double)b *
			       ((double)(B - b) + (double)(E - e) * (double)B)
		     : 0;
	fprintf(stderr, "\repoch %zu/%zu [%s] %3zu%%  loss %.4f  %.0f samples/s  "
		"%d:%02d left ", e, E, bar, B > 0 ? 100 * b / B : 100, loss, rate,
		(int)(left / 60), (int)left % 60);
	fflush(stderr);
}

void progress_end(struct progress *p)
{
	if (p->tty)
		fputs("\r\033[K", stderr);
}
