"""Writes PNG and JPEG test images and the pixels they must decode to, for ImageDecoderTests.

usage: make_image_cases.py OUTDIR [small]

PNGs are written by the small encoder below (every bit depth of every colour type, palettes with
and without tRNS, Adam7, all five filters, the data split over several IDAT chunks), plus a few
saved by Pillow. Their expected pixels are the arrays that were encoded, and each file is also
decoded by Pillow and checked against them here (Pillow keeps 16-bit gray; for other 16-bit
images it keeps the high byte, which is compared). JPEGs are saved by Pillow (libjpeg-turbo) at
several qualities, baseline and progressive, 4:4:4 / 4:2:2 / 4:2:0, gray, restart intervals,
optimised Huffman tables, Adobe RGB; their expected pixels are Pillow's own decoding.

OUTDIR gets the images, one .raw file of expected samples per image ([H, W, C], uint8, or
big-endian uint16 for 16-bit), and cases.json listing them. `small` writes fewer cases (the
committed fixture set).
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

out = sys.argv[1]
small = len(sys.argv) > 2 and sys.argv[2] == "small"
os.makedirs(out, exist_ok=True)
cases = []
rng = np.random.RandomState(1234)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind, row, prev, bpp):
    out = bytearray(len(row))
    for i in range(len(row)):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        predictor = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        out[i] = (row[i] - predictor) & 0xFF
    return bytes(out)


def pack_row(values, depth):
    """values: 1-D array of samples of one row (already interleaved)."""
    if depth == 16:
        return b"".join(struct.pack(">H", int(v)) for v in values)
    if depth == 8:
        return bytes(int(v) for v in values)
    per_byte = 8 // depth
    out = bytearray((len(values) * depth + 7) // 8)
    for i, v in enumerate(values):
        out[i // per_byte] |= int(v) << (8 - depth * (i % per_byte + 1))
    return bytes(out)


def encode_png(samples, depth, color_type, interlace, palette=None, trns=None, idat_piece=None, filter_offset=0):
    """samples: [H, W, C] integers (palette: indices, C = 1)."""
    h, w, c = samples.shape
    bpp = max(1, c * depth // 8)
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for index, (x0, y0, dx, dy) in enumerate(passes):
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        prev = bytes(len(pack_row(sub[0].reshape(-1), depth)))
        for r in range(sub.shape[0]):
            row = pack_row(sub[r].reshape(-1), depth)
            kind = (r + index + filter_offset) % 5
            raw.append(kind)
            raw += filter_row(kind, row, prev, bpp)
            prev = row
    data = zlib.compress(bytes(raw), 9)
    pieces = [data[i:i + idat_piece] for i in range(0, len(data), idat_piece)] if idat_piece else [data]
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, interlace))
    png += chunk(b"tEXt", b"Comment\x00made by make_image_cases.py")
    if palette is not None:
        png += chunk(b"PLTE", bytes(palette.reshape(-1).tolist()))
    if trns is not None:
        png += chunk(b"tRNS", bytes(trns))
    for piece in pieces:
        png += chunk(b"IDAT", piece)
    return png + chunk(b"IEND", b"")


def pillow_pixels(path):
    im = Image.open(path)
    im.load()
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    a = np.array(im)
    if im.mode == "1":
        a = a.astype(np.uint8) * 255
    if a.ndim == 2:
        a = a[:, :, None]
    return im.mode, a


def add(name, expected, kind, note, tolerance=0):
    path = os.path.join(out, name)
    raw = expected.astype(">u2").tobytes() if expected.dtype == np.uint16 else expected.astype(np.uint8).tobytes()
    with open(path + ".raw", "wb") as f:
        f.write(raw)
    h, w, c = expected.shape
    cases.append({"file": name, "width": w, "height": h, "channels": c, "depth": 16 if expected.dtype == np.uint16 else 8,
                  "kind": kind, "note": note, "tolerance": tolerance})


def png_case(w, h, depth, color_type, interlace, with_trns=False, idat_piece=None, filter_offset=0):
    maximum = (1 << depth) - 1
    palette = trns = None
    if color_type == 3:
        entries = min(1 << depth, 7 if depth > 1 else 2)
        samples = rng.randint(0, entries, size=(h, w, 1))
        palette = rng.randint(0, 256, size=(entries, 3))
        lookup = palette
        if with_trns:
            trns = rng.randint(0, 256, size=entries - 1).tolist()  # the last entry stays opaque
            alpha = np.array(trns + [255])[:, None]
            lookup = np.concatenate([palette, alpha], axis=1)
        expected = lookup[samples[:, :, 0]]
    else:
        channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
        samples = rng.randint(0, maximum + 1, size=(h, w, channels))
        # Some flat runs too, so that the filters see repeated bytes.
        samples[: h // 2, : w // 2] = samples[0, 0]
        expected = samples if depth >= 8 else samples * (255 // maximum)
    expected = expected.astype(np.uint16 if depth == 16 else np.uint8)
    name = f"png_c{color_type}_d{depth}_{w}x{h}{'_adam7' if interlace else ''}{'_trns' if with_trns else ''}{'_split' if idat_piece else ''}.png"
    png = encode_png(samples, depth, color_type, interlace, palette, trns, idat_piece, filter_offset)
    with open(os.path.join(out, name), "wb") as f:
        f.write(png)
    mode, theirs = pillow_pixels(os.path.join(out, name))
    mine = expected if depth < 16 or mode == "I;16" else (expected >> 8).astype(np.uint8)
    if color_type == 4 and depth == 16:
        mine = mine[:, :, [0, 0, 0, 1]]  # Pillow opens 16-bit gray + alpha as RGBA
    assert theirs.shape == mine.shape and (theirs.astype(np.int64) == mine.astype(np.int64)).all(), (name, mode, theirs.shape, mine.shape)
    add(name, expected, "png", f"colour type {color_type}, {depth}-bit, {'Adam7' if interlace else 'plain'}; Pillow agrees")


sizes = [(1, 1), (3, 7), (17, 5)] if small else [(1, 1), (3, 7), (17, 5), (8, 8), (33, 2), (2, 33), (13, 11)]
depths = {0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]}
for color_type, options in depths.items():
    for depth in options:
        for interlace in (0, 1):
            for index, (w, h) in enumerate(sizes):
                if small and (w, h) != sizes[(color_type + depth + interlace) % len(sizes)]:
                    continue
                png_case(w, h, depth, color_type, interlace, idat_piece=(7 if index % 2 else None), filter_offset=index)
            if color_type == 3:
                png_case(*(sizes[-1]), depth, color_type, interlace, with_trns=True, idat_piece=5)

# PNGs written by Pillow (zlib through Pillow's encoder, its own filter choice).
base = rng.randint(0, 256, size=(19, 23, 4)).astype(np.uint8)
base[:8] = np.linspace(0, 255, 23).astype(np.uint8)[None, :, None]
pillow_pngs = [("L", base[:, :, 0]), ("RGB", base[:, :, :3]), ("RGBA", base), ("LA", base[:, :, :2])]
if not small:
    pillow_pngs.append(("1", base[:, :, 0] > 127))
for mode, array in pillow_pngs:
    name = f"pillow_{mode}.png"
    source = Image.fromarray(array.astype(np.uint8) * (255 if mode == "1" else 1))
    (source if source.mode == mode else source.convert(mode)).save(os.path.join(out, name), optimize=True)
    add(name, pillow_pixels(os.path.join(out, name))[1], "png", f"saved by Pillow, mode {mode}")
palette_image = Image.fromarray(base[:, :, :3]).quantize(colors=37)
palette_image.save(os.path.join(out, "pillow_P.png"), transparency=3)
add("pillow_P.png", pillow_pixels(os.path.join(out, "pillow_P.png"))[1], "png", "saved by Pillow, palette with transparency")
gray16 = (rng.randint(0, 65536, size=(9, 14))).astype(np.uint16)
Image.fromarray(gray16).save(os.path.join(out, "pillow_I16.png"))
add("pillow_I16.png", pillow_pixels(os.path.join(out, "pillow_I16.png"))[1].astype(np.uint16), "png", "saved by Pillow, 16-bit gray")


def picture(w, h, channels, seed):
    """A smooth picture with edges and some noise: a fair test of every coefficient."""
    r = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        plane = 128 + 90 * np.sin(x / (3 + 2 * c) + y / 5.0) * np.cos(y / (4 + c))
        plane += np.where((x // 7 + y // 5 + c) % 2 == 0, 30, -30)
        plane += r.normal(0, 12, size=(h, w))
        planes.append(plane)
    return np.clip(np.stack(planes, axis=2), 0, 255).astype(np.uint8)


def jpeg_case(w, h, mode, note, **options):
    channels = 1 if mode == "L" else 3
    pixels = picture(w, h, channels, seed=w * 31 + h)
    im = Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels)
    tag = "_".join(f"{k}{v}" for k, v in sorted(options.items()))
    name = f"jpeg_{mode}_{w}x{h}_{tag}.jpg"
    im.save(os.path.join(out, name), "JPEG", **options)
    add(name, pillow_pixels(os.path.join(out, name))[1], "jpeg", note)


jpeg_sizes = [(1, 1), (3, 7), (17, 5), (16, 16), (33, 31), (64, 48), (97, 61), (2, 9), (4, 3)]
if small:
    jpeg_sizes = [(17, 5), (33, 31)]
qualities = [10, 50, 75, 95, 100] if not small else [75]
for index, (w, h) in enumerate(jpeg_sizes):
    for quality in qualities:
        for subsampling in (0, 1, 2):
            for progressive in (False, True):
                if small and (index + subsampling + progressive) % 2:
                    continue
                jpeg_case(w, h, "RGB", f"q{quality} subsampling {['4:4:4', '4:2:2', '4:2:0'][subsampling]} {'progressive' if progressive else 'baseline'}",
                          quality=quality, subsampling=subsampling, progressive=progressive)
        jpeg_case(w, h, "L", f"gray q{quality}", quality=quality)
        if small:
            break
    if not small:
        jpeg_case(w, h, "L", "gray progressive", quality=80, progressive=True)
        jpeg_case(w, h, "RGB", "optimised Huffman tables", quality=85, optimize=True, subsampling=2)
        jpeg_case(w, h, "RGB", "restart every block", quality=70, restart_marker_blocks=1, subsampling=2)
        jpeg_case(w, h, "RGB", "restart every 3 MCUs, progressive", quality=70, restart_marker_blocks=3, progressive=True, subsampling=1)
        jpeg_case(w, h, "L", "gray, restart every MCU row", quality=60, restart_marker_rows=1)
        jpeg_case(w, h, "RGB", "Adobe RGB (no YCbCr)", quality=90, keep_rgb=True, subsampling=0)
if small:
    jpeg_case(33, 31, "RGB", "restart every 2 MCUs, progressive", quality=70, restart_marker_blocks=2, progressive=True, subsampling=2)
    jpeg_case(33, 31, "L", "gray progressive", quality=80, progressive=True)

with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump(cases, f, indent=0)
print(f"wrote {len(cases)} cases")
