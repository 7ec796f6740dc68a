"""tools/bench_report.py: the table, Markdown and PNG that make bench writes
from docs/benchmarks.json, checked on a synthetic JSON with crafted values."""
import copy
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "bench_report.py")
PY = "/usr/bin/python3"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

sys.path.insert(0, os.path.join(ROOT, "tools"))
import bench_report  # noqa: E402


def fan(fanout, payload, mode, cipher, out, **extra):
    row = {"kind": "fanout", "fanout": fanout, "payload": payload, "tx_mode": mode, "cipher": cipher,
           "channels": 1, "in_mpps": None if out is None else out / fanout, "out_mpps": out,
           "ratio": None, "cycles_per_out": 150.0, "drops": 0}
    row.update(extra)
    return row


def scale(channels, members, hot, cipher, out, mem):
    return {"kind": "scale", "fanout": 4, "payload": 200, "tx_mode": "chain", "cipher": cipher,
            "channels": channels, "members": members, "hot_set": hot, "in_mpps": out / 4,
            "out_mpps": out, "ratio": None, "cycles_per_out": 200, "drops": 0, "memory_mib": mem}


def synthetic():
    """Ceilings: txonly 200 B 20, 600 B 15, 1200 B 10 Mpps; io 200 B 10, 1200 B 5.
    Plain fan-out 1 at 90% of io (PASS), fan-out 4 at 200 B 77.5% of txonly
    (MISS), fan-out 16 at 95% (PASS). Copy beats chain at 200 and 600 B, not
    at 1200 B (plain fan-out 16); never at plain fan-out 1; always at
    AES-GCM fan-out 16. Hot set 1k -> 1M: plain -5% (PASS), AES-GCM -25% (MISS).
    p99 at 50% of NDR 30 us (PASS)."""
    rows = [
        fan(1, 200, "chain", "none", 9.0), fan(1, 200, "copy", "none", 8.0),
        fan(1, 1200, "chain", "none", 4.5), fan(1, 1200, "copy", "none", 4.0),
        fan(4, 200, "chain", "none", 15.0), fan(4, 200, "copy", "none", 15.5),
        fan(4, 1200, "chain", "none", 9.0), fan(4, 1200, "copy", "none", 7.0),
        fan(16, 200, "chain", "none", 18.0), fan(16, 200, "copy", "none", 19.0),
        fan(16, 600, "chain", "none", 14.0), fan(16, 600, "copy", "none", 15.0),
        fan(16, 1200, "chain", "none", 9.5), fan(16, 1200, "copy", "none", 8.0),
        fan(16, 200, "chain", "aes128gcm", 8.0), fan(16, 200, "copy", "aes128gcm", 9.0),
        fan(16, 1200, "chain", "aes128gcm", 4.0), fan(16, 1200, "copy", "aes128gcm", 4.5),
        fan(64, 200, "chain", "aes128gcm", None, notes="skipped: out of hugepages"),
        scale(1000, 4000, "1k", "none", 10.0, 100), scale(1000000, 4000000, "1k", "none", 9.5, 8000),
        scale(1000, 4000, "all", "none", 10.0, 100), scale(1000000, 4000000, "all", "none", 6.0, 8000),
        scale(1000, 4000, "1k", "aes128gcm", 8.0, 120), scale(1000000, 512000, "1k", "aes128gcm", 6.0, 9000),
        {"kind": "workers", "fanout": 4, "payload": 200, "tx_mode": "chain", "cipher": "none",
         "channels": 1000, "in_mpps": 2.0, "out_mpps": 8.0, "ratio": None, "cycles_per_out": None,
         "drops": 0, "notes": "per-sender order kept", "reordered": 0},
    ]
    return {
        "date": "2025-11-27 10:00 UTC",
        "machine": "test-vm (2 vCPU)",
        "setup": "worker on CPU 1, rtr-gen on CPU 0, memif zero-copy between them",
        "ceiling": [{"kind": "txonly", "payload": 200, "mpps": 20.0},
                    {"kind": "txonly", "payload": 600, "mpps": 15.0},
                    {"kind": "txonly", "payload": 1200, "mpps": 10.0},
                    {"kind": "io", "payload": 200, "mpps": 10.0},
                    {"kind": "io", "payload": 1200, "mpps": 5.0}],
        "rows": rows,
        "ndr_mpps": 7.25,
        "pdr_mpps": None,
        "latency_us": [{"load": 0.5, "p50": 8.0, "p99": 30.0, "p999": 45.0},
                       {"load": 0.9, "p50": 12.0, "p99": 80.0, "p999": None}],
    }


