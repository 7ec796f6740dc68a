#!/usr/bin/python3
"""make bench: rtr-dataplane measured against the I/O ceiling on this machine.

The dataplane's worker runs on CPU 1; rtr-gen (generator and sink, a
zero-copy memif client) on CPU 0; memif between them. Every figure is set
against a ceiling measured in the same run on the same cores and sink:
dpdk-testpmd txonly on CPU 1 into the same sink (same frame size and
segmentation), and dpdk-testpmd io-forward on CPU 1 for fan-out 1.

  bench.py BUILD_DIR [--quick] [--json docs/benchmarks.json] [--md docs/benchmarks.md]
           [--png docs/benchmarks.png] [--skip-scale] [--skip-ndr]

Writes the JSON (the schema of issue 5) and, through tools/bench_report.py,
the Markdown table and the PNG plot; prints the table. Raises
vm.nr_hugepages as the scale rows need and restores it.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAYLOADS = (200, 1200)
FANOUTS = (1, 4, 16, 64, 256)
HDR = 14 + 20 + 8          # Ethernet, IPv4, UDP
RELAY = 32
TAG = 16


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, a):
        self.a = a
        self.build = os.path.abspath(a.build)
        self.work = tempfile.mkdtemp(prefix="rtr-bench.")
        self.sock = os.path.join(self.work, "memif.sock")
        self.procs = []
        self.n = 0

    # ---- processes --------------------------------------------------------
    def prefix(self, what):
        self.n += 1
        return "rtr_bench_%s_%d_%d" % (what, os.getpid(), self.n)

    def cleanup_prefix(self, p):
        shutil.rmtree("/var/run/dpdk/" + p, ignore_errors=True)

    def dataplane(self, args, workers=1, mem=1024, sleep_us=0, queues_note=""):
        pfx = self.prefix("dp")
        inst = "bench%d" % self.n
        if os.path.exists(self.sock):
            os.unlink(self.sock)            # left by the previous server
        lcores = "0@0," + ",".join("%d@1" % (i + 1) for i in range(workers))
        cmd = [os.path.join(self.build, "rtr-dataplane"), "--file-prefix", pfx, "-m", str(mem),
               "--huge-unlink", "--lcores", lcores, "--no-pci",
               "--log-level", "pmd.net.*:error",
               "--vdev", "net_memif0,role=server,socket=%s,socket-abstract=no" % self.sock,
               "--", "--instance", inst, "--ip", "0=10.0.0.1",
               "--idle-sleep-us", str(sleep_us)] + [str(x) for x in args]
        logf = open(os.path.join(self.work, pfx + ".log"), "w")
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            # a PING answered: the main lcore runs (its heartbeat is fresh)
            r = subprocess.run([os.path.join(self.build, "rtr-dpctl"), "--instance", inst,
                                "ping"], capture_output=True, text=True)
            if r.returncode == 0:
                break
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("rtr-dataplane did not start:\n" +
                                   open(logf.name).read()[-2000:])
            time.sleep(0.05)
        return {"proc": p, "prefix": pfx, "instance": inst, "log": logf}

    def stop_dataplane(self, dp):
        dp["proc"].send_signal(signal.SIGTERM)
        try:
            dp["proc"].wait(30)
        except subprocess.TimeoutExpired:
            dp["proc"].kill()
            dp["proc"].wait()
        dp["log"].close()
        self.cleanup_prefix(dp["prefix"])

    def gen(self, args, queues=1, timeout=300):
        pfx = self.prefix("gen")
        out = os.path.join(self.work, pfx + ".json")
        vdev = ("net_memif0,role=client,socket=%s,socket-abstract=no,zero-copy=yes,rsize=%d" %
                (self.sock, self.a.rsize))
        cmd = [os.path.join(self.build, "rtr-gen"), "--file-prefix", pfx, "-m", "512",
               "--single-file-segments", "--in-memory", "--lcores", "0@0", "--no-pci",
               "--log-level", "*:error", "--vdev", vdev, "--", "--json", out,
               "--queues", str(queues)] + [str(x) for x in args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        self.cleanup_prefix(pfx)
        if r.returncode != 0:
            raise RuntimeError("rtr-gen failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
        with open(out) as f:
            return json.load(f)

    def testpmd(self, mode, txpkts=None):
        """dpdk-testpmd on a memif server port, forwarding on CPU 1."""
        pfx = self.prefix("pmd")
        cmd = ["dpdk-testpmd", "--file-prefix", pfx, "-m", "512", "--huge-unlink",
               "--lcores", "0@0,1@1", "--no-pci", "--log-level", "*:error",
               "--vdev", "net_memif0,role=server,socket=%s,socket-abstract=no" % self.sock,
               "--", "--forward-mode=" + mode, "--nb-cores=1", "--auto-start",
               "--port-topology=loop", "--total-num-mbufs=32768", "--no-flush-rx"]
        if txpkts:
            cmd.append("--txpkts=" + ",".join(str(x) for x in txpkts))
        logf = open(os.path.join(self.work, pfx + ".log"), "w")
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=logf, stderr=subprocess.STDOUT,
                             text=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("testpmd did not start: " + open(logf.name).read()[-2000:])
            time.sleep(0.05)
        return {"proc": p, "prefix": pfx, "log": logf}

    def stop_testpmd(self, t):
        try:
            t["proc"].communicate("\n", timeout=20)
        except subprocess.TimeoutExpired:
            t["proc"].kill()
            t["proc"].wait()
        t["log"].close()
        self.cleanup_prefix(t["prefix"])
        if os.path.exists(self.sock):
            os.unlink(self.sock)

    # ---- measurements ------------------------------------------------------
    def segs(self, payload, mode):
        if mode == "chain":
            return [HDR, RELAY + payload]
        return [HDR + RELAY + payload]

    def ceilings(self):
        out = []
        self.blind = []
        d = self.a.seconds
        for payload in PAYLOADS:
            for mode in ("copy", "chain"):
                t = self.testpmd("txonly", self.segs(payload, mode))
                try:
                    r = self.gen(["--sink", "--duration", d, "--warmup", 1])
                finally:
                    self.stop_testpmd(t)
                out.append({"kind": "txonly", "payload": payload, "tx_mode": mode,
                            "mpps": round(r["out_mpps"], 3)})
                log("ceiling txonly %4d B %-5s %.2f Mpps" % (payload, mode, r["out_mpps"]))
            # for reference, not a ceiling: the same txonly into a sink that
            # reads nothing, so testpmd's writes never leave its own cache
            t = self.testpmd("txonly", self.segs(payload, "copy"))
            try:
                r = self.gen(["--sink", "--blind", "--duration", d, "--warmup", 1])
            finally:
                self.stop_testpmd(t)
            self.blind.append({"kind": "txonly", "payload": payload, "tx_mode": "copy",
                               "mpps": round(r["out_mpps"], 3)})
            log("txonly into a sink that reads nothing %4d B %.2f Mpps (reference only)" %
                (payload, r["out_mpps"]))
            t = self.testpmd("io")
            try:
                r = self.gen(["--loopback", "--payload", payload, "--duration", d,
                              "--warmup", 1])
            finally:
                self.stop_testpmd(t)
            out.append({"kind": "io", "payload": payload, "mpps": round(r["out_mpps"], 3)})
            log("ceiling io     %4d B       %.2f Mpps" % (payload, r["out_mpps"]))
        return out

    def run_row(self, fanout, payload, mode, cipher, channels, rate=0, hot=0, dp_args=(),
                workers=1, queues=1, sleep_us=0, mem=1024, seconds=None):
        args = ["--tx-mode", mode, "--max-enc-members",
                max(4096, channels * (fanout + 1) if cipher != "none" else 0)] + list(dp_args)
        free0 = self.free_hugepages()
        dp = self.dataplane(args, workers=workers, mem=mem, sleep_us=sleep_us)
        try:
            g = ["--instance", dp["instance"], "--channels", channels, "--fanout", fanout,
                 "--payload", payload, "--cipher", cipher, "--rate", rate,
                 "--duration", seconds or self.a.seconds, "--warmup", 1]
            if hot:
                g += ["--hot", hot]
            r = self.gen(g, queues=queues, timeout=900)
            # hugepages taken by the dataplane: with -m, EAL reserves that much at
            # start, so this is the reservation, not what the tables use
            r["memory_mib"] = 2 * (free0 - self.free_hugepages())
        finally:
            self.stop_dataplane(dp)
        return r

    def fanout_rows(self, ceil):
        rows = []
        # the output ceiling of a row: txonly with the same frame size and
        # segmentation (as the report takes it); the better segmentation's too
        txonly, best = {}, {}
        for c in ceil:
            if c["kind"] == "txonly":
                txonly[(c["payload"], c["tx_mode"])] = c["mpps"]
                best[c["payload"]] = max(best.get(c["payload"], 0), c["mpps"])
        io = {c["payload"]: c["mpps"] for c in ceil if c["kind"] == "io"}
        for cipher in ("none", "aes128gcm"):
            for payload in PAYLOADS:
                for mode in ("chain", "copy"):
                    if cipher != "none" and mode == "chain":
                        continue        # sealed copies are never chains (protocol.md 16.4)
                    for fanout in FANOUTS:
                        channels = 4 if fanout < 256 else 2
                        try:
                            r = self.run_row(fanout, payload, mode, cipher, channels)
                        except RuntimeError as e:
                            rows.append(failed_row("fanout", fanout, payload, mode, cipher,
                                                   channels, e))
                            continue
                        c = io[payload] if fanout == 1 else txonly[(payload, mode)]
                        row = {"kind": "fanout", "fanout": fanout, "payload": payload,
                               "tx_mode": mode, "cipher": cipher, "channels": channels,
                               "in_mpps": round(r["in_mpps"], 3),
                               "out_mpps": round(r["out_mpps"], 3),
                               "ratio": round(r["out_mpps"] / c, 3) if c else None,
                               "cycles_per_out": r["dataplane"]["cycles_per_out"],
                               "drops": sum(r["dataplane"]["drops"].values()),
                               "notes": "lost %.2f%%" % (100 * r["loss_ratio"])}
                        if fanout > 1 and best.get(payload):
                            row["notes"] += "; %.0f%% of the better layout's txonly" % (
                                100 * r["out_mpps"] / best[payload])
                        rows.append(row)
                        log("%-9s %4d B %-5s fan-out %3d: in %.2f out %.2f Mpps (%.0f%% of "
                            "ceiling) %.0f cycles/out" % (cipher, payload, mode, fanout,
                                                          r["in_mpps"], r["out_mpps"],
                                                          100 * (row["ratio"] or 0),
                                                          row["cycles_per_out"]))
        return rows

    def ndr_pdr(self):
        """RFC 2544-style binary search on the input rate: 1 s trials, loss 0
        (NDR) or at most 0.5 % (PDR), a 10 s final check, 3 repeats."""
        cfgd = {"fanout": 4, "payload": 200, "tx_mode": "copy", "cipher": "none",
                "channels": 4}
        top = self.run_row(4, 200, "copy", "none", 4, seconds=2)["in_mpps"]
        res = {}
        for name, limit in (("ndr", 0.0), ("pdr", 0.005)):
            found = []
            for _ in range(1 if self.a.quick else 3):
                lo, hi = 0.0, top * 1.1
                while hi - lo > max(0.01, top * 0.02):
                    mid = (lo + hi) / 2
                    r = self.run_row(4, 200, "copy", "none", 4, rate=mid, seconds=1)
                    if r["loss_ratio"] <= limit:
                        lo = mid
                    else:
                        hi = mid
                # the final check: 10 s at the rate found, else a step lower
                while lo > 0:
                    r = self.run_row(4, 200, "copy", "none", 4, rate=lo,
                                     seconds=3 if self.a.quick else 10)
                    if r["loss_ratio"] <= limit:
                        break
                    lo *= 0.95
                found.append(lo)
                log("%s: %.3f Mpps in" % (name.upper(), lo))
            res[name] = round(statistics.median(found), 3)
            res[name + "_all"] = [round(x, 3) for x in found]
        res["config"] = cfgd
        return res

    def latency(self, ndr):
        out = []
        for load in (0.5, 0.9):
            r = self.run_row(4, 200, "copy", "none", 4, rate=ndr * load, seconds=5)
            lat = r["latency_us"] or {}
            out.append({"load": load, "p50": lat.get("p50"), "p99": lat.get("p99"),
                        "p999": lat.get("p999")})
            log("latency at %d%% of NDR: %s" % (load * 100, lat))
        return out

    def hugepages(self, want):
        path = "/proc/sys/vm/nr_hugepages"
        with open(path) as f:
            old = int(f.read())
        if want > old:
            with open(path, "w") as f:
                f.write(str(want))
        return old

    def free_hugepages(self):
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            return int(f.read())

    def scale_rows(self):
        rows = []
        sets = [(1000, "none"), (100000, "none"), (1000000, "none")]
        if not self.a.quick:
            sets.append((131072, "aes128gcm"))       # 524288 encrypted members
        for channels, cipher in sets:
            members = channels * 4
            args = ["--max-members", max(members, 262144), "--max-channels",
                    max(channels, 65536)]
            for hot in ("1k", "all"):
                try:
                    r = self.run_row(3, 200, "copy", cipher, channels,
                                     hot=1000 if hot == "1k" else 0, dp_args=args,
                                     mem=6144 if channels >= 100000 else 1024)
                except RuntimeError as e:
                    row = failed_row("scale", 3, 200, "copy", cipher, channels, e)
                    row.update({"members": members, "hot_set": hot})
                    rows.append(row)
                    break       # the other hot set would fail the same way
                rows.append({"kind": "scale", "fanout": 3, "payload": 200, "tx_mode": "copy",
                             "cipher": cipher, "channels": channels, "members": members,
                             "hot_set": hot, "in_mpps": round(r["in_mpps"], 3),
                             "out_mpps": round(r["out_mpps"], 3),
                             "cycles_per_out": r["dataplane"]["cycles_per_out"],
                             "drops": sum(r["dataplane"]["drops"].values()), "ratio": None,
                             "memory_mib": r["dataplane"].get("heap_used_mib"),
                             "notes": "memory: the dataplane's DPDK heap in use (tables, rings, "
                                      "key slots); hugepages reserved (-m): %d MiB"
                                      % r["memory_mib"]})
                log("scale %7d channels (%d members, %s) hot %s: out %.2f Mpps" %
                    (channels, members, cipher, hot, r["out_mpps"]))
        return rows

    def two_workers(self):
        r = self.run_row(4, 200, "copy", "none", 8, rate=0.2, workers=2, queues=2, sleep_us=20)
        return {"kind": "workers", "fanout": 4, "payload": 200, "tx_mode": "copy",
                "cipher": "none", "channels": 8, "in_mpps": round(r["in_mpps"], 3),
                "out_mpps": round(r["out_mpps"], 3), "ratio": None,
                "cycles_per_out": r["dataplane"]["cycles_per_out"],
                "drops": sum(r["dataplane"]["drops"].values()),
                "notes": "2 workers on one vCPU: per-sender order %s (reordered %d), lost %d; "
                         "2 vCPUs cannot show scaling" %
                         ("kept" if r["reordered"] == 0 else "BROKEN", r["reordered"], r["lost"])}


def failed_row(kind, fanout, payload, mode, cipher, channels, err):
    """A row that could not be measured: its figures null, the reason noted."""
    why = str(err).strip().splitlines()
    log("%s %s %d B %s fan-out %d, %d channels: FAILED: %s" %
        (kind, cipher, payload, mode, fanout, channels, why[-1] if why else "?"))
    return {"kind": kind, "fanout": fanout, "payload": payload, "tx_mode": mode,
            "cipher": cipher, "channels": channels, "in_mpps": None, "out_mpps": None,
            "ratio": None, "cycles_per_out": None, "drops": None,
            "notes": "not measured: " + (why[-1][:160] if why else "failed")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--json", default=os.path.join(ROOT, "docs", "benchmarks.json"))
    ap.add_argument("--md", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--png", default=os.path.join(ROOT, "docs", "benchmarks.png"))
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-ndr", action="store_true")
    ap.add_argument("--rsize", type=int, default=11,
                    help="log2 of the memif ring size rtr-gen asks for (default 11)")
    a = ap.parse_args()
    b = Bench(a)
    old_hp = b.hugepages(4096 if not a.skip_scale else 2048)
    t0 = time.monotonic()
    try:
        setup = ("%s; rtr-dataplane worker on CPU 1 (main lcore on CPU 0, sleeping), rtr-gen "
                 "(generator and sink, zero-copy memif client) on CPU 0, memif between them; "
                 "ceilings: dpdk-testpmd txonly (same frame size and segments) and io-forward "
                 "on CPU 1 into the same rtr-gen sink, which reads the two cache lines of "
                 "each frame it reads of a relay copy (addresses, counter, stamp); flat-out rows: %g s measured after 1 s "
                 "warm-up; NDR/PDR: binary search, 1 s trials, 10 s final check, %d repeats, "
                 "fan-out 4, 200 B, copy; 4 channels per row (2 at fan-out 256)" %
                 (platform.node(), a.seconds, 1 if a.quick else 3))
        log("== set-up: " + setup)
        ceil = b.ceilings()
        rows = b.fanout_rows(ceil)
        res = {"ndr": None, "pdr": None}
        lat = []
        if not a.skip_ndr:
            res = b.ndr_pdr()
            lat = b.latency(res["ndr"])
        if not a.skip_scale:
            rows += b.scale_rows()
        try:
            rows.append(b.two_workers())
        except RuntimeError as e:
            rows.append(failed_row("workers", 4, 200, "copy", "none", 8, e))
        cpu = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        doc = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": "%s, %d vCPUs, %s" % (cpu, os.cpu_count(), platform.platform()),
               "setup": setup, "ceiling": ceil, "ceiling_sink_blind": b.blind, "rows": rows,
               "ndr_mpps": res.get("ndr"), "pdr_mpps": res.get("pdr"), "latency_us": lat,
               "ndr_detail": res, "bench_seconds": round(time.monotonic() - t0)}
        os.makedirs(os.path.dirname(a.json), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    finally:
        with open("/proc/sys/vm/nr_hugepages", "w") as f:
            f.write(str(old_hp))
        shutil.rmtree(b.work, ignore_errors=True)
    r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "bench_report.py"),
                        a.json, "--md", a.md, "--png", a.png])
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
