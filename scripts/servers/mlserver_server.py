"""Seldon MLServer serving an ONNX model through onnxruntime, for `make bench-servers`: a
custom runtime (MLServer has no ONNX runtime of its own), adaptive batching up to 64 rows
with a 500 µs wait, inference in the server process (MLServer 1.7.1's parallel workers fail to
start under Python 3.11 here: "no current event loop") with one intra-op thread.

usage: mlserver_server.py MODEL.onnx NAME HTTP_PORT GRPC_PORT
Writes MLServer's settings and the runtime into a temporary folder, then runs `mlserver start`.
"""

import json
import os
import sys
import tempfile

import onnxruntime as ort

model_path, name, http_port, grpc_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
probe = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
inp, out = probe.get_inputs()[0], probe.get_outputs()[0]
dims = [d if isinstance(d, int) else -1 for d in inp.shape]

RUNTIME = '''
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class OnnxRuntimeModel(MLModel):
    async def load(self):
        o = ort.SessionOptions()
        o.intra_op_num_threads = 1
        o.inter_op_num_threads = 1
        self.session = ort.InferenceSession(self.settings.parameters.uri, o, providers=["CPUExecutionProvider"])
        self.inp = self.session.get_inputs()[0].name
        self.out = self.session.get_outputs()[0].name
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0])
        y = self.session.run(None, {self.inp: x})[0]
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output(self.out, y)])
'''

work = tempfile.mkdtemp(prefix="assay-mlserver-")
model_dir = os.path.join(work, name)
os.makedirs(model_dir)
with open(os.path.join(work, "settings.json"), "w") as f:
    json.dump({"http_port": http_port, "grpc_port": grpc_port, "metrics_port": grpc_port + 1,
               "parallel_workers": 0, "debug": False, "logging_level": "WARNING"}, f)
with open(os.path.join(model_dir, "onnx_runtime.py"), "w") as f:
    f.write(RUNTIME)
with open(os.path.join(model_dir, "model-settings.json"), "w") as f:
    json.dump({
        "name": name,
        "implementation": "onnx_runtime.OnnxRuntimeModel",
        "parameters": {"uri": os.path.abspath(model_path)},
        "max_batch_size": 64,
        "max_batch_time": 0.0005,
        "inputs": [{"name": inp.name, "datatype": "FP32", "shape": dims}],
        "outputs": [{"name": out.name, "datatype": "FP32", "shape": [-1, -1]}],
    }, f)
mlserver = os.path.join(os.path.dirname(sys.executable), "mlserver")
os.execv(mlserver, [mlserver, "start", work])
