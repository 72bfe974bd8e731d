"""README.md's measured figures are generated (scripts/readme_figures.py), and current."""

import re
import subprocess
import sys

from conftest import ROOT


def test_readme_test_count_is_the_one_pytest_collects():
    p = subprocess.run([sys.executable, "scripts/readme_figures.py", "--check"], cwd=ROOT, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr


def test_readme_types_no_test_count_outside_the_generated_block():
    text = (ROOT / "README.md").read_text()
    outside = re.sub(r"<!-- readme-figures:start -->.*?<!-- readme-figures:end -->", "", text, flags=re.S)
    assert not re.search(r"\b\d+ (tests|passed)\b", outside), "a typed test count outside the generated block"
