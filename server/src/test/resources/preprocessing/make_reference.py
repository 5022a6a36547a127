#!/usr/bin/python3
"""Writes the test images and the PIL/torchvision reference outputs of
ImageDecoderPreprocessingTest.

Run from this directory with Debian's Python (PIL 9.4, torch 1.13, torchvision 0.14):

    cd server/src/test/resources/preprocessing && /usr/bin/python3 make_reference.py

Everything is deterministic (fixed seeds, no timestamps), so a rerun rewrites identical files.
Each case in cases.tsv names an input image, the model input (channels, height, width), the
preprocessing object of model.json, and a file of expected values: little-endian float32 in CHW
order, in [0, 1] as torchvision's ToTensor gives them.
"""

import io
import json
import struct

import numpy as np
import torch
from PIL import Image, ImageCms
from torchvision import transforms
from torchvision.transforms import InterpolationMode

FILTERS = {
    "bilinear": (Image.Resampling.BILINEAR, InterpolationMode.BILINEAR),
    "bicubic": (Image.Resampling.BICUBIC, InterpolationMode.BICUBIC),
    "area": (Image.Resampling.BOX, InterpolationMode.BOX),
    "nearest": (Image.Resampling.NEAREST, InterpolationMode.NEAREST),
}


def test_pattern(width, height, seed, mode="RGB"):
    """Sharp edges (stripes, a disc, a checkerboard) plus uniform noise, so every filter differs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    r = np.where((x // 3) % 2 == 0, 230, 20)
    disc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 3) ** 2
    g = np.where(disc, 250, 10)
    b = np.where(((x // 5) + (y // 5)) % 2 == 0, 200, 40) * (x / width) + 55 * (y / height)
    rgb = np.stack([r, g, b], axis=-1).astype(np.float64)
    rgb += rng.uniform(-40, 40, size=rgb.shape)
    rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    return image if mode == "RGB" else image.convert(mode)


def s15_fixed16(value):
    return struct.pack(">i", int(round(value * 65536)))


def tag_xyz(xyz):
    return b"XYZ " + bytes(4) + b"".join(s15_fixed16(v) for v in xyz)


def tag_gamma(gamma):
    return b"curv" + bytes(4) + struct.pack(">IH", 1, int(round(gamma * 256))) + bytes(2)


def tag_description(text):
    ascii_text = text.encode("ascii") + b"\0"
    return (b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + bytes(67))


def tag_text(text):
    return b"text" + bytes(4) + text.encode("ascii") + b"\0"


def adobe_rgb_like_profile():
    """An ICC v2 matrix/TRC display profile with Adobe RGB (1998) primaries and gamma 563/256."""
    tags = [
        (b"desc", tag_description("Adobe RGB (1998)-like test profile")),
        (b"cprt", tag_text("No copyright, test data")),
        (b"wtpt", tag_xyz((0.9642, 1.0, 0.8249))),
        # Adobe RGB (1998) colorants, Bradford-adapted to D50 as in Adobe's profile.
        (b"rXYZ", tag_xyz((0.60974, 0.31111, 0.01947))),
        (b"gXYZ", tag_xyz((0.20528, 0.62567, 0.06087))),
        (b"bXYZ", tag_xyz((0.14919, 0.06322, 0.74457))),
        (b"rTRC", tag_gamma(563 / 256)),
        (b"gTRC", tag_gamma(563 / 256)),
        (b"bTRC", tag_gamma(563 / 256)),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table = struct.pack(">I", len(tags))
    data = b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = 128 + len(table) + len(data)
    header = (struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntr"
              + b"RGB " + b"XYZ " + bytes(12) + b"acsp" + bytes(4) + bytes(4) + bytes(4)
              + bytes(4) + bytes(8) + struct.pack(">I", 0)
              + s15_fixed16(0.9642) + s15_fixed16(1.0) + s15_fixed16(0.8249)
              + bytes(4) + bytes(16) + bytes(28))
    assert len(header) == 128
    return header + table + data


def to_chw(image):
    return transforms.ToTensor()(image).numpy().astype("<f4")


def write_expected(name, tensor):
    path = name + ".f32"
    np.ascontiguousarray(tensor, dtype="<f4").tofile(path)
    return path


def main():
    images = {
        "rgb-97x61.png": test_pattern(97, 61, seed=1),
        "rgb-256x170.png": test_pattern(256, 170, seed=2),
        "grey-83x120.png": test_pattern(83, 120, seed=3, mode="L"),
    }
    for file, image in images.items():
        image.save(file, optimize=False)

    cases = []

    def add(case, image_file, channels, height, width, preprocessing, expected):
        cases.append([case, image_file, channels, height, width, json.dumps(preprocessing),
                      write_expected(case, expected)])

    rgb97 = Image.open("rgb-97x61.png").convert("RGB")
    for name, (pil_filter, _) in FILTERS.items():
        # Stretch, shrinking both axes: PIL's Image.resize((w, h), filter).
        add(f"stretch-{name}-shrink", "rgb-97x61.png", 3, 24, 40,
            {"resize": name, "crop": "none"}, to_chw(rgb97.resize((40, 24), pil_filter)))
        # Stretch, enlarging both axes.
        add(f"stretch-{name}-enlarge", "rgb-97x61.png", 3, 66, 112,
            {"resize": name, "crop": "none"}, to_chw(rgb97.resize((112, 66), pil_filter)))

    for name, (_, mode) in FILTERS.items():
        # torchvision Resize(N) + CenterCrop((h, w)) on a landscape image.
        pipeline = transforms.Compose([
            transforms.Resize(48, interpolation=mode), transforms.CenterCrop((40, 44)),
            transforms.ToTensor()])
        rgb256 = Image.open("rgb-256x170.png").convert("RGB")
        add(f"centre-crop-{name}", "rgb-256x170.png", 3, 40, 44,
            {"resize": name, "resize_short_side": 48, "crop": "center"},
            pipeline(rgb256).numpy())

    # Enlarging by 3/2 puts box filter edges exactly on source pixel centres: PIL's BOX takes
    # the pixel at the right edge, not the one at the left.
    pipeline = transforms.Compose([
        transforms.Resize(255, interpolation=InterpolationMode.BOX),
        transforms.CenterCrop((40, 44)), transforms.ToTensor()])
    add("centre-crop-area-ties", "rgb-256x170.png", 3, 40, 44,
        {"resize": "area", "resize_short_side": 255, "crop": "center"},
        pipeline(Image.open("rgb-256x170.png").convert("RGB")).numpy())

    # Crop offsets of x.5, which Python rounds half to even: 97x61 -> 71x45, crop 40x44 from
    # top round(2.5) = 2 (not 3) and left round(13.5) = 14 (not 13).
    pipeline = transforms.Compose([
        transforms.Resize(45), transforms.CenterCrop((40, 44)), transforms.ToTensor()])
    add("centre-crop-half-offsets", "rgb-97x61.png", 3, 40, 44,
        {"resize": "bilinear", "resize_short_side": 45, "crop": "center"},
        pipeline(rgb97).numpy())

    # A portrait grey image (the short side is the width) for a one-channel model.
    grey = Image.open("grey-83x120.png")
    pipeline = transforms.Compose([
        transforms.Resize(36), transforms.CenterCrop(32), transforms.ToTensor()])
    add("centre-crop-grey-portrait", "grey-83x120.png", 1, 32, 32,
        {"resize": "bilinear", "resize_short_side": 36, "crop": "center"}, pipeline(grey).numpy())

    # A JPEG with an embedded non-sRGB (Adobe-RGB-like) profile, at model size (no resize).
    profile = adobe_rgb_like_profile()
    with open("adobe-rgb-like.icc", "wb") as f:
        f.write(profile)
    test_pattern(48, 32, seed=4).save("adobe-rgb-48x32.jpg", quality=95, subsampling=0,
                                      icc_profile=profile)
    jpeg = Image.open("adobe-rgb-48x32.jpg")
    assert jpeg.info.get("icc_profile") == profile
    add("icc-none", "adobe-rgb-48x32.jpg", 3, 32, 48,
        {"resize": "bilinear", "crop": "none", "color_management": "none"},
        to_chw(jpeg.convert("RGB")))
    srgb = ImageCms.profileToProfile(
        jpeg, ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"),
        renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB")
    add("icc-to-srgb", "adobe-rgb-48x32.jpg", 3, 32, 48,
        {"resize": "bilinear", "crop": "none", "color_management": "icc_to_srgb"},
        to_chw(srgb))

    # The same pixels as a PNG with the profile in an iCCP chunk (lossless, so "none" is exact).
    jpeg.convert("RGB").save("adobe-rgb-48x32.png", icc_profile=profile)
    png = Image.open("adobe-rgb-48x32.png")
    assert png.info.get("icc_profile") == profile
    add("icc-png-none", "adobe-rgb-48x32.png", 3, 32, 48,
        {"resize": "bilinear", "crop": "none", "color_management": "none"},
        to_chw(png.convert("RGB")))
    srgb = ImageCms.profileToProfile(
        png, ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"),
        renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB")
    add("icc-png-to-srgb", "adobe-rgb-48x32.png", 3, 32, 48,
        {"resize": "bilinear", "crop": "none", "color_management": "icc_to_srgb"},
        to_chw(srgb))

    with open("cases.tsv", "w") as f:
        f.write("# case\timage\tchannels\theight\twidth\tpreprocessing\texpected\n")
        for case in cases:
            f.write("\t".join(str(v) for v in case) + "\n")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
