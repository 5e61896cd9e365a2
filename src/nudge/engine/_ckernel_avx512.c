/* The AVX-512 build of _ckernel.c: setup.py compiles this file with -mavx512f and co. */
#include "_ckernel.c"
