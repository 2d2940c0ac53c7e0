/*
 * fail_inject.c — a failure injected into a program that links libmlp.so,
 * through LD_PRELOAD: the call of mlp function MLP_FAIL numbered
 * MLP_FAIL_AT (1 by default) returns MLP_FAIL_STATUS (MLP_ENOMEM by
 * default) instead of running; every other call runs the library's. The
 * name of each failed call is appended to the file MLP_FAIL_LOG, so that a
 * test knows whether the program made the call at all.
 *
 *   MLP_FAIL=mlp_forward MLP_FAIL_LOG=log LD_PRELOAD=libfail_inject.so mlp ...
 *
 * Each function of mlp.h that returns a status and that the mlp program
 * calls has a wrapper here; tests/tool_status_test.sh checks the list
 * against the program's imports.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <mlp.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether this call of `name` is the one to fail: the status then. */
static mlp_status injected(const char *name)
{
	static unsigned long calls;
	const char *want = getenv("MLP_FAIL"), *at = getenv("MLP_FAIL_AT");
	const char *status = getenv("MLP_FAIL_STATUS"), *log = getenv("MLP_FAIL_LOG");

	if (want == NULL || strcmp(want, name) != 0)
		return MLP_OK;
	if (++calls != (at != NULL ? strtoul(at, NULL, 10) : 1))
		return MLP_OK;
	if (log != NULL) {
		FILE *f = fopen(log, "a");

		if (f != NULL) {
			fprintf(f, "%s\n", name);
			fclose(f);
		}
	}
	return status != NULL ? (mlp_status)atoi(status) : MLP_ENOMEM;
}

/* The message of a failed call, as the library writes one. */
static void say(mlp_msg *msg, const char *name)
{
	if (msg != NULL)
		snprintf(msg->text, sizeof(msg->text), "%s failed (injected)", name);
}

/* mlp_status NAME(PARAMS): the injected failure (its message into msg,
 * a parameter or NULL), or the library's. */
