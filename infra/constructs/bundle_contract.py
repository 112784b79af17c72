"""What the workspace stack and `platform bundle-targets` agree on for a bundle workload: the names the stack gives
its outputs and the Unity Catalog paths it creates. Plain values only (no jsii import): the lifecycle reads them.
"""

from __future__ import annotations

# The volume in each bundle workload's schema that its bundle uploads wheels and files to (workspace.artifact_path).
BUNDLE_ARTIFACTS_VOLUME = "artifacts"
# Workspace-stack outputs a bundle target needs that exist only once the stack is deployed.
BUNDLE_HOST_OUTPUT = "bundle_workspace_host"
BUNDLE_CLUSTER_POLICY_OUTPUT = "bundle_cluster_policy_id"


def run_as_output(workload: str) -> str:
    """Output holding the application ID of the workload's run_as service principal."""
    return f"bundle_{workload}_run_as"


def artifact_volume_output(workload: str) -> str:
    """Output holding the `/Volumes/...` path of the workload's artifact volume."""
    return f"bundle_{workload}_artifact_volume"


def artifact_volume_path(catalog: str, schema: str) -> str:
    return f"/Volumes/{catalog}/{schema}/{BUNDLE_ARTIFACTS_VOLUME}"


def run_as_display_name(stem: str, workload: str) -> str:
    """Display name of the workload's run_as service principal in the workspace."""
    return f"{stem}-{workload}-bundle"
