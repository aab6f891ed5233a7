#!/usr/bin/env python3
"""A BMX1 worker written from docs/protocol.md alone (cross-check of the spec; synthetic kind only).

Usage: python_worker.py ENDPOINT     (plaintext: ipc:// or tcp:// with a coordinator started with --insecure)
Needs: pip install pyzmq crc32c
"""
import json, os, random, socket, struct, sys, time, base64
import zmq, crc32c

HDR = struct.Struct("<4sBBHQIIQIII")
NONE = 0xFFFFFFFF
M64 = (1 << 64) - 1


def encode(mtype, fields=b"", body=b"", run_id=0, epoch=0, shard=NONE, inc=1, attempt=0):
    h = HDR.pack(b"BMX1", 1, mtype, 0, run_id, epoch, shard, inc, attempt, 0, len(fields) + len(body))
    crc = crc32c.crc32c(body, crc32c.crc32c(fields, crc32c.crc32c(h)))
    return [h + struct.pack("<I", crc), fields, body]


def decode(frames):
    if len(frames) != 3 or len(frames[0]) != 48:
        return None
    h, fields, body = frames
    magic, ver, mtype, _, run_id, epoch, shard, inc, attempt, _, plen = HDR.unpack(h[:44])
    (crc,) = struct.unpack("<I", h[44:])
    if magic != b"BMX1" or ver != 1 or plen != len(fields) + len(body):
        return None
    if crc32c.crc32c(body, crc32c.crc32c(fields, crc32c.crc32c(h[:44]))) != crc:
        return None
    return dict(type=mtype, run_id=run_id, epoch=epoch, shard=shard, attempt=attempt, fields=fields, body=body)


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def unit(x):
    return struct.unpack("<f", struct.pack("<f", (x >> 40) / float(1 << 23) - 1.0))[0]


def synthetic_rows(first_row, rows, samples, columns, elements):
    out = bytearray()
    for local in range(rows):
        h = splitmix64(first_row + local)
        for e in range(elements):
            bits = struct.unpack("<I", samples[(local * elements + e) * 4:(local * elements + e) * 4 + 4])[0]
            h = splitmix64(h ^ bits)
        out += struct.pack("<%df" % columns, *[unit(splitmix64(h ^ c)) for c in range(columns)])
    return bytes(out)


def main():
    endpoint = sys.argv[1]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    inc = random.getrandbits(63) | 1
    sock.send_multipart(encode(1, struct.pack("<IIII", 1, 1, os.getpid(), 0), socket.gethostname().encode(), inc=inc))
    run_id = epoch = 0
    job = None
    chunk_bytes = 4 << 20
    last_sent = time.time()
    while True:
        if sock.poll(200):
            m = decode(sock.recv_multipart())
            if m is None:
                continue
            t = m["type"]
            if t == 2:  # WELCOME
                run_id, epoch = m["run_id"], m["epoch"]
                _, _, chunk_bytes, _ = struct.unpack("<IIII", m["fields"])
                job = json.loads(m["body"])
                assert job["kind"] == "synthetic", "this cross-check worker only knows the synthetic kind"
            elif t == 5:  # ASSIGN
                first_row, rows, elements = struct.unpack("<QII", m["fields"])
                result = synthetic_rows(first_row, rows, m["body"], job["columns"], elements)
                total_crc = crc32c.crc32c(result)
                count = max(1, -(-len(result) // chunk_bytes))
                for i in range(count):
                    chunk = result[i * chunk_bytes:(i + 1) * chunk_bytes]
                    f = struct.pack("<IIQQII", i, count, i * chunk_bytes, len(result), total_crc, 0)
                    sock.send_multipart(encode(7, f, chunk, run_id, epoch, m["shard"], inc, m["attempt"]))
                last_sent = time.time()
            elif t == 11:  # DISCONNECT
                (reason, _) = struct.unpack("<II", m["fields"])
                if reason == 0:
                    print("python worker: run complete")
                    return 0
                print("python worker: disconnected, reason", reason)
                return 1
        if job is not None and time.time() - last_sent >= 1.0:
            sock.send_multipart(encode(6, struct.pack("<IIQ", 0, 0, 0), b"", run_id, epoch, NONE, inc))
            last_sent = time.time()


if __name__ == "__main__":
    sys.exit(main())
