"""What only the cloud needs: deploying the pipelines, their Lambda functions and schedules, checking
definitions against AWS's schema, and the IAM policies the roles need."""
