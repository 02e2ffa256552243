#!/usr/bin/env python3
"""Archive settings by measurement: zstd level and long mode for go-ci-cache's entries.

@actions/cache compresses with `zstd -T0 --long=30` and no level flag, so zstd's default level
(3) applies unless ZSTD_CLEVEL is set in the environment of the step that saves. Compression
happens only in jobs that save (with `refresh`, default-branch runs that compiled or tested
something new); every job pays download and decompression. This measures, per setting, the
compressed size, compression time and decompression time of real entries (the tar inside each
given .tar.zst, e.g. a flow benchmark's store), and what a save and a restore then cost at the
modelled bandwidth.

Usage: bench/zstd_levels.py ARCHIVE.tar.zst... [--levels 1,2,3,6] [--repeat 3]
                            [--bandwidth-mbs 50] [--saves-per-restore 0.7] [--out PATH]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 2**20


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("archives", nargs="+")
    p.add_argument("--levels", default="1,2,3,6")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--bandwidth-mbs", type=float, default=50.0)
    p.add_argument("--saves-per-restore", type=float, default=0.7,
                   help="saving jobs per restoring job (from the flow benchmark's go-ci-cache rows)")
    p.add_argument("--out")
    a = p.parse_args()
    bw = a.bandwidth_mbs * 1e6
    settings = [(int(l), long) for l in a.levels.split(",") for long in (True, False)]
    rows = {s: dict(size=0, comp=[], decomp=[]) for s in settings}
    raw_total = 0
    with tempfile.TemporaryDirectory(prefix="zstd-levels-") as tmp:
        for arch in a.archives:
            tar = os.path.join(tmp, "entry.tar")
            subprocess.run(f"zstd -d -q --long=30 -c '{arch}' > '{tar}'", shell=True, check=True)
            raw_total += os.path.getsize(tar)
            for level, long in settings:
                flags = f"-T0 {'--long=30 ' if long else ''}"
                out = os.path.join(tmp, "x.zst")
                comp = [timed(f"ZSTD_CLEVEL={level} zstd {flags}-q --force -o '{out}' '{tar}'") for _ in range(a.repeat)]
                rows[(level, long)]["size"] += os.path.getsize(out)
                dec = [timed(f"zstd -d -q --long=30 -c '{out}' > /dev/null") for _ in range(a.repeat)]
                rows[(level, long)]["comp"].append(statistics.median(comp))
                rows[(level, long)]["decomp"].append(statistics.median(dec))
    n = len(a.archives)
    base = rows[(3, True)]
    lines = [f"# zstd settings for go-ci-cache's entries", "",
             f"{n} entries, {raw_total / MIB:.1f} MiB of tar in all; median of {a.repeat} per setting; "
             f"{a.bandwidth_mbs:g} MB/s; {a.saves_per_restore:g} saves per restore. Per entry on average:", "",
             "| level | long | size | compress | decompress | restore (download + decompress) | save (compress + upload) | per restoring job | vs default |",
             "|---|---|---|---|---|---|---|---|---|"]

    def cost(r):
        size = r["size"] / n
        comp, dec = sum(r["comp"]) / n, sum(r["decomp"]) / n
        restore, save = size / bw + dec, comp + size / bw
        return size, comp, dec, restore, save, restore + a.saves_per_restore * save

    b = cost(base)[-1]
    for (level, long), r in rows.items():
        size, comp, dec, restore, save, per = cost(r)
        lines.append(f"| {level}{' (default)' if level == 3 else ''} | {'yes' if long else 'no'} | {size / MIB:.1f} MiB | {comp:.2f} s | {dec:.2f} s | "
                     f"{restore:.2f} s | {save:.2f} s | {per:.2f} s | {per / b:.2f}× |")
    md = "\n".join(lines) + "\n"
    print(md)
    if a.out:
        open(a.out, "w").write(md)


if __name__ == "__main__":
    sys.exit(main())
