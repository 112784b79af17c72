"""The values the workspace stack reads from the platform stack.

Each attribute is a Terraform token of a platform-stack resource; cdktf turns every use in the workspace stack
into a cross-stack reference (an output plus remote state), which is why the two stacks can be deployed in
order but never in one apply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if (
    TYPE_CHECKING
):  # type hints only: importing constructs starts the jsii kernel, which lifecycle code must not
    from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class PlatformOutputs:
    workspace_url: str
    """https URL of the Databricks workspace (provider host)."""
    workspace_resource_id: str
    """Azure resource ID of the workspace (provider azure_workspace_resource_id)."""
    workspace_id: str
    """Numeric Databricks workspace ID (catalog workspace bindings)."""
    access_connector_id: str
    """Azure resource ID of the Databricks access connector (storage credential)."""
    lake_urls: dict[str, str]
    """Lake container name -> abfss:// URL of its root, e.g. {"bronze": "abfss://bronze@st...dfs.core.windows.net/"};
    the host is the token, the container names are the fixed LAKE_CONTAINERS."""
    key_vault_id: str
    """Azure resource ID of the Key Vault (secret scope backend)."""
    key_vault_uri: str
    """DNS name (https://...vault.azure.net/) of the Key Vault."""
    compute_egress_addresses: Sequence[str] = ()
    """Public addresses the env's clusters leave from that the stack creates (the NAT gateway's IP): an IP access
    list must allow them, or no classic cluster launches."""


@dataclass(frozen=True, kw_only=True)
class WorkspaceAccess:
    """What the workspace stack needs from the cloud side of its team-env, whichever the cloud.

    Built per cloud (infra/constructs/azure/workspace_access.py, infra/constructs/aws/workspace_access.py); the
    Databricks constructs read only this.
    """

    provider: dict[str, Any]
    """Keyword arguments of the workspace-level databricks provider (host plus the cloud's auth hint)."""
    workspace_id: str
    """Numeric Databricks workspace ID (catalog workspace bindings, metastore assignment)."""
    lake_urls: dict[str, str]
    """Lake layer (LAKE_CONTAINERS) -> URL of its root: abfss:// on Azure, s3:// on AWS."""
    credential: dict[str, Any]
    """The storage credential's cloud block as keyword arguments, e.g. {"azure_managed_identity": ...}."""
    credential_comment: str
    cloud_provider: Callable[[Construct], Any] | None = None
    """Adds the cloud's own provider to the stack, where cloud resources must live beside the credential (AWS)."""
    credential_trust: Callable[[Construct, Any], Sequence[Any]] | None = None
    """Creates the cloud side that trusts the storage credential once it exists (AWS: the IAM role trusting the
    credential's external ID) and returns what the external locations must wait for."""
    account_stack_assigns: bool = False
    """The account stack assigns the metastore and the team's groups to the workspace (AWS); the workspace stack
    must not assign them again: two resources managing one assignment would overwrite and delete each other's."""
    key_vault: tuple[str, str] | None = None
    """Resource ID and URI of the Key Vault behind the secret scope (Azure only)."""
    compute_egress_addresses: Sequence[str] = ()
    """Public addresses of the env's clusters that its stacks create (Azure NAT gateway): the IP access list
    allows them beside the configured ranges."""


# ADLS Gen2 containers of every team-env. `catalog` is the Unity Catalog managed storage root of the env's
# catalog (managed tables, models, volumes); `landing` receives raw files; bronze/silver/gold hold the lake
# layers that data engineers write as external tables. Each gets a Unity Catalog external location.
LAKE_CONTAINERS: tuple[str, ...] = ("landing", "bronze", "silver", "gold", "catalog")

# Schema inside the env's catalog where the churn jobs keep their tables, model, and artifact volume.
ML_SCHEMA = "ml"
# Output of an AWS team-env's account stack: the URL Databricks gave its workspace, which the lifecycle
# (deploy preflight, smoke) reads from the stack's state.
WORKSPACE_URL_OUTPUT = "workspace_url"
# Folder of the landing container where raw customer extracts arrive; the training job ingests from it.
RAW_DROP_FOLDER = "telco/"
ARTIFACTS_VOLUME = "artifacts"


@dataclass(frozen=True)
class WheelArtifact:
    """A built workload wheel (churn's, or another managed workload's) that the workspace stack uploads and the
    jobs install."""

    path: Path
    dependencies: tuple[WheelArtifact, ...] = ()
    """The wheels its jobs install before it, each after what it requires: the wheelhouse of an isolated env
    (infra/config/offline_packages.py); empty where the cluster reaches PyPI."""

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def distribution(self) -> str:
        """The distribution name as the wheel's file name spells it (`churn-0.1.0-py3-none-any.whl`: `churn`):
        the `package_name` of a python_wheel_task."""
        return self.filename.split("-", 1)[0]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()
