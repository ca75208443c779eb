"""The chief's standard-error filter for a lost worker: TensorFlow's blocks dropped, one line in their place."""

import os
import subprocess
import sys

from tests.conftest import ROOT

BLOCK = (
    "E0000 00:00:1700000000.000001 1234 context.cc:856] Failed to register function remotely due to failed to connect to all addresses\n"
    "Additional GRPC error information from remote target /job:worker/replica:0/task:1:\n"
    ':{"created":"@1700000000.000001","description":"Failed to pick subchannel","grpc_status":14}\n'
    "This could happen if the remote target has been disconnected from the client.\n"
)
# What the coordinator logs (through Python) when a function's worker is gone.
CLOSURE_BLOCK = (
    "ERROR:tensorflow:Worker /job:worker/replica:0/task:1 failed with UnavailableError():Failed copying input tensor "
    "from /job:chief/replica:0/task:0/device:CPU:0 to /job:worker/replica:0/task:1/device:CPU:0 in order to run "
    "__inference_train_6813: recvmsg:Connection reset by peer\n"
    "Additional GRPC error information from remote target /job:worker/replica:0/task:1 while calling "
    "/tensorflow.eager.EagerService/Enqueue:\n"
    ':UNKNOWN:Error received from peer  {grpc_status:14, grpc_message:"recvmsg:Connection reset by peer"} '
    "[Op:__inference_train_6813]\n"
)
PS_BLOCK = BLOCK.replace("/job:worker/replica:0/task:1", "/job:ps/replica:0/task:0")
# What a chief logs for each task when it frees a function (a dataset's, say) that it never sent them (TF 2.21).
NEVER_REGISTERED_BLOCK = (
    "E0000 00:00:1796582535.195482    6490 context.cc:911] Failed to remove function remotely due to Tried to remove "
    "non-existent function '__inference_Dataset_flat_map_text_lines_21'.\n"
    "Additional GRPC error information from remote target /job:worker/replica:0/task:0 while calling "
    "/tensorflow.eager.EagerService/Enqueue:\n"
    ":UNKNOWN:Error received from peer  {grpc_status:3, grpc_message:\"Tried to remove non-existent function "
    "\\'__inference_Dataset_flat_map_text_lines_21\\'.\"}\n"
    "This could happen if the remote target has been disconnected from the client.\n"
)

# Writes through file descriptor 2 as TensorFlow's C++ logging does, and through sys.stderr as Python's does.
SCRIPT = f"""
import os, sys
from tfkit.distribute.lost_workers import reporting_lost_workers
with reporting_lost_workers(["127.0.0.1:2001", "127.0.0.1:2002"]):
    sys.stderr.write("Epoch 2/3\\n"); sys.stderr.flush()
    os.write(2, {NEVER_REGISTERED_BLOCK!r}.encode())  # worker:0 is not lost: nothing said of it
    for _ in range(2):
        sys.stderr.write({CLOSURE_BLOCK!r}); sys.stderr.flush()
    for _ in range(200):
        os.write(2, {BLOCK!r}.encode())
    sys.stderr.write("WARNING:tensorflow:/job:worker/replica:0/task:1 encountered the following error when processing closure: UnavailableError()\\n")
    sys.stderr.flush()
    os.write(2, {PS_BLOCK!r}.encode())
    os.write(2, b"a line of its own\\n")
sys.stderr.write("after\\n")
"""


def test_a_lost_worker_is_reported_once_and_other_lines_pass_through():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "Epoch 2/3\n"
        "tfkit: lost worker:1 (127.0.0.1:2002): the functions it was running are rescheduled on the other workers, "
        "and training goes on without it.\n"
        + PS_BLOCK  # not about a worker: kept
        + "a line of its own\n"
        "after\n"
    )
