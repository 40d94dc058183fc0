"""The sweep's report: for each figure the runs give, its distribution across seeds at each
parameter point (median, 5th and 95th percentile, min, max; NumPy's percentiles), plots of
each figure against the points with those bands and CDFs across seeds (Matplotlib), and the
failures grouped by signature with a reproduce command (and, with --minimize, the minimized
reproducer). Written as README.md, results as JSON Lines beside it, PNGs beside that."""
import os

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import plan  # noqa: E402


def _vms(doc, key):
    return [vm.get(key) for vm in doc["vms"] if vm.get(key) is not None]


def _max(values):
    return max(values) if values else None


def figures_of(doc):
    """{figure: value} of one fvdsim --json result (None where a run has no such figure)."""
    sim_s = doc["sim_time_s"]
    moved = sum(vm["bytes_read"] + vm["bytes_written"] for vm in doc["vms"])
    allocating = sum(vm.get("allocating_writes", 0) for vm in doc["vms"])
    prefetched = [vm.get("prefetch_finished_s") for vm in doc["vms"]
                  if vm.get("prefetch_started_s") is not None]
    return {
        "read_p50_us (worst VM)": _max(_vms(doc, "read_p50_us")),
        "read_p99_us": doc["read_p99_us"],
        "write_p50_us (worst VM)": _max(_vms(doc, "write_p50_us")),
        "write_p99_us": doc["write_p99_us"],
        "throughput_mib_s": moved / (1 << 20) / sim_s if sim_s else None,
        "prefetch_finished_s (last VM)":
            (max(p if p is not None else sim_s for p in prefetched) if prefetched else None),
        "base_bytes_read": sum(_vms(doc, "base_bytes_read")) if doc["bases"] else None,
        "recovery_max_ms (worst VM)": _max(_vms(doc, "recovery_max_ms")) if doc["crashes"] else None,
        "journal_writes_per_allocating_write":
            (sum(_vms(doc, "journal_sector_writes")) / allocating if allocating else None),
        "events": doc["events"],
        "simulator_wall_s": doc["wall_time_s"],
    }


def _stats(values):
    a = np.asarray(values, dtype=float)
    p5, p50, p95 = np.percentile(a, [5, 50, 95])
    return {"n": len(a), "median": p50, "p5": p5, "p95": p95, "min": a.min(), "max": a.max()}


def distributions(records):
    """{(file, point label): {figure: stats}} over the records that ran (passed or failed)."""
    values = {}
    for r in records:
        if not r.get("result"):
            continue
        key = (r["file"], plan.point_label(r["params"]))
        for fig, v in figures_of(r["result"]).items():
            if v is not None:
                values.setdefault(key, {}).setdefault(fig, []).append(v)
    return {key: {fig: _stats(v) for fig, v in figs.items()} for key, figs in values.items()}, values


def failure_groups(records):
    groups = {}
    for r in records:
        if r["status"] == "pass":
            continue
        g = groups.setdefault(r["signature"], {"count": 0, "records": []})
        g["count"] += 1
        g["records"].append(r)
    for g in groups.values():
        g["records"].sort(key=lambda r: (r["file"], r["seed"]))
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]["count"]))


def _fmt(x):
    if abs(x) >= 1000 or x == int(x):
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _slug(name):
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def _log_if_wide(ax, axis, raw, fig_name):
    """A log axis when the figure's positive values span more than a factor of 100."""
    values = [x for figs in raw.values() for x in figs.get(fig_name, []) if x > 0]
    if values and max(values) / min(values) > 100:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


def plot_figure(fig_name, keys, dists, raw, out_dir):
    """Two PNGs for one figure: median with the 5-95% band (and min/max) per point, and CDFs."""
    files = sorted({f for f, _ in keys})
    points = [p for p in dict.fromkeys(p for _, p in keys)]
    slug = _slug(fig_name)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    x = np.arange(len(points))
    for f in files:
        st = [dists[(f, p)].get(fig_name) if (f, p) in dists else None for p in points]
        xs = [i for i, s in zip(x, st) if s]
        if not xs:
            continue
        med = [s["median"] for s in st if s]
        ax.plot(xs, med, marker="o", label=os.path.basename(f))
        ax.fill_between(xs, [s["p5"] for s in st if s], [s["p95"] for s in st if s], alpha=0.25)
        ax.scatter(xs, [s["min"] for s in st if s], marker="_", color="grey")
        ax.scatter(xs, [s["max"] for s in st if s], marker="_", color="grey")
    _log_if_wide(ax, "y", raw, fig_name)
    ax.set_xticks(x, points, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(fig_name)
    ax.set_title(f"{fig_name}: median, 5-95% band, min and max across seeds")
    ax.legend(fontsize=8)
    fig.tight_layout()
    band = f"{slug}.png"
    fig.savefig(os.path.join(out_dir, band), dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for (f, p) in keys:
        v = raw.get((f, p), {}).get(fig_name)
        if not v:
            continue
        v = np.sort(np.asarray(v, dtype=float))
        ax.step(np.concatenate(([v[0]], v)), np.arange(0, len(v) + 1) / len(v), where="post",
                label=f"{os.path.basename(f)}: {p}")
    _log_if_wide(ax, "x", raw, fig_name)
    ax.set_xlabel(fig_name)
    ax.set_ylabel("share of seeds")
    ax.set_title(f"{fig_name}: CDF across seeds")
    ax.legend(fontsize=7)
    fig.tight_layout()
    cdf = f"{slug}-cdf.png"
    fig.savefig(os.path.join(out_dir, cdf), dpi=90)
    plt.close(fig)
    return band, cdf


def write(records, out_dir, title, minimized=None, command=""):
    """Writes README.md and the plots into `out_dir`; returns the README's path."""
    os.makedirs(out_dir, exist_ok=True)
    dists, raw = distributions(records)
    keys = list(dists.keys())
    figs = list(dict.fromkeys(f for d in dists.values() for f in d))
    passed = sum(r["status"] == "pass" for r in records)
    lines = [f"# Sweep: {title}", ""]
    if command:
        lines += ["```sh", command, "```", ""]
    lines += [f"{len(records)} runs: {passed} passed, {len(records) - passed} failed. "
              "Figures over the seeds of each workload file and parameter point: median, "
              "5th and 95th percentile, min and max.", ""]
    for fig_name in figs:
        lines += [f"## {fig_name}", "",
                  "| file | point | runs | median | p5 | p95 | min | max |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for key in keys:
            s = dists[key].get(fig_name)
            if s:
                lines.append(f"| {os.path.basename(key[0])} | {key[1]} | {s['n']} | "
                             f"{_fmt(s['median'])} | {_fmt(s['p5'])} | {_fmt(s['p95'])} | "
                             f"{_fmt(s['min'])} | {_fmt(s['max'])} |")
        band, cdf = plot_figure(fig_name, keys, dists, raw, out_dir)
        lines += ["", f"![{fig_name} by point]({band})", f"![{fig_name} CDF]({cdf})", ""]
    groups = failure_groups(records)
    lines += ["## Failures", ""]
    if not groups:
        lines.append("None.")
    for sig, g in groups.items():
        first = g["records"][0]
        lines += [f"- **{sig}**: {g['count']} runs (first: {os.path.basename(first['file'])} "
                  f"seed {first['seed']}, {plan.point_label(first['params'])})",
                  f"  - {first['message']}", f"  - reproduce: `{first['reproduce']}`"]
        if minimized and sig in minimized:
            lines.append(f"  - minimized: {minimized[sig]}")
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return os.path.join(out_dir, "README.md")
