/* progress.c — the progress of training on standard error (see tool.h). */
#define _POSIX_C_SOURCE 200809L
#include "tool.h"

#include "clock.h"

#include <math.h>
#include <unistd.h>

void progress_init(struct progress *pr)
{
	pr->tty = isatty(STDERR_FILENO);
	pr->start = clock_seconds();
	pr->last_draw = 0;
	pr->epoch_secs = 0;
}

/* The bar: epoch, steps done, mean loss so far, samples/s, time left. */
static void draw(struct progress *pr, const mlp_train_progress *p, double t)
{
	enum { WIDTH = 24 };
	double secs = t - pr->start, left;
	size_t fill = p->step * WIDTH / p->steps;
	char bar[WIDTH + 1];

	for (size_t i = 0; i < WIDTH; i++)
		bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
	bar[WIDTH] = '\0';
	/* Time left in this run: the epochs to go at this epoch's pace. */
	left = secs / (double)p->step *
	       ((double)(p->steps - p->step) +
		(double)(p->epochs - p->epoch) * (double)p->steps);
	fprintf(stderr, "\repoch %zu/%zu [%s] %3zu%%  loss %.4f  %.0f samples/s  "
		"%d:%02d left ", p->epoch, p->epochs, bar, 100 * p->step / p->steps,
		p->loss, (double)p->rows / secs, (int)(left / 60), (int)left % 60);
	fflush(stderr);
}

void progress_step(struct progress *pr, const mlp_train_progress *p)
{
	double t = clock_seconds();

	if (p->step == p->steps) {
		pr->epoch_secs = t - pr->start;
		if (pr->tty)
			fputs("\r\033[K", stderr); /* the epoch's line replaces it */
		return;
	}
	/* Five redraws a second are enough to read. */
	if (pr->tty && t - pr->last_draw >= 0.2) {
		pr->last_draw = t;
		draw(pr, p, t);
	}
}

void progress_epoch(struct progress *pr, const mlp_train_progress *p)
{
	fprintf(stderr, "epoch %zu/%zu: loss %.4f, lr %.3g, %.0f samples/s, %.1f s",
		p->epoch, p->epochs, p->loss, (double)p->lr,
		(double)p->rows / pr->epoch_secs, pr->epoch_secs);
	if (!isnan(p->eval_loss))
		fprintf(stderr, ", held-out loss %.4f", p->eval_loss);
	if (!isnan(p->eval_accuracy))
		fprintf(stderr, ", held-out accuracy %.4f", p->eval_accuracy);
	if (p->best_epoch > 0 && p->best_epoch != p->epoch)
		fprintf(stderr, " (best: epoch %zu)", p->best_epoch);
	fputc('\n', stderr);
	pr->start = clock_seconds(); /* the next epoch's steps start now */
}
