#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Takes a kernel module and every module it needs out of the Debian .deb
that holds a kernel's modules (linux-image-ABI to 6.18, linux-modules-ABI
from 6.19: kernels.sh's kernel_layout), uncompressed, for the test VMs
(which have no modprobe, no modules.dep and no /lib/modules).

    kmods.py DEB MODULE OUTDIR

Writes OUTDIR/NAME.ko for each and OUTDIR/load-order, one file name a line,
in the order insmod must take them. The .deb ships no modules.dep (depmod
makes it at install time), so the needs come from each module's .modinfo:
depends= (hard), and softdep= "pre:" names, which are module names or
aliases (libcrc32c's "crc32c" is crc32c_generic's alias) resolved among the
crypto modules, the generic implementation first."""
import gzip
import lzma
import os
import re
import subprocess
import sys
import tempfile


def norm(name):
    return name.replace("-", "_")


# Where a module and what it may need live: net and lib (sctp's needs), the
# crypto API's implementations (for softdeps).
WHERE = ("*/kernel/net/*", "*/kernel/lib/*", "*/kernel/crypto/*", "*/kernel/arch/*/crypto/*")


def unpack(deb, tmp):
    """Unpacks those parts of the .deb under @tmp; returns the .ko paths."""
    deb_tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", tmp, "--wildcards", *WHERE], stdin=deb_tar.stdout,
                   check=True)
    if deb_tar.wait() != 0:
        raise SystemExit(f"kmods: dpkg-deb --fsys-tarfile {deb} failed")
    return [os.path.join(d, f) for d, _, files in os.walk(tmp) for f in files
            if re.search(r"\.ko(\.\w+)?$", f)]


def read_ko(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc"], input=data, capture_output=True,
                              check=True).stdout
    return data


def modinfo(ko, key):
    return [m.decode() for m in re.findall(rb"(?:^|\0)" + key.encode() + rb"=([^\0]*)", ko)]


def main():
    if len(sys.argv) != 4:
        raise SystemExit("usage: kmods.py DEB MODULE OUTDIR")
    deb, want, outdir = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        resolve(deb, want, outdir, unpack(deb, tmp))


def resolve(deb, want, outdir, members):
    by_name = {norm(re.sub(r"\.ko(\.\w+)?$", "", os.path.basename(p))): p for p in members}
    crypto = [p for p in members if "/kernel/crypto/" in p or re.search(r"/arch/[^/]+/crypto/", p)]
    cache = {}

    def load(name):
        if name not in cache:
            if name not in by_name:
                raise SystemExit(f"kmods: no module {name} in {deb}")
            cache[name] = read_ko(by_name[name])
        return cache[name]

    def by_alias(alias):
        # The generic (C) implementation first: it runs on any CPU.
        for path in sorted(crypto, key=lambda p: "/arch/" in p):
            name = norm(re.sub(r"\.ko(\.\w+)?$", "", os.path.basename(path)))
            if alias in modinfo(load(name), "alias"):
                return name
        raise SystemExit(f"kmods: no module has alias {alias}")

    order = []

    def visit(name, seen=()):
        if name in order:
            return
        if name in seen:
            raise SystemExit(f"kmods: dependency loop at {name}")
        ko = load(name)
        needs = [d for dep in modinfo(ko, "depends") for d in dep.split(",") if d]
        for soft in modinfo(ko, "softdep"):
            pre = soft.split("post:")[0].split("pre:")[1:] if "pre:" in soft else []
            for alias in " ".join(pre).split():
                needs.append(norm(alias) if norm(alias) in by_name else by_alias(alias))
        for dep in needs:
            visit(norm(dep), seen + (name,))
        order.append(name)

    visit(norm(want))
    os.makedirs(outdir, exist_ok=True)
    for name in order:
        with open(os.path.join(outdir, name + ".ko"), "wb") as f:
            f.write(cache[name])
    with open(os.path.join(outdir, "load-order"), "w") as f:
        f.write("".join(name + ".ko\n" for name in order))


if __name__ == "__main__":
    main()