def run(tmp_path, doc, env=None, outputs=True):
    src = tmp_path / "benchmarks.json"
    src.write_text(json.dumps(doc))
    args = [PY, TOOL, str(src)]
    if outputs:
        args += ["--md", str(tmp_path / "benchmarks.md"), "--png", str(tmp_path / "benchmarks.png")]
    return subprocess.run(args, capture_output=True, text=True, timeout=30, env=env)


def md_rows(md, section):
    """The cells of the Markdown table under '## section'."""
    body = md.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in body.splitlines() if ln.startswith("|")]     # header, |---|, data
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in rows]


def target(rows, case):
    hits = [r for r in rows if r[1].startswith(case)]
    assert len(hits) == 1, (case, rows)
    return hits[0]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    assert shutil.which("gnuplot"), "gnuplot missing: run tools/setup.sh (gnuplot-nox)"
    d = tmp_path_factory.mktemp("report")
    p = run(d, synthetic())
    assert p.returncode == 0, p.stderr
    return p, (d / "benchmarks.md").read_text(), d


def test_stdout_table(report):
    p, _, _ = report
    out = p.stdout
    for heading in ("Targets (issue 5)", "Ceilings", "Fan-out", "Copy or chain", "NDR and PDR",
                    "Latency", "Scale", "Two workers"):
        assert heading in out
    line = next(ln for ln in out.splitlines() if "plain" in ln and "chain" in ln and " 16 " in ln
                and "200 B" in ln)
    assert line.split()[5:10] == ["1.12", "18.00", "90.0%", "150", "0"], line
    assert "copy wins up to 600 B, chain from 1200 B" in out


def test_markdown_tables(report):
    _, md, _ = report
    assert md.startswith("# rtrelay benchmarks\n")
    assert "**When:** 2025-11-27 10:00 UTC" in md
    assert "**Machine:** test-vm (2 vCPU)" in md
    assert "**Set-up:** worker on CPU 1, rtr-gen on CPU 0" in md
    assert "![" in md and "](benchmarks.png)" in md

    fan_rows = md_rows(md, "Fan-out")
    assert fan_rows[0] == ["cipher", "tx", "payload", "fan-out", "in Mpps", "out Mpps", "of ceiling",
                           "cycles/out", "drops", "notes"]
    by = {tuple(r[:4]): r for r in fan_rows[2:]}
    assert by[("plain", "chain", "200 B", "16")][5:8] == ["18.00", "90.0%", "150"]
    assert by[("plain", "chain", "200 B", "1")][6] == "90.0%"            # fan-out 1 against io
    assert by[("plain", "copy", "200 B", "4")][6] == "77.5%"
    skipped = by[("AES-128-GCM", "chain", "200 B", "64")]
    assert skipped[4:7] == ["—", "—", "—"] and skipped[9] == "skipped: out of hugepages"

    ceil = md_rows(md, "Ceilings (dpdk-testpmd, same cores, sink and frame layout)")
    assert ["txonly (output)", "600 B", "15.00"] in ceil
    assert ["io-forward (fan-out 1)", "1200 B", "5.00"] in ceil

    assert md_rows(md, "NDR and PDR")[2:] == [["NDR (no loss)", "7.25"], ["PDR (≤ 0.5% loss)", "—"]]
    assert md_rows(md, "Latency")[2:] == [["50%", "8.00", "30.0", "45.0"], ["90%", "12.0", "80.0", "—"]]

    sc = md_rows(md, "Scale: channels resident, traffic over the hot set or all")
    assert sc[0][:11] == ["cipher", "tx", "payload", "fan-out", "hot set", "channels", "members",
                          "in Mpps", "out Mpps", "change", "memory MiB"]
    cells = {(r[0], r[4], r[5]): r for r in sc[2:]}
    assert cells[("plain", "1k", "1k")][9] == "base"
    assert cells[("plain", "1k", "1M")][6] == "4M"
    assert cells[("plain", "1k", "1M")][9:11] == ["−5.0%", "8,000"]
    assert cells[("plain", "all", "1M")][9] == "−40.0%"

    workers = md_rows(md, "Two workers")
    assert workers[2][-1] == "per-sender order kept; reordered=0"

    how = md.split("## How this was measured\n", 1)[1]
    assert "worker on CPU 1, rtr-gen on CPU 0, memif zero-copy between them." in how
    assert "50% and 90% of NDR" in how


