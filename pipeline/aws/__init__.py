"""What only the cloud needs: deploying the pipelines (``upsert``), their Lambda functions (``functions``)
and schedules (``schedule``), checking definitions against AWS's schema (``validation``), and the IAM
policies of the roles it runs as (``permissions``: ``iam`` documents, ``scope`` resources, ``pipeline_role``
step types)."""
