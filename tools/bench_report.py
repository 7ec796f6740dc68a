#!/usr/bin/python3
"""Turn the JSON that `make bench` writes into the benchmark report: a
fixed-width table on stdout, a Markdown page and a gnuplot PNG.

  bench_report.py IN.json [--md OUT.md] [--png OUT.png] [--title T]

IN.json (docs/benchmarks.json, issue 5):
  {"date", "machine", "setup",
   "ceiling": [{"kind": "txonly"|"io", "payload", "mpps"}],
   "rows": [{"fanout", "payload", "tx_mode", "cipher": "none"|"aes128gcm",
             "channels", "in_mpps", "out_mpps", "ratio", "cycles_per_out",
             "drops"}],
   "ndr_mpps", "pdr_mpps",
   "latency_us": [{"load", "p50", "p99", "p999"}]}

Rows may also carry "kind" ("fanout", "scale" or "workers"; without it a row
with "hot_set" or "members" is a scale row, any other a fan-out row),
"memory_mib", "hot_set" ("1k" or "all"), "members" and "notes"; any other
key a row carries is shown as key=value next to its notes. A ceiling may
carry "cipher" to give encrypted rows their own ceiling, and "tx_mode"
("copy": one segment, "chain": header and payload segments) to be the
ceiling of rows with that frame layout only. Measured values
may be null (a skipped measurement, shown as "—"); NaN/Infinity are refused.

Conventions: "ratio" is a fraction (0.93 = 93%) of the row's ceiling: the
io-forward ceiling for fan-out 1, the txonly ceiling otherwise, at the same
payload (and segmentation, where the ceilings name one). "load" in latency_us is a fraction of NDR (0.5) or a percentage
(50, "50%"). Targets are computed from out_mpps and the ceilings (the row's
"ratio" when no ceiling was measured); for a fan-out target the better of the
TX modes at that fan-out and payload counts.

The Markdown embeds the PNG by a path relative to the Markdown file.

Exit status: 0 report written (whatever the targets say); 2 bad arguments or
input (missing file, invalid JSON, missing or ill-typed key: named in the
message); 3 gnuplot (or its png/pngcairo terminal) missing; 4 gnuplot failed.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

EXIT_INPUT = 2
EXIT_NO_GNUPLOT = 3
EXIT_GNUPLOT_FAILED = 4

TOP_KEYS = ("date", "machine", "setup", "ceiling", "rows", "ndr_mpps", "pdr_mpps", "latency_us")
CEIL_KEYS = ("kind", "payload", "mpps")
ROW_KEYS = ("fanout", "payload", "tx_mode", "cipher", "channels", "in_mpps", "out_mpps",
            "ratio", "cycles_per_out", "drops")
LAT_KEYS = ("load", "p50", "p99", "p999")
ROW_KINDS = ("fanout", "scale", "workers")
CIPHERS = ("none", "aes128gcm")
HOT_SETS = ("1k", "all")

NULL = "—"
PLOT_FANOUTS = (1, 4, 16, 64, 256)


class InputError(Exception):
    pass


class GnuplotMissing(Exception):
    pass


class GnuplotFailed(Exception):
    pass


# ---------------------------------------------------------------- input

def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}")

    def no_constant(name):
        raise InputError(f"{path}: {name} is not valid JSON; write null for a skipped measurement")

    try:
        doc = json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON: {e}")
    validate(doc, path)
    return doc


def row_label(row):
    bits = []
    for k in ("kind", "fanout", "payload", "tx_mode", "cipher", "channels", "hot_set"):
        if isinstance(row, dict) and row.get(k) is not None:
            bits.append(f"{k}={row[k]}")
    return f" ({', '.join(bits)})" if bits else ""


def validate(doc, path):
    if not isinstance(doc, dict):
        raise InputError(f"{path}: the top level must be a JSON object")
    for k in TOP_KEYS:
        if k not in doc:
            raise InputError(f'{path}: missing required key "{k}"')

    def need_list(key):
        if not isinstance(doc[key], list):
            raise InputError(f'{path}: "{key}" must be a list')

    def check_num(obj, key, where, nullable=True, positive=False):
        v = obj[key]
        if v is None:
            if nullable:
                return
            raise InputError(f'{path}: {where}: "{key}" must not be null')
        if not is_num(v):
            raise InputError(f'{path}: {where}: "{key}" must be a number or null, not {json.dumps(v)}')
        if positive and v <= 0:
            raise InputError(f'{path}: {where}: "{key}" must be > 0, not {v}')

    def check_keys(obj, keys, where):
        if not isinstance(obj, dict):
            raise InputError(f"{path}: {where} must be a JSON object")
        for k in keys:
            if k not in obj:
                raise InputError(f'{path}: {where}: missing required key "{k}"')

    for k in ("ndr_mpps", "pdr_mpps"):
        check_num(doc, k, "top level")

    need_list("ceiling")
    for i, c in enumerate(doc["ceiling"]):
        where = f"ceiling[{i}]"
        check_keys(c, CEIL_KEYS, where)
        if c["kind"] not in ("txonly", "io"):
            raise InputError(f'{path}: {where}: "kind" must be "txonly" or "io", not {json.dumps(c["kind"])}')
        check_num(c, "payload", where, nullable=False)
        check_num(c, "mpps", where)
        if "cipher" in c and c["cipher"] not in CIPHERS:
            raise InputError(f'{path}: {where}: "cipher" must be one of {", ".join(CIPHERS)}')

    need_list("rows")
    for i, r in enumerate(doc["rows"]):
        where = f"rows[{i}]{row_label(r)}"
        check_keys(r, ROW_KEYS, where)
        kind = r.get("kind")
        if kind is not None and kind not in ROW_KINDS:
            raise InputError(f'{path}: {where}: "kind" must be one of {", ".join(ROW_KINDS)}, '
                             f"not {json.dumps(kind)}")
        kind = row_kind(r)
        for k in ("in_mpps", "out_mpps", "ratio", "cycles_per_out", "drops"):
            check_num(r, k, where)
        for k in ("memory_mib", "members"):
            if k in r:
                check_num(r, k, where)
        fan = kind == "fanout"
        check_num(r, "fanout", where, nullable=not fan, positive=True)
        check_num(r, "payload", where, nullable=not fan)
        check_num(r, "channels", where, nullable=kind != "scale", positive=True)
        if r["cipher"] is None and fan or r["cipher"] is not None and r["cipher"] not in CIPHERS:
            raise InputError(f'{path}: {where}: "cipher" must be one of {", ".join(CIPHERS)}, '
                             f"not {json.dumps(r['cipher'])}")
        if r["tx_mode"] is None and fan or r["tx_mode"] is not None and not isinstance(r["tx_mode"], str):
            raise InputError(f'{path}: {where}: "tx_mode" must be a string ("chain", "copy"), '
                             f"not {json.dumps(r['tx_mode'])}")
        if r.get("hot_set") is not None and r["hot_set"] not in HOT_SETS:
            raise InputError(f'{path}: {where}: "hot_set" must be "1k", "all" or null, '
                             f"not {json.dumps(r['hot_set'])}")

    need_list("latency_us")
    for i, lat in enumerate(doc["latency_us"]):
        where = f"latency_us[{i}]"
        check_keys(lat, LAT_KEYS, where)
        if lat["load"] is None or load_pct(lat["load"]) is None:
            raise InputError(f'{path}: {where}: "load" must be a fraction of NDR (0.5), '
                             f'a percentage (50) or "50%", not {json.dumps(lat["load"])}')
        for k in ("p50", "p99", "p999"):
            check_num(lat, k, where)


def row_kind(r):
    if r.get("kind") is not None:
        return r["kind"]
    if "hot_set" in r or "members" in r:
        return "scale"
    return "fanout"


def load_pct(v):
    """A latency load as % of NDR, or None when it cannot be read."""
    if isinstance(v, str):
        s = v.strip().rstrip("%").strip()
        try:
            x = float(s)
        except ValueError:
            return None
        return x if v.strip().endswith("%") or x > 1 else x * 100
    if is_num(v) and math.isfinite(v):
        return v * 100 if v <= 1 else v
    return None


# ---------------------------------------------------------------- formatting

def f_mpps(v):
    if v is None:
        return NULL
    return f"{v:.2f}" if abs(v) >= 1 or v == 0 else f"{v:.3f}"


def f_pct(frac):
    return NULL if frac is None else f"{frac * 100:.1f}%"


def f_signed_pct(p):
    if p is None:
        return NULL
    s = f"{p:+.1f}%"
    return s.replace("-", "−")


def f_cycles(v):
    if v is None:
        return NULL
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}"


def f_int(v):
    if v is None:
        return NULL
    if is_num(v) and float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:g}"


def f_count(v):
    """1000 -> 1k, 1000000 -> 1M, 4194304 -> 4,194,304."""
    if v is None:
        return NULL
    if is_num(v) and float(v).is_integer():
        n = int(v)
        if n >= 1000000 and n % 1000000 == 0:
            return f"{n // 1000000}M"
        if n >= 1000 and n % 1000 == 0:
            return f"{n // 1000}k"
        return f"{n:,}"
    return f"{v:g}"


def f_plain(v):
    return f"{int(v)}" if is_num(v) and float(v).is_integer() else f"{v:g}"


def f_payload(v):
    return NULL if v is None else f"{f_plain(v)} B"


def f_us(v):
    if v is None:
        return NULL
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def f_mib(v):
    if v is None:
        return NULL
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:.1f}"


def f_cipher(c):
    return {"none": "plain", "aes128gcm": "AES-128-GCM"}.get(c, NULL if c is None else str(c))


def f_any(v):
    if v is None:
        return NULL
    if isinstance(v, str):
        return v
    if is_num(v):
        return f_int(v) if float(v).is_integer() else f"{v:g}"
    return json.dumps(v, separators=(",", ":"))


def f_meta(v):
    """machine / setup / date: a string, or an object rendered key: value."""
    if v is None:
        return "unknown"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {f_any(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "; ".join(f_any(x) for x in v)
    return f_any(v)


def notes_of(row, shown):
    """The row's notes plus any keys its table has no column for."""
    parts = []
    if row.get("notes") not in (None, ""):
        parts.append(f_any(row["notes"]))
    for k, v in row.items():
        if k in shown or k in ROW_KEYS or k in ("kind", "notes"):
            continue
        parts.append(f"{k}={f_any(v)}")
    return "; ".join(parts)


