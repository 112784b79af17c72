"""Tag every taggable resource with the team-env's tags, so cost and ownership are never missing."""

from typing import Any

import jsii
from cdktf import IAspect, TerraformResource
from constructs import IConstruct

from infra.aspects._resources import resource_config

# Databricks compute carries tags as custom_tags; Databricks copies them onto the Azure VMs it starts.
DATABRICKS_COMPUTE = {"databricks_cluster", "databricks_instance_pool"}


@jsii.implements(IAspect)
class TaggingAspect:
    """Sets ``tags`` on azurerm resources and ``custom_tags`` on Databricks clusters, pools and job clusters.

    The platform tags win over tags a construct set itself: team, env, cost-center and managed-by must be
    true for every resource of the env. Clusters drawn from an instance pool are left alone: they inherit the
    pool's tags, and Databricks rejects cluster tags whose keys the pool already sets.
    """

    def __init__(self, tags: dict[str, str]):
        self.tags = dict(tags)

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, TerraformResource):
            return
        kind = node.terraform_resource_type
        if kind.startswith("azurerm_") and hasattr(node, "reset_tags"):
            # tags_input is the map the construct set (or None): one property read, where a full
            # to_terraform() would serialize the whole resource.
            node.tags = self._merged(node.tags_input)
        elif kind in DATABRICKS_COMPUTE:
            config = resource_config(node)
            if not config.get("instance_pool_id"):
                node.custom_tags = self._merged(config.get("custom_tags"))
        elif kind == "databricks_job":
            for index, cluster in enumerate(resource_config(node).get("job_cluster") or []):
                new_cluster = cluster.get("new_cluster") or {}
                if not new_cluster.get("instance_pool_id"):
                    node.add_override(
                        f"job_cluster.{index}.new_cluster.custom_tags",
                        self._merged(new_cluster.get("custom_tags")),
                    )

    def _merged(self, existing: Any) -> dict[str, str]:
        return {**(existing if isinstance(existing, dict) else {}), **self.tags}
