import subprocess
import sys

import pytest

from langadapt.cli import GROUPS, main


@pytest.mark.parametrize("group", GROUPS)
def test_every_group_has_help(group, capsys):
    with pytest.raises(SystemExit) as e:
        main([group, "--help"])
    assert e.value.code == 0
    assert capsys.readouterr().out


def test_user_error_is_one_line_exit_2():
    r = subprocess.run([sys.executable, "-m", "langadapt", "model", "tiny", "--arch", "qwen3",
                        "--tokenizer", "/nonexistent/tok", "--out", "/tmp/never"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    lines = [x for x in r.stderr.splitlines() if x.startswith("langadapt: error")]
    assert len(lines) == 1 and "/nonexistent/tok" in lines[0]