def and_list(items):
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class Table:
    def __init__(self, headers, align, caption=None):
        self.headers = list(headers)
        self.align = align          # string of "l"/"r", one per column
        self.rows = []              # list of cell lists, or None for a group break
        self.caption = caption

    def add(self, cells):
        self.rows.append([str(c) for c in cells])

    def gap(self):
        if self.rows and self.rows[-1] is not None:
            self.rows.append(None)

    def drop_empty_column(self, name):
        if name not in self.headers:
            return
        i = self.headers.index(name)
        if all(r is None or r[i] == "" for r in self.rows):
            del self.headers[i]
            self.align = self.align[:i] + self.align[i + 1:]
            for r in self.rows:
                if r is not None:
                    del r[i]

    def text(self, tr=None, indent="  "):
        tr = tr or (lambda x: x)
        headers = [tr(h) for h in self.headers]
        rows = [None if r is None else [tr(c) for c in r] for r in self.rows]
        w = [len(h) for h in headers]
        for r in rows:
            if r is not None:
                w = [max(a, len(c)) for a, c in zip(w, r)]

        def line(cells):
            out = []
            for c, width, a in zip(cells, w, self.align):
                out.append(c.rjust(width) if a == "r" else c.ljust(width))
            return (indent + "  ".join(out)).rstrip()

        lines = [line(headers), (indent + "  ".join("-" * x for x in w))]
        for r in rows:
            lines.append("" if r is None else line(r))
        while lines and lines[-1] == "":
            lines.pop()
        if self.caption:
            lines.append(indent + tr(self.caption))
        return "\n".join(lines)

    def markdown(self):
        def esc(c):
            return c.replace("|", "\\|") if c else " "

        lines = ["| " + " | ".join(esc(h) for h in self.headers) + " |",
                 "|" + "|".join("---:" if a == "r" else "---" for a in self.align) + "|"]
        for r in self.rows:
            if r is not None:
                lines.append("| " + " | ".join(esc(c) for c in r) + " |")
        if self.caption:
            lines += ["", self.caption]
        return "\n".join(lines)


