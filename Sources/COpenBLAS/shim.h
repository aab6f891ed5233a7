// System-library shim for OpenBLAS (CBLAS) and LAPACKE.
// Debian: apt-get install libopenblas-dev liblapacke-dev (pkg-config names: openblas, lapacke).
// Only the TensorCore target may import this module.
#pragma once
#include <cblas.h>
#include <lapacke.h>

// OpenBLAS's thread-pool control, exported by libopenblas (its fork handler uses them). The pool starts when the
// library loads and its idle threads spin in sched_yield; ModScope parallelises over sample blocks with
// single-threaded BLAS and shuts the pool down so those threads do not steal the cores.
int blas_thread_shutdown_(void);
int blas_thread_init(void);
