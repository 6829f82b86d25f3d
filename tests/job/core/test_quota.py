"""The shared Rekognition quota: the arithmetic of a share, and users sharing one table on moto."""

from __future__ import annotations

import logging

import pytest

from job.commands import provision
from job.core import clients, quota
from job.core.quota import TARGET, Peer, SharedRate, share
from tests import aws_wire
from tests.conftest import EVENTS

Q = 50.0


def test_one_user_gets_the_quota_and_hungry_users_split_it_evenly():
    # given users that all want more / then each has an equal part of the quota
    assert share(Q, "a", []) == pytest.approx(TARGET * Q)
    peers = [Peer(u, 12.0, 12.25) for u in "abcd"]
    assert share(Q, "a", peers) == pytest.approx(TARGET * Q / 4)


def test_what_a_light_user_leaves_goes_to_the_hungry_ones():
    # given one user that uses 2 of its 24.5 calls/s / then the hungry one gets the rest
    assert share(Q, "me", [Peer("me", 24.0, 24.5), Peer("light", 2.0, 24.5)]) == pytest.approx(
        TARGET * Q - 2.0
    )
    # and a user that just joined is not taken for light (its use is not known yet)
    assert share(Q, "me", [Peer("new", -1.0, 49.0)]) == pytest.approx(TARGET * Q / 2)


def test_the_aimd_factor_scales_the_share_but_never_to_nothing():
    assert share(Q, "a", [], factor=0.5) == pytest.approx(TARGET * Q * 0.5)
    assert share(Q, "a", [], factor=0.0) > 0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def table(aws):
    ddb = clients.client("dynamodb")
    provision.setup(ddb, clients.client("s3"), "q-results", [], "us-east-1")
    return ddb, "q-results" + quota.SUFFIX


def test_users_of_one_table_share_the_quota_and_leave_it(table):
    # given three children of two jobs pacing the same operation through one table
    ddb, name = table
    clock = Clock()
    users = [
        SharedRate(ddb, name, "rekognition:DetectLabels", u, Q, clock=clock, sleep=clock.sleep) for u in "abc"
    ]
    # when each makes calls for a few periods
    for _ in range(4):
        for user in users:
            for _ in range(20):
                user.acquire()
        clock.now += quota.PERIOD_S
    # then each sees the three, and the three together stay within the quota
    assert [u.peers for u in users] == [3, 3, 3]
    assert sum(u.rate for u in users) == pytest.approx(TARGET * Q, rel=0.01)
    # when one leaves / then the others take its part at their next refresh
    before = users[2].limiter_calls
    users[2].leave()
    for user in users[:2]:
        user.refresh()
    assert [u.peers for u in users[:2]] == [2, 2]
    assert sum(u.rate for u in users[:2]) == pytest.approx(TARGET * Q, rel=0.01)
    # and the limiter's own calls are counted: 2 a refresh (at least one a period), 1 to leave
    assert before % 2 == 0 and before >= 2 * 4 and users[2].limiter_calls == before + 1


def test_a_throttle_halves_the_rate_and_quiet_periods_bring_it_back(table):
    ddb, name = table
    clock = Clock()
    user = SharedRate(ddb, name, "rekognition:DetectText", "a", Q, clock=clock, sleep=clock.sleep)
    user.refresh()
    full = user.rate
    # when Rekognition throttles twice within a second / then the rate drops once
    user.throttled()
    user.throttled()
    assert user.rate == pytest.approx(full * quota.DECREASE)
    # when quiet periods pass / then the factor climbs back to the whole share
    for _ in range(8):
        clock.now += quota.PERIOD_S + 1
        user.refresh()
    assert user.rate == pytest.approx(full)


def test_a_cap_bounds_the_share(table):
    ddb, name = table
    user = SharedRate(ddb, name, "rekognition:DetectLabels", "a", Q, cap=5.0)
    user.refresh()
    assert user.rate == 5.0


