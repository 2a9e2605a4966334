"""Copy the front-end libraries the dashboard uses from node_modules to static/vendor.

Run by `make setup` after `npm ci`; static/vendor is not committed (third-party code
comes from npm with the lock file, at set-up).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = {
    "node_modules/htmx.org/dist/htmx.min.js": "htmx.min.js",
    "node_modules/@picocss/pico/css/pico.min.css": "pico.min.css",
    "node_modules/echarts/dist/echarts.min.js": "echarts.min.js",
}


def main() -> int:
    target = ROOT / "static" / "vendor"
    target.mkdir(parents=True, exist_ok=True)
    for source, name in FILES.items():
        path = ROOT / source
        if not path.exists():
            print(f"missing {source}: run `npm ci` first", file=sys.stderr)
            return 1
        shutil.copyfile(path, target / name)
    print(f"copied {len(FILES)} front-end files to {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
