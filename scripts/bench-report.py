#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench-report.py: the tables of one kernel's benchmark run.

   bench-report.py --kernel KVER --date DATE [--seconds S] DIR

DIR holds fio/KEY.N.json (raw fio output) and vm.log (the VM's TAP output
with its "# BENCH key value" lines). Every figure is the median of its
repeats; every ratio is taken against a baseline measured in the same boot.
Prints markdown.
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys
from math import comb


def fio_figures(d):
    """KEY -> list of (iops, MiB/s, I/Os), one per repeat, in repeat order."""
    out = {}
    paths = glob.glob(os.path.join(d, "fio", "*.json"))
    for path in sorted(paths, key=lambda p: int(p.rsplit(".", 2)[1])):
        key = os.path.basename(path).rsplit(".", 2)[0]
        with open(path) as f:
            text = f.read()
        # fio may print notes before the JSON object.
        job = json.loads(text[text.index("{"):])["jobs"][0]
        side = job["write"] if "write" in job["job options"]["rw"] else job["read"]
        out.setdefault(key, []).append((side["iops"], side["bw_bytes"] / 2**20,
                                        side["total_ios"]))
    return out


# The metadata device's figures (tests/bench/meta.sh): their fio files and
# "# BENCH" keys start so.
META_KEYS = ("pmeta-", "fo-", "ckm-", "meta.")


def log_lines(path):
    """KEY -> value text, from the "# BENCH key value" lines of PATH."""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^# BENCH (\S+) (.*)$", line.rstrip("\n"))
            if m:
                out[m.group(1)] = m.group(2)
    return out


def bench_lines(d):
    """KEY -> value text, from vm.log; the metadata device's figures from
    vm-meta.log instead when its rows were run alone (BENCH_ONLY=meta)."""
    out = {}
    if os.path.exists(os.path.join(d, "vm.log")):
        out = log_lines(os.path.join(d, "vm.log"))
    meta = os.path.join(d, "vm-meta.log")
    if os.path.exists(meta):
        out = {k: v for k, v in out.items() if not k.startswith(META_KEYS)}
        out.update(log_lines(meta))
    return out


def meta_boot(d):
    """(date, seconds) of a boot that ran the metadata rows alone, or None."""
    path = os.path.join(d, "vm-meta.log")
    if not os.path.exists(path):
        return None
    with open(path, errors="replace") as f:
        text = f.read()
    day = re.findall(r"^# BENCH-DATE (\S+)", text, re.M)
    secs = re.findall(r"^# vm-[^:]*: VM ran (\d+)s$", text, re.M)
    return (day[-1] if day else "?", secs[-1] if secs else "?")


class Report:
    def __init__(self, fio, lines):
        self.fio = fio
        self.lines = lines
        self.targets = []

    def fio_med(self, key):
        runs = self.fio.get(key)
        if not runs:
            return None
        iops = statistics.median(r[0] for r in runs)
        mibs = statistics.median(r[1] for r in runs)
        return iops if not key.endswith((".read", ".write")) else mibs

    def rate_med(self, key):
        vals = [float(v) for k, v in self.lines.items()
                if re.fullmatch(re.escape(key) + r"\.\d+", k)]
        return statistics.median(vals) if vals else None

    def ckpt(self, key):
        text = self.lines.get(key)
        if not text:
            return None
        words = text.split()
        return {words[i]: float(words[i + 1]) for i in range(0, len(words) - 1, 2)}

    def target(self, what, value, goal, higher=True, unit="", digits=2):
        if value is None:
            met = "not measured"
        else:
            met = "met" if (value >= goal if higher else value < goal) else "**missed**"
        shown = "-" if value is None else f"{value:.{digits}f}{unit}"
        self.targets.append((what, f"{'>=' if higher else '<'} {goal}{unit}", shown, met))


def fmt(v, unit=""):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.0f}{unit}"
    return f"{v:.1f}{unit}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def rfmt(r):
    return "-" if r is None else f"{r:.2f}"


# ---- the metadata device (tests/bench/meta.sh) ------------------------------
# Interleaved rounds: each round ran every variant once, so a variant's
# figure of round N is paired with the figure without metadata of round N.

