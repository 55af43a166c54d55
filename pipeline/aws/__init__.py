"""AWS, as this project's code meets it: the IAM policies of the roles it runs as (``permissions``: one
module per part: ``iam`` documents, ``scope`` resources, ``pipeline_role`` step types)."""
