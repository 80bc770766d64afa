import json

from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError
from radprm.quarantine import QuarantineSink, read_quarantine


def test_error_message_names_file_row_field_and_hint():
    err = InputError("empty report text", path="data/r.csv", row=17, field="findings", hint="check --findings-col")
    assert str(err) == "data/r.csv row 17, field 'findings': empty report text (check --findings-col)"


def test_error_message_without_location_is_just_the_message():
    assert str(InputError("boom")) == "boom"


def test_quarantine_sink_counts_by_reason_and_writes_jsonl(tmp_path):
    path = tmp_path / "q" / "quarantine.jsonl"
    with QuarantineSink(path, run_id="r1") as sink:
        sink.add(stage="read", reason_code="empty_text", source_path="a.csv", source_row=3, field="findings")
        sink.add(stage="read", reason_code="empty_text", source_path="a.csv", source_row=4)
        sink.add(stage="read", reason_code="duplicate_id", record_id="7")
    assert sink.total == 3
    assert sink.counts["empty_text"] == 2
    back = read_quarantine(path)
    assert [r.reason_code for r in back] == ["empty_text", "empty_text", "duplicate_id"]
    assert all(r.run_id == "r1" for r in back)
    assert json.loads(path.read_text().splitlines()[0])["source_row"] == 3
    assert "empty_text=2" in sink.render()


def test_cli_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("radprm ")
