"""The foundation's figures in one run: FreeRADIUS Access-Requests/s, provisioning rate and latency.

Runs bench_radius.py (rendered config vs flat-file ceiling, zero wrong rejects counted, with a
concurrent database writer) and bench_provisioning.py (jobs/s, enqueue -> Access-Accept p50/p99).

    python bench/bench_foundation.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run both benches one after the other; stop at the first failure."""
    for script, args in (
        ("bench_radius.py", ["--runs", "3", "--writer"]),
        ("bench_provisioning.py", []),
    ):
        print(f"== {script} {' '.join(args)}", flush=True)
        result = subprocess.run([sys.executable, str(HERE / script), *args], check=False)
        if result.returncode != 0:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
