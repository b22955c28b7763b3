"""Cold start: the first `stratopt optimize examples/sma_cross_synthetic.yaml --storage
memory` in a new process with an empty numba cache, then the same command warm.

    python benchmarks/cold_start.py --ref main --ref HEAD --pairs 2 [--json]

Each ref is exported with `git archive` (its `src/` and `examples/`) into a scratch
folder, byte-compiled (a clone after `make demo` has its .pyc files), and run with
``PYTHONPATH`` pointing at it on this checkout's venv, so every ref has its own numba
cache. The refs alternate: ``A B`` then ``B A`` for each pair. A cold run deletes the
ref's numba cache first. Printed per run: wall time cold (until the command returned,
and until the background compile it may leave to finish ended too: the warm run
starts after that) and warm, the CPU time of the command and every process it
started, and `others_cpu_share`, the share of all cores other processes used
meanwhile (a noisy-neighbour warning, not a correction). Every run's
`ranked_results.csv` must be identical in every column but `runtime_s`; the script
says so or exits 1.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_throughput import _busy_cpu_s, _children_cpu_s  # noqa: E402  (the same host check)

STUDY = "examples/sma_cross_synthetic.yaml"
# The console script's own two lines, so that PYTHONPATH decides which stratopt runs.
MAIN = "import sys; from stratopt.cli import main; sys.argv[0] = 'stratopt'; sys.exit(main())"


@dataclass
class Run:
    label: str
    sha: str
    at: str
    cold_s: float
    cold_idle_s: float  # until the background compile it left ended too
    cold_cpu_s: float
    cold_others: float | None
    warm_s: float
    warm_cpu_s: float
    warm_others: float | None


def export(ref: str, into: Path) -> str:
    """`git archive` of ``ref``'s src/ and examples/ into ``into``; returns its sha."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    blob = subprocess.run(
        ["git", "archive", ref, "src", "examples"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(into / "src")], check=True)
    return sha


def clear_numba_cache(tree: Path) -> None:
    for pattern in ("*.nbi", "*.nbc"):
        for f in tree.rglob(pattern):
            f.unlink()


def timed(tree: Path, out: Path) -> tuple[float, float, float, float | None]:
    """(wall s, wall s until every process it started ended, own CPU s incl. all its
    processes, others_cpu_share) of one optimize run.

    A background compile left to finish after the command returned (it then belongs
    to this script, a child subreaper) is waited for, its CPU counted as the run's own:
    the next run starts on an idle machine and a complete cache.
    """
    cmd = [sys.executable, "-c", MAIN, "optimize", STUDY, "--storage", "memory"]
    cmd += ["--output", str(out)]
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    env.pop("NUMBA_CACHE_DIR", None)
    busy0, own0, t0 = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=False)
    t1 = time.perf_counter()
    _wait_for_orphans()
    busy1, own1, t2 = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
    if proc.returncode != 0:
        sys.exit(f"{tree.name}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    share = None
    if busy0 is not None and busy1 is not None:
        others = max(0.0, (busy1 - busy0) - (own1 - own0))
        share = others / ((t2 - t0) * (os.cpu_count() or 1))
    return t1 - t0, t2 - t0, own1 - own0, share


def _become_subreaper() -> bool:
    """Make the processes our children leave behind our children (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(36, 1, 0, 0, 0) == 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _wait_for_orphans() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def ranked(out: Path) -> list[list[str]]:
    """The run's ranked_results.csv without its runtime_s column."""
    (path,) = out.rglob("ranked_results.csv")
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    drop = rows[0].index("runtime_s") if "runtime_s" in rows[0] else -1
    return [[v for i, v in enumerate(r) if i != drop] for r in rows]


def _share(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", action="append", required=True, help="git ref (repeatable)")
    ap.add_argument("--pairs", type=int, default=2, help="rounds; each round runs every ref")
    ap.add_argument("--json", action="store_true", help="print the runs as JSON")
    args = ap.parse_args()
    if not _become_subreaper():
        print("note: not a subreaper: a background compile that outlives the command is not timed")
    scratch = Path(tempfile.mkdtemp(prefix="stratopt-cold-"))
    try:
        trees = {}
        for i, ref in enumerate(args.ref):
            tree = scratch / f"{i}"
            trees[f"{ref}"] = (tree, export(ref, tree))
        runs: list[Run] = []
        reference: list[list[str]] | None = None
        same = True
        for p in range(args.pairs):
            order = list(trees) if p % 2 == 0 else list(reversed(trees))
            for label in order:
                tree, sha = trees[label]
                clear_numba_cache(tree)
                at = time.strftime("%H:%M:%S", time.gmtime())
                results = []
                for kind in ("cold", "warm"):
                    out = scratch / f"out-{len(runs)}-{kind}"
                    results.append(timed(tree, out))
                    table = ranked(out)
                    reference = table if reference is None else reference
                    same = same and table == reference
                (cs, ci, cc, co), (ws, _, wc, wo) = results
                run = Run(label, sha, at, cs, ci, cc, co, ws, wc, wo)
                runs.append(run)
                if not args.json:
                    print(
                        f"{label:>12} {sha} {at}  cold {cs:6.2f} s (idle after {ci:5.2f} s, "
                        f"cpu {cc:5.1f} s, others {_share(co)})  "
                        f"warm {ws:5.2f} s (cpu {wc:4.1f} s, others {_share(wo)})",
                        flush=True,
                    )
        if args.json:
            print(json.dumps({"runs": [asdict(r) for r in runs], "identical": same}, indent=1))
        else:
            print("ranked_results.csv identical (but runtime_s):", same)
        if not same:
            sys.exit(1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
