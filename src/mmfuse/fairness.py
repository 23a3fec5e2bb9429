"""Fairness audit of a screening: selection rates per group and the four-fifths rule.

The group data (self-reported, e.g. gender or ethnicity) lives in its own file and never
enters the model: it is joined to the results by candidate id only here, after the fact.

Per group: candidates, selected, the selection rate (fairlearn's ``MetricFrame`` with
``selection_rate``), the adverse-impact ratio to the best-off group (its rate divided by the
highest rate), and the four-fifths rule of the US Uniform Guidelines (29 CFR 1607.4 D): a
ratio below 0.8 is evidence of adverse impact. Where groups are small the ratio swings with
one candidate, so each group is also compared with the best-off group by Fisher's exact test
(scipy; two-sided, exact at any size), and a group of fewer than ``MIN_GROUP`` candidates is
said to be too small to judge. A single group has nothing to compare with: no ratio, no rule,
no test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FOUR_FIFTHS = 0.8
MIN_GROUP = 5  # fewer candidates than this: one decision moves the rate by 20 points or more
ALPHA = 0.05
# The ids a blind screening gives candidates whose ids looked like names
# (``tasks.screening.identity``); the audit says so when a groups file does not match them.
BLIND_ID_PREFIX = "cand-"
NOTHING_TO_COMPARE = "nothing to compare: a single group"


@dataclass(frozen=True)
class GroupResult:
    """The audit of one group."""

    group: str
    candidates: int
    selected: int
    selection_rate: float
    impact_ratio: float | None  # None when nobody is selected or there is one group only
    four_fifths: str  # "pass", "adverse impact" or "n/a"
    p_value: float | None  # Fisher's exact test against the best-off group
    verdict: str  # one plain sentence

    def to_row(self) -> dict:
        return {
            "group": self.group,
            "candidates": self.candidates,
            "selected": self.selected,
            "selection_rate": round(self.selection_rate, 4),
            "impact_ratio": None if self.impact_ratio is None else round(self.impact_ratio, 4),
            "four_fifths": self.four_fifths,
            "p_value": None if self.p_value is None else round(self.p_value, 4),
            "verdict": self.verdict,
        }


COLUMNS = (
    "group", "candidates", "selected", "selection_rate", "impact_ratio", "four_fifths",
    "p_value", "verdict",
)  # fmt: skip


def selection_rates(selected: Sequence[bool], groups: Sequence[str]) -> dict[str, float]:
    """Selection rate per group, computed by fairlearn's MetricFrame."""
    from fairlearn.metrics import MetricFrame, selection_rate

    frame = MetricFrame(
        metrics=selection_rate,
        y_true=[int(s) for s in selected],  # unused by selection_rate; MetricFrame needs it
        y_pred=[int(s) for s in selected],
        sensitive_features=list(groups),
    )
    return {str(g): float(v) for g, v in frame.by_group.items()}


def audit(selected: Sequence[bool], groups: Sequence[str]) -> list[GroupResult]:
    """The audit of each group (see the module docstring), best-off group first."""
    from scipy.stats import fisher_exact

    rates = selection_rates(selected, groups)
    counts = {g: [0, 0] for g in rates}
    for chosen, group in zip(selected, groups, strict=True):
        counts[group][0] += 1
        counts[group][1] += bool(chosen)
    best = max(rates, key=lambda g: (rates[g], counts[g][0]))
    if len(rates) == 1:
        n, chosen = counts[best]
        return [GroupResult(best, n, chosen, rates[best], None, "n/a", None, NOTHING_TO_COMPARE)]
    top = rates[best]
    results = []
    for group in sorted(rates, key=lambda g: (-rates[g], g)):
        n, chosen = counts[group]
        ratio = rates[group] / top if top > 0 else None
        rule = "n/a" if ratio is None else "pass" if ratio >= FOUR_FIFTHS else "adverse impact"
        p_value = None
        if group != best and top > 0:
            n_best, chosen_best = counts[best]
            table = [[chosen, n - chosen], [chosen_best, n_best - chosen_best]]
            p_value = float(fisher_exact(table, alternative="two-sided").pvalue)
        results.append(
            GroupResult(group, n, chosen, rates[group], ratio, rule, p_value,
                        _verdict(group == best, n, rule, p_value))
        )  # fmt: skip
    return results


def _verdict(best: bool, n: int, rule: str, p_value: float | None) -> str:
    if n < MIN_GROUP:
        return f"too small to judge ({n} candidates; at least {MIN_GROUP} needed)"
    if best:
        return "reference group (highest selection rate)"
    if rule == "n/a":
        return "nobody was selected in any group"
    significant = p_value is not None and p_value < ALPHA
    if rule == "adverse impact":
        if significant:
            return "adverse impact: below four-fifths and significant (Fisher p < 0.05)"
        return "below four-fifths, but not significant at this size: review, gather more data"
    if significant:
        return "passes four-fifths, but the difference is significant (Fisher p < 0.05)"
    return "no adverse impact found"
