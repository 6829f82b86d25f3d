"""`python -m job search-setup`: the deployment's roles mapped inside OpenSearch by its master user."""

from __future__ import annotations

import io
import json
import os

import pytest

from job import cli
from job.commands import search_setup
from job.core import errors, opensearch, opensearch_access
from tests.job.commands.test_deployed import _fake_terraform
from tests.job.core.security_plugin import SecurityPlugin

ENDPOINT = "https://vpc-bucketlens-search-abc.us-east-1.es.amazonaws.com"
WORKER = "arn:aws:iam::123456789012:role/bucketlens-job-abc"
SUBMITTER = "arn:aws:iam::123456789012:role/bucketlens-submitter-def"


class Client:
    def __init__(self, plugin: SecurityPlugin) -> None:
        self.transport = plugin


def _args(*argv: str):
    return cli.build_parser(["search-setup"]).parse_args(["search-setup", *argv])


def test_the_deployments_roles_are_read_from_terraform_and_mapped(tmp_path, monkeypatch):
    # given an applied deployment with search (its outputs) and a cluster where we are the master user
    _fake_terraform(
        tmp_path,
        {
            "search_endpoint": json.dumps(ENDPOINT),
            "search_index": json.dumps("photos"),
            "worker_role_arn": json.dumps(WORKER),
            "submitter_role_arn": json.dumps(SUBMITTER),
        },
    )
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    plugin = SecurityPlugin()
    out = io.StringIO()
    # when search-setup runs against that directory, with a reader too
    args = _args("--terraform-dir", "terraform", "--reader", "arn:aws:iam::123456789012:role/analyst")
    assert search_setup.command(args, out, client=Client(plugin)) == errors.EXIT_OK
    # then the three roles are mapped, and what changed is printed as JSON lines
    assert {name: m["backend_roles"] for name, m in plugin.mappings.items()} == {
        opensearch_access.WRITER: [WORKER],
        opensearch_access.DELETER: [SUBMITTER],
        opensearch_access.READER: ["arn:aws:iam::123456789012:role/analyst"],
    }
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {"kind": "mapping", "name": opensearch_access.DELETER, "added": [SUBMITTER]} in printed
    assert args.opensearch_endpoint == ENDPOINT
    # and the roles hold the deployment's index (search_index), not the default one
    assert {p for r in plugin.roles.values() for p in r["index_permissions"][0]["index_patterns"]} == {
        "photos",
        "photos-vectors",
    }
    # when it runs again / then it says there is nothing to do
    out = io.StringIO()
    search_setup.command(args, out, client=Client(plugin))
    assert json.loads(out.getvalue())["kind"] == "nothing"


def test_a_caller_that_is_not_the_master_user_exits_78_with_the_fix(monkeypatch, capsys):
    # given a cluster that refuses the caller's security API calls
    monkeypatch.setattr(opensearch, "connect", lambda settings: Client(SecurityPlugin(master=False)))
    # when search-setup runs / then it exits 78 with one line saying who may, and no traceback
    code = cli.main(["search-setup", "--opensearch-endpoint", ENDPOINT, "--deleter", SUBMITTER])
    err = capsys.readouterr().err
    assert code == errors.EXIT_CONFIG
    assert "master user" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--deleter", SUBMITTER], "no OpenSearch endpoint"),
        (["--opensearch-endpoint", ENDPOINT], "nothing to map"),
    ],
)
def test_missing_settings_exit_78(argv, says, capsys):
    assert cli.main(["search-setup", *argv]) == errors.EXIT_CONFIG
    assert says in capsys.readouterr().err


def test_no_answer_is_transient():
    # given a cluster that cannot be reached / when the error is classified / then a retry may help
    from opensearchpy.exceptions import ConnectionError as NoAnswer

    failure = search_setup._failure("N/A", NoAnswer("N/A", "timed out", None))
    assert isinstance(failure, errors.TransientError)


def test_the_documented_search_setup_commands_parse():
    # given the docs' search-setup commands, as a user copies them (without the comment)
    from pathlib import Path

    readme = (Path(__file__).parents[3] / "docs" / "search-and-reports.md").read_text()
    commands = [
        line.split("#")[0].split()[4:]
        for line in readme.splitlines()
        if line.startswith("python -m job search-setup")
    ]
    assert len(commands) == 2
    for argv in commands:
        # when parsed / then every flag is one the command has
        args = _args(*argv)
        assert args.terraform_dir or (args.writer and args.deleter and args.reader)
