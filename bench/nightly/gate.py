"""The regression gate: compares a run's figures with the baseline's.

A figure is a named list of values (one per repetition) with a kind:
  exact  a simulated figure, the same for a seed on every run: a regression is a change in the
         worse direction beyond `exact_tolerance` (relative).
  wall   a wall-clock figure, noisy: a regression is a median worse by more than the figure's
         threshold (default `wall_threshold`, relative) that the Mann-Whitney U test also finds
         significant (one-sided, p < alpha) over the repetitions of both runs. The test comes
         from SciPy (Debian's python3-scipy), the same test Google Benchmark's compare.py uses.
         With fewer than 3 repetitions on either side the test cannot reach p < 0.05, and the
         threshold alone decides (the verdict says so).
  info   reported beside the others with its change, never a regression (the CPU times behind
         the calibrated micro figures, the simulator's wall time).
Figures say which direction is better ("lower" or "higher").

A run may carry a confirmation: the wall figures that regressed, measured once more in fresh
processes (nightly.py does it before gating). A wall regression the confirmation does not
repeat is "unconfirmed", reported and not failed: the machine's slow spells (another tenant on
the core's sibling thread slows some code 20-80% and leaves BM_Calibrate alone) last seconds
to minutes, a real regression lasts. Without a confirmation the first verdict stands.
"""
import dataclasses
import statistics

from scipy.stats import mannwhitneyu

MIN_REPETITIONS_FOR_TEST = 3


@dataclasses.dataclass
class Verdict:
    name: str
    status: str  # regression, improvement, same, new, not-measured
    kind: str
    unit: str
    baseline: float | None
    current: float | None
    worse_by: float | None  # relative change in the worse direction (0.1 = 10% worse)
    p_value: float | None
    note: str = ""


def worse_by(current, baseline, better):
    """Relative change of `current` against `baseline`, positive when worse."""
    if baseline == 0:
        diff = current - baseline
        if diff == 0:
            return 0.0
        worse = diff > 0 if better == "lower" else diff < 0
        return float("inf") if worse else float("-inf")
    change = (current - baseline) / abs(baseline)
    return change if better == "lower" else -change


def u_test(current, baseline, better):
    """One-sided p-value that `current` is worse than `baseline`, or None if untestable."""
    if min(len(current), len(baseline)) < MIN_REPETITIONS_FOR_TEST:
        return None
    if len(set(current) | set(baseline)) == 1:
        return 1.0
    alternative = "greater" if better == "lower" else "less"
    return float(mannwhitneyu(current, baseline, alternative=alternative).pvalue)


def judge(name, cur, base, wall_threshold, exact_tolerance, alpha):
    """The verdict on one figure present in both runs."""
    c, b = statistics.median(cur["values"]), statistics.median(base["values"])
    better = cur.get("better", "lower")
    w = worse_by(c, b, better)
    v = Verdict(name, "same", cur["kind"], cur.get("unit", ""), b, c, w, None)
    if cur["kind"] == "info" or base.get("kind") == "info":
        v.kind = "info"
        return v
    if cur["kind"] == "exact":
        limit = cur.get("threshold", exact_tolerance)
        if w > limit:
            v.status = "regression"
        elif w < -limit:
            v.status = "improvement"
        return v
    limit = cur.get("threshold", wall_threshold)
    v.p_value = u_test(cur["values"], base["values"], better)
    if v.p_value is None:
        v.note = "too few repetitions for the U test: threshold only"
        significant_worse = significant_better = True
    else:
        significant_worse = v.p_value < alpha
        flipped = {"lower": "higher", "higher": "lower"}[better]
        p_better = u_test(cur["values"], base["values"], flipped)
        significant_better = p_better is not None and p_better < alpha
    if w > limit and significant_worse:
        v.status = "regression"
    elif w < -limit and significant_better:
        v.status = "improvement"
    return v


def compare(current, baseline, wall_threshold=0.10, exact_tolerance=0.02, alpha=0.05):
    """Verdicts for every figure in either run, in name order."""
    cur, base = current["figures"], baseline.get("figures", {})
    again = current.get("confirmation", {}).get("figures", {})
    out = []
    for name in sorted(set(cur) | set(base)):
        if name not in base:
            c = cur[name]
            out.append(Verdict(name, "new", c["kind"], c.get("unit", ""), None,
                               statistics.median(c["values"]), None, None, "not in the baseline"))
        elif name not in cur:
            b = base[name]
            out.append(Verdict(name, "not-measured", b["kind"], b.get("unit", ""),
                               statistics.median(b["values"]), None, None, None,
                               "in the baseline, not measured in this run"))
        else:
            v = judge(name, cur[name], base[name], wall_threshold, exact_tolerance, alpha)
            if v.status == "regression" and v.kind == "wall" and name in again:
                confirm(v, judge(name, again[name], base[name], wall_threshold, exact_tolerance,
                                 alpha))
            out.append(v)
    return out


def confirm(v, second):
    """Applies the verdict on the confirmation's values to the regression `v`."""
    measured = f"measured again: {second.current:.4g}, {second.worse_by * 100:+.1f}%"
    if second.status == "regression":
        v.note = f"confirmed ({measured})"
    else:
        v.status = "unconfirmed"
        v.note = f"not confirmed ({measured})"


def suspects(verdicts):
    """Names of the wall figures a confirmation should measure again."""
    return [v.name for v in verdicts if v.status == "regression" and v.kind == "wall"]


def regressions(verdicts):
    return [v for v in verdicts if v.status == "regression"]
