"""Every pipeline this project defines, by the subcommand that names it (``evaluation``, ``monitoring``).

Adding one: a module here with its step names, ``DESCRIPTION``, ``PARAMETERS`` (a table in
``processing_scripts/parameters.py``), ``LOCAL_INPUTS``, ``pipeline_name`` and ``create_pipeline``, and a
line below.
"""
from __future__ import annotations

from pipeline.pipelines import evaluation, monitoring
from pipeline.spec import PipelineSpec

EVALUATION = PipelineSpec(key="evaluation", description=evaluation.DESCRIPTION, name=evaluation.pipeline_name,
                          create=evaluation.create_pipeline, parameters=evaluation.PARAMETERS, functions=True,
                          local_inputs=evaluation.LOCAL_INPUTS)
MONITORING = PipelineSpec(key="monitoring", description=monitoring.DESCRIPTION, name=monitoring.pipeline_name,
                          create=monitoring.create_pipeline, parameters=monitoring.PARAMETERS, schedulable=True,
                          local_inputs=monitoring.LOCAL_INPUTS)

SPECS: dict[str, PipelineSpec] = {spec.key: spec for spec in (EVALUATION, MONITORING)}
