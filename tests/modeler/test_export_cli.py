"""`flask processes export`: the newest deployed version of each process (or of the named ones) back into
BPMN files, by default into the workflows/ directory deployments read; an unknown key writes nothing."""

import shutil
from pathlib import Path

from app.workflow.deployment import deploy
from tests.engine import bpmn_factory as bf


def _revised(deployed) -> str:
    xml = deployed["order_process"].bpmn_xml.replace('name="Review order"', 'name="Review the order"', 1)
    assert deploy(xml, "order_process.bpmn", by="olga", comment="clearer name").version == 2
    return xml


def test_every_process_is_written_in_its_newest_version(runner, deployed, tmp_path):
    revised = _revised(deployed)
    result = runner.invoke(args=["processes", "export", "--to", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["exception_handling.bpmn", "order_process.bpmn"]
    assert (tmp_path / "out" / "order_process.bpmn").read_text(encoding="utf-8") == revised
    exception_xml = (tmp_path / "out" / "exception_handling.bpmn").read_text(encoding="utf-8")
    assert exception_xml == deployed["exception_handling"].bpmn_xml
    assert f"order_process v2 -> {tmp_path / 'out' / 'order_process.bpmn'}" in result.output
    assert "exception_handling v1 -> " in result.output

    again = runner.invoke(args=["processes", "export", "--to", str(tmp_path / "out")])
    assert again.exit_code == 0
    assert "order_process v2 unchanged" in again.output and "exception_handling v1 unchanged" in again.output


def test_only_the_named_processes(runner, deployed, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(args=["processes", "export", "--to", str(out), "order_process"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["order_process.bpmn"]
    assert "exception_handling" not in result.output


def test_by_default_into_the_workflows_directory(app, runner, deployed, tmp_path):
    """The shipped files are what is deployed: nothing to write. A new version lands on its file."""
    workflows = tmp_path / "workflows"
    shutil.copytree(app.config["WORKFLOWS_DIR"], workflows)
    app.config["WORKFLOWS_DIR"] = str(workflows)
    result = runner.invoke(args=["processes", "export"])
    assert result.exit_code == 0, result.output
    assert "order_process v1 unchanged" in result.output and "exception_handling v1 unchanged" in result.output

    revised = _revised(deployed)
    result = runner.invoke(args=["processes", "export", "order_process"])
    assert result.exit_code == 0 and "order_process v2 -> " in result.output
    assert (workflows / "order_process.bpmn").read_text(encoding="utf-8") == revised


def test_an_unknown_key_writes_nothing(runner, deployed, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(args=["processes", "export", "--to", str(out), "order_process", "no_such_process"])
    assert result.exit_code != 0
    assert "no deployed process 'no_such_process'" in result.output
    assert not out.exists()


def test_a_file_name_never_leaves_the_directory(runner, ctx, tmp_path):
    deploy(bf.linear("sb_export", bf.script("work", "done = True")), "../../escape.bpmn")
    deploy(bf.linear("sb_unnamed", bf.script("work", "done = True")), "")
    out = tmp_path / "out"
    result = runner.invoke(args=["processes", "export", "--to", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["escape.bpmn", "sb_unnamed.bpmn"]
    assert not (tmp_path / "escape.bpmn").exists() and not Path("escape.bpmn").exists()


def test_two_processes_never_share_a_file(runner, ctx, tmp_path):
    deploy(bf.linear("sb_alpha", bf.script("work", "done = True")), "shared.bpmn")
    deploy(bf.linear("sb_beta", bf.script("work", "done = True")), "shared.bpmn")
    deploy(bf.linear("订单", bf.script("work", "done = True")), "订单.bpmn")
    out = tmp_path / "out"
    result = runner.invoke(args=["processes", "export", "--to", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 3 and all(name.endswith(".bpmn") and len(name) > 5 for name in names)
    assert "shared.bpmn" in names and "sb_beta.bpmn" in names
