"""Code deployed as AWS Lambda functions that pipeline steps invoke (each module is one self-contained file)."""
