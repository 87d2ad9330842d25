"""cut.py -- makes tests/data/quant/<type>.bin from ggml's vectors in ../shared/golden/quant/ (layout:
that folder's README.md): the same file format, keeping only the cases of the smallest row length
(32 for 32-block types, 256 for the 256-block ones; all 8 kinds, all rows), so the tests stay small.
    python3 tests/data/quant/cut.py /work/shared/golden/quant tests/data/quant"""
import os
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    if not name.endswith(".bin"):
        continue
    b = open(os.path.join(src, name), "rb").read()
    assert b[:8] == b"MOEEQV1\0"
    _t, bs, ts, _vt, vbs, vts, ncase, _r = struct.unpack_from("<8I", b, 8)
    off, kept = 64, []
    for _ in range(ncase):
        _kind, n, nr, _adiff = struct.unpack_from("<4I", b, off)
        size = 48 + 4 * n * nr + n // bs * ts * nr + 4 * n * nr + 4 * n + n // vbs * vts + 4 * nr + 8 * nr
        if n == bs or n == 32:
            kept.append(b[off:off + size])
        off += size
    assert off == len(b)
    hdr = bytearray(b[:64])
    struct.pack_into("<I", hdr, 32, len(kept))
    open(os.path.join(dst, name), "wb").write(bytes(hdr) + b"".join(kept))
