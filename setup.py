"""Evaluate a binary classifier on a held-out set and gate its registration (SageMaker SDK v3)."""
from setuptools import find_packages, setup

setup(
    name="sm-eval-gate",
    version="0.1.0",
    description=(
        "SageMaker Pipeline (SDK v3): batch-transform a binary classifier on a test set, "
        "measure it, and register it in the Model Registry only if it passes a quality gate."
    ),
    python_requires=">=3.11",
    packages=find_packages(include=["pipeline", "pipeline.*", "steps", "steps.*",
                                    "processing_scripts", "processing_scripts.*",
                                    "benchmarks", "benchmarks.*"]),
    package_data={"pipeline.aws": ["schemas/*.json"]},
    install_requires=[
        "sagemaker>=3,<4",
        "boto3>=1.34",
        # Exactly the SageMaker scikit-learn container's version (image 1.9-0 ships 1.9.0): any other
        # version makes every load there warn InconsistentVersionWarning, or fail.
        "scikit-learn==1.9.0",
        "pandas>=2",
        "numpy>=1.26",
        "scipy>=1.11",
        "pyarrow>=14",
        "joblib>=1.3",
        "jsonschema>=4.20",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "pytest-xdist>=3",
            "moto[server]>=5.2,<5.3",
            "pyyaml>=6",
            "psutil>=5.9",
            "pillow>=10",  # reads the browser test's screenshot
        ],
    },
    entry_points={
        "console_scripts": [
            "sm-eval-definition=pipeline.definition:main",
            "sm-eval-upsert=pipeline.upsert:main",
            "sm-eval-local=pipeline.local.__main__:main",
            "sm-eval-registry=pipeline.registry.cli:main",
            "sm-eval-package=pipeline.package:main",
            "sm-eval-demo=pipeline.demo:main",
            "sm-eval-endpoint=pipeline.endpoint.cli:main",
            "sm-eval-monitor=pipeline.monitor:main",
            "sm-eval-monitoring-definition=pipeline.monitoring:main",
            "sm-eval-drift-demo=pipeline.drift_demo:main",
            "sm-eval-permissions=pipeline.permissions:main",
        ],
    },
)