def fio_rounds(d, key):
    """Round N -> IOPS (4 KiB random) or MiB/s (1 MiB sequential) of KEY."""
    out = {}
    for path in glob.glob(os.path.join(d, "fio", key + ".*.json")):
        n = path.rsplit(".", 2)[1]
        if not n.isdigit():
            continue
        with open(path) as f:
            text = f.read()
        job = json.loads(text[text.index("{"):])["jobs"][0]
        side = job["write"]
        out[int(n)] = side["iops"] if key.endswith(".randwrite") else side["bw_bytes"] / 2**20
    return out


def line_rounds(lines, key):
    """Round N -> the words of the "# BENCH KEY.N ..." line."""
    out = {}
    for k, v in lines.items():
        m = re.fullmatch(re.escape(key) + r"\.(\d+)", k)
        if m:
            out[int(m.group(1))] = v.split()
    return out


def pairs_of(words):
    return {words[i]: words[i + 1] for i in range(0, len(words) - 1, 2)}


def spread(vals, f=fmt):
    """median (min-max) of VALS."""
    if not vals:
        return "-"
    return f"{f(statistics.median(vals))} ({f(min(vals))}\u2013{f(max(vals))})"


def sign_bound(rs, alpha=1 / 16):
    """A lower bound of the median of the paired ratios rs: their k-th
    smallest, with k the largest for which the sign test puts the median
    below it with probability at most alpha (1/16: the smallest of 4 rounds,
    the 2nd smallest of 8, the 3rd of 10). Returns (bound, k)."""
    n, k, below = len(rs), 0, 0.0
    if not n:
        return None, 0
    # P(at most k of n ratios fall below the median) = sum C(n, i) / 2^n
    while k < n:
        p = below + comb(n, k) / 2 ** n
        if p > alpha + 1e-12:
            break
        below, k = p, k + 1
    return sorted(rs)[max(k, 1) - 1], max(k, 1)


def paired(a, b):
    """The ratios b[n] / a[n] of the rounds both have."""
    return [b[n] / a[n] for n in sorted(a) if n in b and a[n]]


def us(v):
    if v is None:
        return "-"
    if v < 0:
        return "\u2212" + us(-v)
    if v < 1000:
        return f"{v:.0f} us"
    if v < 10000:
        return f"{v / 1000:.2f} ms"
    return f"{v / 1000:.1f} ms"


