/*
 * basics.c — the classic small networks built by hand (one neuron, three
 * neurons summed, 2-3-1, three hidden layers), then one batch through a
 * larger random network.
 *
 *   cc basics.c $(pkg-config --cflags --libs mlp) -o basics && ./basics
 */
#include <mlp.h>

#include <stdio.h>
#include <stdlib.h>

/* Stops the program with the library's message when a call fails. */
static void check(mlp_status st, const char *what)
{
	if (st != MLP_OK) {
		fprintf(stderr, "%s: %s\n", what, mlp_strerror(st));
		exit(EXIT_FAILURE);
	}
}

/* Creates a network and sets its parameters, listed W₀ b₀ W₁ b₁ …. */
static mlp_net *build(size_t n_layers, const size_t *sizes, const mlp_act *acts,
		      const float *params, size_t n_params)
{
	mlp_net *net;

	check(mlp_net_create(&net, n_layers, sizes, acts), "mlp_net_create");
	check(mlp_net_set_params(net, params, n_params), "mlp_net_set_params");
	return net;
}

/* The number of elements of an array. */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Runs n inputs one at a time (the sgemv path) and prints each output. */
static void show(const char *title, mlp_net *net, size_t n, const float *X)
{
	size_t n_in = mlp_net_width(net, 0);
	mlp_workspace *ws;
	float y;

	check(mlp_workspace_create(&ws, net, 1), "mlp_workspace_create");
	printf("%s\n", title);
	for (size_t i = 0; i < n; i++) {
		check(mlp_forward(net, ws, 1, X + i * n_in, &y), "mlp_forward");
		printf("  f(");
		for (size_t j = 0; j < n_in; j++)
			printf(j ? ", %g" : "%g", (double)X[i * n_in + j]);
		printf(") = %g\n", (double)y);
	}
	mlp_workspace_free(ws);
	mlp_net_free(net);
}

int main(void)
{
	printf("mlp %s on %s\n\n", mlp_version_string(), mlp_blas_name());

	{ /* one neuron: f(x) = w·x + b with w = 2, b = 1 */
		static const size_t sizes[] = { 1, 1 };
		static const mlp_act acts[] = { MLP_IDENTITY };
		static const float params[] = { 2, 1 };
		static const float X[] = { -1, 0, 0.5f, 3 };
		show("one neuron, f(x) = 2x + 1:",
		     build(1, sizes, acts, params, COUNT(params)), 4, X);
	}
	{ /* one input into three neurons, their outputs summed */
		static const size_t sizes[] = { 1, 3, 1 };
		static const mlp_act acts[] = { MLP_RELU, MLP_IDENTITY };
		static const float params[] = { 1, 2, 3, 0, 1, -1, /* hidden */
						1, 1, 1, 0 };       /* sum */
		static const float X[] = { 2, -1, 0.25f };
		show("three ReLU neurons summed, relu(x) + relu(2x+1) + relu(3x-1):",
		     build(2, sizes, acts, params, COUNT(params)), 3, X);
	}
	{ /* two inputs, three hidden neurons, one output */
		static const size_t sizes[] = { 2, 3, 1 };
		static const mlp_act acts[] = { MLP_RELU, MLP_IDENTITY };
		static const float params[] = { 1, 0, 0, 1, 1, 1, 0, 0, -1,
						1, -1, 2, 0.5f };
		static const float X[] = { 2, 3, -1, 0.5f, 1, 1 };
		show("2-3-1:", build(2, sizes, acts, params, COUNT(params)), 3, X);
	}
	{ /* three hidden layers */
		static const size_t sizes[] = { 2, 3, 3, 3, 1 };
		static const mlp_act acts[] = { MLP_RELU, MLP_RELU, MLP_IDENTITY,
						MLP_SIGMOID };
		static const float params[] = {
			1, 1, 1, 1, 1, 1, 0, 0, 0,
			0.5f, 0, 0, 0, 0.5f, 0, 0, 0, 0.5f, 1, 0, 0,
			1, 1, 1, 1, -1, 0, 0, 0, 2, 0, 0, 0,
			1, 1, 1, -1,
		};
		static const float X[] = { 0, 0, 1, 1, -3, 1 };
		show("2-3-3-3-1, sigmoid(2.5·relu(x1 + x2) + 1):",
		     build(4, sizes, acts, params, COUNT(params)), 3, X);
	}

	/* A larger random network, one batch of 256 samples through sgemm. */
	enum { BATCH = 256 };
	static const size_t sizes[] = { 784, 256, 256, 10 };
	static const mlp_act acts[] = { MLP_RELU, MLP_RELU, MLP_SOFTMAX };
	mlp_net *net;
	mlp_workspace *ws;
	float *X = malloc(BATCH * 784 * sizeof(float));
	float *Y = malloc(BATCH * 10 * sizeof(float));

	if (X == NULL || Y == NULL)
		return EXIT_FAILURE;
	check(mlp_net_create(&net, 3, sizes, acts), "mlp_net_create");
	check(mlp_net_init(net, 42), "mlp_net_init");
	check(mlp_workspace_create(&ws, net, BATCH), "mlp_workspace_create");
	for (size_t i = 0; i < BATCH * 784; i++)
		X[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
	check(mlp_forward(net, ws, BATCH, X, Y), "mlp_forward");
	printf("784-256-256-10, %zu parameters, batch of %d; sample 0:\n ",
	       mlp_net_param_count(net), BATCH);
	for (size_t j = 0; j < 10; j++)
		printf(" %.4f", (double)Y[j]);
	printf("\n");
	mlp_workspace_free(ws);
	mlp_net_free(net);
	free(X);
	free(Y);
	return EXIT_SUCCESS;
}
