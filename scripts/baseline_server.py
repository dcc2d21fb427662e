"""The baseline the gateway benchmark compares with: a plain one-worker FastAPI server
around onnxruntime, speaking just enough of the Open Inference Protocol (metadata, Triton's
config, JSON and binary inference) for perf_analyzer to drive it the same way.

usage: baseline_server.py MODEL.onnx NAME PORT
"""

import json
import sys

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, Request, Response

model_path, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
inp, out = session.get_inputs()[0], session.get_outputs()[0]
dims = [d if isinstance(d, int) else -1 for d in inp.shape]
app = FastAPI()


@app.get("/v2")
def server():
    return {"name": "fastapi-baseline", "version": "1", "extensions": ["binary_tensor_data"]}


@app.get("/v2/health/ready")
def ready():
    return {}


@app.get(f"/v2/models/{name}")
def metadata():
    return {"name": name, "versions": ["1"], "platform": "onnx_onnxv1",
            "inputs": [{"name": inp.name, "datatype": "FP32", "shape": dims}],
            "outputs": [{"name": out.name, "datatype": "FP32", "shape": [-1, 10]}]}


@app.get(f"/v2/models/{name}/config")
def config():
    return {"name": name, "platform": "onnxruntime_onnx", "max_batch_size": 64,
            "input": [{"name": inp.name, "data_type": "TYPE_FP32", "dims": dims[1:]}],
            "output": [{"name": out.name, "data_type": "TYPE_FP32", "dims": [10]}]}


@app.post(f"/v2/models/{name}/infer")
async def infer(request: Request):
    body = await request.body()
    n = request.headers.get("inference-header-content-length")
    header = json.loads(body[: int(n)] if n else body)
    t = header["inputs"][0]
    if n:
        x = np.frombuffer(body[int(n):], dtype=np.float32).reshape(t["shape"])
    else:
        x = np.asarray(t["data"], dtype=np.float32).reshape(t["shape"])
    y = session.run(None, {inp.name: x})[0]
    want_binary = any(o.get("parameters", {}).get("binary_data") for o in header.get("outputs", [])) \
        or header.get("parameters", {}).get("binary_data_output")
    if want_binary:
        raw = y.astype(np.float32).tobytes()
        head = json.dumps({"model_name": name, "outputs": [{"name": out.name, "datatype": "FP32", "shape": list(y.shape),
                                                            "parameters": {"binary_data_size": len(raw)}}]}).encode()
        return Response(head + raw, media_type="application/octet-stream",
                        headers={"Inference-Header-Content-Length": str(len(head))})
    return {"model_name": name, "outputs": [{"name": out.name, "datatype": "FP32", "shape": list(y.shape),
                                             "data": y.flatten().tolist()}]}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning")
