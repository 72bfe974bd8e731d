"""Open every page of a built book in headless Chromium and print its weight (the HTML and
everything it loads, the theme's shared files aside) and any problem a reader would meet.

Usage: python scripts/page_weight.py [HTML_ROOT]   (default: _build/html, after `make book`)
Exits 1 when a page weighs more than 5 MB or has a problem.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rlinside.pagecheck import PAGE_LIMIT_BYTES, check_pages, chromium


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path("_build/html")
    if not (root / "index.html").is_file():
        print(f"no built book at {root} (no index.html): run `make book` first", file=sys.stderr)
        return 2
    exe = chromium()
    if exe is None:
        print("no Chromium found: install Debian's `chromium` package", file=sys.stderr)
        return 2
    report = check_pages(root, exe)
    for page, weight in sorted(report.weights.items(), key=lambda x: -x[1]):
        flag = "  > 5 MB" if weight > PAGE_LIMIT_BYTES else ""
        print(f"{weight / 1e6:7.2f} MB  {page}{flag}")
    for p in report.problems:
        print(f"problem: {p}")
    heavy = report.too_heavy()
    print(f"RESULT pages={len(report.pages)} heaviest_mb={max(report.weights.values()) / 1e6:.2f} "
          f"over_limit={len(heavy)} problems={len(report.problems)}")
    return 1 if heavy or report.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