def test_targets_pass_and_miss(report):
    _, md, _ = report
    t = md_rows(md, "Targets (issue 5)")[2:]
    assert target(t, "fan-out 1, 200 B")[1:] == ["fan-out 1, 200 B (chain)", "90.0% (9.00 / 10.00 Mpps)",
                                                  "≥ 80%", "PASS"]
    assert target(t, "fan-out 4, 200 B")[3:] == ["≥ 80%", "MISS"]          # best mode: copy, 77.5%
    assert target(t, "fan-out 4, 200 B")[2].startswith("77.5%")
    assert target(t, "fan-out 4, 1200 B")[4] == "PASS"                     # chain 90%
    assert target(t, "fan-out 16, 200 B")[4] == "PASS"                     # copy 95%
    assert target(t, "fan-out 16, 600 B")[4] == "PASS"                     # copy 100%
    assert target(t, "fan-out 16, 1200 B")[4] == "PASS"                    # chain 95%
    assert target(t, "plain, chain, 200 B, fan-out 4: 1k → 1M")[2:] == [
        "−5.0% (10.00 → 9.50 Mpps)", "< 10%", "PASS"]
    assert target(t, "AES-128-GCM, chain, 200 B, fan-out 4: 1k → 1M")[4] == "MISS"   # −25%
    lat = [r for r in t if r[0] == "p99 latency at 50% of NDR"]
    assert len(lat) == 1 and lat[0][2:] == ["30.0 µs", "< 50 µs", "PASS"]
    assert "2 MISS" in md


def test_latency_miss_and_fanout_pass(tmp_path):
    doc = synthetic()
    doc["latency_us"][0]["p99"] = 50.0              # not under 50 µs
    for r in doc["rows"]:
        if r["fanout"] == 4 and r["payload"] == 200 and r["cipher"] == "none" and r["tx_mode"] == "copy":
            r["out_mpps"] = 16.0                    # 80% of 20: passes (≥)
    p = run(tmp_path, doc)
    assert p.returncode == 0, p.stderr
    t = md_rows((tmp_path / "benchmarks.md").read_text(), "Targets (issue 5)")[2:]
    assert target(t, "fan-out 4, 200 B")[2:] == ["80.0% (16.00 / 20.00 Mpps)", "≥ 80%", "PASS"]
    lat = [r for r in t if r[0] == "p99 latency at 50% of NDR"][0]
    assert lat[2:] == ["50.0 µs", "< 50 µs", "MISS"]


def test_crossover(report):
    _, md, _ = report
    cross = {(r[0], r[1]): r for r in md_rows(md, "Copy or chain: where copying beats chaining")[2:]}
    assert cross[("plain", "16")][3] == "copy wins up to 600 B, chain from 1200 B"
    assert cross[("plain", "4")][3] == "copy wins up to 200 B, chain from 1200 B"
    assert cross[("plain", "1")][3] == "copy never wins"
    assert cross[("AES-128-GCM", "16")][3] == "copy always wins"
    assert ("AES-128-GCM", "64") not in cross                  # only chain, and that skipped


def test_crossover_function():
    rows = [fan(4, p, m, "none", v) for p, m, v in (
        (64, "chain", 10.0), (64, "copy", 12.0),
        (256, "chain", 10.0), (256, "copy", 10.0),            # a tie goes to chain
        (512, "chain", 9.0), (512, "copy", 9.5),              # copy again: not monotone
        (1200, "chain", 8.0), (1200, "copy", 6.0),
        (1500, "copy", 9.9))]                                 # copy only: not compared
    (c,) = bench_report.crossover(rows)
    assert c["largest_copy_win"] == 512
    assert [w for _, w, _ in c["winners"]] == ["copy", "chain", "copy", "chain"]
    assert c["verdict"] == "copy wins up to 512 B, chain from 1200 B (not monotone: chain wins at 256 B)"


def test_png(report):
    _, _, d = report
    data = (d / "benchmarks.png").read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 5000


@pytest.mark.parametrize("where,key", [
    ("top", "ndr_mpps"), ("top", "latency_us"), ("rows", "out_mpps"), ("rows", "drops"),
    ("ceiling", "kind"), ("latency", "p99")])