def meta_section(r, d, p):
    none_w = fio_rounds(d, "pmeta-none1.randwrite")
    if not none_w:
        return
    rounds = len(none_w)
    secs = r.lines.get("meta.seconds")
    p("## Metadata device: primary-mode writes, with and without")
    p()
    boot = meta_boot(d)
    if boot:
        p(f"The metadata device's rows come from a boot of their own "
          f"(`BENCH_ONLY=meta scripts/bench.sh`) on {boot[0]}, the VM ran "
          f"{boot[1]} s; each has its baselines measured in that boot.")
        p()
    p(f"{rounds} interleaved rounds: each round made a new device without "
      "metadata and a new device with fresh metadata, in an order that "
      "alternates from round to round, and ran the job twice on each. With "
      "metadata the first run is cold (each region's first write waits for "
      "its mark) and the second warm (every region marked by the first: the "
      "steady state, on which the targets are claimed); each is paired with "
      "the same run of the same round without metadata. 4 KiB regions: one "
      "chunk a region, so that nearly every write of the run is the first "
      "to its region (the cost of a mark), a new device in the first rounds "
      "only, paired with the first run without metadata. Figures: median "
      "(smallest\u2013largest) of the rounds; ratios: each round's figure over "
      "its twin's; the lower bound, on which a target is claimed, is the "
      "k-th smallest of them, k the largest for which a sign test puts the "
      "true median ratio below it with probability at most 1/16 (the "
      "smallest of 4 rounds, the second smallest of 8; "
      f"k = {sign_bound([1.0] * rounds)[1]} here). The primary rows' fio jobs "
      "(4 KiB chunks, 256 MiB brd base, QD 16 / QD 4), run apart from them. "
      "The metadata device is a memory-backed null_blk disk with a volatile "
      "write cache (its flushes are real requests), zeroed before each new "
      "device. Metadata I/O: the data writes and flushes it completed during "
      "the run (median of the rounds; its stat counts an empty flush as a "
      "write too, which is taken off).")
    p()
    p("| workload | run | without metadata | with metadata | / without: median | "
      "lower bound | metadata data writes / flushes per run | regions marked after |")
    p("|---|---|---:|---:|---:|---:|---:|---:|")
    runs = (("none1", "cold", "first: cold, 4 MiB regions"),
            ("none2", "warm", "second: warm, 4 MiB regions"),
            ("none1", "cold4k", "first: cold, 4 KiB regions"))
    lows = {}
    for w, wname in (("randwrite", "4 KiB random write (IOPS)"),
                     ("write", "1 MiB sequential write (MiB/s)")):
        for twin, v, name in runs:
            base = fio_rounds(d, f"pmeta-{twin}.{w}")
            vals = fio_rounds(d, f"pmeta-{v}.{w}")
            if not vals:
                continue
            base = {n: x for n, x in base.items() if n in vals}
            mio = line_rounds(r.lines, f"pmeta-{v}.{w}.mio")
            # A disk's stat counts an empty flush as a write too.
            wr = [int(x[0]) - int(x[1]) for x in mio.values()]
            fl = [int(x[1]) for x in mio.values()]
            marked = [mio[n][2] for n in sorted(mio)]
            io = (f"{statistics.median(wr):,.0f} / {statistics.median(fl):,.0f}"
                  if wr else "-")
            rs = paired(base, vals)
            low, kth = sign_bound(rs)
            lows[(w, v)] = low
            p(f"| {wname} | {name} | {spread(list(base.values()))} | "
              f"{spread(list(vals.values()))} | "
              f"{rfmt(statistics.median(rs) if rs else None)} | "
              f"{rfmt(low)} | {io} | "
              f"{marked[-1] if marked else '-'} |")
    p()
    twins = []
    for w in ("randwrite", "write"):
        rs = paired(fio_rounds(d, f"pmeta-none1.{w}"), fio_rounds(d, f"pmeta-none2.{w}"))
        if rs:
            twins.append(f"{w} {rfmt(statistics.median(rs))} "
                         f"({rfmt(min(rs))}\u2013{rfmt(max(rs))})")
    if twins:
        p("Without metadata, the second run over the first on the same device "
          "(the noise and the first-run effect the pairs cancel): " +
          ", ".join(twins) + ".")
        p()
    r.target("primary randwrite with metadata, warm / without (paired lower bound)",
             lows.get(("randwrite", "warm")), 0.9, digits=3)
    r.target("primary randwrite with metadata, cold / without (paired lower bound)",
             lows.get(("randwrite", "cold")), 0.9, digits=3)
    r.target("primary write with metadata, warm / without (paired lower bound)",
             lows.get(("write", "warm")), 0.95, digits=3)
    r.target("primary write with metadata, cold / without (paired lower bound)",
             lows.get(("write", "cold")), 0.95, digits=3)

    p("## Metadata device: failover latency (4 KiB chunks, 16 GiB dm-zero legs)")
    p()
    p("The `failover` ioctl alone (colo-ckpt --failover), after the overlay's "
      "chunks were written (active). Interleaved rounds with and without the "
      "metadata device (null_blk, as above). Latency: median (smallest\u2013largest) "
      "of the rounds; added: the paired difference with \u2212 without, median "
      "(largest). Metadata I/O: the data writes and flushes the disk completed "
      "from just before the ioctl to just after it returned (median), which "
      "can include metadata writes the failover starts in the background.")
    p()
    p("| overlay chunks | rounds | without metadata | with metadata | added: median | "
      "added: largest | metadata data writes / flushes |")
    p("|---:|---:|---:|---:|---:|---:|---:|")
    worst = {}
    base5 = []
    for dirty in (1000, 100000, 1000000):
        a = {n: float(pairs_of(w)["median_us"])
             for n, w in line_rounds(r.lines, f"fo-none.dirty{dirty}").items()}
        bw = line_rounds(r.lines, f"fo-meta.dirty{dirty}")
        b = {n: float(pairs_of(w)["median_us"]) for n, w in bw.items()}
        if not a and not b:
            continue
        diff = [b[n] - a[n] for n in sorted(a) if n in b]
        io = [pairs_of(w) for w in bw.values()]
        wr = (statistics.median(int(x["stat_writes"]) - int(x["stat_flushes"])
                                for x in io) if io else None)
        fl = statistics.median(int(x["stat_flushes"]) for x in io) if io else None
        worst[dirty] = max(b.values()) if b else None
        if dirty == 100000:
            base5 = list(a.values())
        p(f"| {dirty:,} | {max(len(a), len(b))} | {spread(list(a.values()), us)} | "
          f"{spread(list(b.values()), us)} | "
          f"{us(statistics.median(diff)) if diff else '-'} | "
          f"{us(max(diff)) if diff else '-'} | "
          f"{'-' if wr is None else f'{wr:.0f} / {fl:.0f}'} |")
    p()
    if base5:
        p(f"Without metadata the failover at 10^5 chunks takes {us(statistics.median(base5))} "
          f"here (largest {us(max(base5))}), under software emulation: the "
          "share of the target that is not the metadata's.")
        p()
    w5 = worst.get(100000)
    r.target("failover with metadata at 10^5 chunks, largest of the rounds (ms)",
             None if w5 is None else w5 / 1000, 20, higher=False)

    p("## Metadata device: checkpoint latency (10^5 dirty chunks, 16 GiB dm-zero legs)")
    p()
    a = line_rounds(r.lines, "ckm-none")
    b = line_rounds(r.lines, "ckm-meta")
    if a or b:
        reps = int(pairs_of(next(iter((a or b).values())))["reps"])
        p(f"As the checkpoint rows (colo-ckpt), in interleaved rounds of {reps} "
          "messages with and without the metadata device. Latency: the median of "
          "the rounds' medians (their range); max: the slowest message. "
          "Metadata I/O: the null_blk disk's data writes and flushes during the "
          "checkpoint ioctls, and during the whole runs (the VM's writes too), "
          "summed over the rounds.")
        p()
        p("| metadata | messages | median (range of the rounds) | max | "
          "/ without: median | upper bound | metadata I/O at checkpoints | "
          "in the whole runs |")
        p("|---|---:|---:|---:|---:|---:|---:|---:|")
        med = {}
        for v, rows in (("none", a), ("with", b)):
            kv = {n: pairs_of(w) for n, w in rows.items()}
            med[v] = {n: float(x["median_us"]) for n, x in kv.items()}
            msgs = sum(int(x["reps"]) for x in kv.values())
            mx = max((float(x["max_us"]) for x in kv.values()), default=None)
            ck_io = (sum(int(x["stat_writes"]) - int(x["stat_flushes"])
                         for x in kv.values()),
                     sum(int(x["stat_flushes"]) for x in kv.values()))
            all_io = (sum(int(x.get("all_writes", 0)) - int(x.get("all_flushes", 0))
                          for x in kv.values()),
                      sum(int(x.get("all_flushes", 0)) for x in kv.values()))
            rs = paired(med["none"], med[v]) if v == "with" else []
            p(f"| {v} | {msgs} | {spread(list(med[v].values()), us)} | {us(mx)} | "
              f"{rfmt(statistics.median(rs)) if rs else '-'} | "
              f"{rfmt(max(rs)) if rs else '-'} | "
              f"{ck_io[0]} writes, {ck_io[1]} flushes | "
              f"{all_io[0]} writes, {all_io[1]} flushes |")
            if v == "with":
                r.target("checkpoint with metadata at 10^5 chunks, largest round "
                         "median (ms)", max(med[v].values()) / 1000 if med[v] else None,
                         1, higher=False)
                r.target("metadata writes and flushes during checkpoints",
                         ck_io[0] + ck_io[1] if kv else None, 1, higher=False,
                         digits=0)
        p()
    if secs:
        p(f"The metadata device's rows took {int(secs)} s of the run.")
        p()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--seconds", type=int)
    ap.add_argument("dir")
    a = ap.parse_args()
    r = Report(fio_figures(a.dir), bench_lines(a.dir))
    reps = max((len(v) for k, v in r.fio.items() if not k.startswith(META_KEYS)),
               default=0)
    p = print

    p(f"# Kernel {a.kernel}, {a.date}")
    p()
    took = f", the VM ran {a.seconds} s" if a.seconds else ""
    p(f"Medians of {reps} time-based fio runs per figure, RAM disks (brd), "
      f"one VM boot{took}. 4 KiB random I/O at queue depth 16 in IOPS; "
      "1 MiB sequential I/O at queue depth 4 in MiB/s. Ratios are against "
      "the baseline named in the column, measured in the same boot.")
    p()

    work = [("randread", "4 KiB random read"), ("randwrite", "4 KiB random write"),
            ("read", "1 MiB sequential read"), ("write", "1 MiB sequential write")]
    p("## Secondary mode: the VM's I/O (4 KiB chunks)")
    p()
    p("| workload | brd | dm-linear | clean chunks | / linear | dirty chunks | / linear |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    for w, name in work:
        lin = r.fio_med(f"linear.{w}")
        clean = r.fio_med(f"sec-clean.{w}")
        dirty = r.fio_med(f"sec-dirty.{w}")
        p(f"| {name} | {fmt(r.fio_med('brd.' + w))} | {fmt(lin)} | {fmt(clean)} | "
          f"{rfmt(ratio(clean, lin))} | {fmt(dirty)} | {rfmt(ratio(dirty, lin))} |")
    after = r.lines.get("sec-clean.randwrite.active_after")
    runs = r.fio.get("sec-clean.randwrite")
    if after and runs:
        p()
        p(f"Clean-chunk writes: a checkpoint before each run. fio's random map "
          f"writes each block once per pass: the last 4 KiB run made {runs[-1][2]:,} "
          f"writes and left {int(after):,} chunks dirty, so "
          f"{100 * int(after) / max(runs[-1][2], 1):.0f}% of its writes found a "
          "clean chunk. The 1 MiB runs wrap around the 256 MiB disk, so only "
          "their first pass is on clean chunks.")
    p()
    for w in ("randread", "read"):
        r.target(f"clean-chunk VM {w} / dm-linear",
                 ratio(r.fio_med(f"sec-clean.{w}"), r.fio_med(f"linear.{w}")), 0.95)
    for w in ("randwrite", "write"):
        r.target(f"dirty-chunk VM {w} / dm-linear",
                 ratio(r.fio_med(f"sec-dirty.{w}"), r.fio_med(f"linear.{w}")), 0.9)

    p("## Ingress writes (4 KiB random, QD 16): copy-before-write against dm-snapshot")
    p()
    p("dm-snapshot: a `snapshot-origin` with one transient (`N`) snapshot of the "
      "same chunk size, the kernel's own copy-before-write. First touch: a new "
      "snapshot (colo: a checkpoint) before each run.")
    p()
    p("| chunk | colo first touch | dm-snapshot first touch | colo / snapshot | "
      "colo copied | dm-snapshot copied | colo copied / linear |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    lin_w = r.fio_med("linear.randwrite")
    notes = []
    for c in ("4", "64"):
        cf, sf = r.fio_med(f"ingress-first.c{c}"), r.fio_med(f"snap-first.c{c}")
        cc, sc = r.fio_med(f"ingress-copied.c{c}"), r.fio_med(f"snap-copied.c{c}")
        p(f"| {c} KiB | {fmt(cf)} | {fmt(sf)} | {rfmt(ratio(cf, sf))} | {fmt(cc)} | "
          f"{fmt(sc)} | {rfmt(ratio(cc, lin_w))} |")
        # Share of the last first-touch run's writes that made a copy.
        saved = r.lines.get(f"ingress-first.c{c}.hidden_after")
        runs = r.fio.get(f"ingress-first.c{c}")
        share = int(saved) / max(runs[-1][2], 1) if saved and runs else None
        if share is not None:
            notes.append(f"{c} KiB chunks: {100 * min(share, 1):.0f}% of the last "
                         f"first-touch run's {runs[-1][2]:,} writes made a copy")
        what = f"ingress first-touch / dm-snapshot, {c} KiB chunks"
        if share is not None and share < 0.9:
            what += f" (only {100 * share:.0f}% first touches)"
        r.target(what, ratio(cf, sf), 1.2)
        r.target(f"ingress copied-chunk writes / dm-linear, {c} KiB chunks",
                 ratio(cc, lin_w), 0.9)
    p()
    if notes:
        p("First touches: " + "; ".join(notes) + ". With 4 KiB chunks every "
          "write of a first-touch run is a first touch (fio's random map); with "
          "64 KiB chunks 4 KiB random writes soon land on chunks already "
          "copied, so that row mixes both kinds, for both targets alike.")
        p()

    p("## Primary mode, and with a mirror in sync, against dm-raid1")
    p()
    p("dm-raid1: the `mirror` target with a core log (512 KiB regions, "
      "`nosync`) over the same two RAM disks as the colo mirror.")
    p()
    p("| workload | dm-linear | colo primary | / linear | dm-raid1 | colo + mirror in sync | / dm-raid1 |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    for w, name in work[1::2]:
        lin = r.fio_med(f"linear.{w}")
        pr, m, raid = (r.fio_med(f"primary.{w}"), r.fio_med(f"mirror.{w}"),
                       r.fio_med(f"raid1.{w}"))
        p(f"| {name} | {fmt(lin)} | {fmt(pr)} | {rfmt(ratio(pr, lin))} | {fmt(raid)} | "
          f"{fmt(m)} | {rfmt(ratio(m, raid))} |")
        r.target(f"mirror in-sync {w} / dm-raid1", ratio(m, raid), 1.0)
    p()

    p("## Copies: failover commit and mirror phase 1 against dd")
    p()
    dd = r.rate_med("dd")
    p(f"Whole 256 MiB RAM disks. dd: `dd bs=1M iflag=direct oflag=direct` between "
      f"the same RAM disks, {fmt(dd)} MiB/s. Commit: from the `failover` message "
      "to the commit's `done` event, every chunk active. Mirror: from `mirror "
      "start ... full` to `in-sync`.")
    p()
    p("| chunk | commit MiB/s | commit / dd | mirror phase 1 MiB/s | mirror / dd |")
    p("|---|---:|---:|---:|---:|")
    for c in ("64", "1024"):
        cm, mi = r.rate_med(f"commit.c{c}"), r.rate_med(f"mirror1.c{c}")
        p(f"| {c} KiB | {fmt(cm)} | {rfmt(ratio(cm, dd))} | {fmt(mi)} | {rfmt(ratio(mi, dd))} |")
        r.target(f"commit / dd, {c} KiB chunks", ratio(cm, dd), 0.8)
        r.target(f"mirror phase 1 / dd, {c} KiB chunks", ratio(mi, dd), 0.8)
    p()

    p("## Checkpoint latency and bitmap memory (4 KiB chunks, dm-zero legs)")
    p()
    p("Each message is timed around its ioctl (colo-ckpt), after its dirty "
      "chunks were written again. Memory: the status's `bitmap_bytes` (active, "
      "hidden and dirty bitmaps) empty and with the dirty chunks set.")
    p()
    p("| device | dirty chunks | messages | median | p99 | max | bitmaps empty | bitmaps dirty |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = [(16, d) for d in (1000, 10000, 100000, 1000000)]
    rows += [(s, 100000) for s in (1, 64, 1024, 16384)]
    for s, d in rows:
        c = r.ckpt(f"ckpt.size{s}G.dirty{d}")
        size = f"{s} GiB" if s < 1024 else f"{s // 1024} TiB"
        empty = r.lines.get(f"mem.size{s}G.empty")
        if c is None:
            p(f"| {size} | {d:,} | - | - | - | - | - | - |")
            continue
        p(f"| {size} | {d:,} | {int(c['reps'])} | {c['median_us']:.0f} us | "
          f"{c['p99_us']:.0f} us | {c['max_us']:.0f} us | "
          f"{'-' if empty is None else fmt(int(empty) / 1024, ' KiB')} | "
          f"{fmt(c['bitmap_bytes'] / 1024, ' KiB')} |")
    ck = r.ckpt("ckpt.size16G.dirty100000")
    r.target("checkpoint median at 10^5 dirty chunks (ms)",
             None if ck is None else ck["median_us"] / 1000, 1, higher=False)
    sizes = [r.ckpt(f"ckpt.size{s}G.dirty100000") for s in (1, 64, 1024, 16384)]
    if all(sizes):
        med = [c["median_us"] for c in sizes]
        r.target("checkpoint at 16 TiB / at 1 GiB (flat: < 2)", med[-1] / med[0], 2,
                 higher=False)
    p()

    meta_section(r, a.dir, p)

    p("## Targets")
    p()
    p("| target | goal | measured | |")
    p("|---|---|---:|---|")
    for t in r.targets:
        p(f"| {t[0]} | {t[1]} | {t[2]} | {t[3]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
