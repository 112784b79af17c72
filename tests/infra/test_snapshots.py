"""Snapshots of the synthesized Terraform JSON: any change to what would deploy shows up as a reviewed diff.

After an intended change: `.venv/bin/pytest tests/infra/test_snapshots.py --snapshot-update`, then read the
diff of tests/infra/__snapshots__/ before committing it.
"""

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

# Two envs that differ in shape: dev (spot, public front end, interactive cluster, paused schedules) and prod
# (private front end with its endpoint, prevent_destroy, geo-redundant lake, instance pool, enforced gate).
STACKS = [
    "churn-dev-platform",
    "churn-prod-platform",
    "churn-prod-account",
    "churn-dev-workspace",
    "churn-prod-workspace",
]


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", STACKS)
def test_synthesized_stack_matches_its_snapshot(synthesized, json_snapshot, stack):
    assert synthesized.json(stack) == json_snapshot