# ---------------------------------------------------------------- analysis

def ceiling_for(doc, kind, payload, cipher, tx_mode=None):
    """The ceiling Mpps for a row: ceilings carrying "cipher" match that
    cipher, ceilings carrying "tx_mode" that frame layout; ceilings without
    them serve every cipher or layout. With no ceiling of the row's layout,
    the highest of the others. Several measurements of the same ceiling: the
    highest counts (the conservative choice)."""
    cands = [c for c in doc["ceiling"]
             if c["kind"] == kind and c["payload"] == payload and c["mpps"] is not None]
    exact = [c for c in cands if "cipher" in c and c["cipher"] == cipher]
    generic = [c for c in cands if "cipher" not in c]
    pick = exact or generic
    same = [c for c in pick if c.get("tx_mode") in (None, tx_mode)] if tx_mode else pick
    pick = same or pick
    return max(c["mpps"] for c in pick) if pick else None


def ceiling_kind(row):
    return "io" if row["fanout"] == 1 else "txonly"


def ratio_of(doc, row):
    """(fraction of the ceiling, where it came from): computed from out_mpps
    and the measured ceiling, else the row's own "ratio"."""
    if row["out_mpps"] is not None and row.get("fanout") is not None:
        c = ceiling_for(doc, ceiling_kind(row), row["payload"], row["cipher"], row["tx_mode"])
        if c:
            return row["out_mpps"] / c, "computed"
    if row["ratio"] is not None:
        return row["ratio"], "row"
    return None, None


def split_rows(doc):
    out = {k: [] for k in ROW_KINDS}
    for r in doc["rows"]:
        out[row_kind(r)].append(r)
    return out


def fan_key(r):
    return (CIPHERS.index(r["cipher"]) if r["cipher"] in CIPHERS else 9, r["cipher"],
            r["tx_mode"], r["payload"], r["fanout"])


def check_ratios(doc, fan_rows, warn):
    for r in fan_rows:
        if r["ratio"] is None or r["out_mpps"] is None:
            continue
        c = ceiling_for(doc, ceiling_kind(r), r["payload"], r["cipher"], r["tx_mode"])
        if not c:
            continue
        mine = r["out_mpps"] / c
        if abs(r["ratio"] - mine) > 0.02 * max(mine, 1e-9):
            warn(f"fan-out {r['fanout']}, {r['payload']} B, {r['tx_mode']}, {r['cipher']}: "
                 f"ratio {r['ratio']:g} in the JSON, out_mpps / {ceiling_kind(r)} ceiling = "
                 f"{mine:.3f} (ratio should be a fraction of that ceiling); the tables use {mine:.3f}")


def duplicates(rows, keyf, what, warn):
    seen = set()
    for r in rows:
        k = keyf(r)
        if k in seen:
            warn(f"{what} {k} appears more than once; the first one counts")
        seen.add(k)


