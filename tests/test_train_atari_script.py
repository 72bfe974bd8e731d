"""scripts/train_atari.py checks its flags before any work starts."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import train_atari  # noqa: E402


@pytest.mark.parametrize("argv, message", [
    (["--agent", "a2c", "--epsilon-decay-steps", "1000"], "applies to the Q-learning agents"),
    (["--agent", "drqn", "--epsilon-decay-steps", "0"], "must be >= 1"),
    (["--agent", "a2c", "--bug", "merge"], "applies to the dddqn agent"),
    (["--agent", "drqn", "--snapshots", "x"], "comma-separated integers"),
    (["--agent", "dddqn", "--noop-max", "0"], "applies to the A2C agents"),
    (["--agent", "a2c", "--noop-max", "-1"], "must be >= 0"),
])
def test_bad_flags_fail_before_any_run(tmp_path, capsys, argv, message):
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit):
        train_atari.main(["--game", "Seaquest", "--run-dir", str(run_dir), *argv])
    assert message in capsys.readouterr().err
    assert not run_dir.exists()
