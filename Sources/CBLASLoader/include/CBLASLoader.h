// OpenBLAS (CBLAS) and LAPACKE, loaded at run time. Only the TensorCore target may import this module.
//
// Why not link them: OpenBLAS starts its thread pool in a library constructor, before main, and under a small
// address-space limit (ulimit -v) that start-up loops forever allocating thread buffers, so the process hangs
// before it can say why. Loaded here, on first use, with OPENBLAS_NUM_THREADS=1 unless the user set it (ModScope
// runs BLAS single-threaded anyway and parallelises above it), start-up cannot hang, and a missing library is a
// sentence instead of a loader error. Debian: libopenblas0 and liblapacke (the Makefile's -dev packages).
#pragma once

enum { MS_ROW_MAJOR = 101, MS_NO_TRANS = 111, MS_TRANS = 112 };

// Loads both libraries once (thread-safe). Returns 0, or -1 with a sentence saying what to install in message.
int ms_blas_load(char *message, int capacity);

void ms_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
              int ldb, float beta, float *c, int ldc);
void ms_dgemm(int transA, int transB, int m, int n, int k, double alpha, const double *a, int lda, const double *b,
              int ldb, double beta, double *c, int ldc);
int ms_dgeqrf(int m, int n, double *a, int lda, double *tau);
int ms_dorgqr(int m, int n, int k, double *a, int lda, const double *tau);
int ms_dsyevd(char jobz, char uplo, int n, double *a, int lda, double *w);

void ms_set_num_threads(int count);
int ms_get_num_threads(void);
// OpenBLAS's thread-pool control (exported by libopenblas; its fork handler uses them). The pool's idle
// threads spin in sched_yield; ModScope shuts it down and starts it again only for `bench`.
int ms_thread_shutdown(void);
int ms_thread_init(void);
