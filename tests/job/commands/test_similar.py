"""`search --meaning` and `--like`: the embedding model's text encoder run where the query runs, the vector
store's closest images, every other filter, a score and a link on each result; clear refusals otherwise."""

from __future__ import annotations

import io
import json

import pytest

from job import cli
from job.core import clients, errors
from tests.job.worker.test_embedding_run import VECTORS
from tests.job.worker_helpers import BUCKET, RESULTS, TABLE

MODEL = [
    "--vector-bucket",
    VECTORS,
    "--embed-image-uri",
    f"s3://{RESULTS}/models/image.onnx",
    "--embed-text-uri",
    f"s3://{RESULTS}/models/text.onnx",
    "--embed-tokenizer-uri",
    f"s3://{RESULTS}/models/tokenizer.json",
]


def _search(*args: str, capsys) -> tuple[int, list[dict], str]:
    code = cli.main(["search", "--table", TABLE, *args])
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    return code, rows, captured.err


def test_a_description_finds_the_images_that_match_it_with_score_and_link(embedded, capsys):
    # when someone searches for "a red photo"
    code, rows, _ = _search("--meaning", "a red photo", "--limit", "2", *MODEL, capsys=capsys)
    # then the two red photos come back, best first, each with a score and a link that expires
    assert code == errors.EXIT_OK
    assert {r["uri"] for r in rows} == {f"s3://{BUCKET}/in/red.jpg", f"s3://{BUCKET}/in/red.heic"}
    assert rows[0]["score"] >= rows[1]["score"] > 0.9
    assert all("X-Amz-Expires=3600" in r["preview"] for r in rows)


def test_like_finds_the_image_first_and_its_near_copies_next(embedded, capsys):
    code, rows, _ = _search("--like", f"s3://{BUCKET}/in/blue.png", "--limit", "2", *MODEL, capsys=capsys)
    assert code == errors.EXIT_OK
    assert [r["uri"] for r in rows] == [f"s3://{BUCKET}/in/blue.png", f"s3://{BUCKET}/in/blue.webp"]
    assert rows[0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_the_other_filters_apply_and_a_deleted_image_drops_out(embedded, capsys):
    # given red.jpg deleted from the results (its tombstone) but its vector still stored
    clients.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"bucket": {"S": BUCKET}, "key": {"S": "in/red.jpg"}},
        UpdateExpression="SET #s = :d",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":d": {"S": "deleted"}},
    )
    # when red photos are searched for / then only the one still there is shown
    _, rows, _ = _search("--meaning", "red", "--limit", "5", *MODEL, capsys=capsys)
    assert f"s3://{BUCKET}/in/red.jpg" not in {r["uri"] for r in rows}
    # and a label no image has leaves nothing (the emulator labels every image with its canned answer)
    _, rows, _ = _search("--meaning", "red", "--label", "Unicorn", *MODEL, capsys=capsys)
    assert rows == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--meaning", "red"], "needs the embedding model and its vector bucket: --embed-image-uri"),
        (["--like", f"s3://{BUCKET}/in/nothing.jpg", *MODEL], "has no vector of this model"),
        (["--meaning", "red", "--like", f"s3://{BUCKET}/in/red.jpg", *MODEL], "not both"),
        (["--meaning", " ", *MODEL], "must not be empty"),
    ],
    ids=["no-model", "not-embedded", "both", "empty"],
)
def test_a_search_that_cannot_run_says_why_without_a_traceback(embedded, capsys, args, says):
    code, rows, err = _search(*args, capsys=capsys)
    assert code in (errors.EXIT_USAGE, errors.EXIT_CONFIG) and rows == []
    assert says in err and "Traceback" not in err


def test_the_table_format_leads_with_the_score(embedded):
    from job.commands import search

    out = io.StringIO()
    args = cli.build_parser(["search"]).parse_args(["search", "--table", TABLE, "--meaning", "blue", *MODEL])
    args.format = "table"
    assert search.command(args, out) == errors.EXIT_OK
    first = out.getvalue().splitlines()[0].split()
    assert float(first[0]) > 0.9 and first[1].endswith(("blue.png", "blue.webp"))


def test_the_report_and_the_html_catalogue_show_a_search_by_meaning_best_first(embedded, capsys, tmp_path):
    # when the text report and the HTML catalogue are asked for "red"
    code = cli.main(["report", "--table", TABLE, "--meaning", "red", "--limit", "2", *MODEL])
    text = capsys.readouterr().out
    page = tmp_path / "red.html"
    html_code = cli.main(
        ["report", "--html", "--table", TABLE, "--meaning", "red", "--limit", "2", "-o", str(page), *MODEL]
    )
    # then both list the two red photos with their scores, and the page says what was asked
    assert code == html_code == errors.EXIT_OK
    lines = text.strip().splitlines()
    assert {line.split("\t")[0] for line in lines} == {
        f"s3://{BUCKET}/in/red.jpg",
        f"s3://{BUCKET}/in/red.heic",
    }
    assert all(float(line.split("\tscore ")[1]) > 0.9 for line in lines)
    written = page.read_text()
    assert "bucketlens: “red”" in written and written.count('class="meta score"') == 2
    # and asking for both kinds of search at once is refused
    assert cli.main(["report", "--meaning", "red", "--like", f"s3://{BUCKET}/in/red.jpg", *MODEL]) == 2
