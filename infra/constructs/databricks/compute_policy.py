"""What compute the team may start: one cluster policy, an optional warm pool and an optional team cluster."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cdktf_cdktf_provider_databricks.cluster import Cluster
from cdktf_cdktf_provider_databricks.cluster_policy import ClusterPolicy
from cdktf_cdktf_provider_databricks.instance_pool import (
    InstancePool,
    InstancePoolAwsAttributes,
    InstancePoolAzureAttributes,
)
from cdktf_cdktf_provider_databricks.job import JobJobClusterNewCluster
from cdktf_cdktf_provider_databricks.permissions import Permissions
from constructs import Construct

from infra.config import TeamEnv
from infra.config.environment import ComputeSettings
from infra.constructs.databricks.identity import Principal

# Dedicated (formerly single user) is the Unity Catalog access mode that runs ML runtimes; standard (shared)
# access mode does not support Databricks Runtime ML. Both spellings name the same mode: job clusters use the
# long-standing SINGLE_USER, the group-assigned team cluster needs the newer DATA_SECURITY_MODE_DEDICATED.
DEDICATED_MODES = ["SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED"]
# Jobs and clusters of one env could all draw from the pool at once: three jobs and the team cluster.
POOL_CLUSTERS = 4
# One warm instance: a job's driver starts from it at once; workers follow while the driver boots.
POOL_MIN_IDLE = 1


def worker_shape(compute: ComputeSettings) -> dict[str, Any]:
    """Autoscaling between the configured bounds, or a fixed size when there is nothing to scale.

    Autoscaling needs max_workers above min_workers and at least one worker, so min_workers 0 (the
    smallest ephemeral envs) becomes one fixed-size worker set of max_workers.
    """
    low = max(compute.min_workers, 1)
    if compute.max_workers > low:
        return {"autoscale": {"min_workers": low, "max_workers": compute.max_workers}}
    return {"num_workers": compute.max_workers}


def azure_availability(compute: ComputeSettings) -> dict[str, Any]:
    """Spot workers fall back to on-demand; the first node (the driver) is always on-demand."""
    return {
        "availability": "SPOT_WITH_FALLBACK_AZURE" if compute.spot else "ON_DEMAND_AZURE",
        "first_on_demand": 1,
    }


def aws_availability(compute: ComputeSettings) -> dict[str, Any]:
    """As on Azure, plus `zone_id: auto`: Databricks picks the zone with capacity among the workspace's subnets.
    No EBS volumes: the AWS node types the config allows by default (m6id, r6id) bring local NVMe disks."""
    return {
        "availability": "SPOT_WITH_FALLBACK" if compute.spot else "ON_DEMAND",
        "first_on_demand": 1,
        "zone_id": "auto",
    }


def cloud_attributes(team_env: TeamEnv) -> tuple[str, dict[str, Any]]:
    """The cluster's cloud attribute block (name and value) for the team's cloud."""
    compute = team_env.settings.compute
    if team_env.team.cloud == "aws":
        return "aws_attributes", aws_availability(compute)
    return "azure_attributes", azure_availability(compute)


def policy_definition(team_env: TeamEnv, *, instance_pool_id: str | None) -> dict[str, Any]:
    """The policy rules (Databricks policy definition language), one rule per cluster attribute.

    With a pool, the pool is pinned and carries node type, spot/on-demand and the env's tags: Databricks
    rejects cluster tags whose keys a pool already sets, and ignores cluster availability on a pool.
    """
    compute = team_env.settings.compute
    rules: dict[str, Any] = {
        "spark_version": {"type": "fixed", "value": team_env.platform.spark_version},
        "data_security_mode": {"type": "allowlist", "values": DEDICATED_MODES, "defaultValue": "SINGLE_USER"},
        # Sizes are optional (a cluster is either autoscaling or fixed) but bounded whenever given.
        "autoscale.min_workers": {
            "type": "range",
            "minValue": 1,
            "maxValue": compute.max_workers,
            "isOptional": True,
        },
        "autoscale.max_workers": {
            "type": "range",
            "minValue": 1,
            "maxValue": compute.max_workers,
            "isOptional": True,
        },
        "num_workers": {"type": "range", "minValue": 0, "maxValue": compute.max_workers, "isOptional": True},
        # Bounded for all-purpose clusters, which always set it; optional and without a default because job
        # clusters do not support the attribute (provider docs, databricks/terraform-provider-databricks#3640)
        # and apply_policy_default_values would otherwise push it into every job cluster spec.
        "autotermination_minutes": {
            "type": "range",
            "minValue": 10,
            "maxValue": compute.autotermination_minutes,
            "isOptional": True,
        },
    }
    if instance_pool_id is not None:
        pinned = {"type": "fixed", "value": instance_pool_id, "hidden": True}
        rules |= {"instance_pool_id": pinned, "driver_instance_pool_id": pinned}
        return rules
    node_types = {"type": "allowlist", "values": [compute.node_type], "defaultValue": compute.node_type}
    block, availability = cloud_attributes(team_env)
    rules |= {
        "node_type_id": node_types,
        "driver_node_type_id": node_types,
        **{f"{block}.{key}": {"type": "fixed", "value": value} for key, value in availability.items()},
        # No other pool either: it would bring its own node types.
        "instance_pool_id": {"type": "forbidden", "hidden": True},
        "driver_instance_pool_id": {"type": "forbidden", "hidden": True},
    }
    rules |= {f"custom_tags.{key}": {"type": "fixed", "value": value} for key, value in team_env.tags.items()}
    return rules


def pool_attributes(team_env: TeamEnv) -> dict[str, Any]:
    """Pools know only spot or on-demand (no fallback), for driver and workers alike. On AWS spot is bid at the
    on-demand price (100 %), the counterpart of Azure's -1 (pay up to on-demand)."""
    spot = team_env.settings.compute.spot
    if team_env.team.cloud == "aws":
        attributes = InstancePoolAwsAttributes(
            availability="SPOT" if spot else "ON_DEMAND",
            zone_id="auto",
            spot_bid_price_percent=100 if spot else None,
        )
        return {"aws_attributes": attributes}
    attributes = InstancePoolAzureAttributes(
        availability="SPOT_AZURE" if spot else "ON_DEMAND_AZURE", spot_bid_max_price=-1 if spot else None
    )
    return {"azure_attributes": attributes}


