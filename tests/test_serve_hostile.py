"""tfkit serve under hostile input, through a real server on 127.0.0.1: every bad request gets a 4xx (REST) or
INVALID_ARGUMENT / NOT_FOUND / RESOURCE_EXHAUSTED / UNAVAILABLE (gRPC) naming the problem, work per request is
bounded before anything is allocated, slow clients are cut off, and a good request is answered after each case."""

import json
import os
import shutil
import socket
import time

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_serve import ROW, Server, export_dir, predict_request  # noqa: F401 (export_dir: the fixture)

MAX_ROWS = 100


@pytest.fixture(scope="module")
def server(export_dir):  # noqa: F811
    server = Server(export_dir, "--max-rows", str(MAX_ROWS), "--request-timeout-seconds", "2",
                    "--keep-alive-seconds", "1")
    yield server
    log = server.stop()
    # No request of this module's failed inside the server (uvicorn logs such a failure's traceback, and answers 500).
    assert "Traceback" not in log and log.rstrip().endswith("tfkit serve: terminated."), log[-5000:]


@pytest.fixture(scope="module")
def stub(server):
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    channel.close()


def memory_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith(field)).split()[1])


def assert_still_serving(server, stub=None):
    status, body = server.predict({"instances": [ROW]})
    assert status == 200 and len(body["predictions"]) == 1, body
    if stub is not None:
        assert stub.Predict(predict_request([ROW]), timeout=30).outputs["probabilities"].tensor_shape.dim[0].size == 1


def grpc_error(stub, request):
    with pytest.raises(grpc.RpcError) as raised:
        stub.Predict(request, timeout=30)
    return raised.value.code(), raised.value.details()


# -- gRPC: bounded work, checked tensors ---------------------------------------------------------------------------

def test_a_small_grpc_request_claiming_a_million_rows_allocates_nothing(server, stub):
    request = predict_request([ROW])
    for proto in request.inputs.values():
        proto.tensor_shape.dim[0].size = 1_000_000  # one value each, repeated to the claimed shape if believed
    assert request.ByteSize() < 600
    with open(f"/proc/{server.process.pid}/clear_refs", "w") as f:
        f.write("5")  # the peak (VmHWM) starts again from the memory in use now
    before = memory_kib(server.process.pid, "VmRSS:")
    code, details = grpc_error(stub, request)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "1000000 rows" in details and "--max-rows" in details
    # The peak stays within a few MB of where it was (expanded, the request took 1.4 GB).
    assert memory_kib(server.process.pid, "VmHWM:") - before < 30_000
    assert_still_serving(server, stub)


@pytest.mark.parametrize("break_it, code, words", [
    (lambda p: setattr(p, "tensor_content", b"\x00" * 7), grpc.StatusCode.INVALID_ARGUMENT, "tensor_content holds 7 bytes"),
    (lambda p: setattr(p, "dtype", 20), grpc.StatusCode.INVALID_ARGUMENT, "resource is provided"),  # DT_RESOURCE
    (lambda p: setattr(p, "dtype", 21), grpc.StatusCode.INVALID_ARGUMENT, "variant is provided"),  # DT_VARIANT
    (lambda p: setattr(p, "dtype", 999), grpc.StatusCode.INVALID_ARGUMENT, "unknown dtype 999"),
    (lambda p: setattr(p, "dtype", 2), grpc.StatusCode.INVALID_ARGUMENT, "expects float32 values, but float64"),
    (lambda p: p.tensor_shape.dim[0].__setattr__("size", -3), grpc.StatusCode.INVALID_ARGUMENT, "not negative"),
    (lambda p: p.tensor_shape.dim[0].__setattr__("size", 10**13), grpc.StatusCode.RESOURCE_EXHAUSTED, "--max-rows"),
    (lambda p: p.tensor_shape.dim.add(size=4), grpc.StatusCode.INVALID_ARGUMENT, "expected rank 1"),
    (lambda p: p.float_val.extend([1.0, 2.0]), grpc.StatusCode.INVALID_ARGUMENT, "3 values for shape [1]"),
])
def test_a_malformed_grpc_tensor_is_refused_naming_the_input(server, stub, break_it, code, words):
    request = predict_request([ROW])
    break_it(request.inputs["age"])
    got, details = grpc_error(stub, request)
    assert got == code and "'age'" in details and words in details, details
    assert_still_serving(server, stub)


