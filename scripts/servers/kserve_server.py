"""The KServe Python model server (the `kserve` package's ModelServer) serving an ONNX model
through onnxruntime, for `make bench-servers`: one worker, one onnxruntime session with one
intra-op thread, the Open Inference Protocol (v2) over REST and gRPC.

usage: MODEL=… NAME=… HTTP_PORT=… GRPC_PORT=… kserve_server.py
(kserve reads its own flags from the command line when imported, so these come by environment)
"""

import logging
import os

import onnxruntime as ort
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer

model_path, name = os.environ["MODEL"], os.environ["NAME"]


class OnnxModel(Model):
    def __init__(self):
        super().__init__(name)
        o = ort.SessionOptions()
        o.intra_op_num_threads = 1
        o.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model_path, o, providers=["CPUExecutionProvider"])
        self.inp = self.session.get_inputs()[0]
        self.out = self.session.get_outputs()[0]
        self.ready = True

    def get_input_types(self):
        dims = [d if isinstance(d, int) else -1 for d in self.inp.shape]
        return [{"name": self.inp.name, "datatype": "FP32", "shape": dims}]

    def get_output_types(self):
        return [{"name": self.out.name, "datatype": "FP32", "shape": [-1, -1]}]

    async def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        x = payload.inputs[0].as_numpy()
        y = self.session.run(None, {self.inp.name: x})[0]
        out = InferOutput(name=self.out.name, shape=list(y.shape), datatype="FP32")
        out.set_data_from_numpy(y, binary_data=False)
        return InferResponse(model_name=name, infer_outputs=[out], response_id=payload.id or "")


if __name__ == "__main__":
    server = ModelServer(
        http_port=int(os.environ["HTTP_PORT"]), grpc_port=int(os.environ["GRPC_PORT"]), workers=1,
        enable_latency_logging=False, access_log_format=None,
    )
    # Per-request log lines are off, as anyone measuring it would have them.
    for logger in ("kserve", "kserve.trace", "uvicorn.access"):
        logging.getLogger(logger).setLevel(logging.WARNING)
    server.start([OnnxModel()])
