"""A rollout of an env with an IP access list first checks this runner's public address is on it
(infra/lifecycle/runner_address.py): off the list is one line, exit 2, before anything is built or applied."""

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from infra.lifecycle.errors import OperationFailed
from infra.lifecycle.runner_address import https_public_address

LIST = "teams.pricing.environments.prod.hardening.ip_access_list"


def test_a_runner_off_the_list_is_refused_before_anything_happens(cli, fakes):
    fakes.public_ip = "192.0.2.55"
    result = cli("deploy", "pricing/prod", "--auto-approve")
    assert result.code == 2, result
    assert result.err_lines == [
        f"error: {LIST}: this runner's public address 192.0.2.55 is not on it, so Databricks would refuse the "
        "workspace stack of pricing/prod; add the runner's range (docs/operations.md) or deploy from a listed runner"
    ]
    assert fakes.nothing_happened(), fakes.events


def test_a_listed_runner_deploys(cli, fakes):
    fakes.public_ip = "198.51.100.7"  # inside the listed office range
    result = cli("deploy", "pricing/prod", "--auto-approve")
    assert result.code == 0, result.err
    assert fakes.address_lookups == 1
    assert fakes.events[:2] == [
        "build wheel",
        "synth pricing-prod-platform pricing-prod-account pricing-prod-workspace",
    ]


def test_the_dry_run_says_what_it_would_check_and_asks_nobody(cli, fakes):
    result = cli("deploy", "pricing/prod", "--auto-approve", "--dry-run")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert (
        lines[1]
        == f"  1. check this runner's public address (from https://checkip.amazonaws.com) is on {LIST}"
    )
    assert lines[2] == "  2. build the churn wheel: ml/ -> dist/"
    assert fakes.address_lookups == 0 and fakes.nothing_happened()


def test_envs_without_a_list_never_look_the_address_up(cli, fakes):
    assert cli("deploy", "churn/dev", "--auto-approve").code == 0
    # churn/prod has a private front end: IP access lists do not apply there
    assert cli("deploy", "churn/prod", "--auto-approve").code == 0
    assert fakes.address_lookups == 0


def test_destroy_checks_too(cli, fakes):
    fakes.public_ip = "192.0.2.55"
    result = cli("destroy", "risk/staging", "--auto-approve")
    assert result.code == 0 and fakes.address_lookups == 0  # no list in staging
    fakes.events.clear()
    result = cli("destroy", "risk/prod", "--force-prod", "--auto-approve", "--dry-run")
    assert "teams.risk.environments.prod.hardening.ip_access_list" in result.out


class _Answer(BaseHTTPRequestHandler):
    body = b"203.0.113.10\n"

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def what_is_my_ip():
    server = HTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", _Answer
    server.shutdown()
    server.server_close()


def test_the_real_lookup_reads_the_plain_text_answer(what_is_my_ip):
    url, _ = what_is_my_ip
    assert https_public_address(url) == "203.0.113.10"


def test_the_real_lookup_refuses_an_answer_that_is_no_address(what_is_my_ip, monkeypatch):
    url, handler = what_is_my_ip
    monkeypatch.setattr(handler, "body", b"<html>captive portal</html>")
    with pytest.raises(OperationFailed, match="not an IPv4 address"):
        https_public_address(url)


def test_the_real_lookup_fails_in_one_line_when_unreachable():
    with pytest.raises(OperationFailed, match="cannot read this runner's public address"):
        https_public_address("http://127.0.0.1:9/")


def test_applying_a_saved_plan_checks_the_runner_first(cli, fakes, tmp_path):
    from tests.lifecycle.test_plan import saved_plan

    fakes.runner.stacks_with_state |= {"pricing-prod-platform", "pricing-prod-workspace"}
    kept = saved_plan(cli, fakes, tmp_path, target="pricing/prod")
    fakes.public_ip = "192.0.2.55"
    result = cli("apply", "pricing/prod", "--plan-dir", str(kept))
    assert result.code == 2 and result.err_lines[0].startswith(f"error: {LIST}: this runner's public address")
    assert fakes.events == []  # nothing built, synthesized or applied


@pytest.mark.parametrize("proxy", ["http://proxy.corp:31x8", "http://[::1"])
def test_a_malformed_proxy_setting_fails_in_one_line_not_a_traceback(what_is_my_ip, monkeypatch, proxy):
    """Runners behind a corporate proxy set HTTP(S)_PROXY; urllib raises http.client.InvalidURL (a ValueError, not
    an OSError) for a mistyped port or host, which escaped as a traceback."""
    url, _ = what_is_my_ip
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    # urlopen builds its opener (and reads the proxy variables) once per process, as a real deploy does.
    monkeypatch.setattr(urllib.request, "_opener", None)
    with pytest.raises(OperationFailed, match="cannot read this runner's public address"):
        https_public_address(url)


def test_an_answer_cut_short_fails_in_one_line(monkeypatch):
    """A connection dropped mid-answer raises http.client.IncompleteRead (an HTTPException, not an OSError)."""
    import http.client

    import infra.lifecycle.runner_address as runner_address

    def cut_short(*args, **kwargs):
        raise http.client.IncompleteRead(b"203.0")

    monkeypatch.setattr(runner_address.urllib.request, "urlopen", cut_short)
    with pytest.raises(OperationFailed, match="cannot read this runner's public address"):
        https_public_address("https://checkip.example")
