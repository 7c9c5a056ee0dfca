#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench-report.py: the tables of one kernel's benchmark run.

   bench-report.py --kernel KVER --date DATE [--seconds S] DIR
   bench-report.py --sections          the section names, one a line
   bench-report.py --prefixes SECTION  the key prefixes of a section's raw
                                       files and lines, one a line

DIR holds fio/KEY.N.json (raw fio output of round N of KEY) and vm.log
(the VM's TAP output with its "# BENCH key value" lines); vm-SECTION.log
instead for the sections run alone (BENCH_ONLY=SECTION), and ioa0/ the
output of the copy rows' second boot with init_on_alloc=0, when there was
one. Prints markdown.

Every comparison ran in interleaved rounds (tests/bench/run.sh): each
round ran the baseline and the colo path once, in an order that rotates.
A row shows the median (min-max) of each side over the rounds, and of the
paired ratios (colo over its baseline of the same round). A target is
claimed on the ratios' lower bound, sign_bound(): the k-th smallest, k the
largest for which a sign test puts the true median ratio below it with
probability at most 1/16. A path that does strictly more work than its
baseline and beats it by more than 5% on the median is a noise alarm, not
a result.
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys
from math import comb

# The sections of tests/bench/ and the prefixes of their keys (fio files
# and "# BENCH" lines), so that a section run alone (BENCH_ONLY) replaces
# exactly its own figures; "section.NAME.seconds" is each section's too.
SECTIONS = {
    "secondary": ("brd.", "linear.", "sec-"),
    "ingress": ("ingress-", "snap-", "ilinear."),
    "mirror": ("plinear.", "primary.", "raid1.", "mirror."),
    "copy": ("dd.", "commit.", "mirror1."),
    "ckpt": ("ckpt.", "mem."),
    "meta": ("pmeta-", "fo-", "ckm-", "meta."),
    "resync": ("resync-",),
    "async": ("async-",),
    "fleece": ("fleece-",),
}
# The metadata device's keys (kept for callers of the old name).
META_KEYS = SECTIONS["meta"]
# A path that does strictly more work than its baseline may beat it by
# this much on the median before the row is called noise.
ALARM = 1.05
# The fewest pairs for which the sign test's bound reaches 1/16.
MIN_PAIRS = 4


def section_of(key):
    for name, prefixes in SECTIONS.items():
        if key.startswith(prefixes) or key.startswith(f"section.{name}."):
            return name
    return None


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
    """KEY -> value text, from vm.log; a section's figures from
    vm-SECTION.log instead when it was run alone (BENCH_ONLY)."""
    out = {}
    if os.path.exists(os.path.join(d, "vm.log")):
        out = log_lines(os.path.join(d, "vm.log"))
    for name in SECTIONS:
        path = os.path.join(d, f"vm-{name}.log")
        if os.path.exists(path):
            out = {k: v for k, v in out.items() if section_of(k) != name}
            out.update({k: v for k, v in log_lines(path).items()
                        if section_of(k) == name})
    return out


def boot_of(path):
    """(date, seconds) of the boot whose log is PATH."""
    with open(path, errors="replace") as f:
        text = f.read()
    day = re.findall(r"^# BENCH-DATE (\S+)", text, re.M)
    secs = re.findall(r"^# vm-[^:]*: VM ran (\d+)s$", text, re.M)
    return (day[-1] if day else "?", secs[-1] if secs else "?")


def section_boot(d, name):
    """(date, seconds) of a boot that ran section NAME alone, or None."""
    path = os.path.join(d, f"vm-{name}.log")
    return boot_of(path) if os.path.exists(path) else None


def meta_boot(d):
    return section_boot(d, "meta")


def bs_bytes(text):
    m = re.fullmatch(r"(\d+)([kmg]?)i?b?", str(text).strip().lower())
    if not m:
        return 4096
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2)]


class Run:
    """One fio run: its figure (IOPS below 1 MiB blocks, MiB/s from
    1 MiB), its I/O count, fio's CPU (usr + sys, % of its vCPU), fio's and
    the whole VM's context switches per I/O."""

    def __init__(self, value, ios, busy, ctx_fio, ctx_vm):
        self.value, self.ios, self.busy = value, ios, busy
        self.ctx_fio, self.ctx_vm = ctx_fio, ctx_vm


def load_json(path):
    with open(path) as f:
        text = f.read()
    # fio may print notes before the JSON object.
    return json.loads(text[text.index("{"):])["jobs"][0]


def load_runs(d, lines):
    """KEY -> {round N: Run}."""
    out = {}
    for path in glob.glob(os.path.join(d, "fio", "*.json")):
        key, n = os.path.basename(path)[:-len(".json")].rsplit(".", 1)
        if not n.isdigit():
            continue
        job = load_json(path)
        opts = job["job options"]
        side = job["write"] if "write" in opts.get("rw", "") else job["read"]
        ios = side["total_ios"] or 1
        big = bs_bytes(opts.get("bs", "4k")) >= 1 << 20
        value = side["bw_bytes"] / 2**20 if big else side["iops"]
        sysw = lines.get(f"{key}.sys.{n}", "").split()
        sysd = {sysw[i]: float(sysw[i + 1]) for i in range(0, len(sysw) - 1, 2)}
        ctx_vm = sysd["ctxt"] / ios if "ctxt" in sysd else None
        out.setdefault(key, {})[int(n)] = Run(
            value, side["total_ios"], job["usr_cpu"] + job["sys_cpu"],
            job["ctx"] / ios, ctx_vm)
    return out


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


def spread(vals, f=fmt):
    """median (min-max) of VALS."""
    if not vals:
        return "-"
    return f"{f(statistics.median(vals))} ({f(min(vals))}\u2013{f(max(vals))})"


def sign_bound(rs, alpha=1 / 16):
    """A lower bound of the median of the paired ratios rs: their k-th
    smallest, with k the largest for which the sign test puts the median
    below it with probability at most alpha (1/16: the smallest of 4 rounds,
    the 2nd smallest of 7 or 8, the 3rd of 10). Returns (bound, k); k is 1
    also when fewer than 4 ratios cannot reach alpha (see MIN_PAIRS)."""
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