def crossover(fan_rows):
    """Per (cipher, fan-out): for each payload measured in both chain and copy
    mode, which one sends more; the largest payload where copy wins."""
    groups = {}
    for r in fan_rows:
        if r["tx_mode"] not in ("chain", "copy") or r["out_mpps"] is None:
            continue
        g = groups.setdefault((r["cipher"], r["fanout"]), {})
        g.setdefault(r["payload"], {}).setdefault(r["tx_mode"], r["out_mpps"])
    result = []
    for (cipher, fanout), by_payload in sorted(groups.items(), key=lambda kv: (
            CIPHERS.index(kv[0][0]) if kv[0][0] in CIPHERS else 9, kv[0][1])):
        both = sorted(p for p, m in by_payload.items() if "chain" in m and "copy" in m)
        if not both:
            continue
        winners = []
        for p in both:
            chain, copy = by_payload[p]["chain"], by_payload[p]["copy"]
            w = "copy" if copy > chain else "chain"     # a tie is not a win for copy
            lo = chain if w == "copy" else copy
            margin = (max(chain, copy) / lo - 1) * 100 if lo > 0 else None
            winners.append((p, w, margin))
        copy_ps = [p for p, w, _ in winners if w == "copy"]
        if not copy_ps:
            largest, verdict = None, "copy never wins"
        elif len(copy_ps) == len(winners):
            largest, verdict = max(copy_ps), "copy always wins"
        else:
            largest = max(copy_ps)
            verdict = f"copy wins up to {f_plain(largest)} B"
            above = [p for p, w, _ in winners if w == "chain" and p > largest]
            if above:
                verdict += f", chain from {f_plain(min(above))} B"
            below = [p for p, w, _ in winners if w == "chain" and p < largest]
            if below:
                verdict += f" (not monotone: chain wins at {', '.join(f_plain(p) for p in below)} B)"
        result.append({"cipher": cipher, "fanout": fanout, "winners": winners,
                       "largest_copy_win": largest, "verdict": verdict})
    return result


def scale_groups(scale_rows):
    groups = {}
    for r in scale_rows:
        k = (r["cipher"], r["tx_mode"], r["payload"], r["fanout"], r.get("hot_set"))
        groups.setdefault(k, []).append(r)
    for g in groups.values():
        g.sort(key=lambda r: r["channels"])
    return groups


def scale_order(k):
    cipher, mode, payload, fanout, hot = k
    return (CIPHERS.index(cipher) if cipher in CIPHERS else 9, str(mode), payload or 0, fanout or 0,
            HOT_SETS.index(hot) if hot in HOT_SETS else 9)


def change_pct(base, r):
    if base is None or base["out_mpps"] in (None, 0) or r["out_mpps"] is None:
        return None
    return (r["out_mpps"] / base["out_mpps"] - 1) * 100


def targets(doc, parts):
    """One entry per measured instance of each issue target."""
    res = []

    def add(target, item, measured, required, ok):
        res.append({"target": target, "item": item, "measured": measured, "required": required,
                    "status": "N/A" if ok is None else ("PASS" if ok else "MISS")})

    plain = [r for r in parts["fanout"] if r["cipher"] == "none"]
    best = {}
    for r in plain:
        if r["out_mpps"] is None:
            continue
        k = (r["fanout"], r["payload"])
        if k not in best or r["out_mpps"] > best[k]["out_mpps"]:
            best[k] = r
    measured_keys = sorted({(r["fanout"], r["payload"]) for r in plain})

    specs = [("plain fan-out ≥ 16, of txonly", lambda f: f >= 16, 0.90),
             ("plain fan-out 4, of txonly", lambda f: f == 4, 0.80),
             ("plain fan-out 1, of io-forward", lambda f: f == 1, 0.80)]
    for label, sel, need in specs:
        keys = [k for k in measured_keys if sel(k[0])]
        if not keys:
            add(label, "not measured", NULL, f"≥ {need * 100:.0f}%", None)
            continue
        for fanout, payload in keys:
            item = f"fan-out {fanout}, {f_payload(payload)}"
            r = best.get((fanout, payload))
            if r is None:
                add(label, item, "skipped", f"≥ {need * 100:.0f}%", None)
                continue
            frac, src = ratio_of(doc, r)
            item += f" ({r['tx_mode']})"
            if frac is None:
                add(label, item, f"{f_mpps(r['out_mpps'])} Mpps, no {ceiling_kind(r)} ceiling",
                    f"≥ {need * 100:.0f}%", None)
                continue
            c = ceiling_for(doc, ceiling_kind(r), payload, "none", r["tx_mode"])
            how = (f"{f_mpps(r['out_mpps'])} / {f_mpps(c)} Mpps" if src == "computed"
                   else "ratio from the row")
            add(label, item, f"{f_pct(frac)} ({how})", f"≥ {need * 100:.0f}%", frac >= need)

    label = "channels 1k → 1M, hot set"
    n = 0
    for (cipher, mode, payload, fanout, hot), g in sorted(scale_groups(parts["scale"]).items(),
                                                        key=lambda kv: scale_order(kv[0])):
        if hot != "1k" or len(g) < 2 or g[0]["channels"] == g[-1]["channels"]:
            continue
        lo, hi = g[0], g[-1]
        ch = change_pct(lo, hi)
        item = (f"{f_cipher(cipher)}, {mode or NULL}, {f_payload(payload)}, fan-out {f_any(fanout)}: "
                f"{f_count(lo['channels'])} → {f_count(hi['channels'])} channels")
        if ch is None:
            add(label, item, "skipped", "< 10%", None)
        else:
            rates = f"{f_mpps(lo['out_mpps'])} → {f_mpps(hi['out_mpps'])} Mpps"
            add(label, item, f"{f_signed_pct(ch)} ({rates})",
                "< 10%", abs(ch) < 10)
        n += 1
    if not n:
        add(label, "not measured", NULL, "< 10%", None)

    label = "p99 latency at 50% of NDR"
    at50 = [lat for lat in doc["latency_us"] if abs(load_pct(lat["load"]) - 50) < 0.5]
    if not at50:
        add(label, "not measured", NULL, "< 50 µs", None)
    for lat in at50:
        p99 = lat["p99"]
        add(label, f"p50 {f_us(lat['p50'])}, p99.9 {f_us(lat['p999'])} µs",
            NULL if p99 is None else f"{f_us(p99)} µs", "< 50 µs",
            None if p99 is None else p99 < 50)
    return res


