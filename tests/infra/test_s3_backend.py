"""The S3 state backend for real against moto: one key per stack, use_lockfile (which cdktf 0.21's S3Backend
cannot express, so configure_backend adds it as an override), state lands in the bucket, and a second run is
refused while the first holds the lock."""

import json
import subprocess
import time

import boto3
import cdktf
import pytest

from infra.aspects.stack_aspects import AspectApp, AspectStack
from infra.config.platform_settings import StateBackend
from infra.stacks.base import configure_backend
from tests.terraform_moto import MotoServer, TerraformDir, locate_tools

STATE_BUCKET = "dbp-tfstate"


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


@pytest.fixture
def s3(moto):
    client = boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return client


@pytest.fixture
def risk_dev(platform_config):
    team_env = next(te for te in platform_config.team_envs if te.key == "risk/dev")
    backend = StateBackend(kind="s3", bucket=STATE_BUCKET, region="eu-west-1")
    return team_env.model_copy(
        update={"platform": team_env.platform.model_copy(update={"state_backend": backend})}
    )


def small_stack(team_env, outdir):
    """configure_backend on a stack with one cheap AWS resource: what is under test is the backend."""
    from cdktf_cdktf_provider_aws.provider import AwsProvider
    from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter

    stack = AspectStack(AspectApp(outdir=str(outdir)), "risk-dev-platform")
    configure_backend(stack, team_env=team_env, component="platform")
    AwsProvider(stack, "aws", region="eu-west-1")
    SsmParameter(stack, "marker", name="/platform/marker", type="String", value="state test")
    return json.loads(cdktf.Testing.synth(stack))


def test_s3_backend_has_one_key_per_stack_encryption_and_the_lockfile(risk_dev, tmp_path):
    backend = small_stack(risk_dev, tmp_path)["terraform"]["backend"]["s3"]
    assert backend == {
        "bucket": STATE_BUCKET,
        "key": "dbp/risk/dev/platform.tfstate",
        "region": "eu-west-1",
        "encrypt": True,
        "use_lockfile": True,
    }


def test_state_lands_in_the_bucket_and_a_concurrent_run_is_refused_on_the_lock(risk_dev, moto, s3, tmp_path):
    stack_dir = tmp_path / "synth" / "risk-dev-platform"
    stack_dir.mkdir(parents=True)
    (stack_dir / "cdk.tf.json").write_text(json.dumps(small_stack(risk_dev, tmp_path / "out")))
    stack = TerraformDir(locate_tools(), stack_dir, tmp_path, moto)
    # A backend block in an override file replaces the original: keep the synthesized settings (use_lockfile
    # among them) and add only where moto is and its fake keys.
    synthesized = json.loads((stack.dir / "cdk.tf.json").read_text())["terraform"]["backend"]["s3"]
    test_only = {
        "endpoints": {"s3": moto.url},
        "access_key": "testing",
        "secret_key": "testing",
        "use_path_style": True,
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": True,
    }
    stack.write_override(backend={"s3": synthesized | test_only})
    stack.run("init", "-input=false")
    stack.run("apply", "-auto-approve", "-input=false")

    state = json.loads(s3.get_object(Bucket=STATE_BUCKET, Key="dbp/risk/dev/platform.tfstate")["Body"].read())
    assert [r["type"] for r in state["resources"]] == ["aws_ssm_parameter"]
    assert not (stack.dir / "terraform.tfstate").exists()

    # `terraform console` holds the state lock while it runs: the other run must be refused, not wait.
    holder = subprocess.Popen(
        [str(stack.tools.terraform), "console"],
        cwd=stack.dir,
        env=stack.environ(),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lock_key = "dbp/risk/dev/platform.tfstate.tflock"
        deadline = time.monotonic() + 60
        while not _exists(s3, lock_key):
            assert time.monotonic() < deadline, "terraform console never took the lock"
            time.sleep(0.5)
        refused = stack.run("plan", "-input=false", "-lock-timeout=0s", check=False)
        assert refused.returncode != 0
        assert "Error acquiring the state lock" in refused.stdout + refused.stderr
    finally:
        holder.communicate(input=b"exit\n", timeout=60)
    assert not _exists(s3, lock_key)
    assert stack.run("plan", "-input=false", "-detailed-exitcode", check=False).returncode == 0


def _exists(s3, key: str) -> bool:
    return s3.list_objects_v2(Bucket=STATE_BUCKET, Prefix=key).get("KeyCount", 0) > 0