def test_an_unreachable_table_keeps_the_last_rate(aws, caplog):
    # given no limiter table at all
    user = SharedRate(clients.client("dynamodb"), "missing-limiter", "rekognition:DetectLabels", "a", Q)
    # when it refreshes / then pacing goes on at the rate it had, with one warning
    user.refresh()
    user.refresh()
    assert user.rate == pytest.approx(TARGET * Q)
    assert sum("shared quota unavailable" in r.getMessage() for r in caplog.records) == 1


# --- Service Quotas ---------------------------------------------------------------------------------
# The response shape is ListServiceQuotas' / ListAWSDefaultServiceQuotas' (botocore's service model, which
# the Stubber enforces). The quota names and codes are invented: AWS publishes no list of Rekognition's
# quota codes, so they follow the console's wording ("Transactions per second ... <Operation>").


def _quota(operation: str, value: float, code: str) -> dict:
    return {
        "ServiceCode": "rekognition",
        "ServiceName": "Amazon Rekognition",
        "QuotaArn": f"arn:aws:servicequotas:us-east-1:123456789012:rekognition/{code}",
        "QuotaCode": code,
        "QuotaName": f"Transactions per second per account for Amazon Rekognition Image operation {operation}",
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


def _stubbed(*answers: tuple[list[dict], list[dict]] | str):
    """A client answering each read in turn: (defaults, applied) listings, or an error code."""
    from botocore.stub import Stubber

    client = clients.client("service-quotas")
    stub = Stubber(client)
    params = {"ServiceCode": "rekognition"}
    for answer in answers:
        if isinstance(answer, str):
            stub.add_client_error("list_aws_default_service_quotas", answer, http_status_code=403)
            continue
        stub.add_response("list_aws_default_service_quotas", {"Quotas": answer[0]}, params)
        stub.add_response("list_service_quotas", {"Quotas": answer[1]}, params)
    stub.activate()
    return client, stub


def test_the_applied_quota_beats_the_default_and_the_smallest_operation_counts():
    # given DetectLabels raised to 120 TPS (applied) and DetectText at its default of 50, plus an
    # unrelated quota that also names DetectLabels but is no rate
    defaults = [
        _quota("DetectLabels", 50.0, "L-A1"),
        _quota("DetectText", 50.0, "L-B2"),
        {**_quota("DetectLabels", 5.0, "L-C3"), "QuotaName": "Concurrent DetectLabels jobs"},
    ]
    applied = [_quota("DetectLabels", 120.0, "L-A1")]
    client, stub = _stubbed((defaults, applied), (defaults, applied))
    # when the quota of labels alone, then of labels and text, is read
    labels_only = quota.service_quota(client, ["DetectLabels"])
    both = quota.service_quota(client, ["DetectLabels", "DetectText"])
    # then labels alone run at the raised value, and with text the text quota bounds them; each names its code
    assert labels_only == (120.0, "Service Quotas L-A1 (DetectLabels)")
    assert both == (50.0, "Service Quotas L-B2 (DetectText)")
    stub.assert_no_pending_responses()


def test_without_permission_or_without_the_quota_the_configured_value_stays():
    # given a role without servicequotas:ListAWSDefaultServiceQuotas
    client, stub = _stubbed("AccessDeniedException", ([_quota("DetectLabels", 50.0, "L-A1")], []))
    # then there is no answer (the caller keeps BUCKETLENS_TPS_QUOTA)
    assert quota.service_quota(client, ["DetectLabels"]) is None
    # and an operation Service Quotas has no rate for gives no answer either
    assert quota.service_quota(client, ["DetectLabels", "DetectCustomLabels"]) is None


def _recorded_defaults(client) -> list[dict]:
    body = (EVENTS / "servicequotas_rekognition_defaults.json").read_bytes()
    return aws_wire.parsed(client, "ListAWSDefaultServiceQuotas", body)["Quotas"]


def test_the_recorded_answer_gives_each_operations_quota_by_its_pinned_code(caplog):
    # given Service Quotas' recorded answer for rekognition (91 quotas, several naming a Detect operation),
    # and nothing applied in the account
    client = clients.client("service-quotas")
    defaults = _recorded_defaults(client)
    assert len(defaults) == 91
    client, stub = _stubbed((defaults, []))
    # when the quota of labels, text and custom labels is read
    with caplog.at_level(logging.INFO, logger="job.core.quota"):
        found = quota.service_quota(client, ["DetectLabels", "DetectText", "DetectCustomLabels"])
    # then each operation's quota is found by its pinned code, and the log says so
    assert found == (50.0, "Service Quotas L-E29B542B (DetectLabels)")
    matched = {
        r.operation: (r.code, r.matched_by) for r in caplog.records if r.msg == "rekognition quota found"
    }
    assert matched == {op: (code, "code") for op, code in quota.QUOTA_CODES.items()}
    stub.assert_no_pending_responses()


def test_a_quota_under_another_code_is_found_by_its_name_and_the_log_says_so(caplog):
    # given the recorded answer with DetectLabels' quota under a code we have not pinned, and raised to 80
    client = clients.client("service-quotas")
    defaults = [
        {**q, "QuotaCode": "L-0THER", "Value": 80.0}
        if q["QuotaCode"] == quota.QUOTA_CODES["DetectLabels"]
        else q
        for q in _recorded_defaults(client)
    ]
    client, _ = _stubbed((defaults, []))
    # when its quota is read
    with caplog.at_level(logging.INFO, logger="job.core.quota"):
        found = quota.service_quota(client, ["DetectLabels"])
    # then the name still finds it (not "StartLabelDetection" or "DetectModerationLabels"), and says how
    assert found == (80.0, "Service Quotas L-0THER (DetectLabels)")
    (record,) = [r for r in caplog.records if r.msg == "rekognition quota found"]
    assert (record.code, record.matched_by) == ("L-0THER", "name")


PACER = """
import sys, threading, time
from job.core import clients, quota
table, user, seconds, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
rate = quota.SharedRate(clients.client("dynamodb"), table, "rekognition:DetectLabels", user, 20.0, expected=1)
times, lock, end = [], threading.Lock(), time.time() + seconds

def call():
    while time.time() < end:
        rate.acquire()
        with lock:
            times.append(time.time())

threads = [threading.Thread(target=call) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
rate.leave()
open(out, "w").write("\\n".join(map(str, times)))
"""


def test_threads_of_two_processes_share_one_table_and_stay_under_the_quota(moto_server, tmp_path):
    # given a limiter table in an emulator both processes reach, and two jobs of one child each (each at first
    # expects the quota for itself), each with 8
    # threads taking the quota's calls as fast as it lets them, for 8 seconds
    import os
    import subprocess
    import sys

    ddb = clients.client("dynamodb")
    provision.setup(ddb, clients.client("s3"), "p-results", [], "us-east-1")
    table = "p-results" + quota.SUFFIX
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server}
    outs = [tmp_path / f"{user}.txt" for user in "ab"]
    # when both run at once
    procs = [
        subprocess.Popen([sys.executable, "-c", PACER, table, out.stem, "8", str(out)], env=env)
        for out in outs
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    # then together they never pass the quota (20 calls/s) in any second once they have found each other
    # (half a second), and once settled they use most of it
    times = sorted(float(t) for out in outs for t in out.read_text().split())
    start = times[0]
    per_second = [sum(1 for t in times if s <= t - start < s + 1) for s in range(1, 7)]
    assert max(per_second) <= 20 + 1, per_second  # one call of rounding at a second's edge
    assert sum(per_second[3:]) / 3 >= 0.8 * TARGET * 20, per_second
    # and both got a fair part
    counts = [len(out.read_text().split()) for out in outs]
    assert min(counts) >= 0.35 * sum(counts), counts
