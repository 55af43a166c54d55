"""Data-quality baselines and drift checks in SageMaker Model Monitor's file layout: the map, and one import.

Works without the Model Monitor service: :func:`build_statistics` and :func:`suggest_constraints` write
``statistics.json`` / ``constraints.json`` as Model Monitor's baselining job does, and :func:`check_drift`
compares new data with them, giving ``constraint_violations.json`` entries and a drift summary.
``monitor.py`` is the processing-container script around them. Each part has one job:

=================  ==============================================================================
``columns``        typed columns and Model Monitor's (Deequ's) type inference
``csv_dataset``    headerless CSV files into columns (label-first data by ``labelled``'s rules)
``capture``        Data Capture JSONL into columns; :func:`read_dataset` for either format
``data_profile``   ``statistics.json`` and the suggested ``constraints.json``
``kll``            the distribution a KLL sketch stands for (every level, weighted)
``drift``          Model Monitor's drift distance, our PSI extension, and the settings
``checks``         the monitoring job's checks and :func:`check_drift`
``drift_report``   ``drift_report.html``
``cloudwatch``     the check's CloudWatch metrics as PutMetricData requests (Model Monitor's names)
=================  ==============================================================================

This module re-exports their public names, so ``from processing_scripts import data_quality as dq``
reaches the whole data-quality API.
"""
from __future__ import annotations

from .capture import read_capture, read_dataset, sniff_format
from .checks import CHECK_TYPES, DriftResult, align, check_drift, iter_violation_lines, type_conformity
from .columns import (NUMERIC_TYPES, Column, DataError, Dataset, as_text, bucket_counts, category_counts,
                      column_from_numbers, column_from_strings, integral_count, merge_columns)
from .csv_dataset import READ_PIECE_BYTES, data_files, drop_label, read_csv, read_csv_arrow, read_csv_pandas
from .data_profile import (MAX_CATEGORIES, N_BUCKETS, SKETCH_C, SKETCH_K, build_statistics, histogram_edges,
                           numerical_statistics, sketch_items, string_statistics, suggest_constraints, to_json_bytes)
from .drift import (C_ALPHA, COMPARISON_THRESHOLD, MIN_SAMPLE_SIZE, PSI_EPSILON, PSI_THRESHOLD, SIGNIFICANCE_LEVEL,
                    DriftSettings, binned_pvalue, chi2_pvalue, chi_squared_pvalue, distribution_constraints, feature_drift, holm,
                    linf_categorical, linf_numeric, psi, robust, statistic_row)
from .kll import cdf_at, weighted_items

__all__ = [
    "CHECK_TYPES", "COMPARISON_THRESHOLD", "C_ALPHA", "Column", "DataError", "Dataset", "DriftResult", "DriftSettings",
    "MAX_CATEGORIES", "MIN_SAMPLE_SIZE", "NUMERIC_TYPES", "N_BUCKETS", "PSI_EPSILON", "PSI_THRESHOLD",
    "READ_PIECE_BYTES", "SIGNIFICANCE_LEVEL", "SKETCH_C", "SKETCH_K", "align", "as_text", "binned_pvalue",
    "bucket_counts", "build_statistics", "category_counts", "cdf_at", "check_drift", "chi2_pvalue", "chi_squared_pvalue",
    "column_from_numbers", "column_from_strings", "data_files", "distribution_constraints", "drop_label",
    "feature_drift", "histogram_edges", "holm", "integral_count", "iter_violation_lines", "linf_categorical",
    "linf_numeric", "merge_columns", "numerical_statistics", "psi", "read_capture", "read_csv", "read_csv_arrow",
    "read_csv_pandas", "read_dataset", "robust", "sketch_items", "sniff_format", "statistic_row",
    "string_statistics", "suggest_constraints", "to_json_bytes", "type_conformity", "weighted_items",
]
