#define _GNU_SOURCE
#include "CBLASLoader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Library file names (sonames) as Debian installs them.
static const char *const openblasName = "libopenblas.so.0";
static const char *const lapackeName = "liblapacke.so.3";

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int, double, double *, int);
typedef int (*dgeqrf_fn)(int, int, int, double *, int, double *);
typedef int (*dorgqr_fn)(int, int, int, int, double *, int, const double *);
typedef int (*dsyevd_fn)(int, char, char, int, double *, int, double *);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef int (*pool_fn)(void);

static struct {
    sgemm_fn sgemm;
    dgemm_fn dgemm;
    dgeqrf_fn dgeqrf;
    dorgqr_fn dorgqr;
    dsyevd_fn dsyevd;
    set_threads_fn setThreads;
    get_threads_fn getThreads;
    pool_fn shutdown;
    pool_fn init;
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[512];

static void *symbol(void *library, const char *libraryName, const char *name) {
    void *found = dlsym(library, name);
    if (!found && !failure[0])
        snprintf(failure, sizeof failure, "%s has no symbol %s; install OpenBLAS 0.3 or later (apt-get install libopenblas0 liblapacke)", libraryName, name);
    return found;
}

static void load(void) {
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    void *blas = dlopen(openblasName, RTLD_NOW | RTLD_LOCAL);
    void *lapacke = blas ? dlopen(lapackeName, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!blas || !lapacke) {
        snprintf(failure, sizeof failure, "cannot load %s: %s; install it (apt-get install libopenblas0 liblapacke, or `make deps`)",
                 blas ? lapackeName : openblasName, dlerror());
        return;
    }
    api.sgemm = (sgemm_fn)symbol(blas, openblasName, "cblas_sgemm");
    api.dgemm = (dgemm_fn)symbol(blas, openblasName, "cblas_dgemm");
    api.setThreads = (set_threads_fn)symbol(blas, openblasName, "openblas_set_num_threads");
    api.getThreads = (get_threads_fn)symbol(blas, openblasName, "openblas_get_num_threads");
    api.shutdown = (pool_fn)symbol(blas, openblasName, "blas_thread_shutdown_");
    api.init = (pool_fn)symbol(blas, openblasName, "blas_thread_init");
    api.dgeqrf = (dgeqrf_fn)symbol(lapacke, lapackeName, "LAPACKE_dgeqrf");
    api.dorgqr = (dorgqr_fn)symbol(lapacke, lapackeName, "LAPACKE_dorgqr");
    api.dsyevd = (dsyevd_fn)symbol(lapacke, lapackeName, "LAPACKE_dsyevd");
}

int ms_blas_load(char *message, int capacity) {
    pthread_once(&once, load);
    if (!failure[0]) return 0;
    if (message && capacity > 0) snprintf(message, (size_t)capacity, "%s", failure);
    return -1;
}

// Every entry point loads first; a failure here (the caller skipped ms_blas_load) ends the process with the
// sentence, exit 1, since there is no way to compute without the library.
static void ready(void) {
    if (ms_blas_load(NULL, 0) == 0) return;
    fprintf(stderr, "error: %s\n", failure);
    exit(1);
}

void ms_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
              int ldb, float beta, float *c, int ldc) {
    ready();
    api.sgemm(MS_ROW_MAJOR, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void ms_dgemm(int transA, int transB, int m, int n, int k, double alpha, const double *a, int lda, const double *b,
              int ldb, double beta, double *c, int ldc) {
    ready();
    api.dgemm(MS_ROW_MAJOR, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int ms_dgeqrf(int m, int n, double *a, int lda, double *tau) { ready(); return api.dgeqrf(MS_ROW_MAJOR, m, n, a, lda, tau); }
int ms_dorgqr(int m, int n, int k, double *a, int lda, const double *tau) { ready(); return api.dorgqr(MS_ROW_MAJOR, m, n, k, a, lda, tau); }
int ms_dsyevd(char jobz, char uplo, int n, double *a, int lda, double *w) { ready(); return api.dsyevd(MS_ROW_MAJOR, jobz, uplo, n, a, lda, w); }
void ms_set_num_threads(int count) { ready(); api.setThreads(count); }
int ms_get_num_threads(void) { ready(); return api.getThreads(); }
int ms_thread_shutdown(void) { ready(); return api.shutdown(); }
int ms_thread_init(void) { ready(); return api.init(); }
