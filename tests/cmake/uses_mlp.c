/* uses_mlp.c — a network through mlp, built by a CMake project: the
 * header's version is the library's, and a forward pass gives the output
 * worked out by hand. */
#include <mlp.h>

#include <stdio.h>

int main(void)
{
	static const size_t sizes[] = { 2, 1 };
	static const mlp_act acts[] = { MLP_IDENTITY };
	const float params[] = { 0.5f, -2.0f, 0.25f }; /* W, then b */
	const float x[2] = { 4.0f, 1.0f };
	mlp_workspace *ws;
	mlp_net *net;
	float y;

	if (mlp_version() != MLP_VERSION_NUMBER) {
		fprintf(stderr, "header %s, library %s\n", MLP_VERSION_STRING,
			mlp_version_string());
		return 1;
	}
	if (mlp_net_create(&net, 1, sizes, acts) != MLP_OK ||
	    mlp_net_set_params(net, params, 3) != MLP_OK ||
	    mlp_workspace_create(&ws, net, 1) != MLP_OK ||
	    mlp_forward(net, ws, 1, x, &y) != MLP_OK)
		return 1;
	printf("mlp %s: y = %g\n", mlp_version_string(), (double)y);
	mlp_workspace_free(ws);
	mlp_net_free(net);
	return y == 0.25f ? 0 : 1; /* 0.5·4 − 2·1 + 0.25 */
}
