"""The README's demo: train on scikit-learn's bundled breast-cancer data, then run the local pipeline.

Each run uses its own model package group (printed), so runs never see each other's champions:

1. a first model (logistic regression on the ten "mean" features) passes the absolute thresholds and
   is registered as v1; a reviewer approves it, so it becomes the champion;
2. a weak model (one uninformative feature) is refused by the absolute thresholds;
3. a challenger on one feature (AUC ~0.93: good enough in absolute terms) is refused for regressing
   against the champion, both scored on the same test rows;
4. a challenger on all thirty features, with its decision threshold chosen on a validation set, is
   better than the champion and is registered as v2 (pending approval).

    python -m pipeline.demo [--work-dir .local-sagemaker] [--demo-dir .demo]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import joblib
import numpy as np

# The one breast-cancer feature that carries almost no signal about the label (AUC ~0.5).
WEAK_FEATURE = "texture error"


MODELS = {  # name → features; see the module docstring for what each shows
    "champion": "mean",
    "weak": [WEAK_FEATURE],
    "regressing": ["mean radius"],
    "better": "all",
}


def make_demo_files(demo_dir: Path, *, seed: int = 0) -> dict[str, Path]:
    """Fit the models, package them, and write label-first test and validation CSVs. Returns the paths."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from processing_scripts.outputs import write_text_atomic
    from pipeline.package import build_model_archive

    data = load_breast_cancer()
    names = list(data.feature_names)
    # 40% held out for the test: 228 rows, 143 positives (the gate wants >= 200 rows, >= 30 positives).
    X_rest, X_test, y_rest, y_test = train_test_split(
        data.data, data.target, test_size=0.4, stratify=data.target, random_state=seed
    )
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_rest, y_rest, test_size=0.3, stratify=y_rest, random_state=seed
    )
    demo_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, features in MODELS.items():
        if features == "all":
            columns = list(range(len(names)))
        elif features == "mean":
            columns = [i for i, n in enumerate(names) if n.startswith("mean ")]
        else:
            columns = [names.index(f) for f in features]
        model = make_pipeline(
            ColumnTransformer([("features", StandardScaler(), columns)]), LogisticRegression(max_iter=1000)
        ).fit(X_train, y_train)
        estimator = demo_dir / f"{name}.joblib"
        joblib.dump(model, estimator)
        paths[name] = build_model_archive(estimator, demo_dir / f"{name}-model.tar.gz")
    for name, X, y in (("test", X_test, y_test), ("validation", X_valid, y_valid)):
        rows = np.column_stack([y, X])
        text = "\n".join(",".join([str(int(r[0]))] + [repr(float(v)) for v in r[1:]]) for r in rows) + "\n"
        paths[name] = write_text_atomic(demo_dir / f"{name}.csv", text)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", default=".local-sagemaker", help="local store and registry")
    parser.add_argument("--demo-dir", default=".demo", help="where the demo's models and CSVs are written")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    from pipeline.local.__main__ import main as run_local
    from pipeline.registry import LocalRegistry, RegistryError

    paths = make_demo_files(Path(args.demo_dir))
    group = f"breast-cancer-demo-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"
    print(f"demo data: {paths['test']} ({sum(1 for _ in open(paths['test']))} test rows); model package group {group}")

    def run(model: str, *extra: str) -> int:
        return run_local(["evaluation", "--model-data", str(paths[model]), "--test-data", str(paths["test"]),
                          "--work-dir", args.work_dir, "--param", f"ModelPackageGroupName={group}", *extra])

    print("\n== 1. a first model: expected to pass the absolute thresholds and be registered")
    outcomes = {"champion": run("champion")}
    if outcomes["champion"] == 0:
        registry = LocalRegistry(Path(args.work_dir) / "registry.db")
        try:
            approved = registry.review(f"{group}/1", approve=True, by="demo-reviewer",
                                       reason="first model of the demo, reviewed")
        except RegistryError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"approved v1 (the champion now): {approved['ApprovalDescription']}")
    print("\n== 2. a weak model: expected to be refused by the absolute thresholds")
    outcomes["weak"] = run("weak")
    print("\n== 3. a one-feature challenger: expected to be refused for regressing against the champion")
    outcomes["regressing"] = run("regressing")
    print("\n== 4. an all-features challenger, threshold chosen on validation data: expected to be registered")
    outcomes["better"] = run("better", "--validation-data", str(paths["validation"]))
    print(f"\ndemo finished in {time.perf_counter() - started:.1f}s; "
          f"registry: python -m pipeline.registry list --work-dir {args.work_dir} --group {group}")
    expected = {"champion": 0, "weak": 1, "regressing": 1, "better": 0}
    if outcomes != expected:
        print(f"error: unexpected outcome (exit codes {outcomes}, expected {expected})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from pipeline.command import run_command

    run_command(main)
