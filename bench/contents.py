#!/usr/bin/env python3
"""What the restored cache entries hold, and what extracting them costs.

Reads cache archives as the flow benchmark stores them (tar + zstd, absolute paths; a
`--work DIR` of bench/flow.py keeps them under stores/<strategy>/) or plain directories, and
reports, per archive:

- GOCACHE: action records and outputs, the outputs by kind (compiled package archives, Go's
  module index, test logs and other text, anything else), count and bytes;
- GOMODCACHE: module trees by file type (non-test .go, _test.go, files under testdata/, other
  files), plus cache/download by suffix (.zip, .mod, .info, .ziphash, …);
- extraction: the archive's own extraction time, and a sweep of generated archives with the
  same bytes spread over more or fewer files, so the per-file and per-byte cost of `tar -x`
  can be read off (a least-squares fit of time = a + b·files at the same bytes).

Usage:
  python3 bench/contents.py ARCHIVE_OR_DIR... [--out bench/results/<dir>/contents.md]
      [--sweep 1000,5000,20000,50000]
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time

MIB = 1024 * 1024


def extract(archive, dest):
    """Extracts a tar+zstd archive with absolute member paths under dest; returns seconds."""
    os.makedirs(dest, exist_ok=True)
    t = time.perf_counter()
    subprocess.run(f"zstd -d -q --long=30 -c '{archive}' | tar -xf - -C '{dest}'", shell=True,
                   check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def find_roots(top):
    """The GOCACHE (a dir with README and 00..ff) and GOMODCACHE (has cache/download) roots."""
    gocache = gomodcache = None
    for d, dirs, files in os.walk(top):
        if "README" in files and "00" in dirs and "ff" in dirs:
            gocache = d
            dirs[:] = []
        elif os.path.isdir(os.path.join(d, "cache", "download")) and d.endswith(os.path.join("pkg", "mod")):
            gomodcache = d
            dirs[:] = []
    return gocache, gomodcache


def output_kind(path):
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"!<arch>\n"):
        return "compiled package archives"
    if head.startswith(b"go index v"):
        return "module index (go index)"
    if not head:
        return "empty outputs"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "text (test logs, vet output, lists)"
    return "other outputs (vet facts, cgo, link)"


def gocache_contents(root):
    kinds = collections.defaultdict(lambda: [0, 0])
    for sub in sorted(os.listdir(root)):
        d = os.path.join(root, sub)
        if len(sub) != 2 or not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if not os.path.isfile(p):
                continue
            size = os.path.getsize(p)
            k = "action records (-a)" if name.endswith("-a") else output_kind(p)
            kinds[k][0] += 1
            kinds[k][1] += size
    return kinds


def gomodcache_contents(root):
    kinds = collections.defaultdict(lambda: [0, 0])
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        for name in files:
            p = os.path.join(d, name)
            if os.path.islink(p):
                continue
            size = os.path.getsize(p)
            if rel == "cache" or rel.startswith("cache" + os.sep):
                ext = os.path.splitext(name)[1] or name
                k = f"cache/download {ext}" if rel.startswith(os.path.join("cache", "download")) else "cache (other)"
            elif f"{os.sep}testdata{os.sep}" in f"{os.sep}{rel}{os.sep}":
                k = "module trees: testdata/"
            elif name.endswith("_test.go"):
                k = "module trees: _test.go"
            elif name.endswith(".go"):
                k = "module trees: .go (non-test)"
            else:
                k = "module trees: other files"
            kinds[k][0] += 1
            kinds[k][1] += size
    return kinds


def table(title, kinds):
    total_n = sum(v[0] for v in kinds.values())
    total_b = sum(v[1] for v in kinds.values())
    out = [f"**{title}**: {total_n} files, {total_b / MIB:.1f} MiB", "", "| kind | files | MiB | share of bytes |", "|---|---|---|---|"]
    for k, (n, b) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
        out.append(f"| {k} | {n} | {b / MIB:.1f} | {100 * b / total_b if total_b else 0:.0f}% |")
    return out


def sweep(total_bytes, counts, work):
    """Times extraction of archives holding total_bytes spread over each file count."""
    rows = []
    for n in counts:
        src = os.path.join(work, f"src-{n}")
        os.makedirs(src)
        per = max(1, total_bytes // n)
        block = os.urandom(min(per, 1 << 20))
        for i in range(n):
            d = os.path.join(src, f"{i % 256:02x}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"f{i}"), "wb") as f:
                left = per
                while left > 0:
                    f.write(block[:left])
                    left -= len(block)
        archive = os.path.join(work, f"a-{n}.tar.zst")
        subprocess.run(f"tar -cf - -C '{src}' . | zstd -q -T0 --long=30 -3 -o '{archive}'", shell=True, check=True)
        shutil.rmtree(src)
        times = []
        for _ in range(3):
            dest = os.path.join(work, f"x-{n}")
            t = extract(archive, dest)
            times.append(t)
            shutil.rmtree(dest)
        rows.append((n, per * n / MIB, sorted(times)[1]))
        os.remove(archive)
    return rows


def fit(rows):
    """Least squares for time = a + b·files over the sweep (the bytes are the same in every
    row, so `a` is the cost of the bytes and `b` the cost of one more file). Pure."""
    n = len(rows)
    xs = [r[0] for r in rows]
    ys = [r[2] for r in rows]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="cache archives (.tar.zst) or directories")
    p.add_argument("--out", help="write the markdown report here too")
    p.add_argument("--sweep", default="1000,5000,20000,50000", help="file counts for the extraction sweep ('' for none)")
    a = p.parse_args()
    out = ["# What the restored entries hold", "",
           f"Command: `python3 bench/contents.py {' '.join(os.path.basename(i) for i in a.inputs)}`", ""]
    work = tempfile.mkdtemp(prefix="gcc-contents-")
    try:
        sizes = []
        for inp in a.inputs:
            name = os.path.basename(inp.rstrip("/"))
            if os.path.isfile(inp):
                dest = os.path.join(work, "x")
                secs = extract(inp, dest)
                top = dest
                out += [f"## {name}", "", f"Archive {os.path.getsize(inp) / MIB:.1f} MiB; extracted in {secs:.2f} s.", ""]
            else:
                top, dest = inp, None
                out += [f"## {name}", ""]
            gocache, gomodcache = find_roots(top)
            for title, root, fn in (("GOCACHE", gocache, gocache_contents), ("GOMODCACHE", gomodcache, gomodcache_contents)):
                if root:
                    kinds = fn(root)
                    sizes.append(sum(v[1] for v in kinds.values()))
                    out += table(title, kinds) + [""]
            if dest:
                subprocess.run(["chmod", "-R", "u+w", dest], check=False)
                shutil.rmtree(dest)
        counts = [int(c) for c in a.sweep.split(",") if c.strip()]
        if counts:
            total = max(sizes) if sizes else 64 * MIB
            rows = sweep(total, counts, work)
            out += ["## Extraction time against the number of files", "",
                    f"The same {total / MIB:.0f} MiB spread over more or fewer files (random bytes, tar + zstd -3 --long=30, median of 3).", "",
                    "| files | MiB | extract s |", "|---|---|---|"]
            out += [f"| {n} | {mib:.0f} | {t:.2f} |" for n, mib, t in rows]
            f = fit(rows) if len(rows) >= 3 else None
            if f:
                out += ["", f"Fit: extraction ≈ {f[0]:.2f} s for the bytes + {f[1] * 1e6:.0f} µs per file."]
    finally:
        subprocess.run(["chmod", "-R", "u+w", work], check=False)
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(out) + "\n"
    print(text)
    if a.out:
        os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    sys.exit(main())
