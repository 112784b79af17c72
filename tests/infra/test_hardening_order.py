"""Create and destroy order of the hardening resources, on Terraform's dependency graph (tests/terraform_graph.py)."""

from tests.terraform_graph import StackGraph

STACKS = ("pricing-prod-workspace", "risk-prod-workspace")


def test_ip_access_lists_come_after_the_switch_and_go_before_it(synthesized):
    """databricks v1.99.0 docs/resources/ip_access_list.md: a list takes effect only with enableIpAccessLists; the
    workspace_conf's delete resets that key (workspace/resource_workspace_conf.go): the list goes first."""
    for stack in STACKS:
        graph = StackGraph(synthesized.json(stack))
        (ip_list,) = graph.of_type("databricks_ip_access_list")
        (conf,) = graph.of_type("databricks_workspace_conf")
        assert graph.depends(ip_list.address, conf.address), stack
        assert graph.destroyed_before(ip_list.address, conf.address), stack


def test_every_workspace_stack_with_hardening_has_a_destroy_order(synthesized):
    for stack in (*STACKS, "churn-prod-workspace"):
        order = StackGraph(synthesized.json(stack)).destroy_order()
        settings = [a for a in order if a.startswith("databricks_") and a.split(".")[0].endswith("_setting")]
        assert len(settings) >= 3, (stack, settings)
