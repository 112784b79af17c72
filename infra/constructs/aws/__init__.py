"""AWS constructs of a Databricks on AWS team-env: VPC, KMS key, S3 buckets, IAM roles (aws provider only)."""
