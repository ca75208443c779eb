"""Requests per second and latency of ``tfkit serve``, with and without server-side batching, against in-process calls.

Serves a census export (``--export``, or one trained for an epoch into a
temporary folder) twice: with batching (``--max-batch-size 64``, no wait) and
without (``--max-batch-size 1``). For 1, 8 and 32 concurrent clients (threads
with keep-alive HTTP connections, one-row ``instances`` requests, the rows of
the census test file in turn) it prints requests/s and p50/p99 latency of each
server, then the same rows through the SavedModel called in this process (one
row a call, one thread): what a request costs without HTTP or JSON. The two
servers run one after the other, never at once.

Usage: python bench/serve.py [--export runs/census/export] [--seconds 5]
"""

import argparse
import gzip
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tfkit.distribute.cluster import free_ports  # noqa: E402

NAMES = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation", "relationship",
         "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country"]
NUMERIC = {"age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"}


def census_rows(count=500):
    rows = []
    with gzip.open(os.path.join(ROOT, "data", "census", "adult.test.csv.gz"), "rt") as f:
        next(f)
        for line in f:
            values = [v.strip() for v in line.split(",")]
            if len(values) < 15 or "?" in values:
                continue
            rows.append({k: float(v) if k in NUMERIC else v for k, v in zip(NAMES, values)})
            if len(rows) == count:
                break
    return rows


def trained_export(folder):
    subprocess.run([sys.executable, "-m", "tfkit.cli", "train", os.path.join(ROOT, "configs", "census.yaml"), "--job-dir",
                    folder, "--set", "train.epochs=1", "--set", "train.verbose=0"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return os.path.join(folder, "export")


def start_server(export, max_batch_size):
    port = free_ports(1)[0]
    process = subprocess.Popen([sys.executable, "-m", "tfkit.cli", "serve", export, "--host", "127.0.0.1", "--port", str(port),
                                "--model-name", "census", "--max-batch-size", str(max_batch_size)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/v1/models/census")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)


def load(port, rows, clients, seconds, fields):
    """``clients`` threads sending one-row requests (the ``fields`` of ``rows``) for ``seconds``; (requests/s, p50 ms, p99 ms)."""
    latencies, stop = [], time.perf_counter() + seconds

    def client(index):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, i = [], index
        while time.perf_counter() < stop:
            body = json.dumps({"instances": [{k: rows[i % len(rows)][k] for k in fields}]})
            start = time.perf_counter()
            connection.request("POST", "/v1/models/census:predict", body, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"status {answer.status}")
            mine.append(time.perf_counter() - start)
            i += clients
        latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return len(latencies) / elapsed, 1000 * latencies[len(latencies) // 2], 1000 * latencies[int(len(latencies) * 0.99)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", help="an export folder (default: train census for an epoch into a temporary one)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of load per measurement")
    args = parser.parse_args()
    import tensorflow as tf

    from tfkit.serve.versions import versions_on_disk

    with tempfile.TemporaryDirectory() as scratch:
        export = args.export or trained_export(scratch)
        version = versions_on_disk(export)[-1]
        signature = tf.saved_model.load(os.path.join(export, str(version))).signatures["serving_default"]
        inputs = signature.structured_input_signature[1]
        rows = census_rows()
        print(f"export {export}/{version}; {os.cpu_count()} cores; {args.seconds:.0f} s per figure; one-row requests")
        results = {}
        for label, batch in (("batching (64 rows)", 64), ("no batching", 1)):
            process, port = start_server(export, batch)
            try:
                load(port, rows, 4, 1.0, sorted(inputs))  # warm-up: traces, connections
                for clients in (1, 8, 32):
                    rate, p50, p99 = load(port, rows, clients, args.seconds, sorted(inputs))
                    results[label, clients] = rate
                    print(f"  {label:>24}, {clients:2d} clients: {rate:8,.0f} requests/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms",
                          flush=True)
            finally:
                process.terminate()
                process.wait()
        for clients in (1, 8, 32):
            print(f"  batching / no batching at {clients:2d} clients: "
                  f"{results['batching (64 rows)', clients] / results['no batching', clients]:.2f}x")
        tensors = [{k: tf.constant([row[k]], spec.dtype) for k, spec in inputs.items()} for row in rows]
        signature(**tensors[0])
        latencies, stop = [], time.perf_counter() + args.seconds
        while time.perf_counter() < stop:
            start = time.perf_counter()
            signature(**tensors[len(latencies) % len(tensors)])
            latencies.append(time.perf_counter() - start)
        latencies.sort()
        print(f"  {'in-process SavedModel':>24},  1 thread : {len(latencies) / args.seconds:8,.0f} calls/s     "
              f"p50 {1000 * latencies[len(latencies) // 2]:6.1f} ms  p99 {1000 * latencies[int(len(latencies) * 0.99)]:6.1f} ms")


if __name__ == "__main__":
    main()