# ---------------------------------------------------------------- the report

class Report:
    def __init__(self, doc, warn):
        self.doc = doc
        self.parts = split_rows(doc)
        fan = sorted(self.parts["fanout"], key=fan_key)
        self.parts["fanout"] = fan
        duplicates(fan, lambda r: (r["cipher"], r["tx_mode"], r["payload"], r["fanout"]),
                   "fan-out row", warn)
        duplicates(doc["ceiling"], lambda c: (c["kind"], c["payload"], c.get("cipher"), c.get("tx_mode")),
                   "ceiling", warn)
        check_ratios(doc, fan, warn)
        self.cross = crossover(fan)
        self.targets = targets(doc, self.parts)

    # each section: (title, [Table or str paragraphs])
    def sections(self):
        doc, parts = self.doc, self.parts
        out = []

        t = Table(["target", "case", "measured", "needed", "result"], "lllll")
        prev = None
        for x in self.targets:
            t.add([x["target"] if x["target"] != prev else "", x["item"], x["measured"], x["required"],
                   x["status"]])
            prev = x["target"]
        counts = {s: sum(1 for x in self.targets if x["status"] == s) for s in ("PASS", "MISS", "N/A")}
        t.caption = (f"{counts['PASS']} PASS, {counts['MISS']} MISS, {counts['N/A']} not measured. "
                     "Fan-out targets: output Mpps ÷ the ceiling at the same payload and segmentation, "
                     "the better TX mode (named) at each fan-out and payload; "
                     "the channel target: change in output Mpps; latency in µs.")
        out.append(("Targets (issue 5)", [t]))

        t = Table(["ceiling", "payload", "Mpps"], "lrr")
        order = {"txonly": 0, "io": 1}
        for c in sorted(doc["ceiling"], key=lambda c: (order[c["kind"]], str(c.get("cipher")), c["payload"],
                                                       str(c.get("tx_mode")))):
            name = "txonly (output)" if c["kind"] == "txonly" else "io-forward (fan-out 1)"
            if c.get("tx_mode"):
                name += ", " + {"copy": "one segment", "chain": "two segments"}.get(
                    c["tx_mode"], str(c["tx_mode"]))
            if "cipher" in c:
                name += f", {f_cipher(c['cipher'])}"
            t.add([name, f_payload(c["payload"]), f_mpps(c["mpps"])])
        parts_c = [t] if doc["ceiling"] else ["No ceiling was measured."]
        blind = doc.get("ceiling_sink_blind")
        if isinstance(blind, list) and blind:
            figs = [f"{f_mpps(c.get('mpps'))} Mpps at {f_payload(c.get('payload'))}"
                    for c in blind if isinstance(c, dict)]
            parts_c.append("For reference, not a ceiling: the same txonly into a sink that counts "
                           "frames without reading them sends " + and_list(figs) + ". Such a sink "
                           "leaves the shared memif buffers in the sender's cache; a relay's "
                           "receivers read what they receive, so the ceilings above use a sink that "
                           "reads each frame as it reads a relay copy.")
        out.append(("Ceilings (dpdk-testpmd, same cores, sink and frame layout)", parts_c))

        t = Table(["cipher", "tx", "payload", "fan-out", "in Mpps", "out Mpps", "of ceiling",
                   "cycles/out", "drops", "notes"], "lllrrrrrrl")
        prev = None
        for r in parts["fanout"]:
            g = (r["cipher"], r["tx_mode"], r["payload"])
            if prev is not None and g != prev:
                t.gap()
            prev = g
            frac, _ = ratio_of(doc, r)
            t.add([f_cipher(r["cipher"]), r["tx_mode"], f_payload(r["payload"]), f_int(r["fanout"]),
                   f_mpps(r["in_mpps"]), f_mpps(r["out_mpps"]), f_pct(frac), f_cycles(r["cycles_per_out"]),
                   f_int(r["drops"]), notes_of(r, ())])
        t.drop_empty_column("notes")
        t.caption = ("of ceiling: output Mpps ÷ the io-forward ceiling at fan-out 1, "
                     "÷ the txonly ceiling otherwise, same payload and segmentation.")
        out.append(("Fan-out", [t] if parts["fanout"] else ["No fan-out rows."]))

        if self.cross:
            t = Table(["cipher", "fan-out", "faster mode by payload", "copy vs chain"], "lrll")
            for c in self.cross:
                win = ", ".join(f"{f_payload(p)} {w}" + ("" if m is None else f" +{m:.1f}%")
                                for p, w, m in c["winners"])
                t.add([f_cipher(c["cipher"]), f_int(c["fanout"]), win, c["verdict"]])
            t.caption = "Copying beats chaining at and below the payload named (ties go to chain)."
            body = [t]
        else:
            body = ["No fan-out/cipher pair was measured in both chain and copy mode."]
        out.append(("Copy or chain: where copying beats chaining", body))

        ndr, pdr = doc["ndr_mpps"], doc["pdr_mpps"]
        t = Table(["rate", "Mpps"], "lr")
        t.add(["NDR (no loss)", f_mpps(ndr)])
        t.add(["PDR (≤ 0.5% loss)", f_mpps(pdr)])
        out.append(("NDR and PDR", [t]))

        t = Table(["load (of NDR)", "p50 µs", "p99 µs", "p99.9 µs"], "rrrr")
        for lat in sorted(doc["latency_us"], key=lambda x: load_pct(x["load"])):
            t.add([f"{load_pct(lat['load']):g}%", f_us(lat["p50"]), f_us(lat["p99"]), f_us(lat["p999"])])
        out.append(("Latency", [t] if doc["latency_us"] else ["No latency was measured."]))

        if parts["scale"]:
            t = Table(["cipher", "tx", "payload", "fan-out", "hot set", "channels", "members",
                       "in Mpps", "out Mpps", "change", "memory MiB", "notes"], "lllrlrrrrrrl")
            groups = scale_groups(parts["scale"])
            keys = sorted(groups, key=scale_order)
            shown = ("memory_mib", "hot_set", "members")
            for k in keys:
                g = groups[k]
                base = g[0]
                for r in g:
                    ch = "base" if r is base else f_signed_pct(change_pct(base, r))
                    t.add([f_cipher(r["cipher"]), r["tx_mode"] or NULL, f_payload(r["payload"]),
                           f_any(r["fanout"]), r.get("hot_set") or NULL, f_count(r["channels"]),
                           f_count(r.get("members")), f_mpps(r["in_mpps"]), f_mpps(r["out_mpps"]),
                           ch, f_mib(r.get("memory_mib")), notes_of(r, shown)])
                t.gap()
            t.drop_empty_column("notes")
            t.caption = ("change: output Mpps against the row with the fewest channels (\"base\") "
                         "with the same cipher, TX mode, payload, fan-out and hot set.")
            out.append(("Scale: channels resident, traffic over the hot set or all", [t]))

        if parts["workers"]:
            t = Table(["cipher", "tx", "payload", "fan-out", "channels", "in Mpps", "out Mpps",
                       "drops", "notes"], "lllrrrrrl")
            for r in parts["workers"]:
                t.add([f_cipher(r["cipher"]), r["tx_mode"] or NULL, f_payload(r["payload"]),
                       f_any(r["fanout"]), f_count(r["channels"]), f_mpps(r["in_mpps"]),
                       f_mpps(r["out_mpps"]), f_int(r["drops"]), notes_of(r, ())])
            t.drop_empty_column("notes")
            out.append(("Two workers", [t]))
        return out

    def how_measured(self):
        doc, parts = self.doc, self.parts
        s = []
        setup = doc["setup"]
        if isinstance(setup, str) and setup.strip():
            s.append(setup.strip().rstrip(".") + ".")
        elif isinstance(setup, (dict, list)) and setup:
            s.append(f"Set-up: {f_meta(setup)}.")
        if doc["machine"] is not None or doc["date"] is not None:
            s.append(f"The run was on {f_meta(doc['machine'])}, {f_meta(doc['date'])}.")
        if doc["ceiling"]:
            s.append("Every output rate is set against a ceiling measured in the same run on the same "
                     "cores, sink and frame layout: `dpdk-testpmd` txonly for fan-out above 1 and "
                     "`dpdk-testpmd` io-forward over the identical loop for fan-out 1.")
        if parts["fanout"]:
            s.append("`cycles_per_out` is the worker's busy TSC cycles divided by the frames it sent "
                     "(as testpmd's `--record-core-cycles`).")
        if self.cross:
            s.append("The copy/chain crossover compares the two TX modes at the same fan-out, cipher and "
                     "payload and names the largest payload at which copying sends more.")
        if doc["ndr_mpps"] is not None or doc["pdr_mpps"] is not None:
            s.append("NDR is the highest offered rate with no loss and PDR the highest with at most 0.5% "
                     "loss, found by binary search (RFC 2544 / FD.io CSIT).")
        if doc["latency_us"]:
            loads = sorted({load_pct(x["load"]) for x in doc["latency_us"]})
            s.append(f"Latency percentiles were taken at {and_list([f'{x:g}%' for x in loads])} of NDR.")
        if parts["scale"]:
            s.append("Scale rows keep the given number of channels resident and send either over a "
                     "1k-channel hot set or uniformly over all channels.")
        s.append("Values shown as — were not measured in this run.")
        return " ".join(s)

    def text(self, tr=None):
        """The fixed-width report; tr maps each cell before the columns are
        sized (to spell the non-ASCII marks out for a non-UTF-8 terminal)."""
        tr = tr or (lambda x: x)
        d = self.doc
        lines = ["rtrelay benchmarks",
                 f"  date:    {f_meta(d['date'])}",
                 f"  machine: {f_meta(d['machine'])}",
                 f"  set-up:  {f_meta(d['setup'])}"]
        lines = [tr(x) for x in lines]
        for title, body in self.sections():
            lines += ["", tr(title)]
            for b in body:
                lines.append(b.text(tr) if isinstance(b, Table) else "  " + tr(b))
        return "\n".join(lines) + "\n"

    def markdown(self, title, png_rel, json_rel):
        d = self.doc
        lines = [f"# {title}", "",
                 f"Generated by `make bench` (`tools/bench_report.py` from `{json_rel}`); "
                 "do not edit by hand, run `make bench` again.", "",
                 f"- **When:** {f_meta(d['date'])}",
                 f"- **Machine:** {f_meta(d['machine'])}",
                 f"- **Set-up:** {f_meta(d['setup'])}", ""]
        if png_rel:
            lines += [f"![Output Mpps against fan-out, with the txonly ceilings]({png_rel})", ""]
        for title_, body in self.sections():
            lines += [f"## {title_}", ""]
            for b in body:
                lines += [b.markdown() if isinstance(b, Table) else b, ""]
        lines += ["## How this was measured", "", self.how_measured(), ""]
        return "\n".join(lines)


