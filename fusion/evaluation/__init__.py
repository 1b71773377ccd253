"""Scoring runs against their truth (docs/EVALUATION.md).

Modules: ``io`` (reading truth/tracks/alerts into columns, writing metrics), ``config`` (MetricsConfig),
``matching`` (the evaluation grid and the per-tick GOSPA assignment, on the core's assignment and a
k-d tree), ``gospa`` (GOSPA/OSPA), ``accuracy`` (RMSE, NEES), ``continuity`` (switches, fragments,
tracks per object), ``alerts`` (alert-to-object matching and alert scores), ``score`` (``evaluate``,
``evaluate_dir``: all of them, and the output files).
"""

from fusion.evaluation.config import MetricsConfig
from fusion.evaluation.score import evaluate, evaluate_dir

__all__ = ["MetricsConfig", "evaluate", "evaluate_dir"]
