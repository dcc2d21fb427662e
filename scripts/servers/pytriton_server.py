"""Triton (the real `tritonserver` in PyPI's nvidia-pytriton wheel) serving an ONNX model
through onnxruntime, for `make bench-servers`: dynamic batching up to 64 rows with a 500 µs
queue delay, two model instances with one intra-op thread each, as the gateway runs it.

usage: pytriton_server.py MODEL.onnx NAME HTTP_PORT GRPC_PORT
"""

import sys

import numpy as np
import onnxruntime as ort
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

model_path, name, http_port, grpc_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def session():
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    return ort.InferenceSession(model_path, o, providers=["CPUExecutionProvider"])


first = session()
inp, out = first.get_inputs()[0], first.get_outputs()[0]


def instance(s):
    @batch
    def infer(**inputs):
        return {out.name: s.run(None, {inp.name: inputs[inp.name]})[0]}
    return infer


config = TritonConfig(http_port=http_port, grpc_port=grpc_port, metrics_port=grpc_port + 1)
with Triton(config=config) as triton:
    triton.bind(
        model_name=name,
        infer_func=[instance(first), instance(session())],
        inputs=[Tensor(name=inp.name, dtype=np.float32, shape=tuple(inp.shape[1:]))],
        outputs=[Tensor(name=out.name, dtype=np.float32, shape=(-1,))],
        config=ModelConfig(max_batch_size=64, batcher=DynamicBatcher(max_queue_delay_microseconds=500)),
        strict=False,
    )
    triton.serve()