def test_grpc_unknown_inputs_and_versions_are_refused(server, stub):
    request = predict_request([ROW])
    request.inputs["salary"].CopyFrom(request.inputs["age"])
    assert grpc_error(stub, request) == (grpc.StatusCode.INVALID_ARGUMENT, grpc_error(stub, request)[1])
    assert "'salary' is not an input" in grpc_error(stub, request)[1]
    request = predict_request([ROW])
    request.model_spec.version.value = 123
    assert grpc_error(stub, request)[0] == grpc.StatusCode.NOT_FOUND
    assert_still_serving(server, stub)


# -- REST: every malformed request a 4xx naming the problem --------------------------------------------------------

@pytest.mark.parametrize("body, status, words", [
    ({"instances": [ROW], "signature_name": ["x"]}, 400, '"signature_name" must be a string'),
    (b"[" * 20_000 + b"]" * 20_000, 400, "nested too deeply"),  # 40 KB: under the test server's body limit
    ({"instances": [{**ROW, "age": True}]}, 400, "expected float32 numbers, got true or false"),
    ({"inputs": {**{k: [v, v] for k, v in ROW.items()}, "age": [39.0, True]}}, 400, "float32 numbers, got true or false"),
    ({"instances": [{**ROW, "age": 2**70}]}, 400, "a number too large"),
    ({"instances": [ROW] * (MAX_ROWS + 1)}, 413, f"at most {MAX_ROWS} a request (--max-rows)"),
    ({"instances": [{**ROW, "age": "old"}]}, 400, "expected float32 numbers, got 'old'"),
    # Columns whose value is one value, not a list of rows (found by the fuzz test below: a 500 before).
    ({"inputs": {**{k: [v] for k, v in ROW.items()}, "age": None}}, 400, "expected float32 numbers, got None"),
    ({"inputs": {**{k: [v] for k, v in ROW.items()}, "age": 2**70}}, 400, "a number too large"),
    ({"inputs": {**{k: [v] for k, v in ROW.items()}, "age": "old"}}, 400, "expected float32 numbers, got 'old'"),
    ({"inputs": {**{k: [v] for k, v in ROW.items()}, "age": {"x": 1}}}, 400, "expected float32 numbers, got {'x': 1}"),
])
def test_a_malformed_rest_request_gets_a_4xx_naming_the_problem(server, body, status, words):
    got, answer = server.predict(body)
    assert got == status and words in answer["error"], answer
    assert_still_serving(server)


def test_non_finite_numbers_and_invalid_unicode_are_answered_never_a_500(server):
    # A model's output may be NaN or infinite: written as TensorFlow Serving writes them, not a 500.
    status, answer = server.predict(b'{"instances": [' + json.dumps({**ROW, "capital_gain": 1e38}).encode()
                                    .replace(b"1e+38", b"Infinity") + b"]}")
    assert status == 200, answer
    status, answer = server.request(":classify", b'{"signature_name": "classification", "examples": [' +
                                    json.dumps({**ROW, "age": 1.0}).encode().replace(b"1.0", b"NaN") + b"]}")
    assert status == 200 and len(answer["results"][0]) == 2, answer
    # A lone surrogate (not Unicode) in a signature name comes back in the message, escaped.
    status, answer = server.predict({"instances": [ROW], "signature_name": "\ud800"})
    assert status == 404 and "\ud800" in answer["error"], answer
    # "true" inside a string is no boolean.
    assert server.predict({"instances": [{**ROW, "workclass": "true"}]})[0] == 200
    assert_still_serving(server)


def test_version_labels_are_refused_saying_what_is_served(server):
    status, answer = server.request("/labels/stable")
    assert status == 404 and "version labels are not served" in answer["error"], answer


CLASSIFY = {"signature_name": "classification"}


