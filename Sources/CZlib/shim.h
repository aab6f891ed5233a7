// System-library shim for zlib (raw inflate of deflated .npz members, CRC-32).
// Debian: apt-get install zlib1g-dev (pkg-config name: zlib).
// Used by ArrayFiles (.npz members) and by the report's PNG encoder (ModScope).
#pragma once
#include <zlib.h>
