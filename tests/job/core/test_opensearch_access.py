"""The roles bucketlens maps inside OpenSearch: made once, left alone when right, and additive."""

from __future__ import annotations

import pytest

from job.core import opensearch_access as access
from tests.job.core.security_plugin import SecurityPlugin

WORKER = "arn:aws:iam::123456789012:role/bucketlens-job-abc"
SUBMITTER = "arn:aws:iam::123456789012:role/bucketlens-submitter-def"


class Client:
    def __init__(self, plugin: SecurityPlugin) -> None:
        self.transport = plugin


def test_roles_and_mappings_are_made_once_then_only_read():
    # given a cluster with none of bucketlens' roles
    plugin = SecurityPlugin()
    grants = {access.WRITER: [WORKER], access.DELETER: [SUBMITTER]}
    # when access is ensured
    changes = access.ensure(Client(plugin), "bucketlens", grants)
    # then both roles exist on the index and its k-NN index only, each mapped to its IAM role
    assert [(c.kind, c.name) for c in changes] == [
        ("role", access.WRITER),
        ("mapping", access.WRITER),
        ("role", access.DELETER),
        ("mapping", access.DELETER),
    ]
    assert plugin.roles[access.DELETER]["index_permissions"] == [
        {
            "index_patterns": ["bucketlens", "bucketlens-vectors"],
            "allowed_actions": ["indices:data/write/delete"],
        }
    ]
    assert "cluster_composite_ops" in plugin.roles[access.WRITER]["cluster_permissions"]  # bulk
    assert plugin.mappings[access.WRITER]["backend_roles"] == [WORKER]
    assert plugin.mappings[access.DELETER]["backend_roles"] == [SUBMITTER]
    # when it is ensured again (a second child starting)
    plugin.calls.clear()
    assert access.ensure(Client(plugin), "bucketlens", grants) == []
    # then it only read
    assert {method for method, _ in plugin.calls} == {"GET"}


def test_a_mapping_keeps_what_others_added_and_a_changed_role_is_put_back():
    # given a mapping an administrator extended, and a writer role someone narrowed
    plugin = SecurityPlugin()
    plugin.mappings[access.WRITER] = {
        "backend_roles": ["arn:aws:iam::1:role/admin"],
        "users": ["alice"],
        "hosts": [],
    }
    plugin.roles[access.WRITER] = {"cluster_permissions": [], "index_permissions": []}
    # when access is ensured
    changes = access.ensure(Client(plugin), "photos", {access.WRITER: [WORKER, WORKER]})
    # then the role is put back and the worker added beside the others, once
    assert [(c.kind, c.added) for c in changes] == [("role", ()), ("mapping", (WORKER,))]
    assert plugin.mappings[access.WRITER] == {
        "backend_roles": ["arn:aws:iam::1:role/admin", WORKER],
        "hosts": [],
        "users": ["alice"],
    }
    assert plugin.roles[access.WRITER]["index_permissions"][0]["index_patterns"] == [
        "photos",
        "photos-vectors",
    ]


def test_a_caller_that_is_not_the_master_user_is_refused():
    # given a cluster where the caller is not the master user / when access is ensured / then 403 reaches it
    with pytest.raises(Exception) as refused:
        access.ensure(Client(SecurityPlugin(master=False)), "bucketlens", {access.WRITER: [WORKER]})
    assert refused.value.status_code == 403


@pytest.mark.parametrize(
    "text",
    ['{"all_access": ["arn"]}', '{"bucketlens_writer": "arn"}', "not json", '["arn"]'],
)
def test_grants_name_bucketlens_roles_and_lists_of_arns_only(text):
    # given a grant that is not {bucketlens role: [ARN, ...]} / when parsed / then it is refused
    with pytest.raises(ValueError):
        access.parse_grants(text)


def test_grants_parse_to_pairs():
    assert access.parse_grants(f'{{"bucketlens_deleter": ["{SUBMITTER}"]}}') == (
        (access.DELETER, (SUBMITTER,)),
    )
