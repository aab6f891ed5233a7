#!/usr/bin/env python3
"""Writes the tiny .npy/.npz/.csv fixtures of Tests/ArrayFilesTests/Fixtures (committed; CI has no Python).

Run from the repository root:  /work/venv/bin/python scripts/make_arrayfile_fixtures.py
The values are chosen so that the Swift tests can compare them exactly.
"""
import os
import struct
import zipfile

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ArrayFilesTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)


def path(name):
    return os.path.join(OUT, name)


def save_version(name, array, version):
    with open(path(name), "wb") as f:
        np.lib.format.write_array(f, array, version=version)


# float32 (3, 4): value(i, j) = 0.5 * (4 i + j) - 1  →  -1, -0.5, 0, 0.5, ..., 4.5
f4 = (np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5 - 1).astype(np.float32)
np.save(path("f4_v1.npy"), f4)
save_version("f4_v2.npy", f4, (2, 0))
save_version("f4_v3.npy", f4, (3, 0))
np.save(path("f4_be.npy"), f4.astype(">f4"))

# float64 (2, 3), including 0.1 (rounded to Float32 on read) and a value beyond Float precision.
np.save(path("f8.npy"), np.array([[1.5, -2.25, 0.1], [3e10, -0.0, 1024.0]], dtype=np.float64))
np.save(path("f8_be.npy"), np.array([[1.5, -2.25, 0.1], [3e10, -0.0, 1024.0]], dtype=">f8"))

# float16 (4,): exact halves, the largest half, and a subnormal 2^-24.
np.save(path("f2.npy"), np.array([0.5, -1.5, 65504.0, 2.0**-24], dtype=np.float16))

# Integer dtypes.
np.save(path("i8_labels.npy"), np.array([0, 1, 2, 1, 0, 2], dtype=np.int64))
np.save(path("i4_be.npy"), np.array([[-7, 300], [65536, -1]], dtype=">i4"))
np.save(path("i1.npy"), np.array([-128, 0, 127], dtype=np.int8))
np.save(path("i2.npy"), np.array([-32768, 5, 32767], dtype=np.int16))
np.save(path("u1.npy"), np.array([0, 1, 127, 128, 200, 255, 3, 4], dtype=np.uint8).reshape(2, 2, 2))
np.save(path("u2.npy"), np.array([0, 65535], dtype=np.uint16))
np.save(path("u4.npy"), np.array([0, 4000000000], dtype=np.uint32))
np.save(path("u8.npy"), np.array([0, 2**64 - 1], dtype=np.uint64))
np.save(path("bool.npy"), np.array([True, False, True], dtype=np.bool_))

# Labels stored as floats: integral (ok) and not (error).
np.save(path("labels_f4.npy"), np.array([2.0, 0.0, 1.0], dtype=np.float32))
np.save(path("labels_fraction.npy"), np.array([1.0, 0.5], dtype=np.float32))
np.save(path("labels_2d.npy"), np.zeros((2, 2), dtype=np.int64))

# Fortran order: (3, 4) and (2, 3, 4) with C-order values 0, 1, 2, ...
np.save(path("fortran_2d.npy"), np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)))
np.save(path("fortran_3d.npy"), np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4)))

# 0-d and empty arrays.
np.save(path("scalar.npy"), np.float32(3.5))
np.save(path("empty.npy"), np.zeros((0, 5), dtype=np.float32))

# Error cases.
np.save(path("object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
np.save(path("unicode.npy"), np.array(["a", "bc"]))
np.save(path("structured.npy"), np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
np.save(path("complex.npy"), np.array([1 + 2j], dtype=np.complex64))
with open(path("f4_v1.npy"), "rb") as f:
    whole = f.read()
with open(path("truncated.npy"), "wb") as f:
    f.write(whole[:-8])  # the last two floats are missing
with open(path("truncated_header.npy"), "wb") as f:
    f.write(whole[:40])
with open(path("bad_magic.npy"), "wb") as f:
    f.write(b"this is not a numpy file at all, just text\n")

# Archives: two members each, stored (savez) and deflated (savez_compressed), and a single-member one.
labels = np.array([3, 1, 4, 1, 5], dtype=np.int64)
np.savez(path("data.npz"), x=f4, y=labels)
np.savez_compressed(path("data_compressed.npz"), x=f4, y=labels)
np.savez(path("single.npz"), f4)  # key arr_0



def rewrite_as_zip64(source, target):
    """Copies a stored zip, but with a Zip64 central directory: every entry's sizes and local header offset are
    0xFFFFFFFF with the real values in a Zip64 extra field, and the end record points to a Zip64 end record."""
    with open(source, "rb") as f:
        data = f.read()
    eocd = data.rindex(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack("<HII", data[eocd + 10:eocd + 20])
    entries, cursor = [], cd_offset
    for _ in range(count):
        fixed = bytearray(data[cursor:cursor + 46])
        name_len, extra_len, comment_len = struct.unpack("<HHH", fixed[28:34])
        name = data[cursor + 46:cursor + 46 + name_len]
        comp, uncomp = struct.unpack("<II", fixed[20:28])
        local = struct.unpack("<I", fixed[42:46])[0]
        extra = struct.pack("<HHQQQ", 1, 24, uncomp, comp, local)
        fixed[20:28] = struct.pack("<II", 0xFFFFFFFF, 0xFFFFFFFF)
        fixed[42:46] = struct.pack("<I", 0xFFFFFFFF)
        fixed[30:32] = struct.pack("<H", len(extra))
        fixed[32:34] = struct.pack("<H", 0)
        entries.append(bytes(fixed) + name + extra)
        cursor += 46 + name_len + extra_len + comment_len
    directory = b"".join(entries)
    body = data[:cd_offset]
    zip64_record_offset = len(body) + len(directory)
    zip64_record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(directory), len(body))
    locator = struct.pack("<IIQI", 0x07064B50, 0, zip64_record_offset, 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(target, "wb") as f:
        f.write(body + directory + zip64_record + locator + end)
    with zipfile.ZipFile(target) as check:  # Python's zipfile must agree
        assert check.testzip() is None


rewrite_as_zip64(path("data.npz"), path("zip64.npz"))
assert (np.load(path("zip64.npz"))["x"] == f4).all()

# CSV.
with open(path("noheader.csv"), "w") as f:
    f.write("1,2.5,-3\n4,5e-1,6\n\n")  # blank trailing line
with open(path("header.csv"), "w", newline="") as f:
    f.write('a,"b",c\r\n0.25, 1 ,"2"\r\n-1,nan,1e3\r\n')
with open(path("ragged.csv"), "w") as f:
    f.write("x,y\n1,2\n3,4,5\n")
with open(path("badcell.csv"), "w") as f:
    f.write("1,2\n3,abc\n")
with open(path("blank_middle.csv"), "w") as f:
    f.write("1,2\n\n3,4\n")
with open(path("labels.csv"), "w") as f:
    f.write("label\n2\n0\n1\n")
with open(path("unknown.txt"), "w") as f:
    f.write("1,2\n")

total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
print(f"wrote {len(os.listdir(OUT))} fixtures, {total} bytes, to {os.path.normpath(OUT)}")
