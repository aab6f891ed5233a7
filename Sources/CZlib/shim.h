// System-library shim for zlib (raw inflate of deflated .npz members, CRC-32).
// Debian: apt-get install zlib1g-dev (pkg-config name: zlib).
// Only the ArrayFiles target may import this module.
#pragma once
#include <zlib.h>
