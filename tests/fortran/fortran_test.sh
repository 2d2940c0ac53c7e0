#!/usr/bin/env bash
# The Fortran module's test program and its C reference, run in a fresh
# directory: both succeed, and their outputs agree bit for bit.
#
#   tests/fortran/fortran_test.sh path/to/test_fortran path/to/reference
set -eu
fortran=$(readlink -f "$1")
reference=$(readlink -f "$2")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
"$fortran" fortran.bin
"$reference" c.bin
if ! cmp fortran.bin c.bin; then
	echo "FAIL: the Fortran module's outputs differ from the C API's"
	exit 1
fi
echo "the Fortran module's outputs equal the C API's, bit for bit ($(stat -c %s c.bin) bytes)"
