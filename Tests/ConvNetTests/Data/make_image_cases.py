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

# Sampling factors Pillow cannot write (4:4:0, 4:1:1, 3:1, mixed chroma, gray with factors), by
# the small baseline encoder below; the expected pixels are still Pillow's decoding.
ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
          28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
          54, 47, 55, 62, 63]
LUMA_Q = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
          18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
CHROMA_Q = [17, 18, 24, 47] + [99] * 4 + [18, 21, 26, 66] + [99] * 4 + [24, 26, 56] + [99] * 5 + [47, 66] + [99] * 6 + [99] * 32
# Annex K.3 tables: (counts of lengths 1..16, symbols).
DC_LUMA = ([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], list(range(12)))
DC_CHROMA = ([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], list(range(12)))
AC_LUMA = ([0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D], bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a"
    "535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7"
    "c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa"))
AC_CHROMA = ([0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77], bytes.fromhex(
    "000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748"
    "494a535455565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3"
    "c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa"))


def huffman_codes(table):
    counts, symbols = table
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            codes[symbols[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


def encode_jpeg(pixels, factors, quality=75, restart=0):
    """A baseline JPEG of pixels [H, W, C] (C = 1 or 3, RGB) with sampling factors [(h, v), ...]."""
    h, w, channels = pixels.shape
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    tables = [np.clip((np.array(q) * scale + 50) // 100, 1, 255).astype(int) for q in (LUMA_Q, CHROMA_Q)]
    rgb = pixels.astype(np.float64)
    if channels == 3:
        r, g, b = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
        planes = [0.299 * r + 0.587 * g + 0.114 * b, -0.168736 * r - 0.331264 * g + 0.5 * b + 128, 0.5 * r - 0.418688 * g - 0.081312 * b + 128]
    else:
        planes = [rgb[:, :, 0]]
    hmax, vmax = max(f[0] for f in factors), max(f[1] for f in factors)
    mcu_x, mcu_y = -(-w // (8 * hmax)), -(-h // (8 * vmax))
    basis = np.array([[np.cos((2 * x + 1) * u * np.pi / 16) * (np.sqrt(0.5) if u == 0 else 1) for x in range(8)] for u in range(8)]) / 2
    blocks = []
    for index, (plane, (fh, fv)) in enumerate(zip(planes, factors)):
        sx, sy = hmax // fh, vmax // fv
        cw, ch = -(-w * fh // hmax), -(-h * fv // vmax)
        padded = np.pad(plane, ((0, ch * sy - h if ch * sy > h else 0), (0, cw * sx - w if cw * sx > w else 0)), mode="edge")
        small_plane = padded[: ch * sy, : cw * sx].reshape(ch, sy, cw, sx).mean(axis=(1, 3))
        if len(planes) == 1:
            bw, bh = -(-cw // 8), -(-ch // 8)
        else:
            bw, bh = mcu_x * fh, mcu_y * fv
        full = np.pad(small_plane, ((0, bh * 8 - ch), (0, bw * 8 - cw)), mode="edge") - 128
        q = tables[0 if index == 0 else 1]
        coefficients = np.zeros((bh, bw, 64), dtype=int)
        for by in range(bh):
            for bx in range(bw):
                block = basis @ full[by * 8:(by + 1) * 8, bx * 8:(bx + 1) * 8] @ basis.T
                coefficients[by, bx] = np.round(block.reshape(64) / q).astype(int)
        blocks.append(coefficients)
    huff = [(huffman_codes(DC_LUMA), huffman_codes(AC_LUMA)), (huffman_codes(DC_CHROMA), huffman_codes(AC_CHROMA))]
    bits = []

    def put(value, length):
        for i in range(length - 1, -1, -1):
            bits.append((value >> i) & 1)

    def category(value):
        return 0 if value == 0 else int(abs(value)).bit_length()

    def put_value(value, size):
        put(value if value >= 0 else value + (1 << size) - 1, size)

    data = bytearray()

    def flush(pad=True):
        while pad and len(bits) % 8:
            bits.append(1)
        for i in range(0, len(bits) - len(bits) % 8, 8):
            byte = int("".join(map(str, bits[i:i + 8])), 2)
            data.append(byte)
            if byte == 0xFF:
                data.append(0)
        del bits[: len(bits) - len(bits) % 8]

    predictions = [0] * len(planes)

    def code_block(coefficients, component):
        dc_codes, ac_codes = huff[0 if component == 0 else 1]
        zz = [coefficients[ZIGZAG[k]] for k in range(64)]
        diff = zz[0] - predictions[component]
        predictions[component] = zz[0]
        size = category(diff)
        put(*dc_codes[size])
        put_value(diff, size)
        run = 0
        for k in range(1, 64):
            if zz[k] == 0:
                run += 1
                continue
            while run > 15:
                put(*ac_codes[0xF0])
                run -= 16
            size = category(zz[k])
            put(*ac_codes[(run << 4) | size])
            put_value(zz[k], size)
            run = 0
        if run:
            put(*ac_codes[0x00])

    units = []
    if len(planes) == 1:
        bh, bw = blocks[0].shape[:2]
        units = [[(0, by, bx)] for by in range(bh) for bx in range(bw)]
    else:
        for my in range(mcu_y):
            for mx in range(mcu_x):
                units.append([(c, my * fv + v, mx * fh + u) for c, (fh, fv) in enumerate(factors) for v in range(fv) for u in range(fh)])
    for number, unit in enumerate(units):
        if restart and number and number % restart == 0:
            flush()
            data.extend([0xFF, 0xD0 + (number // restart - 1) % 8])
            predictions = [0] * len(planes)
        for component, by, bx in unit:
            code_block(blocks[component][by, bx], component)
    flush()

    def segment(marker, body):
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    out_bytes = b"\xff\xd8" + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    for index, q in enumerate(tables[: 1 if channels == 1 else 2]):
        out_bytes += segment(0xDB, bytes([index]) + bytes(int(q[ZIGZAG[k]]) for k in range(64)))
    out_bytes += segment(0xC0, struct.pack(">BHHB", 8, h, w, len(planes))
                         + b"".join(bytes([c + 1, (fh << 4) | fv, 0 if c == 0 else 1]) for c, (fh, fv) in enumerate(factors)))
    for cls, index, table in [(0, 0, DC_LUMA), (1, 0, AC_LUMA), (0, 1, DC_CHROMA), (1, 1, AC_CHROMA)][: 2 if channels == 1 else 4]:
        out_bytes += segment(0xC4, bytes([(cls << 4) | index]) + bytes(table[0]) + bytes(table[1]))
    if restart:
        out_bytes += segment(0xDD, struct.pack(">H", restart))
    out_bytes += segment(0xDA, bytes([len(planes)]) + b"".join(bytes([c + 1, 0 if c == 0 else 0x11]) for c in range(len(planes))) + b"\x00\x3f\x00")
    return out_bytes + bytes(data) + b"\xff\xd9"


sampling_cases = [
    ("440", [(1, 2), (1, 1), (1, 1)]), ("411", [(4, 1), (1, 1), (1, 1)]), ("410", [(4, 2), (1, 1), (1, 1)]),
    ("mixed", [(2, 2), (2, 1), (1, 2)]), ("all1x2", [(1, 2), (1, 2), (1, 2)]), ("31", [(3, 1), (1, 1), (1, 1)]),
    ("422v", [(2, 2), (1, 2), (1, 2)]), ("gray2x2", [(2, 2)]),
]
sampling_sizes = [(33, 31), (2, 9)] if small else [(1, 1), (2, 9), (17, 5), (33, 31), (40, 21), (5, 2)]
for label, factors in sampling_cases:
    for w, h in sampling_sizes:
        if small and label in ("all1x2", "31", "410"):
            continue
        channels = len(factors)
        pixels = picture(w, h, channels, seed=w + 7 * h)
        name = f"jpeg_sampling{label}_{w}x{h}.jpg"
        with open(os.path.join(out, name), "wb") as f:
            f.write(encode_jpeg(pixels, factors, quality=80, restart=(2 if (w + h) % 2 else 0)))
        mode, theirs = pillow_pixels(os.path.join(out, name))
        assert theirs.shape == (h, w, channels), (name, theirs.shape)
        add(name, theirs, "jpeg", f"sampling factors {factors}, made by make_image_cases.py's encoder")

with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump(cases, f, indent=0)
print(f"wrote {len(cases)} cases")
