"""Print the verdicts of the claims measured by executed notebooks' ``*.claims.json`` files.

Usage: python scripts/verdicts.py runs/book/l02.claims.json [...]
(the book computes the same verdicts from book/generated when it builds).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rlinside import claims


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    declared = claims.load_claims()
    for path in paths:
        p = Path(path)
        if not p.is_file():
            print(f"no such file: {p}", file=sys.stderr)
            return 2
        for d in json.loads(p.read_text()):
            m = claims.Measurement.from_dict(d)
            if m.claim not in declared:  # an exercise's measurement: no verdict of its own
                print(f"{m.claim}: estimate {m.estimate:.4g} [{m.low:.4g}, {m.high:.4g}], n = {m.n}")
                continue
            verdict, why = claims.verdict(declared[m.claim], m)
            print(f"{m.claim}: {verdict} ({why})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
