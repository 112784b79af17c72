"""Read a resource's synthesized configuration from inside an aspect."""

from typing import Any

from cdktf import TerraformResource


def resource_config(resource: TerraformResource) -> dict[str, Any]:
    """The resource's arguments as they will appear in cdk.tf.json (tokens stay unresolved strings)."""
    blocks = resource.to_terraform()["resource"][resource.terraform_resource_type]
    return next(iter(blocks.values()))
