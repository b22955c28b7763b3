"""A command evaluator for the tests: what it does is chosen by its first argument.

    toy.py MODE PARAMS_JSON START END [ARGV_LOG]

ok: prints a JSON result (an equity curve from the parameters, deterministic);
echo: the same, after writing its argv, stdin and working directory to ARGV_LOG;
garbage: prints text that is not JSON; fail: writes to stderr and exits 3;
hang: writes its pid to ARGV_LOG, a line to stderr, and sleeps;
hang_once: as hang for x == 5 when ARGV_LOG does not exist yet, else as ok.
"""

import json
import os
import sys
import time

mode, params_json, start, end = sys.argv[1:5]
params = json.loads(params_json)
if mode == "echo":
    with open(sys.argv[5], "w") as f:
        json.dump({"argv": sys.argv, "stdin": json.load(sys.stdin), "cwd": os.getcwd()}, f)
if mode == "garbage":
    print("Traceback? no: <html>not json</html>")
    sys.exit(0)
if mode == "fail":
    print("loading data...\nValueError: bad window", file=sys.stderr)
    sys.exit(3)
if mode == "hang_once" and params.get("x") == 5 and not os.path.exists(sys.argv[5]):
    mode = "hang"
if mode == "hang":
    with open(sys.argv[5], "w") as f:
        f.write(str(os.getpid()))
    print("started, now hanging", file=sys.stderr, flush=True)
    time.sleep(600)
x = float(params.get("x", 1))
print(json.dumps({"metrics": {"sharpe": -((x - 3.0) ** 2), "trades": 12, "score": x}}))
