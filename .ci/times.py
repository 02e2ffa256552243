#!/usr/bin/env python3
"""Prints where a CI run's time went: the steps of .ci/run (STEPS file: name, start, end in
seconds) and the integration tests by module (TIMES file, written by the tests'
`GO_CI_CACHE_TEST_TIMES` guards: test name, start and end in milliseconds).

Usage: .ci/times.py STEPS TIMES
"""
import collections
import os
import sys


def main(steps_file, times_file):
    print("\n== where the time went")
    try:
        steps = [line.rstrip("\n").split("\t") for line in open(steps_file)]
    except OSError:
        steps = []
    total = 0
    for name, start, end in steps:
        d = int(end) - int(start)
        total += d
        print(f"{d:6d} s  {name}")
    print(f"{total:6d} s  in all")

    tests = {}
    try:
        for line in open(times_file):
            name, start, end = line.rstrip("\n").split("\t")
            s, e = int(start), int(end)
            a, b = tests.get(name, (s, e))
            tests[name] = (min(a, s), max(b, e))
    except OSError:
        return
    if not tests:
        return
    groups = collections.defaultdict(list)
    for name, (s, e) in tests.items():
        groups[name.split("::")[0]].append((e - s) / 1000)
    first = min(s for s, _ in tests.values())
    last = max(e for _, e in tests.values())
    threads = os.environ.get("RUST_TEST_THREADS") or os.cpu_count()
    print(f"\nintegration tests by module (test seconds; up to {threads} run at once; {(last - first) / 1000:.0f} s from the first to the last):")
    for group, ds in sorted(groups.items(), key=lambda kv: -sum(kv[1])):
        print(f"{sum(ds):7.0f} s  {group} ({len(ds)} tests, longest {max(ds):.0f} s)")
    print("\nthe slowest tests:")
    for name, (s, e) in sorted(tests.items(), key=lambda kv: kv[1][0] - kv[1][1])[:12]:
        print(f"{(e - s) / 1000:7.0f} s  {name}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
