#!/usr/bin/env bash
# The manual pages: groff finds nothing to warn about in mlp(1) and mlp(3),
# and every option the program's --help texts name is in mlp(1).
#
#   tests/man_test.sh path/to/mlp man/
set -u
mlp=${1:?usage: man_test.sh path/to/mlp MANDIR}
mandir=${2:?usage: man_test.sh path/to/mlp MANDIR}
failures=0

if ! command -v groff >/dev/null; then
	echo "skipped: groff is not installed (Debian: groff-base)"
	exit 77
fi
for page in "$mandir/mlp.1" "$mandir/mlp.3"; do
	warnings=$(groff -ww -man -z "$page" 2>&1)
	if [ -n "$warnings" ]; then
		echo "FAIL: groff warns about $page:"; echo "$warnings"
		failures=$((failures + 1))
	fi
done

# In the page an option is written \-\-name.
options=$( { "$mlp" --help; for cmd in info run train eval plot tune serve quantize; do "$mlp" "$cmd" --help; done; } |
	grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
count=0
for opt in $options; do
	count=$((count + 1))
	if ! grep -qF -- "${opt//-/\\-}" "$mandir/mlp.1"; then
		echo "FAIL: $opt is in --help but not in mlp(1)"
		failures=$((failures + 1))
	fi
done
if [ "$count" -lt 25 ]; then
	echo "FAIL: only $count options found in the --help texts"
	failures=$((failures + 1))
fi
echo "$count options of --help checked against mlp(1)"
[ "$failures" -eq 0 ]
