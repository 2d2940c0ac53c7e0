#!/usr/bin/env bash
# Draws GFLOP/s against batch size, one panel per network and one line per
# implementation, from the CSV of mlp-bench --csv, with gnuplot.
#
#   bench/plot.sh results.csv [out.png] [title]
set -euo pipefail

csv=${1:?usage: bench/plot.sh results.csv [out.png] [title]}
out=${2:-${csv%.csv}.png}
title=${3:-mlp-bench}
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }

# The forward-pass networks; the training bench's row ("train ...") has one
# batch size and is left out.
mapfile -t networks < <(tail -n +2 "$csv" | cut -d, -f1 | grep -v '^train ' | awk '!seen[$0]++')
[ ${#networks[@]} -gt 0 ] || { echo "plot.sh: $csv has no results" >&2; exit 1; }
cols=$(( ${#networks[@]} < 4 ? ${#networks[@]} : 4 ))
rows=$(( (${#networks[@]} + cols - 1) / cols ))

{
	echo "set terminal pngcairo size $((cols * 420)),$((rows * 360 + 40)) font ',10'"
	echo "set output '$out'"
	echo "set datafile separator ','"
	echo "set multiplot layout $rows,$cols title '$title' font ',12'"
	echo "set logscale xy"
	echo "set xtics (1, 8, 64, 256, 1024)"
	echo "set xlabel 'batch size'"
	echo "set ylabel 'GFLOP/s'"
	echo "set grid"
	echo "set key top left font ',8'"
	echo "impls = 'mlp blas-floor naive fann pytorch plan-fp32 plan-bf16 onednn-bf16 pytorch-bf16'"
	echo "colors = '#c0392b #000000 #7f8c8d #2471a3 #e67e22 #8e44ad #27ae60 #16a085 #d35400'"
	for net in "${networks[@]}"; do
		echo "set title '$net'"
		echo "plot for [i = 1:9] \\"
		echo "  sprintf(\"< awk -F, '\$1 == \\\"%s\\\" && \$3 == \\\"%s\\\"' %s\", '$net', word(impls, i), '$csv') \\"
		echo "  using 2:13 with linespoints pointsize 0.7 lw 1.5 lc rgb word(colors, i) title word(impls, i)"
	done
	echo "unset multiplot"
} | gnuplot
echo "wrote $out"
