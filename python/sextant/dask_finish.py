"""The driver of a distributed finish: what ``sextant finish --dask`` and
``sextant serve --dask`` run (docs/distributed.md).

    python -m sextant.dask_finish --address A --root R --project P --run N \\
        [--worker-memory SIZE] [--transfer shared|upload] [--option name=value ...]

Prints "stage: NAME" after each stage of the finish and the report as JSON on
its last line; on failure prints the error to stderr and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence


def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sextant.dask_finish",
                                description="Finish a logged run on a Dask cluster")
    p.add_argument("--address", required=True, help="The Dask scheduler's address")
    p.add_argument("--root", required=True, help="The store root")
    p.add_argument("--project", required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--worker-memory", default=None,
                   help="Memory of one worker for the training reference (bytes or '4GB')")
    p.add_argument("--transfer", default="shared", choices=("shared", "upload"))
    p.add_argument("--work-dir", default=None,
                   help="The stage inputs' folder (default <run dir>/.shard-work)")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="A processing option (repeatable)")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse(argv)
    options: dict[str, str] = {}
    for o in args.option:
        name, sep, value = o.partition("=")
        if not sep or not name:
            print(f"error: --option: expected NAME=VALUE; got '{o}'", file=sys.stderr)
            return 1
        options[name] = value
    try:
        import sextant

        def stage(name: str) -> None:
            print(f"stage: {name}", flush=True)

        report = sextant.finish_run(args.root, args.project, args.run, dask=args.address,
                                    worker_memory=args.worker_memory,
                                    dask_transfer=args.transfer, dask_work_dir=args.work_dir,
                                    on_stage=stage, **options)
    except Exception as e:  # noqa: BLE001 - every failure is the driver's exit status
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps(report, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
