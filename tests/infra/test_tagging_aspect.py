"""The tagging aspect: every taggable resource gets the env's tags, and the platform's tags win."""

import json

import pytest

from infra.aspects.stack_aspects import AspectApp, AspectStack
from infra.aspects.tagging import TaggingAspect

TAGS = {"team": "churn", "env": "dev", "cost-center": "CC-4711", "managed-by": "cdktf-platform"}


def test_tags_reach_azure_resources_and_databricks_compute(tmp_path):
    from cdktf_cdktf_provider_azurerm.provider import AzurermProvider
    from cdktf_cdktf_provider_azurerm.resource_group import ResourceGroup
    from cdktf_cdktf_provider_azurerm.subnet import Subnet
    from cdktf_cdktf_provider_databricks.cluster import Cluster
    from cdktf_cdktf_provider_databricks.job import Job, JobJobCluster, JobJobClusterNewCluster
    from cdktf_cdktf_provider_databricks.provider import DatabricksProvider

    app = AspectApp(outdir=str(tmp_path))
    stack = AspectStack(app, "tagged")
    AzurermProvider(stack, "azurerm", features=[{}])
    DatabricksProvider(stack, "databricks")
    ResourceGroup(
        stack, "rg", name="rg", location="westeurope", tags={"team": "someone-else", "extra": "kept"}
    )
    Subnet(
        stack,
        "subnet",
        name="s",
        resource_group_name="rg",
        virtual_network_name="v",
        address_prefixes=["10.0.0.0/24"],
    )
    Cluster(stack, "cluster", spark_version="18.x-cpu-ml-scala2.13")
    new_cluster = JobJobClusterNewCluster(
        spark_version="18.x-cpu-ml-scala2.13", custom_tags={"purpose": "train"}
    )
    pooled = JobJobClusterNewCluster(spark_version="18.x-cpu-ml-scala2.13", instance_pool_id="pool-1")
    Job(
        stack,
        "job",
        name="j",
        job_cluster=[
            JobJobCluster(job_cluster_key="a", new_cluster=new_cluster),
            JobJobCluster(job_cluster_key="pooled", new_cluster=pooled),
        ],
    )
    stack.add_aspect(TaggingAspect(TAGS))
    app.synth()

    resources = json.loads((tmp_path / "stacks" / "tagged" / "cdk.tf.json").read_text())["resource"]
    assert resources["azurerm_resource_group"]["rg"]["tags"] == {**TAGS, "extra": "kept"}
    assert "tags" not in resources["azurerm_subnet"]["subnet"]  # subnets take no tags; none forced on them
    assert resources["databricks_cluster"]["cluster"]["custom_tags"] == TAGS
    job_tags = resources["databricks_job"]["job"]["job_cluster"][0]["new_cluster"]["custom_tags"]
    assert job_tags == {**TAGS, "purpose": "train"}
    # pool-backed clusters inherit the pool's tags; repeating them is rejected by Databricks
    assert "custom_tags" not in resources["databricks_job"]["job"]["job_cluster"][1]["new_cluster"]


def test_hcl_output_is_refused_rather_than_written_untagged(tmp_path):
    with pytest.raises(RuntimeError, match="HCL output is not supported"):
        AspectApp(outdir=str(tmp_path), hcl_output=True)  # what SYNTH_HCL_OUTPUT=true turns on


def test_an_aspect_stack_outside_an_aspect_app_is_refused(tmp_path):
    from cdktf import App

    with pytest.raises(TypeError, match="belongs to an AspectApp"):
        AspectStack(App(outdir=str(tmp_path)), "untagged")


def test_every_taggable_aws_resource_of_an_aws_env_carries_its_tags(synthesized, platform_config):
    from infra.aspects.tagging import type_takes_tags

    risk_dev = next(te for te in platform_config.team_envs if te.key == "risk/dev")
    resources = synthesized.json("risk-dev-platform")["resource"]
    taggable = {kind for kind in resources if type_takes_tags(kind)}
    # IAM roles and VPC endpoints too: the inventory finds them by these tags (infra/lifecycle/aws.py)
    assert {"aws_vpc", "aws_s3_bucket", "aws_kms_key", "aws_iam_role", "aws_vpc_endpoint"} <= taggable
    for kind in taggable:
        for name, config in resources[kind].items():
            assert config["tags"] == risk_dev.tags, f"{kind}.{name}"
    # types without a tags argument stay untouched (Terraform would reject the argument)
    assert "tags" not in next(iter(resources["aws_s3_bucket_policy"].values()))