@pytest.mark.parametrize("body, status, words", [
    ({**CLASSIFY}, 400, "holds \"examples\", a non-empty list of objects; this one has none"),
    ({**CLASSIFY, "examples": []}, 400, "a non-empty list"),
    ({**CLASSIFY, "examples": {"age": 1.0}}, 400, "a non-empty list"),
    ({**CLASSIFY, "examples": [ROW, 3]}, 400, "example 1 must be a JSON object of features; got int"),
    ({**CLASSIFY, "examples": [ROW], "context": []}, 400, "\"context\" must be a JSON object"),
    ({**CLASSIFY, "examples": [{**ROW, "age": None}]}, 400, "feature 'age': a feature's values are numbers, strings"),
    ({**CLASSIFY, "examples": [{**ROW, "age": [[1.0]]}]}, 400, "feature 'age': a feature's values are numbers"),
    ({**CLASSIFY, "examples": [{**ROW, "age": [1.5, 2]}]}, 400, "feature 'age': mixes float and int64 values"),
    ({**CLASSIFY, "examples": [{**ROW, "age": 2**70}]}, 400, "does not fit an int64"),
    ({**CLASSIFY, "examples": [{**ROW, "age": 1e300}]}, 400, "does not fit a float"),
    ({**CLASSIFY, "examples": [{**ROW, "workclass": {"b64": "%%"}}]}, 400, "feature 'workclass': not base64"),
    ({**CLASSIFY, "examples": [{**ROW, "age": 39}]}, 400, "Key: age, Index: 0.  Data types don't match"),
    ({**CLASSIFY, "examples": [{**ROW, "age": [1.0, 2.0]}]}, 400, "Key: age, Index: 0.  Number of float values"),
    ({**CLASSIFY, "examples": [ROW] * (MAX_ROWS + 1)}, 413, f"at most {MAX_ROWS} a request (--max-rows)"),
    ({"signature_name": 3, "examples": [ROW]}, 400, '"signature_name" must be a string'),
    ({**CLASSIFY, "examples": [{**ROW, "workclass": "\ud800"}]}, 400, "feature 'workclass': '\\ud800' is not valid Unicode"),
    ({**CLASSIFY, "examples": [{**ROW, "\ud800": 1.0}]}, 400, "feature name '\\ud800' is not valid Unicode"),
])
def test_a_malformed_classify_request_gets_a_4xx_naming_the_problem(server, body, status, words):
    got, answer = server.request(":classify", body)
    assert got == status and words in answer["error"], answer
    assert server.request(":classify", {**CLASSIFY, "examples": [ROW]})[0] == 200
    assert_still_serving(server)


def test_a_huge_version_number_and_a_missing_model_are_404(server):
    assert server.request(f"/versions/{'9' * 4301}")[0] == 404
    status, answer = server.predict({"instances": [ROW]}, f"/versions/{'9' * 4301}")
    assert status == 404 and "no such version" in answer["error"]
    assert_still_serving(server)


def raw_http(server, data, read_seconds=10):
    """Sends ``data`` as bytes on a new connection; returns what the server answers (b"" if it just closes)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=read_seconds) as connection:
        connection.sendall(data)
        chunks = []
        try:
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            chunks.append(b"<still open>")
        return b"".join(chunks)


def assert_answered(server, data, status, words, within_seconds):
    """Sends ``data`` (its connection closed after the answer) and checks the answer's status, words and time."""
    started = time.time()
    answer = raw_http(server, data + b"Connection: close\r\n\r\n" + (b"{" if b"Content-Length" in data else b""))
    assert answer.startswith(b"HTTP/1.1 %d" % status) and words in answer, answer[:300]
    assert time.time() - started < within_seconds
    assert_still_serving(server)


def test_a_content_length_over_the_limit_is_refused_at_once(server):
    assert_answered(server, b"POST /v1/models/census:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n",
                    413, b"--max-body-bytes", within_seconds=2)


def test_no_redirect_echoes_the_host_header(server):
    answer = raw_http(server, b"GET /v1/models HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404") and b"evil.example" not in answer, answer[:300]


# -- slow clients ---------------------------------------------------------------------------------------------------

def test_half_a_header_or_a_stalled_body_does_not_hold_a_connection(server):
    started = time.time()
    assert raw_http(server, b"POST /v1/models/census:predict HTTP/1.1\r\nHost: x\r\nContent-Le") == b""
    assert 1.5 < time.time() - started < 8  # --request-timeout-seconds 2
    assert_answered(server, b"POST /v1/models/census:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n",
                    408, b"--request-timeout-seconds", within_seconds=8)  # a stalled body: 1 byte of 1,000


