"""Every metric evaluation.json reports, declared once: what it needs and how it is reported.

Each metric's formula lives with the others of its kind: ``metrics.threshold_metrics`` (a function of
the confusion counts at the decision threshold) or ``metrics.score_metrics`` (a function of every
score, from the ScoreTable), and its bootstrap replicate in ``uncertainty`` (the threshold metrics'
come from the same ``threshold_metrics``). evaluate.py, the bootstrap, the report, the paired and the
recorded champion comparisons and the gate read this table; tests check that the formulas and the
table name the same metrics. Adding a threshold metric is its formula and one line here.

>>> names(kind=THRESHOLD, compared=True)
('accuracy', 'precision', 'recall', 'f1')
>>> spec("auc").value_path, spec("auc").lower_bound_path, spec("f1").lower_bound_path
('binary_classification_metrics.auc.value', 'confidence_intervals.auc_delong.lower', 'confidence_intervals.metrics.f1.lower')
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

THRESHOLD = "threshold"  # from the confusion counts at the decision threshold
SCORE = "score"  # from every score (the ScoreTable)
# Where the value goes: SageMaker's model-quality layout ({"value", "standard_deviation"} under
# binary_classification_metrics), or a bare number at the document's top level (not in that layout).
BODY = "binary_classification_metrics"
TOP = "top"


@dataclass(frozen=True)
class MetricSpec:
    """One metric of evaluation.json."""

    name: str
    kind: str  # THRESHOLD or SCORE
    section: str  # BODY or TOP
    best_constant: bool = False  # also reported for the best constant classifier (see best_constant_name)
    # Compared with the champion: on the same rows (threshold metrics by paired bootstrap, AUC by
    # paired DeLong; another score metric would need its paired method in paired.py), or with its
    # recorded evaluation.json.
    compared: bool = False
    delong: bool = False  # its interval is DeLong's normal one, confidence_intervals.auc_delong

    @property
    def value_path(self) -> str:
        """Its value in evaluation.json, as a dotted path (``Std:JsonGet``, gate.json_get)."""
        return f"{BODY}.{self.name}.value" if self.section == BODY else self.name

    @property
    def lower_bound_path(self) -> str:
        """The lower bound of its confidence interval in evaluation.json, as a dotted path."""
        return "confidence_intervals.auc_delong.lower" if self.delong else f"confidence_intervals.metrics.{self.name}.lower"


# In evaluation.json's order (within binary_classification_metrics, then at the top level).
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("accuracy", THRESHOLD, BODY, best_constant=True, compared=True),
    MetricSpec("precision", THRESHOLD, BODY, best_constant=True, compared=True),
    MetricSpec("recall", THRESHOLD, BODY, best_constant=True, compared=True),
    MetricSpec("f0_5", THRESHOLD, BODY, best_constant=True),
    MetricSpec("f1", THRESHOLD, BODY, best_constant=True, compared=True),
    MetricSpec("f2", THRESHOLD, BODY, best_constant=True),
    MetricSpec("auc", SCORE, BODY, compared=True, delong=True),
    MetricSpec("true_positive_rate", THRESHOLD, BODY),
    MetricSpec("true_negative_rate", THRESHOLD, BODY),
    MetricSpec("false_positive_rate", THRESHOLD, BODY),
    MetricSpec("false_negative_rate", THRESHOLD, BODY),
    MetricSpec("log_loss", SCORE, TOP),
    MetricSpec("brier_score", SCORE, TOP),
    MetricSpec("average_precision", SCORE, TOP),
)
_BY_NAME = {m.name: m for m in METRICS}


def names(*, kind: str | None = None, section: str | None = None, best_constant: bool | None = None,
          compared: bool | None = None) -> tuple[str, ...]:
    """The declared metrics' names, in declaration order, filtered by what is given.

    >>> names(section=TOP)
    ('log_loss', 'brier_score', 'average_precision')
    """
    return tuple(
        m.name for m in METRICS
        if (kind is None or m.kind == kind) and (section is None or m.section == section)
        and (best_constant is None or m.best_constant == best_constant) and (compared is None or m.compared == compared)
    )


def spec(name: str) -> MetricSpec:
    """The declaration of ``name``; KeyError naming the declared ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a declared metric; declared: {', '.join(_BY_NAME)}") from None


def best_constant_name(name: str) -> str:
    """The key of the best constant classifier's value of ``name``.

    >>> best_constant_name("f1")
    'f1_best_constant_classifier'
    """
    return f"{name}_best_constant_classifier"


# Compared with the champion, in the order the comparison reports them: the score metrics (AUC's
# paired DeLong) first, then the threshold metrics (one paired bootstrap).
COMPARED_METRICS: tuple[str, ...] = names(kind=SCORE, compared=True) + names(kind=THRESHOLD, compared=True)


def number(value: Any) -> float:
    """A metric's value read back from evaluation.json: a float, or NaN for what is not one (undefined values
    are written as the string "NaN").

    >>> number(0.5), number("NaN"), number(None)
    (0.5, nan, nan)
    """
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
