"""A wait for IAM to propagate before Databricks assumes a role that was created or changed moments before.

IAM changes take effect eventually, and Databricks validates a role by assuming it when a credential or an external
location is created. SRA waits with hashicorp/time's `time_sleep`; that provider is not among the AWS stacks' pinned
bindings, so this is a `terraform_data` with a `local-exec` `sleep` (built into Terraform; the runner needs a POSIX
shell). It runs when created and again whenever one of its triggers changes, never on a no-change plan or on
destroy.
"""

from __future__ import annotations

from cdktf import DataResource, LocalExecProvisioner
from constructs import Construct


def iam_propagation_wait(
    scope: Construct, id: str, *, seconds: int, triggers: dict[str, str]
) -> DataResource:
    """Depend on the returned resource instead of on the IAM resources named in ``triggers``."""
    return DataResource(
        scope,
        id,
        triggers_replace=triggers,
        provisioners=[LocalExecProvisioner(type="local-exec", command=f"sleep {seconds}")],
    )
