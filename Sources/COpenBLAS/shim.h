// System-library shim for OpenBLAS (CBLAS) and LAPACKE.
// Debian: apt-get install libopenblas-dev liblapacke-dev (pkg-config names: openblas, lapacke).
// Only the TensorCore target may import this module.
#pragma once
#include <cblas.h>
#include <lapacke.h>
