#!/usr/bin/env python3
"""bpf_cost.py -- `make bench` helper: the kernel's own count and run time of a tracer's BPF programs over one command.

Usage: bpf_cost.py TRACER_PID PROGRAM_PREFIX CMD...
Turns on the kernel's BPF run-time statistics (BPF_ENABLE_STATS: only while this
runs, and only while the returned fd is held), runs CMD, and prints for each
program of the tracer whose name starts with PROGRAM_PREFIX how often it ran
during CMD and its mean run time (which includes the statistics' own ~20 ns):
    bench bpf: sk_sys_enter       670270 runs      94 ns/run
Host-wide: every process's syscalls count, not only CMD's.
"""
import ctypes
import json
import os
import re
import subprocess
import sys

NR_BPF = 321            # x86-64
BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0


def prog_ids(pid):
    """Ids of the BPF programs process pid holds (its fds' fdinfo)."""
    ids = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                m = re.search(r"prog_id:\s+(\d+)", f.read())
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    return ids


def progs():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, check=True).stdout
    return {p["id"]: p for p in json.loads(out)}


def main():
    pid, prefix, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.c_uint32(BPF_STATS_RUN_TIME)
    fd = libc.syscall(NR_BPF, BPF_ENABLE_STATS, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        print("bench bpf: cannot enable BPF statistics: %s" % os.strerror(ctypes.get_errno()))
        return 1
    try:
        ids = prog_ids(pid)
        before = progs()
        rc = subprocess.run(cmd).returncode
        after = progs()
    finally:
        os.close(fd)
    for i in sorted(ids):
        a, b = before.get(i, {}), after.get(i, {})
        n = b.get("run_cnt", 0) - a.get("run_cnt", 0)
        if n and b.get("name", "").startswith(prefix):
            print("bench bpf: %-16s %10d runs %7.0f ns/run" % (b["name"], n,
                  (b.get("run_time_ns", 0) - a.get("run_time_ns", 0)) / n))
    return rc


if __name__ == "__main__":
    sys.exit(main())