def test_missing_key(tmp_path, where, key):
    doc = copy.deepcopy(synthetic())
    {"top": doc, "rows": doc["rows"][3], "ceiling": doc["ceiling"][1],
     "latency": doc["latency_us"][0]}[where].pop(key)
    p = run(tmp_path, doc)
    assert p.returncode == 2
    assert f'missing required key "{key}"' in p.stderr
    assert not (tmp_path / "benchmarks.md").exists() and not (tmp_path / "benchmarks.png").exists()


def test_bad_input(tmp_path):
    p = subprocess.run([PY, TOOL, str(tmp_path / "absent.json")], capture_output=True, text=True)
    assert p.returncode == 2 and "absent.json" in p.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"date": ')
    p = subprocess.run([PY, TOOL, str(bad)], capture_output=True, text=True)
    assert p.returncode == 2 and "not valid JSON" in p.stderr
    doc = synthetic()
    doc["rows"][0]["cipher"] = "aes"
    p = run(tmp_path, doc)
    assert p.returncode == 2 and '"cipher"' in p.stderr


def test_no_gnuplot(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))      # no gnuplot on this PATH
    p = run(tmp_path, synthetic(), env=env)
    assert p.returncode == 3 and "gnuplot" in p.stderr
    assert not (tmp_path / "benchmarks.md").exists()
    p = run(tmp_path, synthetic(), env=env, outputs=False)   # the table alone needs no gnuplot
    assert p.returncode == 0 and "Targets (issue 5)" in p.stdout


def test_blind_sink_reference(tmp_path):
    """Txonly into a sink that reads nothing is shown beside the ceilings and
    never counts as one: targets stay computed from the reading sink's."""
    doc = synthetic()
    doc["ceiling_sink_blind"] = [{"kind": "txonly", "payload": 200, "tx_mode": "copy", "mpps": 40.0}]
    p = run(tmp_path, doc)
    assert p.returncode == 0, p.stderr
    md = (tmp_path / "benchmarks.md").read_text()
    body = md.split("## Ceilings", 1)[1].split("\n## ", 1)[0]
    assert "without reading them" in body and "40.00 Mpps at 200 B" in body, body
    # fan-out 16 at 200 B: 19.0 Mpps copy against the 20 Mpps reading-sink ceiling
    assert target(md_rows(md, "Targets (issue 5)")[2:], "fan-out 16, 200 B")[2].startswith("95.0%")


def test_ceiling_of_the_same_segmentation(tmp_path):
    """Ceilings that name a tx_mode serve only rows of that frame layout:
    a copy row is set against one-segment txonly, a chain row against
    two-segment txonly; a ceiling without tx_mode serves both."""
    doc = synthetic()
    doc["ceiling"] = [{"kind": "txonly", "payload": 200, "tx_mode": "copy", "mpps": 19.0},
                      {"kind": "txonly", "payload": 200, "tx_mode": "chain", "mpps": 25.0},
                      {"kind": "txonly", "payload": 600, "mpps": 15.0},
                      {"kind": "txonly", "payload": 1200, "mpps": 10.0},
                      {"kind": "io", "payload": 200, "mpps": 10.0},
                      {"kind": "io", "payload": 1200, "mpps": 5.0}]
    assert bench_report.ceiling_for(doc, "txonly", 200, "none", "copy") == 19.0
    assert bench_report.ceiling_for(doc, "txonly", 200, "none", "chain") == 25.0
    assert bench_report.ceiling_for(doc, "txonly", 200, "none") == 25.0
    assert bench_report.ceiling_for(doc, "txonly", 600, "none", "copy") == 15.0
    p = run(tmp_path, doc)
    assert p.returncode == 0, p.stderr
    md = (tmp_path / "benchmarks.md").read_text()
    t = md_rows(md, "Targets (issue 5)")[2:]
    # fan-out 16, 200 B: copy (19.0 Mpps) is the better mode, against 19.0: 100%
    assert target(t, "fan-out 16, 200 B")[1:] == ["fan-out 16, 200 B (copy)", "100.0% (19.00 / 19.00 Mpps)",
                                                   "≥ 90%", "PASS"]
    # fan-out 4, 200 B: copy 15.5 against 19.0
    assert target(t, "fan-out 4, 200 B")[2].startswith("81.6%")
    cells = [r[0] for r in md_rows(md, "Ceilings (dpdk-testpmd, same cores, sink and frame layout)")]
    assert "txonly (output), one segment" in cells and "txonly (output), two segments" in cells
