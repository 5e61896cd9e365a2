/* The AVX2 + FMA build of _ckernel.c: setup.py compiles this file with -mavx2 -mfma. */
#include "_ckernel.c"
