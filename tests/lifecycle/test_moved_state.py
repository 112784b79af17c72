"""State from before keys carried the platform prefix: deploy and destroy refuse until it is moved, and say how."""


def test_deploy_refuses_while_the_envs_local_state_has_its_unprefixed_name(cli, fakes):
    root = fakes.outdir.parent  # where the stacks' relative local state path points
    (root / "terraform.churn-dev-platform.tfstate").write_text('{"version": 4, "resources": []}')
    result = cli("deploy", "churn/dev", "--auto-approve")
    assert result.code == 1
    assert result.err_lines == [
        "error: churn/dev: its local state is still under the names from before state files carried the platform "
        f"prefix (dbp); if it is this platform's, move it first: mv {root}/terraform.churn-dev-platform.tfstate "
        f"{root}/terraform.dbp-churn-dev-platform.tfstate"
    ]
    assert fakes.nothing_happened(), fakes.events  # no wheel, no synth, no cdktf


def test_destroy_refuses_too_rather_than_find_no_state_and_leave_the_env_running(cli, fakes):
    root = fakes.outdir.parent
    for component in ("platform", "workspace"):
        (root / f"terraform.churn-dev-{component}.tfstate").write_text("{}")
    result = cli("destroy", "churn/dev", "--auto-approve")
    assert result.code == 1 and len(result.err_lines) == 1
    assert "mv " in result.err and "terraform.dbp-churn-dev-workspace.tfstate" in result.err
    assert fakes.nothing_happened(), fakes.events


def test_once_moved_the_deploy_runs(cli, fakes):
    root = fakes.outdir.parent
    (root / "terraform.churn-dev-platform.tfstate").write_text("{}")  # left behind after a copy
    (root / "terraform.dbp-churn-dev-platform.tfstate").write_text("{}")
    (root / "terraform.churn-staging-platform.tfstate").write_text(
        "{}"
    )  # another env's: not this deploy's business
    result = cli("deploy", "churn/dev", "--auto-approve")
    assert result.code == 0, result.err
    assert fakes.events[-1] == "deploy churn-dev-workspace"
