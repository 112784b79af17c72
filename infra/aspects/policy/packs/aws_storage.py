"""S3 buckets and the KMS key of an AWS team-env: private, encrypted with the env's key, versioned, TLS only."""

from __future__ import annotations

import json
from typing import Any

from infra.aspects.policy.engine import Rule, RuleContext, RulePack, expect, first_block, reference

PUBLIC_ACCESS_FLAGS = (
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
)


def _companions(resource_type: str, ctx: RuleContext) -> list[dict[str, Any]]:
    """The ``resource_type`` resources that configure this bucket (their ``bucket`` is its id)."""
    bucket = reference(ctx.address)
    return [b.config for b in ctx.stack.resources(resource_type) if b.config.get("bucket") == bucket]


def _public_access_blocked(config: dict[str, Any], ctx: RuleContext) -> str | None:
    blocks = _companions("aws_s3_bucket_public_access_block", ctx)
    if not blocks:
        return "bucket has no aws_s3_bucket_public_access_block"
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if blocks[0].get(flag) is not True]
    return f"public access block leaves {', '.join(off)} off" if off else None


def _encrypted_with_kms(config: dict[str, Any], ctx: RuleContext) -> str | None:
    for encryption in _companions("aws_s3_bucket_server_side_encryption_configuration", ctx):
        default = first_block(
            first_block(encryption.get("rule")).get("apply_server_side_encryption_by_default")
        )
        if default.get("sse_algorithm") == "aws:kms" and default.get("kms_master_key_id"):
            return None
    return "bucket must be encrypted by default with the env's KMS key (sse_algorithm aws:kms, kms_master_key_id)"


def _versioned(config: dict[str, Any], ctx: RuleContext) -> str | None:
    for versioning in _companions("aws_s3_bucket_versioning", ctx):
        if first_block(versioning.get("versioning_configuration")).get("status") == "Enabled":
            return None
    return "bucket versioning must be Enabled (aws_s3_bucket_versioning)"


def _tls_only(config: dict[str, Any], ctx: RuleContext) -> str | None:
    for policy in _companions("aws_s3_bucket_policy", ctx):
        for statement in json.loads(policy.get("policy") or "{}").get("Statement", []):
            condition = statement.get("Condition", {}).get("Bool", {})
            if statement.get("Effect") == "Deny" and condition.get("aws:SecureTransport") == "false":
                return None
    return "bucket policy must deny requests without TLS (Deny on aws:SecureTransport = false)"


AWS_STORAGE = RulePack(
    "aws_storage",
    (
        Rule("PLAT-AWS-S3-1", ("aws_s3_bucket",), "public access fully blocked", _public_access_blocked),
        Rule(
            "PLAT-AWS-S3-2",
            ("aws_s3_bucket",),
            "default encryption with the env's KMS key",
            _encrypted_with_kms,
        ),
        Rule("PLAT-AWS-S3-3", ("aws_s3_bucket",), "versioning enabled", _versioned),
        Rule("PLAT-AWS-S3-4", ("aws_s3_bucket",), "bucket policy refuses plain HTTP", _tls_only),
        Rule(
            "PLAT-AWS-KMS-1",
            ("aws_kms_key",),
            "KMS key rotation on",
            lambda c, _: expect(c, "enable_key_rotation", True, "KMS key must rotate"),
        ),
    ),
)
