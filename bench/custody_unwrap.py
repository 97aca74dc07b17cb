"""Start-up cost of key custody: AppRole login plus unwrapping every purpose a worker needs (7 transit keys,
one batch call each) on a real ``bao`` dev server on loopback. Run: ``.venv/bin/python bench/custody_unwrap.py``."""

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.core.crypto.custody import WORKLOAD_PURPOSES, wrap_keyring
from pipeline.core.crypto.keyring import Keyring
from pipeline.runtime.openbao import OpenBaoConfig, OpenBaoTransit, setup_transit
from tests.openbao_server import openbao_dev_server

RUNS = 20

with openbao_dev_server(Path(tempfile.mkdtemp()) / "bao.log") as server:
    creds = setup_transit(server.client(), approles=["worker"])
    admin = OpenBaoTransit(OpenBaoConfig(server.addr, auth="token", token=server.root_token))
    wrapped = wrap_keyring(Keyring.generate(), admin)
    times = []
    for _ in range(RUNS):
        worker = OpenBaoConfig(server.addr, role_id=creds["worker"].role_id, secret_id=creds["worker"].secret_id)
        started = time.perf_counter()
        kms = OpenBaoTransit(worker)
        kms.login()
        wrapped.unwrap(kms, WORKLOAD_PURPOSES["worker"])
        times.append(time.perf_counter() - started)
    median, worst = statistics.median(times) * 1000, max(times) * 1000
    print(f"AppRole login + unwrap of 7 purposes: median {median:.1f} ms, max {worst:.1f} ms (n={RUNS})")