# ---------------------------------------------------------------- the plot

def gp_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def find_gnuplot():
    gp = shutil.which("gnuplot")
    if gp is None:
        raise GnuplotMissing("gnuplot not found in PATH; install it (apt-get install gnuplot-nox, "
                             "or run tools/setup.sh)")
    try:
        p = subprocess.run([gp, "-e", "print GPVAL_TERMINALS"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GnuplotMissing(f"{gp} does not run: {e}")
    terms = (p.stdout + " " + p.stderr).split()
    for t in ("pngcairo", "png"):
        if t in terms:
            return gp, t
    raise GnuplotMissing(f"{gp} has neither the pngcairo nor the png terminal (install gnuplot-nox)")


COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def plot_script(report, terminal, out_png, title):
    doc = report.doc
    series = {}
    for r in report.parts["fanout"]:
        if r["out_mpps"] is None:
            continue
        pts = series.setdefault((r["payload"], r["tx_mode"], r["cipher"]), {})
        pts.setdefault(r["fanout"], r["out_mpps"])
    ceilings = {}
    for c in doc["ceiling"]:
        if c["kind"] == "txonly" and c["mpps"] is not None:
            k = (c["payload"], c.get("cipher"), c.get("tx_mode"))
            ceilings[k] = max(ceilings.get(k, 0), c["mpps"])

    payloads = sorted({k[0] for k in series} | {k[0] for k in ceilings})
    colour = {p: COLOURS[i % len(COLOURS)] for i, p in enumerate(payloads)}
    fanouts = sorted(set(PLOT_FANOUTS) | {f for s in series.values() for f in s})
    lo, hi = min(fanouts), max(fanouts)

    term = ("set terminal pngcairo size 1100,680 noenhanced font 'Sans,10'" if terminal == "pngcairo"
            else "set terminal png size 1100,680 noenhanced")
    g = [term, "set encoding utf8", f"set output {gp_str(out_png)}",
         "set title " + gp_str(title[0])[:-1] + "\\n" + gp_str(title[1])[1:],
         "set xlabel 'fan-out (receivers per frame)'", "set ylabel 'output Mpps'",
         "set logscale x 2", f"set xrange [{lo / 1.25:g}:{hi * 1.25:g}]",
         "set xtics (" + ", ".join(f"'{f:g}' {f:g}" for f in fanouts) + ")",
         "set yrange [0:*]", "set grid", "set key outside right top box",
         "set style data linespoints"]
    plots = []
    for i, (k, pts) in enumerate(sorted(series.items(), key=lambda kv: (
            kv[0][0], str(kv[0][1]), CIPHERS.index(kv[0][2]) if kv[0][2] in CIPHERS else 9))):
        payload, mode, cipher = k
        g.append(f"$s{i} << EOD")
        g += [f"{f:g} {v:.6g}" for f, v in sorted(pts.items())]
        g.append("EOD")
        enc = cipher == "aes128gcm"
        pt = {"chain": 7, "copy": 5}.get(mode, 9) - (1 if enc else 0)   # open symbols when encrypted
        dt = 4 if enc else 1
        plots.append(f"$s{i} using 1:2 with linespoints lc rgb '{colour[payload]}' lw 2 dt {dt} "
                     f"pt {pt} ps 1.3 "
                     f"title {gp_str(f'{f_payload(payload)}, {mode}, {f_cipher(cipher)}')}")
    for (payload, cipher, mode), mpps in sorted(ceilings.items(), key=lambda kv: (
            kv[0][0], str(kv[0][1]), str(kv[0][2]))):
        name = (f"txonly ceiling {f_payload(payload)}" + (f", {mode}" if mode else "") +
                (f", {f_cipher(cipher)}" if cipher else ""))
        dt = 3 if mode == "chain" else 2
        plots.append(f"{mpps:.6g} with lines lc rgb '{colour[payload]}' lw 1.5 dt {dt} "
                     f"title {gp_str(name)}")
    if not plots:
        g += ["unset key", "set yrange [0:1]",
              "set label 'no fan-out rows or ceilings measured' at graph 0.5, 0.5 center"]
        plots.append("NaN notitle")
    g.append("plot " + ", \\\n     ".join(plots))
    g.append("unset output")
    return "\n".join(g) + "\n"


def write_png(report, gnuplot, path, title):
    gp, terminal = gnuplot
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp_png = tempfile.mkstemp(prefix=".bench_report.", suffix=".png", dir=d)
    os.close(fd)
    script = plot_script(report, terminal, tmp_png, title)
    sfd, tmp_gp = tempfile.mkstemp(prefix=".bench_report.", suffix=".gp")
    try:
        with os.fdopen(sfd, "w", encoding="utf-8") as f:
            f.write(script)
        try:
            p = subprocess.run([gp, tmp_gp], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise GnuplotFailed(f"gnuplot did not run: {e}")
        with open(tmp_png, "rb") as f:
            head = f.read(8)
        if p.returncode != 0 or head != b"\x89PNG\r\n\x1a\n":
            raise GnuplotFailed(f"gnuplot failed (status {p.returncode}):\n{p.stderr.strip()}\n"
                                f"script:\n{script}")
        os.chmod(tmp_png, file_mode())
        os.replace(tmp_png, path)
    finally:
        os.unlink(tmp_gp)
        if os.path.exists(tmp_png):
            os.unlink(tmp_png)


def file_mode():
    """What open() would have given a new file (mkstemp makes it 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_text(path, text):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".bench_report.", suffix=".md", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


ASCII = str.maketrans({"—": "-", "µ": "u", "≥": ">=", "≤": "<=", "→": "->", "−": "-", "÷": "/"})


def emit(report):
    """Print the table; spell the marks out when stdout cannot encode them."""
    enc = sys.stdout.encoding or "ascii"
    text = report.text()
    try:
        text.encode(enc)
    except UnicodeEncodeError:
        text = report.text(lambda x: x.translate(ASCII)).encode(enc, "replace").decode(enc)
    sys.stdout.write(text)
    sys.stdout.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Print the benchmark table from make bench's JSON and write the Markdown and PNG.",
        epilog="Exit status: 2 bad input, 3 gnuplot missing, 4 gnuplot failed.")
    ap.add_argument("json", metavar="IN.json")
    ap.add_argument("--md", metavar="OUT.md", help="write the Markdown report here")
    ap.add_argument("--png", metavar="OUT.png", help="write the gnuplot plot here (embedded in OUT.md)")
    ap.add_argument("--title", default="rtrelay benchmarks", help="Markdown heading and plot title")
    a = ap.parse_args(argv)

    def warn(msg):
        print(f"bench_report: warning: {msg}", file=sys.stderr)

    try:
        doc = load(a.json)
    except InputError as e:
        print(f"bench_report: error: {e}", file=sys.stderr)
        return EXIT_INPUT

    gnuplot = None
    if a.png:
        try:
            gnuplot = find_gnuplot()
        except GnuplotMissing as e:
            print(f"bench_report: error: {e}", file=sys.stderr)
            return EXIT_NO_GNUPLOT
    for p in (a.md, a.png):
        if p and not os.path.isdir(os.path.dirname(os.path.abspath(p))):
            print(f"bench_report: error: {p}: no such directory", file=sys.stderr)
            return EXIT_INPUT

    report = Report(doc, warn)
    emit(report)

    if a.png:
        sub = f"{f_meta(doc['machine'])}, {f_meta(doc['date'])}"
        plot_title = (f"{a.title}: output Mpps against fan-out",
                      sub if len(sub) <= 120 else sub[:119] + "…")
        try:
            write_png(report, gnuplot, a.png, plot_title)
        except GnuplotFailed as e:
            print(f"bench_report: error: {e}", file=sys.stderr)
            return EXIT_GNUPLOT_FAILED
    if a.md:
        md_dir = os.path.dirname(os.path.abspath(a.md))
        png_rel = os.path.relpath(os.path.abspath(a.png), md_dir) if a.png else None
        json_rel = os.path.relpath(os.path.abspath(a.json), md_dir)
        write_text(a.md, report.markdown(a.title, png_rel, json_rel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
