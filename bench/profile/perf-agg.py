#!/usr/bin/env python3
"""Summarise `perf script` output of a .NET process (run with DOTNET_PerfMapEnabled=1 and
DOTNET_EnableWriteXorExecute=0 so JIT frames have names): self and inclusive share per function,
and self share per library. Usage: perf script -i perf.data | perf-agg.py [--top N] [--match TEXT]"""
import re
import sys
from collections import Counter

top = 40
match = None
args = sys.argv[1:]
while args:
    a = args.pop(0)
    if a == "--top":
        top = int(args.pop(0))
    elif a == "--match":
        match = args.pop(0)

def short(sym: str) -> str:
    sym = re.sub(r"\[(OptimizedTier1|Optimized|InstrumentedTierOptimized|InstrumentedTier|Tier0|Tier1|QuickJitted|PreJIT|OptimizedTier1OSR)\]$", "", sym)
    sym = re.sub(r"^(instance |static )?(void|bool|int32|int64|class \S+|valuetype \S+|!!?\d+|\S+) \[", "[", sym)
    sym = re.sub(r"\(.*\)$", "", sym)
    return sym[:160]

samples = []
stack = []
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        if stack:
            samples.append(stack)
        stack = []
        continue
    if line[0] not in " \t":
        continue  # sample header
    m = re.match(r"\s+[0-9a-f]+\s+(.*)\s+\((.*)\)$", line)
    if m:
        sym, dso = m.group(1).strip(), m.group(2)
        sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
        stack.append((short(sym), dso.split("/")[-1]))
if stack:
    samples.append(stack)

n = len(samples)
if match:
    samples = [s for s in samples if any(match in f for f, _ in s)]
    print(f"{len(samples)} of {n} samples ({100*len(samples)/n:.1f} %) have a frame matching '{match}'")
selfc, incl, dsos = Counter(), Counter(), Counter()
for s in samples:
    selfc[s[0][0]] += 1
    dsos[s[0][1]] += 1
    for f in set(f for f, _ in s):
        incl[f] += 1
print(f"{n} samples")
print("\n== self, by library ==")
for d, c in dsos.most_common(12):
    print(f"{100*c/n:6.1f} %  {d}")
print("\n== self, by function ==")
for f, c in selfc.most_common(top):
    print(f"{100*c/n:6.1f} %  {f}")
print("\n== inclusive, by function ==")
for f, c in incl.most_common(top * 2):
    print(f"{100*c/n:6.1f} %  {f}")
