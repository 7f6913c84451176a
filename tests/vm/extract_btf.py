#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Writes the BTF of a kernel image (what its /sys/kernel/btf/vmlinux holds)
to a raw BTF file, for `bpftool gen min_core_btf` on the host: the --btf
tests in the VMs need a BTF file made for the kernel they boot.

    extract_btf.py VMLINUZ OUT

VMLINUZ: an x86 bzImage (its compressed payload is found through the boot
protocol header) or an arm64 Image, raw or gzip-compressed. The kernel
keeps its BTF as one blob between __start_BTF and __stop_BTF: it is found
by its header (magic 0xeB9F, version 1, 24-byte header) and checked."""
import gzip
import io
import lzma
import struct
import subprocess
import sys

BTF_HEAD = struct.pack("<HBBI", 0xEB9F, 1, 0, 24)


def decompress(data):
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMADecompressor().decompress(data)
    if data[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=io.BytesIO(data)).read()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        # The kernel's payload ends in the 4-byte decompressed size.
        return subprocess.run(["zstd", "-dc"], input=data[:-4], capture_output=True,
                              check=True).stdout
    if data[:2] == b"\x5d\x00":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)
    raise SystemExit(f"extract_btf: unknown compression (magic {data[:6].hex()})")


def kernel_image(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[0x202:0x206] == b"HdrS":
        # x86 boot protocol: the payload sits after the setup sectors.
        setup_sects = data[0x1f1] or 4
        offset, length = struct.unpack_from("<II", data, 0x248)
        start = (setup_sects + 1) * 512 + offset
        return decompress(data[start:start + length])
    if data[:2] == b"\x1f\x8b":
        return decompress(data)
    return data


def find_btf(image):
    best = None
    at = image.find(BTF_HEAD)
    while at >= 0:
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", image, at + 8)
        size = 24 + str_off + str_len
        if (type_off == 0 and str_off == type_len and 0 < str_len and
                at + size <= len(image) and image[at + 24 + str_off] == 0 and
                (best is None or size > best[1])):
            best = (at, size)
        at = image.find(BTF_HEAD, at + 1)
    if best is None:
        raise SystemExit("extract_btf: no BTF in the kernel image")
    return image[best[0]:best[0] + best[1]]


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: extract_btf.py VMLINUZ OUT")
    btf = find_btf(kernel_image(sys.argv[1]))
    with open(sys.argv[2], "wb") as f:
        f.write(btf)


if __name__ == "__main__":
    main()
