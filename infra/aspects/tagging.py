"""Tag every taggable resource with the team-env's tags, so cost and ownership are never missing."""

import importlib
from functools import cache
from typing import Any

from cdktf import TerraformResource

from infra.aspects.stack_aspects import SynthesizedStack

# Databricks compute carries tags as custom_tags; Databricks copies them onto the Azure VMs it starts.
DATABRICKS_COMPUTE = {"databricks_cluster", "databricks_instance_pool"}
AZURERM_BINDINGS = "cdktf_cdktf_provider_azurerm"
# Provider prefix of a resource type -> Python bindings whose classes say whether the type takes ``tags``.
TAGGED_PROVIDERS = {"azurerm_": AZURERM_BINDINGS, "aws_": "cdktf_cdktf_provider_aws"}


class TaggingAspect:
    """Sets ``tags`` on azurerm and aws resources and ``custom_tags`` on Databricks clusters, pools and job clusters.

    The platform tags win over tags a construct set itself: team, env, cost-center and managed-by must be
    true for every resource of the env. Clusters drawn from an instance pool are left alone: they inherit the
    pool's tags, and Databricks rejects cluster tags whose keys the pool already sets.
    """

    def __init__(self, tags: dict[str, str]):
        self.tags = dict(tags)

    def visit(self, stack: SynthesizedStack) -> None:
        for resource in stack.resources():
            config = resource.config
            if resource.type.startswith(("azurerm_", "aws_")):
                if "tags" in config or type_takes_tags(resource.type):
                    config["tags"] = self._merged(config.get("tags"))
            elif resource.type in DATABRICKS_COMPUTE:
                if not config.get("instance_pool_id"):
                    config["custom_tags"] = self._merged(config.get("custom_tags"))
            elif resource.type == "databricks_job":
                for cluster in config.get("job_cluster") or []:
                    for new_cluster in _blocks(cluster.get("new_cluster")):
                        if not new_cluster.get("instance_pool_id"):
                            new_cluster["custom_tags"] = self._merged(new_cluster.get("custom_tags"))

    def _merged(self, existing: Any) -> dict[str, str]:
        return {**(existing if isinstance(existing, dict) else {}), **self.tags}


@cache
def type_takes_tags(resource_type: str) -> bool:
    """Whether an azurerm or aws resource type has a ``tags`` argument, read from its provider binding (every
    optional argument has a ``reset_<name>`` method there). The module is already imported when the stack uses
    the type."""
    prefix = next((p for p in TAGGED_PROVIDERS if resource_type.startswith(p)), None)
    if prefix is None:
        return False
    try:
        module = importlib.import_module(f"{TAGGED_PROVIDERS[prefix]}.{resource_type.removeprefix(prefix)}")
    except ImportError:
        return False
    return any(
        isinstance(member, type) and issubclass(member, TerraformResource) and hasattr(member, "reset_tags")
        for member in vars(module).values()
    )


def _blocks(value: Any) -> list[dict[str, Any]]:
    """A nested block synthesizes as a dict or as a list of dicts."""
    if isinstance(value, dict):
        return [value]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
