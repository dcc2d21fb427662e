"""Triton's own HTTP client against assay-gateway: server and model metadata, then
inference with JSON tensors and with binary tensors, compared with the model's outputs
as onnxruntime computed them. Prints one line per check; exits non-zero on a mismatch.

usage: triton_client.py HOST:PORT MODEL INPUT.npy EXPECTED.npy
"""

import sys

import numpy as np
import tritonclient.http as httpclient


def main():
    url, model, x_path, want_path = sys.argv[1:5]
    x = np.load(x_path)
    want = np.load(want_path)
    client = httpclient.InferenceServerClient(url=url)
    assert client.is_server_live() and client.is_server_ready()
    server = client.get_server_metadata()
    print(f"server: {server['name']} {server['version']} extensions {server['extensions']}")
    meta = client.get_model_metadata(model)
    print(f"model: {meta['name']} versions {meta['versions']} platform {meta['platform']}")
    config = client.get_model_config(model)
    assert config["max_batch_size"] > 0, config
    inp, out = meta["inputs"][0], meta["outputs"][0]

    for mode, binary in (("json", False), ("binary", True)):
        t = httpclient.InferInput(inp["name"], list(x.shape), inp["datatype"])
        t.set_data_from_numpy(x, binary_data=binary)
        o = httpclient.InferRequestedOutput(out["name"], binary_data=binary)
        result = client.infer(model, [t], outputs=[o])
        got = result.as_numpy(out["name"])
        assert got.shape == want.shape, (got.shape, want.shape)
        diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
        print(f"{mode}: max |diff| {diff:g}")
        if diff != 0.0:
            sys.exit(f"{mode} outputs differ from onnxruntime's by {diff}")

    t = httpclient.InferInput(inp["name"], list(x.shape), inp["datatype"])
    t.set_data_from_numpy(x, binary_data=True)
    result = client.infer(model, [t], model_version=meta["versions"][0])
    assert result.get_response()["model_version"] == meta["versions"][0]
    print("pinned: ok")


if __name__ == "__main__":
    main()
