"""Every pipeline this project defines, by the subcommand that names it (``evaluation``, ``monitoring``,
``quality``).

Adding one: a module here with its step names, ``DESCRIPTION``, ``PARAMETERS`` (a table in
``processing_scripts/parameters.py``), ``LOCAL_INPUTS``, ``pipeline_name`` and ``create_pipeline``, and a
line below.
"""
from __future__ import annotations

from pipeline.pipelines import evaluation, monitoring, quality
from pipeline.spec import PipelineSpec

EVALUATION = PipelineSpec(key="evaluation", description=evaluation.DESCRIPTION, name=evaluation.pipeline_name,
                          create=evaluation.create_pipeline, parameters=evaluation.PARAMETERS, functions=True,
                          local_inputs=evaluation.LOCAL_INPUTS)
MONITORING = PipelineSpec(key="monitoring", description=monitoring.DESCRIPTION, name=monitoring.pipeline_name,
                          create=monitoring.create_pipeline, parameters=monitoring.PARAMETERS, schedulable=True,
                          local_inputs=monitoring.LOCAL_INPUTS)
# Its function is deployed with the others (one package); the group it reads is the one upsert ensures.
QUALITY = PipelineSpec(key="quality", description=quality.DESCRIPTION, name=quality.pipeline_name,
                       create=quality.create_pipeline, parameters=quality.PARAMETERS, functions=True,
                       schedulable=True, local_inputs=quality.LOCAL_INPUTS)

SPECS: dict[str, PipelineSpec] = {spec.key: spec for spec in (EVALUATION, MONITORING, QUALITY)}
