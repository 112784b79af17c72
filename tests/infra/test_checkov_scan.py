"""checkov over every synthesized stack: zero failed checks, every skip explained and still needed, and the scan
really fails on an insecure stack."""

import json
from pathlib import Path

import pytest
import yaml

from infra.aspects.policy.packs import all_rules
from infra.cli.main import main
from infra.cli.scan import ScanError, load_skips, scan, skip_outcomes

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CHECKOV_CONFIG = ROOT / "policy" / "checkov.yaml"
SKIPS_FILE = ROOT / "policy" / "checkov-skips.yaml"


def run(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.fixture(scope="module")
def scanned(synthesized, synthesized_ephemeral):
    """Every stack of the committed config, plus one ephemeral env: stack name -> checkov result."""
    assert CHECKOV.is_file(), f"{CHECKOV} is missing: run make setup"
    return {
        result.name: result
        for out in (synthesized.outdir, synthesized_ephemeral.outdir)
        for result in scan(out, checkov=CHECKOV, config=CHECKOV_CONFIG)
    }


# --- the real stacks -------------------------------------------------------------------------------------


def test_every_synthesized_stack_passes_checkov(scanned, synthesized, synthesized_ephemeral):
    assert sorted(scanned) == sorted(synthesized.stack_names + synthesized_ephemeral.stack_names)
    failures = [
        f"{stack}: {finding.check_id} {finding.resource} ({finding.check_name})"
        for stack, result in scanned.items()
        for finding in result.failed
    ]
    assert failures == []
    assert [stack for stack, result in scanned.items() if result.parse_error] == []


def test_checkov_really_read_the_platform_stacks(scanned):
    # without --framework terraform_json checkov skips cdk.tf.json silently and "passes" with zero checks
    for stack, result in scanned.items():
        if stack.endswith("-platform"):
            assert result.passed >= 30, f"{stack}: only {result.passed} checks ran"


def test_every_skip_still_hides_a_real_finding(scanned):
    """A skipped check that no longer fails anywhere is a stale skip: remove it from policy/checkov.yaml."""
    hidden = {f.check_id for result in scanned.values() for f in result.skipped_failing}
    skipped = {skip.check_id for skip in load_skips(CHECKOV_CONFIG)}
    assert skipped - hidden == set()


def test_skip_titles_are_checkov_names_of_the_checks(scanned):
    names = {
        f.check_id: f.check_name for r in scanned.values() for f in r.skipped_failing + r.skipped_passing
    }
    for skip in load_skips(CHECKOV_CONFIG):
        assert skip.title == names[skip.check_id], skip.check_id


def test_env_dependent_skips_pass_where_the_env_complies(scanned):
    # the skips are global, but the envs that comply still pass these checks (and PLAT rules enforce the rest)
    def outcome(stack, check_id):
        result = scanned[stack]
        if any(f.check_id == check_id for f in result.skipped_failing):
            return "fail"
        return "pass" if any(f.check_id == check_id for f in result.skipped_passing) else None

    assert outcome("churn-prod-platform", "CKV_AZURE_158") == "pass"  # private front end
    assert outcome("churn-dev-platform", "CKV_AZURE_158") == "fail"
    assert outcome("pricing-prod-platform", "CKV_AZURE_206") == "pass"  # GRS in prod
    assert outcome("pricing-dev-platform", "CKV_AZURE_206") == "fail"
    # the Azure platform stacks (risk is the AWS team: no Key Vault)
    permanent = [
        s
        for s in scanned
        if s.endswith("-platform") and s != "churn-pr1-platform" and not s.startswith("risk-")
    ]
    for check_id in ("CKV_AZURE_110", "CKV_AZURE_42"):  # purge protection: every permanent vault has it
        assert {outcome(stack, check_id) for stack in permanent} == {"pass"}
        assert outcome("churn-pr1-platform", check_id) == "fail"


# Lake and vault public access and private endpoints (network_isolation), customer-managed keys for the lake and
# the DBFS root (customer_managed_key): prod envs are private with a key, dev and staging stay cheap.
ISOLATION_AND_CMK_CHECKS = ("CKV_AZURE_59", "CKV2_AZURE_33", "CKV_AZURE_189", "CKV2_AZURE_32")
CMK_CHECKS = ("CKV2_AZURE_1", "CKV2_AZURE_48")


def test_private_cmk_prod_envs_pass_the_storage_vault_and_key_checks_without_a_skip(scanned):
    results = list(scanned.values())
    prod = {"churn-prod-platform", "pricing-prod-platform"}
    cheap = {
        "churn-dev-platform",
        "churn-staging-platform",
        "pricing-dev-platform",
        "pricing-staging-platform",
    }
    for check_id in ISOLATION_AND_CMK_CHECKS + CMK_CHECKS:
        passing, failing = skip_outcomes(results, check_id)
        assert prod <= set(passing), check_id
        assert cheap <= set(failing), check_id
    # an ephemeral env cut from dev stays on service endpoints without a key
    for check_id in ISOLATION_AND_CMK_CHECKS + CMK_CHECKS:
        assert "churn-pr1-platform" in skip_outcomes(results, check_id)[1], check_id


def test_dev_envs_stay_as_cheap_as_before(synthesized):
    for stack in ("churn-dev-platform", "churn-staging-platform", "pricing-dev-platform"):
        assert synthesized.resources(stack, "azurerm_private_endpoint") == {}, stack
        assert synthesized.resources(stack, "azurerm_key_vault_key") == {}, stack
        assert synthesized.only(stack, "azurerm_key_vault")["sku_name"] == "standard", stack


# --- the skip list ---------------------------------------------------------------------------------------


def test_every_skipped_check_has_a_reason_and_every_reason_a_skipped_check():
    config = yaml.safe_load(CHECKOV_CONFIG.read_text())
    reasons = yaml.safe_load(SKIPS_FILE.read_text())
    assert set(config["skip-check"]) == set(reasons)
    for check_id, entry in reasons.items():
        assert len(entry["reason"].split()) >= 15, f"{check_id}: a reason is a sentence or more, not a label"
        assert entry["title"], check_id


def test_skips_name_real_policy_rules():
    for skip in load_skips(CHECKOV_CONFIG):
        assert set(skip.backed_by) <= {rule.id for rule in all_rules()}, skip.check_id


def test_config_scans_cdk_tf_json_offline():
    config = yaml.safe_load(CHECKOV_CONFIG.read_text())
    assert config["framework"] == ["terraform_json"]
    assert config["skip-download"] is True
    assert not {"bc-api-key", "prisma-api-url"} & set(config), "the scan never talks to the platform"


def _write_policy(tmp_path, *, skip_check, reasons, framework=("terraform_json",)):
    (tmp_path / "checkov.yaml").write_text(
        yaml.safe_dump({"framework": list(framework), "skip-download": True, "skip-check": skip_check})
    )
    (tmp_path / "checkov-skips.yaml").write_text(yaml.safe_dump(reasons))
    return tmp_path / "checkov.yaml"


REASON = {"title": "t", "reason": "a reason long enough to explain itself", "backed_by": []}


@pytest.mark.parametrize(
    ("skip_check", "reasons", "framework", "message"),
    [
        (["CKV_A"], {}, ("terraform_json",), "no reason for skipped check.* CKV_A"),
        (["CKV_A"], {"CKV_A": REASON, "CKV_B": REASON}, ("terraform_json",), "not skipped .*CKV_B"),
        (["CKV_A"], {"CKV_A": {**REASON, "reason": " "}}, ("terraform_json",), "CKV_A has an empty reason"),
        (["CKV_A", "CKV_A"], {"CKV_A": REASON}, ("terraform_json",), "lists a check twice"),
        (["CKV_A"], {"CKV_A": REASON}, ("terraform",), "framework must include terraform_json"),
    ],
)
def test_inconsistent_skip_lists_are_refused(tmp_path, skip_check, reasons, framework, message):
    config = _write_policy(tmp_path, skip_check=skip_check, reasons=reasons, framework=framework)
    with pytest.raises(ScanError, match=message):
        load_skips(config)


# --- the command -----------------------------------------------------------------------------------------

KV_REASON = "Open while the build agents move to a fixed egress range (ticket SEC-12)"


def _insecure_stack(outdir, team_env):
    """A vault with an open firewall: our policy rule is suppressed with a reason, checkov must still fail it."""
    from cdktf_cdktf_provider_azurerm.provider import AzurermProvider
    from test_policy_aspect import _key_vault  # the compliant vault of the policy tests, with its diagnostics

    from infra.aspects.policy import PolicyAspect, suppress
    from infra.aspects.policy.packs import ALL_PACKS
    from infra.aspects.stack_aspects import AspectApp, AspectStack

    app = AspectApp(outdir=str(outdir))
    stack = AspectStack(app, "insecure-dev-platform")
    AzurermProvider(stack, "azurerm", features=[{}])
    vault = _key_vault(stack, network_acls={"default_action": "Allow", "bypass": "AzureServices"})
    suppress(vault, rule_id="PLAT-KV-3", reason=KV_REASON)
    stack.add_aspect(PolicyAspect(team_env=team_env, packs=ALL_PACKS))
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def insecure_out(platform_config, tmp_path_factory):
    dev = next(te for te in platform_config.team_envs if te.key == "churn/dev")
    return _insecure_stack(tmp_path_factory.mktemp("insecure"), dev)


def _scan_args(out):
    return [
        "scan",
        "--skip-synth",
        "--out",
        str(out),
        "--checkov-config",
        str(CHECKOV_CONFIG),
        "--checkov",
        str(CHECKOV),
    ]


@pytest.mark.slow  # a full checkov run each
def test_scan_fails_an_insecure_stack_and_lists_skips_and_suppressions(insecure_out, capsys):
    code, out, err = run(_scan_args(insecure_out), capsys)
    flat = " ".join(out.split())
    assert code == 1, out + err
    assert (
        "CKV_AZURE_109" in out
    )  # key vault firewall open: the suppression hides it from us, not from checkov
    assert "scan failed: 1 of 1 stacks have failed checks" in flat
    assert all(skip.check_id in out for skip in load_skips(CHECKOV_CONFIG))
    assert "PLAT-KV-3" in out and " ".join(KV_REASON.split()) in flat


@pytest.mark.slow  # a full checkov run each
def test_scan_synthesizes_first_unless_told_not_to(insecure_out, tmp_path, capsys, monkeypatch):
    import shutil

    calls = []

    def fake_synth(*, config, out, wheel):
        calls.append((config, out, wheel))
        shutil.copytree(insecure_out, out)

    monkeypatch.setattr("infra.cli.synth.synth", fake_synth)
    out_dir = tmp_path / "cdktf.out"
    config = ROOT / "platform.yaml"
    argv = [a for a in _scan_args(out_dir) if a != "--skip-synth"] + ["--config", str(config)]
    code, out, _ = run(argv, capsys)
    assert calls == [(config, out_dir, None)]
    assert code == 1 and "insecure-dev-platform" in out


def test_missing_checkov_is_one_line_pointing_at_make_setup(insecure_out, tmp_path, capsys):
    argv = [*_scan_args(insecure_out)[:-1], str(tmp_path / "no-checkov")]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert err.splitlines() == [
        f"error: checkov is not installed ({tmp_path / 'no-checkov'} is missing); run make setup"
    ]


@pytest.mark.slow  # a full checkov run
def test_scan_from_another_directory_uses_the_projects_checkov_and_skip_list(
    insecure_out, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # neither .venv-checkov nor policy/ is here
    code, out, err = run(["scan", "--skip-synth", "--out", str(insecure_out)], capsys)
    assert code == 1, out + err  # the insecure stack's real findings, not "checkov is not installed"
    assert "scan failed: 1 of 1 stacks have failed checks" in " ".join(out.split())
    assert all(skip.check_id in out for skip in load_skips(CHECKOV_CONFIG))


def test_nothing_to_scan_is_one_line(tmp_path, capsys):
    code, _, err = run(_scan_args(tmp_path / "empty"), capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and "no synthesized stacks" in err and "Traceback" not in err


@pytest.mark.slow  # a full checkov run each
def test_unparsable_stack_fails_the_scan(tmp_path, capsys):
    # checkov itself exits 0 on a file it cannot parse; the scan must not
    broken = tmp_path / "stacks" / "broken-dev-platform"
    broken.mkdir(parents=True)
    (broken / "cdk.tf.json").write_text('{"resource": ')
    code, out, _ = run(_scan_args(tmp_path), capsys)
    assert code == 1
    assert "could not parse" in out


def test_suppressions_are_read_from_the_scanned_files(insecure_out):
    from infra.cli.scan import suppressions_in

    document = json.loads((insecure_out / "stacks" / "insecure-dev-platform" / "cdk.tf.json").read_text())
    vault = next(iter(document["resource"]["azurerm_key_vault"]))
    [recorded] = suppressions_in(insecure_out)
    assert (recorded.stack, recorded.resource, recorded.rule_id, recorded.reason) == (
        "insecure-dev-platform",
        f"azurerm_key_vault.{vault}",
        "PLAT-KV-3",
        KV_REASON,
    )


@pytest.mark.slow  # a full checkov run
def test_scan_sarif_of_real_checkov_points_at_the_failing_resource(insecure_out, tmp_path, capsys):
    """Real checkov's terraform_json results carry the lines SARIF needs (test_scan_sarif.py covers the shape)."""
    import jsonschema

    sarif = tmp_path / "scan.sarif"
    code, _, err = run([*_scan_args(insecure_out), "--sarif", str(sarif)], capsys)
    assert code == 1, err
    log = json.loads(sarif.read_text())
    jsonschema.Draft202012Validator(
        json.loads((ROOT / "tests/data/sarif-schema-2.1.0.json").read_text())
    ).validate(log)
    [failed] = [r for r in log["runs"][0]["results"] if r["ruleId"] == "CKV_AZURE_109"]
    region = failed["locations"][0]["physicalLocation"]["region"]
    lines = (insecure_out / "stacks" / "insecure-dev-platform" / "cdk.tf.json").read_text().splitlines()
    assert 1 < region["startLine"] <= region["endLine"] <= len(lines)
    assert "azurerm_key_vault" in "\n".join(lines[region["startLine"] - 2 : region["endLine"]])
    assert [r["ruleId"] for r in log["runs"][1]["results"]] == ["PLAT-KV-3"]
