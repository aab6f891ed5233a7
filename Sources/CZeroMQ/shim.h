// System-library shim for libzmq. Debian: apt-get install libzmq3-dev (pkg-config name: libzmq).
// Only the ZeroMQTransport target may import this module.
#pragma once
#include <zmq.h>