def ordinal(k):
    return {1: "smallest", 2: "2nd smallest", 3: "3rd smallest"}.get(k, f"{k}th smallest")


def bound_text(rs, digits=2):
    """'0.91 (2nd smallest of 7)', or '-'."""
    if not rs:
        return "-"
    low, k = sign_bound(rs)
    few = "; too few rounds" if len(rs) < MIN_PAIRS else ""
    return f"{low:.{digits}f} ({ordinal(k)} of {len(rs)}{few})"


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


class Report:
    def __init__(self, d):
        self.dir = d
        self.lines = bench_lines(d)
        self.runs = load_runs(d, self.lines)
        self.targets = []
        self.controls = []
        self.alarms = []

    def boot(self, key):
        """The log of the boot KEY's figures come from."""
        name = section_of(key)
        if name and section_boot(self.dir, name):
            return f"vm-{name}.log"
        return "vm.log"

    def key(self, path, *cands):
        """The baseline of PATH: the first of the candidate keys that has
        runs from the same boot as PATH (the newer name first, the name of
        older raw output, from another section, after it)."""
        for k in cands:
            if k in self.runs and self.boot(k) == self.boot(path):
                return k
        return cands[0]

    def values(self, key):
        return {n: r.value for n, r in self.runs.get(key, {}).items()}

    def ratios(self, base, path):
        return paired(self.values(base), self.values(path))

    def med(self, key, attr):
        vals = [getattr(r, attr) for r in self.runs.get(key, {}).values()
                if getattr(r, attr) is not None]
        return statistics.median(vals) if vals else None

    def cost(self, base, path, attr, f):
        a, b = self.med(base, attr), self.med(path, attr)
        if a is None and b is None:
            return "-"
        return f"{'-' if a is None else f(a)} / {'-' if b is None else f(b)}"

    def alarm(self, what, rs):
        """A noise alarm when a strict superset's median ratio exceeds
        ALARM; returns the note for the row."""
        if not rs or statistics.median(rs) <= ALARM:
            return ""
        m = statistics.median(rs)
        self.alarms.append(f"{what}: {m:.2f} of its baseline on the median "
                           f"({min(rs):.2f}\u2013{max(rs):.2f}, {len(rs)} rounds)")
        return "**noise alarm**"

    def target(self, what, goal, value=None, rs=None, higher=True, unit="",
               digits=2, alarm=False):
        """A target: on the lower bound of the paired ratios rs when given
        (met only if the bound reaches the goal), else on VALUE."""
        rel = ">=" if higher else "<"
        if rs is not None:
            if not rs:
                self.targets.append((what, f"{rel} {goal}", "-", "-", "not measured"))
                return
            low, _ = sign_bound(rs)
            if alarm:
                met = "noise alarm: not counted"
            elif len(rs) < MIN_PAIRS:
                met = f"too few rounds ({len(rs)})"
            else:
                met = "met" if (low >= goal if higher else low < goal) else "**missed**"
            self.targets.append((what, f"{rel} {goal}", bound_text(rs, digits),
                                 f"{statistics.median(rs):.{digits}f}", met))
            return
        if value is None:
            met = "not measured"
        else:
            met = "met" if (value >= goal if higher else value < goal) else "**missed**"
        shown = "-" if value is None else f"{value:.{digits}f}{unit}"
        self.targets.append((what, f"{rel} {goal}{unit}", shown, "-", met))

    FIO_HEAD = ("| workload | path / baseline | baseline | path | ratio: median "
                "(min\u2013max) | lower bound | busy %: baseline / path | "
                "ctx per I/O, fio | ctx per I/O, VM | |\n"
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---|")

    def fio_row(self, p, workload, label, base, path, superset):
        """One comparison row; returns (ratios, alarmed)."""
        rs = self.ratios(base, path)
        note = self.alarm(f"{workload}, {label}", rs) if superset else ""
        p(f"| {workload} | {label} | {spread(list(self.values(base).values()))} | "
          f"{spread(list(self.values(path).values()))} | "
          f"{spread(rs, rfmt) if rs else '-'} | {bound_text(rs)} | "
          f"{self.cost(base, path, 'busy', lambda v: f'{v:.0f}')} | "
          f"{self.cost(base, path, 'ctx_fio', lambda v: f'{v:.2f}')} | "
          f"{self.cost(base, path, 'ctx_vm', lambda v: f'{v:.2f}')} | {note} |")
        return rs, bool(note.startswith("**"))

    def control(self, p, workload, label, base, again):
        """The A/A control: the baseline's second run of each round over its
        first, a row of its own and a line of the controls' table; nothing
        when the section ran without one."""
        if again not in self.runs:
            return
        rs, _ = self.fio_row(p, workload, f"{label} again / {label} (A/A control)",
                             base, again, False)
        self.control_line(f"{workload}: {label} / {label}", rs)

    def control_line(self, what, rs, digits=2):
        """A line of the controls' table for the paired ratios rs, if any."""
        if rs:
            self.controls.append((what, bound_text(rs, digits), spread(rs, rfmt)))

    def boot_note(self, p, name, what):
        boot = section_boot(self.dir, name)
        if boot:
            p(f"{what} come from a boot of their own (`BENCH_ONLY={name} "
              f"scripts/bench.sh`) on {boot[0]}, the VM ran {boot[1]} s; each has "
              "its baselines measured in that boot.")
            p()


# ---- secondary mode -----------------------------------------------------------

WORK = [("randread", "4 KiB random read (IOPS)"), ("read", "1 MiB sequential read (MiB/s)"),
        ("randwrite", "4 KiB random write (IOPS)"), ("write", "1 MiB sequential write (MiB/s)")]


def secondary_section(r, p):
    if not any(k.startswith(("sec-", "linear.")) for k in r.runs):
        return
    p("## Secondary mode: the VM's I/O (4 KiB chunks)")
    p()
    r.boot_note(p, "secondary", "These rows")
    p("Baselines: dm-linear over the same RAM disk, and raw brd under it. "
      "Clean chunks: after a checkpoint (reads go to base); dirty chunks: every "
      "chunk written since the checkpoint (reads and writes go to active). "
      "Reads and dirty-chunk writes are time-based; the first writes to clean "
      "chunks are fixed work, the same for dm-linear: 4 KiB writes at QD 16, "
      "each at the start of a chunk of its own in random order (one fio replay "
      "log for both; fio's `--blockalign` would turn its random map off and "
      "write some chunks twice), and 1 MiB writes at QD 4 over the whole disk "
      "once, never wrapping, a checkpoint before each colo run.")
    p()
    p(Report.FIO_HEAD)
    for w, name in WORK:
        r.fio_row(p, name, "dm-linear / brd", f"brd.{w}", f"linear.{w}", True)
        lin = f"linear.{w}"
        if w in ("randread", "read"):
            rs, al = r.fio_row(p, name, "clean chunks / dm-linear", lin, f"sec-clean.{w}", True)
            r.target(f"clean-chunk VM {w} / dm-linear", 0.95, rs=rs, alarm=al)
        rs, al = r.fio_row(p, name, "dirty chunks / dm-linear", lin, f"sec-dirty.{w}", True)
        if w in ("randwrite", "write"):
            r.target(f"dirty-chunk VM {w} / dm-linear", 0.9, rs=rs, alarm=al)
        r.control(p, name, "dm-linear", lin, f"sec-linear2.{w}")
    first = []
    for w, name in (("ftrandwrite", "first 4 KiB write to a clean chunk (IOPS)"),
                    ("ftwrite", "1 MiB sequential write on clean chunks (MiB/s)")):
        rs, al = r.fio_row(p, name, "clean chunks / dm-linear", f"linear.{w}",
                           f"sec-clean.{w}", True)
        r.target(f"first write to a clean chunk, {w[2:]} / dm-linear", 0.9, rs=rs, alarm=al)
        r.control(p, name, "dm-linear", f"linear.{w}", f"sec-linear2.{w}")
        after = [v for k, v in r.lines.items()
                 if re.fullmatch(rf"sec-clean\.{w}\.active_after\.\d+", k)]
        runs = r.runs.get(f"sec-clean.{w}", {})
        if after and runs:
            ios = {x.ios for x in runs.values()}
            first.append(f"{w[2:]}: {len(after)} runs of {'/'.join(map(str, sorted(ios)))} "
                         f"writes, chunks active after each: {', '.join(sorted(set(after)))}")
    p()
    if first:
        p("First writes, chunks active after each colo run (one per 4 KiB write, "
          "every chunk after the 1 MiB run, or some write found its chunk "
          "dirty): " + "; ".join(first) + ".")
        p()
    old = r.runs.get("sec-clean.randwrite")
    if old and "sec-clean.ftrandwrite" not in r.runs:
        rs = r.ratios("linear.randwrite", "sec-clean.randwrite")
        p(f"Older raw output: time-based clean-chunk 4 KiB writes / dm-linear "
          f"{spread(rs, rfmt)} (not fixed work, not counted).")
        p()


# ---- ingress --------------------------------------------------------------------

def ingress_section(r, p):
    if not any(k.startswith(("ingress-", "snap-")) for k in r.runs):
        return
    p("## Ingress writes: copy-before-write against dm-snapshot")
    p()
    r.boot_note(p, "ingress", "These rows")
    p("dm-snapshot: a `snapshot-origin` with one transient (`N`) snapshot of the "
      "same chunk size, the kernel's own copy-before-write (not a superset of "
      "colo's work, nor colo of its). First touch: fixed work, 4 KiB writes at "
      "QD 16, each at the start of a chunk of its own (one fio replay log for "
      "both, at most half the chunks), on a new colo device and ingress, or a "
      "new origin and snapshot, every run. Copied: time-based 4 KiB random "
      "writes at QD 16 once every chunk is copied, against dm-linear over the "
      "same base (a write to a copied chunk does strictly more work there).")
    p()
    p(Report.FIO_HEAD)
    notes = []
    for c in ("4", "64"):
        rs, _ = r.fio_row(p, f"{c} KiB chunks, first touch (IOPS)", "colo / dm-snapshot",
                          f"snap-first.c{c}", f"ingress-first.c{c}", False)
        r.target(f"ingress first touch / dm-snapshot, {c} KiB chunks",
                 1.4 if c == "4" else 1.2, rs=rs)
        lin = r.key(f"ingress-copied.c{c}", f"ilinear.c{c}", "linear.randwrite")
        rs, al = r.fio_row(p, f"{c} KiB chunks, copied (IOPS)", "colo / dm-linear", lin,
                           f"ingress-copied.c{c}", True)
        r.target(f"ingress copied-chunk writes / dm-linear, {c} KiB chunks", 0.9,
                 rs=rs, alarm=al)
        r.fio_row(p, f"{c} KiB chunks, copied (IOPS)", "dm-snapshot / dm-linear", lin,
                  f"snap-copied.c{c}", True)
        r.control(p, f"{c} KiB chunks, copied (IOPS)", "dm-linear", lin,
                  f"ingress-linear2.c{c}")
        hid = [v for k, v in r.lines.items()
               if re.fullmatch(rf"ingress-first\.c{c}\.hidden_after\.\d+", k)]
        runs = r.runs.get(f"ingress-first.c{c}", {})
        cow = [v for k, v in r.lines.items()
               if re.fullmatch(rf"snap-first\.c{c}\.cow_after\.\d+", k)]
        if hid and runs:
            ios = sorted({x.ios for x in runs.values()})
            notes.append(f"{c} KiB chunks: {len(hid)} runs of "
                         f"{'/'.join(map(str, ios))} writes, chunks copied after each: "
                         f"{', '.join(sorted(set(hid)))}"
                         + (f"; dm-snapshot's exception store after each "
                            f"(sectors used/total, {int(c) * 2} a chunk): "
                            f"{', '.join(sorted(set(cow)))}" if cow else ""))
    p()
    if notes:
        p("First touch, chunks copied after each colo run (one per write): "
          + "; ".join(notes) + ".")
        p()


# ---- primary and mirror ---------------------------------------------------------

def mirror_section(r, p):
    if not any(k.startswith(("primary.", "mirror.")) for k in r.runs):
        return
    p("## Primary mode, and with a mirror in sync, against dm-raid1")
    p()
    r.boot_note(p, "mirror", "These rows")
    p("Time-based runs. Primary mode against dm-linear over the same RAM disk "
      "(a superset of its work); the same colo device with a mirror in sync "
      "against dm-raid1: the `mirror` target with a core log (512 KiB regions, "
      "`nosync`) over two RAM disks of its own (the colo mirror holds its "
      "replica exclusively; not a superset: each keeps its own log).")
    p()
    p(Report.FIO_HEAD)
    for w, name in WORK[2:]:
        r.fio_row(p, name, "colo primary / dm-linear",
                  r.key(f"primary.{w}", f"plinear.{w}", f"linear.{w}"),
                  f"primary.{w}", True)
        rs, _ = r.fio_row(p, name, "colo + mirror / dm-raid1", f"raid1.{w}", f"mirror.{w}", False)
        r.target(f"mirror in-sync {w} / dm-raid1", 1.2, rs=rs)
    p()


# ---- copies ---------------------------------------------------------------------

def copy_blocks(lines, kind, kib):
    """Round N -> (rate, dd before, dd after) of the KIND.cKIB blocks; the
    median dd for each side in older output (one dd figure per round)."""
    dd = [float(v) for k, v in lines.items() if re.fullmatch(r"dd\.\d+", k)]
    ddm = statistics.median(dd) if dd else None
    out = {}
    for k, v in lines.items():
        m = re.fullmatch(rf"{kind}\.c{kib}\.(\d+)", k)
        if not m:
            continue
        w = [float(x) for x in v.split()]
        if len(w) >= 3:
            out[int(m.group(1))] = (w[0], w[1], w[2])
        elif ddm:
            out[int(m.group(1))] = (w[0], ddm, ddm)
    return out


def copy_kibs(lines):
    kibs = {int(m.group(1)) for k in lines
            for m in [re.fullmatch(r"(?:commit|mirror1)\.c(\d+)\.\d+", k)] if m}
    return sorted(kibs)


def copy_goal(kib):
    """The copy targets: 0.85 of dd at 64 KiB and 1 MiB chunks, 0.6 at
    4 KiB chunks with every chunk dirty (issue 15)."""
    return 0.6 if kib <= 4 else 0.85


def copy_target(name, kib, suffix=""):
    every = ", every chunk dirty" if kib <= 4 else ""
    return f"{name} / dd, {kib} KiB chunks{every}{suffix}"


def copy_section(r, p, lines, label="", suffix="", intro=""):
    kibs = copy_kibs(lines)
    if not kibs:
        if not suffix:
            for kib in (4, 64, 1024):
                for name in ("commit", "mirror phase 1"):
                    r.target(copy_target(name, kib), copy_goal(kib), rs=[])
        return
    # The chunk sizes are targets even when not measured.
    kibs = sorted(set(kibs) | {4, 64, 1024})
    p(f"## Copies: failover commit and mirror phase 1 against dd{label}")
    p()
    if intro:
        p(intro)
        p()
    if not suffix:
        r.boot_note(p, "copy", "These rows")
    p("Whole RAM disks, a new device for each copy. Commit: from the "
      "`failover` message to the commit's `done` event, every chunk active; "
      "mirror phase 1: from `mirror start ... full` to `in-sync`, every chunk "
      "copied (both timed by the kernel log's lines). dd: `dd bs=1M "
      "iflag=direct oflag=direct` between the same RAM disks, run before the "
      "first copy of a round and after every copy, so each copy has a dd just "
      "before and just after it; its ratio is over their mean, and a copy "
      "whose two dd runs differ by more than 10% is dropped (the machine "
      "changed speed under it).")
    p()
    p("| chunk | copy | copies kept | MiB/s: median (min\u2013max) | dd MiB/s: median | "
      "/ dd: median (min\u2013max) | lower bound |")
    p("|---|---|---:|---:|---:|---:|---:|")
    dropped = []
    for kib in kibs:
        for kind, name in (("commit", "commit"), ("mirror1", "mirror phase 1")):
            blocks = copy_blocks(lines, kind, kib)
            if not blocks:
                r.target(copy_target(name, kib, suffix), copy_goal(kib), rs=[])
                continue
            kept, rs, dds = [], [], []
            for n in sorted(blocks):
                rate, pre, post = blocks[n]
                dev = abs(post - pre) / min(pre, post) if min(pre, post) > 0 else 1
                if dev > 0.10:
                    dropped.append(f"{name} {kib} KiB round {n} (dd {pre:.0f} then "
                                   f"{post:.0f} MiB/s, {100 * dev:.0f}%)")
                    continue
                kept.append(rate)
                rs.append(rate / ((pre + post) / 2))
                dds += [pre, post]
            p(f"| {kib} KiB | {name} | {len(kept)} of {len(blocks)} | {spread(kept)} | "
              f"{fmt(statistics.median(dds)) if dds else '-'} | "
              f"{spread(rs, rfmt) if rs else '-'} | {bound_text(rs)} |")
            r.target(copy_target(name, kib, suffix), copy_goal(kib), rs=rs)
    p()
    if dropped:
        p("Dropped (dd moved by more than 10% across the copy): " + "; ".join(dropped) + ".")
    else:
        p("No copy was dropped: every one's two dd runs were within 10%.")
    p()


# ---- checkpoints ----------------------------------------------------------------

def ckpt(lines, key):
    text = lines.get(key)
    if not text:
        return None
    words = text.split()
    return {words[i]: float(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def ckpt_section(r, p):
    if not any(k.startswith("ckpt.") for k in r.lines):
        return
    p("## Checkpoint latency and bitmap memory (4 KiB chunks, dm-zero legs)")
    p()
    r.boot_note(p, "ckpt", "These rows")
    p("Each message is timed around its ioctl (colo-ckpt), after its dirty "
      "chunks were written again. Memory: the status's `bitmap_bytes` (active, "
      "hidden and dirty bitmaps) empty and with the dirty chunks set. No "
      "baseline: absolute targets.")
    p()
    p("| device | dirty chunks | messages | median | p99 | max | bitmaps empty | bitmaps dirty |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = [(16, d) for d in (1000, 10000, 100000, 1000000)]
    rows += [(s, 100000) for s in (1, 64, 1024, 16384)]
    for s, d in rows:
        c = ckpt(r.lines, f"ckpt.size{s}G.dirty{d}")
        size = f"{s} GiB" if s < 1024 else f"{s // 1024} TiB"
        empty = r.lines.get(f"mem.size{s}G.empty")
        empty = empty if empty and empty.isdigit() else None
        if c is None:
            p(f"| {size} | {d:,} | - | - | - | - | - | - |")
            continue
        p(f"| {size} | {d:,} | {int(c['reps'])} | {c['median_us']:.0f} us | "
          f"{c['p99_us']:.0f} us | {c['max_us']:.0f} us | "
          f"{'-' if empty is None else fmt(int(empty) / 1024, ' KiB')} | "
          f"{fmt(c['bitmap_bytes'] / 1024, ' KiB')} |")
    ck = ckpt(r.lines, "ckpt.size16G.dirty100000")
    r.target("checkpoint median at 10^5 dirty chunks (ms)", 1,
             value=None if ck is None else ck["median_us"] / 1000, higher=False)
    sizes = [ckpt(r.lines, f"ckpt.size{s}G.dirty100000") for s in (1, 64, 1024, 16384)]
    if all(sizes):
        med = [c["median_us"] for c in sizes]
        r.target("checkpoint at 16 TiB / at 1 GiB (flat: < 2)", 2,
                 value=med[-1] / med[0], higher=False)
    p()


def meta_section(r, d, p):
    """The metadata device's rows (tests/bench/meta.sh)."""
    none_w = fio_rounds(d, "pmeta-none1.randwrite")
    if not none_w:
        return
    rounds = len(none_w)
    secs = r.lines.get("section.meta.seconds", r.lines.get("meta.seconds"))
    p("## Metadata device: primary-mode writes, with and without")
    p()
    r.boot_note(p, "meta", "The metadata device's rows")
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
      "smallest of 4 rounds, the second smallest of 7 or 8; "
      f"k = {sign_bound([1.0] * rounds)[1]} of n = {rounds} here). With "
      "metadata is a strict superset of the work without: a ratio above "
      f"{ALARM} on the median is a noise alarm, not a result. The primary rows' fio jobs "
      "(4 KiB chunks, 256 MiB brd base, QD 16 / QD 4), run apart from them. "
      "The metadata device is a memory-backed null_blk disk with a volatile "
      "write cache (its flushes are real requests), zeroed before each new "
      "device. Metadata I/O: the data writes and flushes it completed during "
      "the run (median of the rounds; its stat counts an empty flush as a "
      "write too, which is taken off).")
    p()
    p("| workload | run | without metadata | with metadata | / without: median "
      "(min\u2013max) | lower bound | metadata data writes / flushes per run | "
      "regions marked after | busy %: without / with | ctx per I/O, fio | "
      "ctx per I/O, VM | |")
    p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    runs = (("none1", "cold", "first: cold, 4 MiB regions"),
            ("none2", "warm", "second: warm, 4 MiB regions"),
            ("none1", "cold4k", "first: cold, 4 KiB regions"))
    pairs = {}
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
            note = r.alarm(f"metadata, {wname}, {name}", rs)
            pairs[(w, v)] = (rs, bool(note))
            bk, vk = f"pmeta-{twin}.{w}", f"pmeta-{v}.{w}"
            p(f"| {wname} | {name} | {spread(list(base.values()))} | "
              f"{spread(list(vals.values()))} | "
              f"{spread(rs, rfmt) if rs else '-'} | "
              f"{bound_text(rs)} | {io} | "
              f"{marked[-1] if marked else '-'} | "
              f"{r.cost(bk, vk, 'busy', lambda x: f'{x:.0f}')} | "
              f"{r.cost(bk, vk, 'ctx_fio', lambda x: f'{x:.2f}')} | "
              f"{r.cost(bk, vk, 'ctx_vm', lambda x: f'{x:.2f}')} | {note} |")
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
    for w, goal in (("randwrite", 0.9), ("write", 0.95)):
        for v in ("warm", "cold"):
            rs, al = pairs.get((w, v), ([], False))
            r.target(f"primary {w} with metadata, {v} / without", goal, rs=rs,
                     digits=3, alarm=al)
    # The A/A control: a second device without metadata, each of its runs
    # over its twin on the first, as warm and cold are paired.
    for w, wname in (("randwrite", "4 KiB random write (IOPS)"),
                     ("write", "1 MiB sequential write (MiB/s)")):
        for twin, name in (("none2", "second runs"), ("none1", "first runs")):
            rs = paired(fio_rounds(d, f"pmeta-{twin}.{w}"),
                        fio_rounds(d, f"pmeta-noneb{twin[-1]}.{w}"))
            r.control_line(f"metadata, {wname}, {name}: without / without", rs, 3)

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
    r.target("failover with metadata at 10^5 chunks, largest of the rounds (ms)", 20,
             value=None if w5 is None else w5 / 1000, higher=False)

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
                         "median (ms)", 1,
                         value=max(med[v].values()) / 1000 if med[v] else None,
                         higher=False)
                r.target("metadata writes and flushes during checkpoints", 1,
                         value=ck_io[0] + ck_io[1] if kv else None, higher=False,
                         digits=0)
        p()
    if secs:
        p(f"The metadata device's rows took {int(secs)} s of the run.")
        p()


# ---- a resync that yields (tests/bench/resync.sh) ----------------------------

def resync_section(r, p):
    if not any(k.startswith("resync-") for k in r.runs):
        return
    p("## A resync that yields: the guest during phase 1, auto against a fixed rate")
    p()
    r.boot_note(p, "resync", "These rows")
    rates = r.lines.get("resync-rates", "10240 102400").split()
    p("A guest job of 4 KiB random writes at queue depth 16 on a primary (4 KiB "
      "chunks) with no resync, during a full phase 1 to a RAM disk at the auto "
      f"rate (`auto min_rate {rates[0]}`: {rates[0]} KiB/s while the guest is "
      "busy, no limit while it is idle) and during one at a fixed rate "
      f"(`{rates[-1]}` KiB/s; BENCH_RESYNC_MIN and BENCH_RESYNC_FIXED). Each "
      "resync's IOPS against the no-resync run of the same round.")
    p()
    p(Report.FIO_HEAD)
    name = "4 KiB random write (IOPS)"
    rs, alarmed = r.fio_row(p, name, "auto resync / no resync", "resync-none.randwrite",
                            "resync-auto.randwrite", True)
    r.target("guest IOPS during an auto resync / no resync", 0.8, rs=rs, alarm=alarmed)
    r.fio_row(p, name, "fixed-rate resync / no resync", "resync-none.randwrite",
              "resync-fixed.randwrite", True)
    p()
    p("Completion: the time from the guest's stop to in-sync against a whole "
      "phase 1 of the same kind with the guest idle all along, per round "
      "(seconds; the MiB copied while the guest ran beside it). A ratio "
      "below 1 is the part copied during the guest's run.")
    p()
    p("| resync | idle guest: start to in-sync | after the guest stopped | "
      "copied during the guest's run | ratio: median (min\u2013max) |")
    p("|---|---:|---:|---:|---:|")
    for kind in ("auto", "fixed"):
        idle = {n: float(w[0]) for n, w in line_rounds(r.lines, f"resync-idle-{kind}").items()}
        after = {n: float(w[0]) for n, w in
                 line_rounds(r.lines, f"resync-{kind}.after").items()}
        copied = [float(w[0]) for w in
                  line_rounds(r.lines, f"resync-{kind}.copied").values()]
        rs = paired(idle, after)
        p(f"| {kind} | {spread(list(idle.values()), lambda v: f'{v:.2f} s')} | "
          f"{spread(list(after.values()), lambda v: f'{v:.2f} s')} | "
          f"{spread(copied, lambda v: f'{v:.0f} MiB')} | "
          f"{spread(rs, rfmt) if rs else '-'} |")
        if kind == "auto":
            # Lower is better: the k-th largest ratio, k as sign_bound's.
            _, k = sign_bound(rs)
            worst = sorted(rs)[-k] if rs else None
            r.target("auto resync after the guest stops / idle-guest resync "
                     "(k-th largest ratio)", 1.5, value=worst, higher=False)
    p()


# ---- writes with a fleece running (tests/bench/fleece.sh) ---------------------

def fleece_counts(r, key, what):
    """The distinct values of the "# BENCH KEY.WHAT.N" lines, joined."""
    vals = [v for k, v in r.lines.items()
            if re.fullmatch(rf"{re.escape(key)}\.{what}\.\d+", k)]
    return ", ".join(sorted(set(vals))) if vals else None


def fleece_section(r, p):
    if not any(k.startswith("fleece-") for k in r.runs):
        for c in ("4", "64"):
            for what in ("primary", "ingress"):
                r.target(f"{what} first touch with a fleece / dm-snapshot, {c} KiB chunks",
                         1.2, rs=[])
            for what in ("saved", "unneeded"):
                r.target(f"primary writes to {what} chunks with a fleece / no fleece, "
                         f"{c} KiB chunks", 0.95, rs=[])
        return
    p("## Writes with a fleece running, against none and against dm-snapshot")
    p()
    r.boot_note(p, "fleece", "These rows")
    p("A `colo-fleece` (needed all) on the colo device's base, its buffer a RAM "
      "disk; dm-snapshot: a `snapshot-origin` over the same base with transient "
      "(`N`) snapshots of the same chunk size, the fleece's buffer disk as the "
      "exception store (not a superset of colo's work, nor colo of its); a "
      "persistent fleece (its map on the buffer, the primary with a metadata "
      "device) against persistent (`P`) snapshots on a zeroed store. First "
      "touch: fixed work as the ingress rows (4 KiB writes at QD 16, each at the "
      "start of a chunk of its own, one replay log for all, at most half the "
      "chunks), on a new fleece (and, for the ingress, a new secondary and "
      "ingress), a new origin and snapshots, every run. On the ingress each "
      "first write copies the chunk into hidden and into the buffer; the "
      "two-snapshot row is dm-snapshot doing the same two copies (snapshots on "
      "the hidden disk and the buffer). Saved and unneeded chunks: time-based "
      "4 KiB random writes at QD 16 over the first half of a primary, with no "
      "fleece, with a new fleece after every chunk of that half was saved, and "
      "with a new fleece whose needed chunks are the other half only.")
    p()
    p(Report.FIO_HEAD)
    notes = []
    for c in ("4", "64"):
        w = f"{c} KiB chunks, primary first touch (IOPS)"
        rs, _ = r.fio_row(p, w, "fleece / dm-snapshot", f"fleece-psnap-first.c{c}",
                          f"fleece-p-first.c{c}", False)
        r.target(f"primary first touch with a fleece / dm-snapshot, {c} KiB chunks",
                 1.2, rs=rs)
        r.fio_row(p, w, "fleece / no fleece", f"fleece-p0-first.c{c}",
                  f"fleece-p-first.c{c}", True)
        r.fio_row(p, w, "dm-snapshot / colo, no fleece", f"fleece-p0-first.c{c}",
                  f"fleece-psnap-first.c{c}", False)
        r.fio_row(p, w, "persistent fleece / dm-snapshot P", f"fleece-ppsnap-first.c{c}",
                  f"fleece-pp-first.c{c}", False)
        r.fio_row(p, w, "persistent fleece / fleece", f"fleece-p-first.c{c}",
                  f"fleece-pp-first.c{c}", True)
        w = f"{c} KiB chunks, ingress first touch (IOPS)"
        rs, _ = r.fio_row(p, w, "fleece / dm-snapshot", f"fleece-isnap-first.c{c}",
                          f"fleece-i-first.c{c}", False)
        r.target(f"ingress first touch with a fleece / dm-snapshot, {c} KiB chunks",
                 1.2, rs=rs)
        r.fio_row(p, w, "fleece / dm-snapshot, two snapshots", f"fleece-isnap2-first.c{c}",
                  f"fleece-i-first.c{c}", False)
        r.fio_row(p, w, "fleece / no fleece", f"fleece-i0-first.c{c}",
                  f"fleece-i-first.c{c}", True)
        w = f"{c} KiB chunks, primary random write (IOPS)"
        for what, name in (("saved", "saved chunks"), ("unneeded", "unneeded chunks")):
            rs, al = r.fio_row(p, w, f"fleece, {name} / no fleece", f"fleece-pw0.c{c}",
                               f"fleece-p{what}.c{c}", True)
            r.target(f"primary writes to {what} chunks with a fleece / no fleece, "
                     f"{c} KiB chunks", 0.95, rs=rs, alarm=al)
        r.control(p, w, "no fleece", f"fleece-pw0.c{c}", f"fleece-pw00.c{c}")
        got = []
        for key, what, name in (
                (f"fleece-p-first.c{c}", "saved_after", "primary: chunks saved after each fleece run"),
                (f"fleece-pp-first.c{c}", "saved_after", "persistent: chunks saved"),
                (f"fleece-ppsnap-first.c{c}", "cow_after",
                 "dm-snapshot P's store after each run"),
                (f"fleece-i-first.c{c}", "saved_after", "ingress: chunks saved"),
                (f"fleece-i-first.c{c}", "hidden_after", "copied into hidden"),
                (f"fleece-psnap-first.c{c}", "cow_after",
                 "dm-snapshot's store after each run (sectors used/total)"),
                (f"fleece-psaved.c{c}", "saved_before", "saved before each saved-chunk run"),
                (f"fleece-punneeded.c{c}", "status_after",
                 "fleece status after each unneeded-chunk run")):
            v = fleece_counts(r, key, what)
            if v:
                got.append(f"{name}: {v}")
        runs = r.runs.get(f"fleece-p-first.c{c}", {})
        if got and runs:
            ios = sorted({x.ios for x in runs.values()})
            notes.append(f"{c} KiB chunks, {'/'.join(map(str, ios))} writes a "
                         f"first-touch run; " + "; ".join(got))
    p()
    for n in notes:
        p(n + ".")
        p()


# ---- the async mirror (tests/bench/async.sh) ---------------------------------

def async_section(r, p):
    if not any(k.startswith("async-") for k in r.runs):
        return
    p("## The async mirror: the guest's writes with a slow replica")
    p()
    r.boot_note(p, "async", "These rows")
    par = r.lines.get("async-params", "4096 0 2 20").split()
    lag, delays = par[0], par[1:]
    pinned = sorted({w[0] for k, w in ((k, v.split()) for k, v in r.lines.items())
                     if re.fullmatch(r"async-d\d+\.\w+\.pinned\.\d+", k)})
    pin = (f"dm-delay's own threads were moved to vCPU 0, away from fio's, before "
           f"each run ({'/'.join(pinned)} a run; 6.12's flush worker polls while "
           "bios wait; 6.1 sends them from kworkers, not moved). " if pinned else "")
    p("Time-based 4 KiB random writes at queue depth 16 on a primary (4 KiB "
      "chunks) over a RAM disk with no mirror, with a mirror in sync mode and "
      f"with one in async mode (`async {lag}`: at most {lag} KiB of "
      "background replica writes in flight; BENCH_ASYNC_LAG), the replica a "
      "RAM disk behind dm-delay that delays its writes by "
      f"{' and '.join(d + ' ms' for d in delays if d != '0')} "
      "(BENCH_ASYNC_DELAYS), and "
      + ("behind dm-linear (no delay: what a replica write costs the guest "
         "without any wait, the ceiling of any mirror on this machine). "
         if "0" in delays else "") + pin + "Each "
      "mirror run starts in sync (a dirty resync to the replica without its "
      "delay, then the delay put under it), and is paired with the no-mirror "
      "run of the same round at the same delay.")
    p()
    p(Report.FIO_HEAD)
    name = "4 KiB random write (IOPS)"
    for d in delays:
        base = f"async-d{d}.none.randwrite"
        rep = f"replica +{d} ms" if d != "0" else "replica no delay"
        r.fio_row(p, f"{name}, {rep}", "sync mirror / no mirror", base,
                  f"async-d{d}.sync.randwrite", True)
        rs, al = r.fio_row(p, f"{name}, {rep}", "async mirror / no mirror",
                           base, f"async-d{d}.async.randwrite", True)
        if d != "0":
            r.target(f"guest IOPS, async mirror ({rep}) / no mirror", 0.9,
                     rs=rs, alarm=al)
        r.control(p, f"{name}, {rep}", "no mirror", base, f"async-d{d}.none2.randwrite")
    p()
    p("Writes that went \"ahead\" (the lag was full: not sent, their chunks "
      "marked dirty for the mirror to copy; status field `ahead` at the end "
      "of each run), as a share of the run's writes, and the chunks still "
      "dirty when fio stopped: median (min\u2013max) of the rounds.")
    p()
    p("| replica delay | mode | writes ahead | share of the writes | dirty at the end |")
    p("|---|---|---:|---:|---:|")
    for d in delays:
        for mode in ("sync", "async"):
            key = f"async-d{d}.{mode}"
            ahead = {n: float(w[0]) for n, w in line_rounds(r.lines, f"{key}.ahead").items()}
            dirty = [float(w[0]) for w in line_rounds(r.lines, f"{key}.dirty").values()]
            runs = r.runs.get(f"{key}.randwrite", {})
            share = [ahead[n] / runs[n].ios for n in ahead if n in runs and runs[n].ios]
            p(f"| {d} ms{' (dm-linear)' if d == '0' else ''} | {mode} | {spread(list(ahead.values()))} | "
              f"{spread(share, lambda v: f'{100 * v:.1f}%')} | {spread(dirty)} |")
    p()


def main():
    ap = argparse.ArgumentParser(
        description="The markdown tables of one kernel's benchmark run (make bench).")
    ap.add_argument("--kernel", help="the kernel release, for the title")
    ap.add_argument("--date", help="the run's date, for the title")
    ap.add_argument("--seconds", type=int, help="the VM's run time")
    ap.add_argument("--sections", action="store_true",
                    help="print the section names (BENCH_ONLY) and exit")
    ap.add_argument("--prefixes", metavar="SECTION",
                    help="print the key prefixes of SECTION's raw files and lines")
    ap.add_argument("dir", nargs="?", help="the raw output: fio/, vm.log")
    a = ap.parse_args()
    if a.sections:
        print("\n".join(SECTIONS))
        return 0
    if a.prefixes:
        if a.prefixes not in SECTIONS:
            print(f"bench-report.py: no section {a.prefixes}", file=sys.stderr)
            return 2
        print("\n".join(SECTIONS[a.prefixes]))
        return 0
    if not (a.dir and a.kernel and a.date):
        ap.error("--kernel, --date and DIR are needed for a report")
    r = Report(a.dir)
    p = print
    reps = max((len(v) for k, v in r.runs.items() if section_of(k) != "meta"),
               default=0)
    p(f"# Kernel {a.kernel}, {a.date}")
    p()
    took = f", the VM ran {a.seconds} s" if a.seconds else ""
    secs = [(n, r.lines.get(f"section.{n}.seconds")) for n in SECTIONS]
    secs = ", ".join(f"{n} {s} s" for n, s in secs if s)
    cpu = r.lines.get("bench.fio_cpu", "").split()
    pin = (f"fio pinned to vCPU {cpu[0]} of {cpu[1]} (`--cpus_allowed`)" if len(cpu) == 2
           else "fio not pinned (older raw output)")
    p(f"RAM disks (brd), one VM boot{took}{' (' + secs + ')' if secs else ''}; "
      f"up to {reps} interleaved rounds per comparison; {pin}. 4 KiB random "
      "I/O at queue depth 16 in IOPS, 1 MiB sequential I/O at queue depth 4 in "
      "MiB/s.")
    p()
    p("How to read the tables. In each round the baseline and the colo path ran "
      "once each, in an order that rotates from round to round, so a drift of "
      "the machine hits both alike. baseline, path: median (min\u2013max) of the "
      "rounds. Ratio: each round's path over its baseline of the same round, "
      "median (min\u2013max). Lower bound: the k-th smallest ratio, k the largest "
      "for which a sign test puts the true median ratio below it with "
      "probability at most 1/16 (the smallest of 4 rounds, the 2nd smallest of "
      "7 or 8); a target is met only when its lower bound reaches it. Noise "
      f"alarm: a path that does strictly more work than its baseline beat it by "
      f"more than {round(100 * (ALARM - 1))}% on the median; that row measured "
      "the machine, not the path, and is not counted. busy %: fio's CPU (usr + "
      "sys) on its vCPU; a path that makes fio wait (a hop to a worker, a copy "
      "in the background) shows below 100. ctx per I/O: fio's own context "
      "switches per I/O, and the whole VM's (/proc/stat, every vCPU, so each "
      "worker hop counts) per I/O. fio runs pinned to one vCPU rather than "
      "in a VM of one vCPU (-smp 1): a single job that the scheduler moves "
      "between vCPUs measures the placement, and -smp 1 would also put "
      "the kernel's workers and the copy engine on fio's only vCPU and change the "
      "copy, checkpoint and metadata rows of the same boot; the second vCPU "
      "stays free for what the kernel queues elsewhere.")
    p()

    secondary_section(r, p)
    ingress_section(r, p)
    mirror_section(r, p)
    copy_section(r, p, r.lines)
    ioa0 = os.path.join(a.dir, "ioa0")
    if os.path.exists(os.path.join(ioa0, "vm.log")):
        day, s = boot_of(os.path.join(ioa0, "vm.log"))
        copy_section(r, p, log_lines(os.path.join(ioa0, "vm.log")),
                     " (init_on_alloc=0)", " (init_on_alloc=0)",
                     f"The same rows from a second boot with `init_on_alloc=0` on "
                     f"the kernel command line (`BENCH_INIT_ON_ALLOC0=1`), on {day}, "
                     f"the VM ran {s} s: both Debian kernels zero every page they "
                     "allocate (`CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y`), copy buffers "
                     "too; each copy against dd of its own boot.")
    ckpt_section(r, p)
    meta_section(r, a.dir, p)
    resync_section(r, p)
    async_section(r, p)
    fleece_section(r, p)

    p("## Noise alarms")
    p()
    if r.alarms:
        p("Rows where a path doing strictly more work than its baseline beat it "
          f"by more than {round(100 * (ALARM - 1))}% on the median: noise, not "
          "results (their targets are not counted):")
        p()
        for x in r.alarms:
            p(f"- {x}")
    else:
        p("None: no path that does strictly more work than its baseline beat "
          f"it by more than {round(100 * (ALARM - 1))}% on the median.")
    p()
    p("## Targets")
    p()
    p("Paired targets are claimed on the lower bound of their ratios (k-th "
      "smallest of n rounds), never on the median.")
    p()
    p("| target | goal | measured: lower bound | median | |")
    p("|---|---|---:|---:|---|")
    for t in r.targets:
        p(f"| {t[0]} | {t[1]} | {t[2]} | {t[3]} | {t[4]} |")
    if r.controls:
        p()
        p("A/A controls: a baseline run twice in each round, its second run over "
          "its first, in the same rotation as the paths it measures. They "
          "compare the same work: what a path that costs nothing reaches on "
          "this machine with these rounds. A goal above a control's lower "
          "bound is one that no path could be shown to meet here.")
        p()
        p("| control | lower bound | ratio: median (min\u2013max) |")
        p("|---|---:|---:|")
        for c in r.controls:
            p(f"| {c[0]} | {c[1]} | {c[2]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
