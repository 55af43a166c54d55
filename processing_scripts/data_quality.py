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
``drift``          the drift statistics (PSI, Kolmogorov-Smirnov) and their thresholds
``checks``         the monitoring job's checks and :func:`check_drift`
``drift_report``   ``drift_report.html``
=================  ==============================================================================

This module re-exports their public names, so ``from processing_scripts import data_quality as dq``
reaches the whole data-quality API.
"""
from __future__ import annotations

from .capture import read_capture, read_dataset, sniff_format
from .checks import CHECK_TYPES, DriftResult, check_drift, check_feature, iter_violation_lines
from .columns import (NUMERIC_TYPES, Column, DataError, Dataset, as_text, bucket_counts, category_counts,
                      column_from_numbers, column_from_strings, integral_count, merge_columns)
from .csv_dataset import READ_PIECE_BYTES, data_files, drop_label, read_csv, read_csv_arrow, read_csv_pandas
from .data_profile import (MAX_CATEGORIES, N_BUCKETS, SKETCH_C, SKETCH_K, build_statistics, histogram_edges,
                           numerical_statistics, sketch_items, string_statistics, suggest_constraints, to_json_bytes)
from .drift import (COMPARISON_THRESHOLD, KS_SIGNIFICANCE_LEVEL, PSI_EPSILON, PSI_THRESHOLD, DriftSettings,
                    distribution_constraints, drift_rows, ks_distance, ks_pvalue, psi, statistic_row)

__all__ = [
    "CHECK_TYPES", "COMPARISON_THRESHOLD", "Column", "DataError", "Dataset", "DriftResult", "DriftSettings",
    "KS_SIGNIFICANCE_LEVEL", "MAX_CATEGORIES", "NUMERIC_TYPES", "N_BUCKETS", "PSI_EPSILON", "PSI_THRESHOLD",
    "READ_PIECE_BYTES", "SKETCH_C", "SKETCH_K", "as_text", "bucket_counts", "build_statistics", "category_counts",
    "check_drift", "check_feature", "column_from_numbers", "column_from_strings", "data_files",
    "distribution_constraints", "drift_rows", "drop_label", "histogram_edges", "integral_count",
    "iter_violation_lines", "ks_distance", "ks_pvalue", "merge_columns", "numerical_statistics", "psi",
    "read_capture", "read_csv", "read_csv_arrow", "read_csv_pandas", "read_dataset", "sketch_items",
    "sniff_format", "statistic_row", "string_statistics", "suggest_constraints", "to_json_bytes",
]
