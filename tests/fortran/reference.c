/*
 * reference.c — what test_fortran.f90 does, through the C API: the same
 * network, inputs, training and outputs, written to the file named by the
 * first argument, which must match the Fortran program's bit for bit.
 */
#include <mlp.h>

#include <stdio.h>

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 4, 8, 3 };
	static const mlp_act acts[] = { MLP_RELU, MLP_SOFTMAX };
	float x[10][4], y[10][3] = { { 0 } }, out[10][3];
	mlp_train_opts o = mlp_train_defaults();
	mlp_workspace *ws;
	mlp_net *net;
	FILE *f;

	if (argc != 2 || (f = fopen(argv[1], "wb")) == NULL)
		return 2;
	for (int j = 1; j <= 10; j++) {
		for (int i = 1; i <= 4; i++)
			x[j - 1][i - 1] = (float)((i * 7 + j * 3) % 11) / 10.0f - 0.5f;
		y[j - 1][j % 3] = 1;
	}
	if (mlp_net_create(&net, 2, sizes, acts) != MLP_OK ||
	    mlp_net_init(net, 7) != MLP_OK ||
	    mlp_workspace_create(&ws, net, 10) != MLP_OK ||
	    mlp_forward(net, ws, 10, &x[0][0], &out[0][0]) != MLP_OK)
		return 1;
	fwrite(out, sizeof(out), 1, f);
	o.loss = MLP_LOSS_XENT;
	o.epochs = 5;
	o.batch_size = 5;
	o.seed = 3;
	if (mlp_train(net, &o, 10, &x[0][0], &y[0][0]) != MLP_OK ||
	    mlp_forward(net, ws, 10, &x[0][0], &out[0][0]) != MLP_OK)
		return 1;
	fwrite(out, sizeof(out), 1, f);
	mlp_workspace_free(ws);
	mlp_net_free(net);
	return fclose(f) == 0 ? 0 : 1;
}
