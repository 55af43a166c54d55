"""The README's demo: train on scikit-learn's bundled breast-cancer data, then run the local pipeline twice.

1. a good model (scaled logistic regression on all features) passes the gate and is registered;
2. a deliberately weak model (one uninformative feature) is refused by the gate, and nothing is registered.

    python -m pipeline.demo [--work-dir .local-sagemaker] [--demo-dir .demo]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import joblib
import numpy as np

# The one breast-cancer feature that carries almost no signal about the label (AUC ~0.5).
WEAK_FEATURE = "texture error"


def make_demo_files(demo_dir: Path, *, seed: int = 0) -> dict[str, Path]:
    """Fit both models, package them, and write the label-first test CSV. Returns the paths."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    from pipeline.atomic import write_text_atomic
    from pipeline.package import build_model_archive

    data = load_breast_cancer()
    # 40% held out: 228 rows, enough for SageMaker-style standard deviations (>= 200 rows).
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.4, stratify=data.target, random_state=seed
    )
    demo_dir.mkdir(parents=True, exist_ok=True)
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    weak_column = list(data.feature_names).index(WEAK_FEATURE)
    weak = make_pipeline(
        ColumnTransformer([("weak", StandardScaler(), [weak_column])]), LogisticRegression()
    ).fit(X_train, y_train)
    paths = {}
    for name, model in (("good", good), ("weak", weak)):
        estimator = demo_dir / f"{name}.joblib"
        joblib.dump(model, estimator)
        paths[name] = build_model_archive(estimator, demo_dir / f"{name}-model.tar.gz")
    rows = np.column_stack([y_test, X_test])
    text = "\n".join(",".join([str(int(r[0]))] + [repr(float(v)) for v in r[1:]]) for r in rows) + "\n"
    paths["test"] = write_text_atomic(demo_dir / "test.csv", text)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", default=".local-sagemaker", help="local store and registry")
    parser.add_argument("--demo-dir", default=".demo", help="where the demo's models and test CSV are written")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    from pipeline.local.__main__ import main as run_local

    paths = make_demo_files(Path(args.demo_dir))
    print(f"demo data: {paths['test']} ({sum(1 for _ in open(paths['test']))} test rows)")
    print("\n== 1. a good model: expected to pass the gate and be registered")
    good = run_local(["--model-data", str(paths["good"]), "--test-data", str(paths["test"]), "--work-dir", args.work_dir])
    print("\n== 2. a weak model: expected to be refused by the gate")
    weak = run_local(["--model-data", str(paths["weak"]), "--test-data", str(paths["test"]), "--work-dir", args.work_dir])
    print(f"\ndemo finished in {time.perf_counter() - started:.1f}s; registry: python -m pipeline.registry list --work-dir {args.work_dir}")
    if good != 0 or weak != 1:
        print(f"error: unexpected outcome (good model exit {good}, weak model exit {weak})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
