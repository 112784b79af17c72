"""The lake bucket a Unity Catalog storage credential reads and writes.

The credential's IAM role is not here: its trust needs the external ID Databricks issues to the credential, so it
lives in the workspace stack beside the credential (infra/constructs/aws/catalog_role.py).
"""

from __future__ import annotations

from constructs import Construct

from infra.config import TeamEnv
from infra.config.aws_names import aws_names
from infra.constructs.aws.bucket import SecureBucket
from infra.constructs.contracts import LAKE_CONTAINERS


class UnityCatalogStorage(Construct):
    """One lake bucket with a prefix per lake layer (the Azure containers)."""

    def __init__(self, scope: Construct, id: str, *, team_env: TeamEnv, kms_key_arn: str) -> None:
        super().__init__(scope, id)
        names = aws_names(team_env)
        self.lake = SecureBucket(
            self, "lake", team_env=team_env, name=names.lake_bucket, kms_key_arn=kms_key_arn
        )
        self.bucket_name = names.lake_bucket
        self.lake_urls = {layer: f"s3://{names.lake_bucket}/{layer}/" for layer in LAKE_CONTAINERS}