#define WRAP_MSG(name, params, args, msg)                                 \
	mlp_status name params                                            \
	{                                                                 \
		static mlp_status (*real) params;                         \
		mlp_status st = injected(#name);                          \
                                                                          \
		if (st != MLP_OK) {                                       \
			say(msg, #name);                                  \
			return st;                                        \
		}                                                         \
		if (real == NULL)                                         \
			*(void **)&real = dlsym(RTLD_NEXT, #name);        \
		return real args;                                         \
	}
#define WRAP(name, params, args) WRAP_MSG(name, params, args, NULL)

WRAP_MSG(mlp_act_parse_list, (const char *list, mlp_act *acts, size_t max,
			      size_t *count, mlp_msg *msg),
	 (list, acts, max, count, msg), msg)
WRAP(mlp_dense_forward, (size_t batch, size_t n_in, size_t n_out,
			 const float *W, const float *b, mlp_act act,
			 const float *X, float *Y),
     (batch, n_in, n_out, W, b, act, X, Y))
WRAP(mlp_net_create, (mlp_net **out, size_t n_layers, const size_t *sizes,
		      const mlp_act *acts),
     (out, n_layers, sizes, acts))
WRAP(mlp_net_init, (mlp_net *net, uint64_t seed), (net, seed))
WRAP(mlp_net_set_scaling, (mlp_net *net, const float *in_mean,
			   const float *in_std, const float *out_mean,
			   const float *out_std),
     (net, in_mean, in_std, out_mean, out_std))
WRAP(mlp_net_get_scaling, (const mlp_net *net, const float **in_mean,
			   const float **in_std, const float **out_mean,
			   const float **out_std),
     (net, in_mean, in_std, out_mean, out_std))
WRAP(mlp_net_scale_inputs, (const mlp_net *net, size_t batch, const float *X,
			    float *out),
     (net, batch, X, out))
WRAP(mlp_net_unscale_outputs, (const mlp_net *net, size_t batch, float *Y),
     (net, batch, Y))
WRAP(mlp_workspace_create, (mlp_workspace **out, const mlp_net *net,
			    size_t max_batch),
     (out, net, max_batch))
WRAP(mlp_forward, (const mlp_net *net, mlp_workspace *ws, size_t batch,
		   const float *X, float *Y),
     (net, ws, batch, X, Y))
WRAP(mlp_plan_create, (mlp_plan **out, const mlp_net *net,
		       mlp_precision precision, size_t max_batch),
     (out, net, precision, max_batch))
WRAP(mlp_plan_opts_init, (mlp_plan_opts *opts, size_t struct_size),
     (opts, struct_size))
WRAP_MSG(mlp_plan_create_opts, (mlp_plan **out, const mlp_net *net,
				 const mlp_plan_opts *opts, mlp_msg *msg),
	 (out, net, opts, msg), msg)
WRAP(mlp_wisdom_export, (char *buf, size_t size, size_t *length),
     (buf, size, length))
WRAP_MSG(mlp_wisdom_import, (const char *text, size_t length, mlp_msg *msg),
	 (text, length, msg), msg)
WRAP(mlp_plan_forward, (mlp_plan *plan, size_t batch, const float *X, float *Y),
     (plan, batch, X, Y))
WRAP(mlp_batcher_opts_init, (mlp_batcher_opts *opts, size_t struct_size),
     (opts, struct_size))
WRAP_MSG(mlp_batcher_create, (mlp_batcher **out, const mlp_plan *plan,
			      const mlp_batcher_opts *opts, mlp_msg *msg),
	 (out, plan, opts, msg), msg)
WRAP(mlp_batcher_submit, (mlp_batcher *b, size_t rows, const float *X,
			  float *Y, mlp_batcher_done_fn done, void *user),
     (b, rows, X, Y, done, user))
WRAP(mlp_batcher_stats, (mlp_batcher *b, mlp_batch_stats *stats,
			 size_t stats_size),
     (b, stats, stats_size))
WRAP(mlp_evaluate, (const mlp_net *net, mlp_loss_kind loss, size_t n,
		    const float *X, const float *Y, double *mean_loss,
		    double *accuracy),
     (net, loss, n, X, Y, mean_loss, accuracy))
WRAP(mlp_quantize_opts_init, (mlp_quantize_opts *opts, size_t struct_size),
     (opts, struct_size))
WRAP_MSG(mlp_net_quantize, (mlp_net **out, const mlp_net *net, size_t rows,
			    const float *X, const mlp_quantize_opts *opts,
			    mlp_msg *msg),
	 (out, net, rows, X, opts, msg), msg)
WRAP(mlp_net_quant_scales, (const mlp_net *net, size_t layer, float *input_scale,
			    float *weight_scales),
     (net, layer, input_scale, weight_scales))
WRAP(mlp_quant_compare, (const mlp_net *qnet, const mlp_net *ref, size_t rows,
			 const float *X, mlp_quant_error *err, size_t n_err),
     (qnet, ref, rows, X, err, n_err))
WRAP(mlp_train_opts_init, (mlp_train_opts *opts, size_t struct_size),
     (opts, struct_size))
WRAP_MSG(mlp_train_check, (const mlp_net *net, const mlp_train_opts *opts,
			   mlp_msg *msg),
	 (net, opts, msg), msg)
WRAP(mlp_train, (mlp_net *net, const mlp_train_opts *opts, size_t n,
		 const float *X, const float *Y),
     (net, opts, n, X, Y))
WRAP(mlp_train_held_out, (const mlp_train_opts *opts, size_t n,
			  unsigned char *held, size_t *n_held),
     (opts, n, held, n_held))
WRAP_MSG(mlp_checkpoint_opts, (const char *path, mlp_train_opts *opts,
			       size_t *epoch, mlp_msg *msg),
	 (path, opts, epoch, msg), msg)
WRAP_MSG(mlp_net_save, (const mlp_net *net, const char *path, mlp_msg *msg),
	 (net, path, msg), msg)
WRAP_MSG(mlp_net_load, (mlp_net **out, const char *path,
			const mlp_load_opts *opts, mlp_msg *msg),
	 (out, path, opts, msg), msg)