def test_an_idle_keep_alive_connection_is_closed(server):
    started = time.time()
    answer = raw_http(server, b"GET /v1/models/census HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive: HTTP/1.1's default
    # Answered, then closed by the server once idle for --keep-alive-seconds 1 (raw_http reads until it closes).
    assert answer.startswith(b"HTTP/1.1 200") and b"<still open>" not in answer, answer[:300]
    assert 0.9 < time.time() - started < 5


# -- versions -------------------------------------------------------------------------------------------------------

def test_a_corrupt_version_is_logged_once_answers_503_and_the_last_good_one_serves(export_dir, tmp_path):  # noqa: F811
    versions = tmp_path / "export"
    shutil.copytree(export_dir, versions)
    good = max(int(name) for name in os.listdir(versions) if name.isdigit())
    server = Server(versions)
    try:
        corrupt = versions / str(good + 100)
        shutil.copytree(versions / str(good), corrupt)
        (corrupt / "saved_model.pb").write_bytes(b"not a SavedModel")
        time.sleep(1.5)  # several polls (--poll-seconds 0.2)
        status, answer = server.predict({"instances": [ROW]}, f"/versions/{good + 100}")
        assert status == 503 and str(corrupt) in answer["error"], answer
        assert server.get("/metadata")["model_spec"]["version"] == str(good)  # the last good version serves
        assert_still_serving(server)
        shutil.copytree(versions / str(good), versions / str(good + 200))  # a newer good one replaces it
        deadline = time.time() + 60
        while server.get("/metadata")["model_spec"]["version"] != str(good + 200):
            assert time.time() < deadline
            time.sleep(0.2)
    finally:
        log = server.stop()
    assert log.count(f"({corrupt}) cannot be loaded") == 1, log[-3000:]  # once, with its path, however many polls
    assert "Traceback" not in log


# -- fuzz -------------------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**80, 2**80) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(list(ROW) + ["b64", "x"]), inner, max_size=3),
    max_leaves=8,
)
# Rows and columns with every input, some of them replaced: the requests that get past the inputs' names.
rows = st.fixed_dictionaries({key: st.one_of(st.just(value), json_values) for key, value in ROW.items()})
columns = st.fixed_dictionaries({key: st.one_of(st.just([value]), json_values) for key, value in ROW.items()})
bodies = st.one_of(
    st.fixed_dictionaries({"instances": st.lists(st.dictionaries(st.sampled_from(list(ROW)), json_values), max_size=3)}),
    st.fixed_dictionaries({"inputs": st.dictionaries(st.sampled_from(list(ROW)), json_values)}),
    st.fixed_dictionaries({"instances": st.lists(rows, min_size=1, max_size=3)}),
    st.fixed_dictionaries({"inputs": columns}),
    st.dictionaries(st.sampled_from(["instances", "inputs", "signature_name"]), json_values),
    json_values,
).map(lambda body: json.dumps(body).encode())


@settings(max_examples=60)
@given(body=st.one_of(bodies, st.binary(max_size=64)))
def test_fuzzed_rest_bodies_never_get_a_5xx(server, body):
    status, answer = server.predict(body)
    assert status < 500 and ("error" in answer) == (status != 200), (status, answer)


@settings(max_examples=60)
@given(examples=st.one_of(st.lists(st.dictionaries(st.sampled_from(list(ROW)), json_values), max_size=3),
                          st.lists(rows, min_size=1, max_size=3), json_values),
       context=st.one_of(st.none(), json_values))
def test_fuzzed_classify_bodies_never_get_a_5xx(server, examples, context):
    body = {**CLASSIFY, "examples": examples, **({} if context is None else {"context": context})}
    status, answer = server.request(":classify", body)
    assert status < 500 and ("error" in answer) == (status != 200), (status, answer)


@settings(max_examples=60)
@given(dtype=st.sampled_from([1, 2, 3, 7, 9, 10, 20, 21, 999]), dims=st.lists(st.integers(-5, 2**40), max_size=3),
       floats=st.lists(st.floats(width=32), max_size=4), content=st.binary(max_size=16),
       name=st.sampled_from(["age", "workclass", "other"]))
def test_fuzzed_grpc_tensors_never_get_unknown(server, stub, dtype, dims, floats, content, name):
    request = predict_request([ROW])
    proto = request.inputs[name]
    proto.Clear()
    proto.dtype = dtype
    for size in dims:
        proto.tensor_shape.dim.add(size=size)
    proto.float_val.extend(floats)
    proto.tensor_content = content
    try:
        stub.Predict(request, timeout=30)
    except grpc.RpcError as error:
        assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), error.details()
    assert server.process.poll() is None


# -- binding --------------------------------------------------------------------------------------------------------

def test_the_default_host_is_this_machine_and_an_ipv6_host_serves_grpc(export_dir):  # noqa: F811
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    from tfkit.cli import _parser
    from tfkit.serve.grpc_api import start_grpc
    from tfkit.serve.rest import RestApi
    from tfkit.serve.versions import ModelVersions

    assert _parser().parse_args(["serve", str(export_dir)]).host == "127.0.0.1"
    models = {"census": ModelVersions("census", str(export_dir), poll_seconds=0)}
    server, port = start_grpc(models, "::1", 0, RestApi(models))  # the address is [::1]:PORT, bracketed
    try:
        with grpc.insecure_channel(f"[::1]:{port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            response = stub.Predict(predict_request([ROW]), timeout=30)
        assert response.outputs["probabilities"].tensor_shape.dim[0].size == 1
    finally:
        server.stop(grace=0)
