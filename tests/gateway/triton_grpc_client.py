"""Triton's own gRPC client against assay-gateway: health, server and model metadata, the
model configuration, then inference whose outputs must be bit-identical to the REST
answer (Triton's HTTP client, binary tensors) and to onnxruntime's, and the statistics
extension over both protocols. Then the refusals a
client can meet: an unknown model, a wrong tensor byte length, a malformed protobuf.
Prints one line per check; exits non-zero on a mismatch.

usage: triton_grpc_client.py GRPC_HOST:PORT REST_HOST:PORT MODEL INPUT.npy EXPECTED.npy ROUNDS
"""

import sys

import grpc
import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def main():
    grpc_url, rest_url, model, x_path, want_path, rounds = sys.argv[1:7]
    x = np.load(x_path)
    want = np.load(want_path)
    client = grpcclient.InferenceServerClient(url=grpc_url)
    assert client.is_server_live() and client.is_server_ready()
    server = client.get_server_metadata(as_json=True)
    print(f"server: {server['name']} {server['version']} extensions {server['extensions']}")
    assert client.is_model_ready(model)
    meta = client.get_model_metadata(model, as_json=True)
    print(f"model: {meta['name']} versions {meta['versions']} platform {meta['platform']}")
    config = client.get_model_config(model, as_json=True)["config"]
    print(f"config: max_batch_size {config['max_batch_size']} input {config['input'][0]['data_type']} "
          f"dims {config['input'][0]['dims']}")
    inp, out = meta["inputs"][0], meta["outputs"][0]

    t = grpcclient.InferInput(inp["name"], list(x.shape), inp["datatype"])
    t.set_data_from_numpy(x)
    result = client.infer(model, [t], outputs=[grpcclient.InferRequestedOutput(out["name"])])
    got = result.as_numpy(out["name"])
    assert got.shape == want.shape, (got.shape, want.shape)
    diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    print(f"grpc: max |diff| {diff:g}")

    rest = httpclient.InferenceServerClient(url=rest_url)
    h = httpclient.InferInput(inp["name"], list(x.shape), inp["datatype"])
    h.set_data_from_numpy(x, binary_data=True)
    via_rest = rest.infer(model, [h], outputs=[httpclient.InferRequestedOutput(out["name"], binary_data=True)])
    same = via_rest.as_numpy(out["name"]).tobytes() == got.tobytes()
    print(f"rest and grpc bit-identical: {same}")
    if diff != 0.0 or not same:
        sys.exit("gRPC outputs differ")

    pinned = client.infer(model, [t], model_version=meta["versions"][0])
    assert pinned.get_response().model_version == meta["versions"][0]
    print("pinned: ok")

    # More requests, for the metrics check of the caller.
    for _ in range(int(rounds)):
        client.infer(model, [t])
    print(f"rounds: {rounds}")

    # Triton's statistics extension, over gRPC and REST: every answered request so far.
    by_grpc = client.get_inference_statistics(model, as_json=True)["model_stats"]
    by_rest = rest.get_inference_statistics(model)["model_stats"]
    def counts(stats, key):
        return sum(int(m.get(key, 0)) for m in stats)
    def timed(stats, part):
        return all(int(m["inference_stats"][part].get("ns", 0)) > 0
                   for m in stats if int(m.get("inference_count", 0)) > 0)
    success = sum(int(m["inference_stats"]["success"].get("count", 0)) for m in by_grpc)
    agree = ([(m["version"], int(m["inference_stats"]["success"].get("count", 0))) for m in by_grpc]
             == [(m["version"], int(m["inference_stats"]["success"]["count"])) for m in by_rest])
    print(f"statistics: success {success} inferences {counts(by_grpc, 'inference_count')} over "
          f"{len(by_grpc)} versions, queue timed {timed(by_grpc, 'queue')}, compute timed "
          f"{timed(by_grpc, 'compute_infer')}, REST and gRPC agree {agree}")
    one = client.get_inference_statistics(model, model_version=meta["versions"][0], as_json=True)
    print(f"statistics of {meta['versions'][0]}: {[m['version'] for m in one['model_stats']]}")

    try:
        client.infer("no-such-model", [t])
        sys.exit("an unknown model was answered")
    except InferenceServerException as e:
        print(f"unknown model: {e.status()} {e.message()}")

    short = grpcclient.InferInput(inp["name"], list(x.shape), inp["datatype"])
    short.set_data_from_numpy(x)
    short._raw_content = short._raw_content[:-4]
    try:
        client.infer(model, [short])
        sys.exit("a short tensor was answered")
    except InferenceServerException as e:
        print(f"wrong byte length: {e.status()} {e.message()}")

    # Bytes that are not a ModelInferRequest, straight down the channel.
    channel = grpc.insecure_channel(grpc_url)
    raw = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                              request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        raw(b"\xff\xff\xff\xff\x0f\x0a\x99")
        sys.exit("a malformed protobuf was answered")
    except grpc.RpcError as e:
        print(f"malformed protobuf: {e.code().name} {e.details()}")


if __name__ == "__main__":
    main()
