"""A trial's owner: known to have ended only when its process is gone from this machine."""

from __future__ import annotations

import json
import subprocess
import sys

from stratopt.storage._owner import owner_ended, this_owner


def test_this_process_has_not_ended() -> None:
    assert owner_ended(this_owner()) is None


def test_an_exited_process_has_ended_and_one_elsewhere_is_not_judged() -> None:
    code = "from stratopt.storage._owner import this_owner; print(this_owner())"
    owner = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()  # fmt: skip
    value = json.loads(owner)
    assert owner_ended(owner) == f"{value['host']}:{value['pid']}"
    # Another machine (or pid namespace): its processes cannot be seen from here.
    assert owner_ended(json.dumps({**value, "machine": "elsewhere"})) is None
    # Another process under the same pid (reused): the owner has ended all the same.
    me = json.loads(this_owner())
    assert owner_ended(json.dumps({**me, "start": me["start"] + 1})) is not None
    assert owner_ended(None) is None and owner_ended("not json") is None
