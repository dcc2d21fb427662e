#!/usr/bin/env python3
"""The console's icons (src-tauri/icons/*.png): a plain mark drawn here, so no binary in
the repository is edited by hand. Standard library only.

usage: python3 scripts/make_icons.py
"""

import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src-tauri", "icons")


def png(size, path):
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            cx, cy = x - size / 2, y - size / 2
            inside = (cx * cx + cy * cy) < (size * 0.42) ** 2
            cross = abs(cx) < size * 0.08 or abs(cy) < size * 0.08
            if inside and not cross:
                row += bytes([37, 99, 235, 255])
            elif inside:
                row += bytes([255, 255, 255, 255])
            else:
                row += bytes([0, 0, 0, 0])
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for size, name in ((32, "32x32.png"), (128, "128x128.png"), (512, "icon.png")):
        png(size, os.path.join(OUT, name))
    print(f"icons written to {OUT}")