class ComputePolicy(Construct):
    """The env's cluster policy (with permissions), the warm pool and the team's interactive cluster.

    Every cluster this stack defines states explicitly what the policy would fix or default, so the
    configuration, the policy and the running cluster never disagree (and plans show no drift).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        team_env: TeamEnv,
        owners: Sequence[Principal],
        job_principal: Principal,
        deployer: Principal,
        workload_principals: Sequence[Principal] = (),
    ) -> None:
        """``workload_principals``: job principals of the team's other managed workloads; their jobs use the
        same policy (and pool)."""
        super().__init__(scope, id)
        self.team_env = team_env
        names = team_env.names
        compute = team_env.settings.compute

        # References are read once: each read is a round trip to the jsii runtime.
        self.pool: InstancePool | None = None
        self.pool_id: str | None = None
        if team_env.settings.instance_pool:
            self.pool = InstancePool(
                self,
                "pool",
                instance_pool_name=f"{names.stem}-pool",
                node_type_id=compute.node_type,
                min_idle_instances=POOL_MIN_IDLE,
                max_capacity=POOL_CLUSTERS * (compute.max_workers + 1),
                idle_instance_autotermination_minutes=compute.autotermination_minutes,
                **pool_attributes(team_env),
                preloaded_spark_versions=[team_env.platform.spark_version],
                custom_tags=dict(team_env.tags),
            )
            self.pool_id = self.pool.id
            Permissions(
                self,
                "pool-permissions",
                instance_pool_id=self.pool_id,
                access_control=[
                    p.can("CAN_ATTACH_TO") for p in (*owners, job_principal, *workload_principals)
                ]
                + [deployer.can("CAN_MANAGE")],
            )

        self.definition = policy_definition(team_env, instance_pool_id=self.pool_id)
        self.policy = ClusterPolicy(
            self,
            "policy",
            name=f"{names.stem}-compute",
            description=f"Clusters of {team_env.key}: pinned runtime, sizes, access mode and tags",
            definition=json.dumps(self.definition, sort_keys=True),
        )
        self.policy_id = self.policy.id
        # CAN_USE is the only permission level of a cluster policy.
        Permissions(
            self,
            "policy-permissions",
            cluster_policy_id=self.policy_id,
            access_control=[
                p.can("CAN_USE") for p in (*owners, job_principal, *workload_principals, deployer)
            ],
        )

        self.cluster: Cluster | None = None
        if team_env.settings.interactive_cluster:
            self.cluster = self._interactive_cluster(team_group=owners[0])
            Permissions(
                self,
                "cluster-permissions",
                cluster_id=self.cluster.cluster_id,
                access_control=[p.can("CAN_RESTART") for p in owners] + [deployer.can("CAN_MANAGE")],
            )

    def _placement(self) -> dict[str, Any]:
        """Node types and spot settings, or the pool; plus the tags when no pool carries them."""
        compute = self.team_env.settings.compute
        if self.pool_id is not None:
            return {"instance_pool_id": self.pool_id, "driver_instance_pool_id": self.pool_id}
        block, availability = cloud_attributes(self.team_env)
        return {
            "node_type_id": compute.node_type,
            "driver_node_type_id": compute.node_type,
            block: availability,
            "custom_tags": dict(self.team_env.tags),
        }

    def _interactive_cluster(self, *, team_group: Principal) -> Cluster:
        compute = self.team_env.settings.compute
        return Cluster(
            self,
            "interactive-cluster",
            cluster_name=f"{self.team_env.names.stem}-interactive",
            spark_version=self.team_env.platform.spark_version,
            policy_id=self.policy_id,
            apply_policy_default_values=True,
            # Dedicated access assigned to a group: the team shares one ML-runtime cluster, and each member
            # acts with the group's permissions. The provider accepts a group here only with `kind` set.
            kind="CLASSIC_PREVIEW",
            data_security_mode="DATA_SECURITY_MODE_DEDICATED",
            single_user_name=team_group.name,
            use_ml_runtime=True,
            # Explicit: the provider otherwise sends its own default of 60 minutes, not the policy's.
            autotermination_minutes=compute.autotermination_minutes,
            # Do not hold the deploy until the cluster is up; it stops itself when idle.
            no_wait=True,
            **worker_shape(compute),
            **self._placement(),
        )

    def job_cluster(self, *, run_as: Principal) -> JobJobClusterNewCluster:
        """A job cluster governed by the policy, dedicated to the principal the job runs as."""
        return JobJobClusterNewCluster(
            spark_version=self.team_env.platform.spark_version,
            policy_id=self.policy_id,
            apply_policy_default_values=True,
            data_security_mode="SINGLE_USER",
            single_user_name=run_as.name,
            **worker_shape(self.team_env.settings.compute),
            **self._placement(),
        )
