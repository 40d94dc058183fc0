"""The nightly report: report.md with every verdict, and gnuplot plots of each figure against
the baseline (one plot per group: the micro-benchmarks, and each simulated workload)."""
import math
import os
import shutil
import subprocess

STATUS_MARK = {"regression": "**REGRESSION**", "unconfirmed": "unconfirmed",
               "improvement": "improvement", "same": "",
               "new": "new", "not-measured": "not measured"}


def fmt(x):
    if x is None:
        return ""
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return str(x)
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e6 or a < 1e-3:
        return f"{x:.4g}"
    return f"{x:,.4g}" if a < 1000 else f"{x:,.0f}"


def pct(w):
    if w is None:
        return ""
    if math.isinf(w):
        return "from 0"
    return f"{w * 100:+.1f}%"


def group_of(name):
    """micro/engine_bench/BM_x -> micro; sim/boot/seed1/x -> sim/boot."""
    parts = name.split("/")
    return parts[0] if parts[0] != "sim" else "/".join(parts[:2])


def plot(group, verdicts, out_dir):
    """A bar per figure: cost relative to the baseline (1 = same, above 1 = worse)."""
    rows = [v for v in verdicts if v.worse_by is not None and not math.isinf(v.worse_by)]
    if not rows or not shutil.which("gnuplot"):
        return None
    stem = group.replace("/", "-")
    data = os.path.join(out_dir, f"{stem}.dat")
    with open(data, "w") as f:
        for v in rows:
            label = v.name[len(group) + 1:].replace("_", "\\\\_")
            colour = {"regression": 0xCC3311, "improvement": 0x228833}.get(v.status, 0x4477AA)
            f.write(f"\"{label}\" {1 + v.worse_by:.6f} {colour}\n")
    png = f"{stem}.png"
    script = os.path.join(out_dir, f"{stem}.gp")
    height = 360 + 14 * len(rows)
    with open(script, "w") as f:
        f.write(f"""set terminal pngcairo size 900,{height} font ",9"
set output "{os.path.join(out_dir, png)}"
set title "{group}: each figure against the baseline (1 = same, right = worse)"
set style fill solid 0.6
set yrange [-1:{len(rows)}]
set ytics nomirror
set grid xtics
set xrange [*<0.8:1.2<*]
set key off
set xlabel "cost relative to the baseline (higher-is-better figures inverted)"
set arrow from 1, graph 0 to 1, graph 1 nohead lc rgb "black"
plot "{data}" using 2:0:(($2 < 1) ? $2 : 1):(($2 < 1) ? 1 : $2):($0 - 0.35):($0 + 0.35):3:yticlabels(1) \\
     with boxxyerror lc rgb variable
""")
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return png


def write(out_dir, current, baseline, baseline_path, verdicts, settings):
    os.makedirs(out_dir, exist_ok=True)
    regs = [v for v in verdicts if v.status == "regression"]
    counts = {s: sum(v.status == s for v in verdicts) for s in STATUS_MARK}
    lines = [
        "# Nightly benchmark report", "",
        f"- run: {current.get('created', '')}, git {current.get('git', '?')}, "
        f"host {current.get('host', '?')}, {current.get('repetitions', '?')} repetitions",
        f"- baseline: `{baseline_path}` ({baseline.get('created', 'none')}, "
        f"git {baseline.get('git', '?')})",
        f"- gate: wall-clock figures regress when their median is more than "
        f"{settings['wall_threshold'] * 100:.0f}% worse (or the figure's own threshold) and the "
        f"one-sided Mann-Whitney U test gives p < {settings['alpha']}, and a second "
        f"measurement in fresh processes repeats it (when the run made one); simulated figures "
        f"(exact for a seed) when more than {settings['exact_tolerance'] * 100:.0f}% worse",
        f"- verdict: **{'FAIL' if regs else 'PASS'}**: "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n), "",
    ]
    if regs:
        lines += ["## Regressions", ""]
        lines += [f"- `{v.name}`: {fmt(v.baseline)} -> {fmt(v.current)} {v.unit} "
                  f"({pct(v.worse_by)} worse" + (f", p = {v.p_value:.3g}" if v.p_value else "")
                  + ")" for v in regs]
        lines.append("")
    groups = {}
    for v in verdicts:
        groups.setdefault(group_of(v.name), []).append(v)
    for group, vs in groups.items():
        lines += [f"## {group}", ""]
        png = plot(group, vs, out_dir)
        if png:
            lines += [f"![{group}]({png})", ""]
        lines += ["| figure | kind | unit | baseline | this run | worse by | p (worse) | verdict |",
                  "|---|---|---|---:|---:|---:|---:|---|"]
        for v in vs:
            p = f"{v.p_value:.3g}" if v.p_value is not None else ""
            verdict = STATUS_MARK[v.status] + (f" ({v.note})" if v.note else "")
            lines.append(f"| `{v.name[len(group) + 1:]}` | {v.kind} | {v.unit} | "
                         f"{fmt(v.baseline)} | {fmt(v.current)} | {pct(v.worse_by)} | {p} | "
                         f"{verdict} |")
        lines.append("")
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path
