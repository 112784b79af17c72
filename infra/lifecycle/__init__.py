"""Environment lifecycle: deploy and destroy team-envs, ephemeral test envs, the reaper, smoke runs.

Every call that leaves this machine (cdktf/terraform, Azure Resource Manager, AWS, Databricks) goes through a small
Protocol with one real implementation here and a fake in tests/lifecycle.
"""
