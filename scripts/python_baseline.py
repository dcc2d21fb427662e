#!/usr/bin/env python3
"""The Python onnxruntime baseline for `make bench-overhead`: a plain `sess.run` loop,
timed per call with perf_counter, on the same model, inputs shape and thread settings.
Prints one JSON object: {"p50_ms", "samples", "ort_version"}."""

import argparse
import json
import time

import numpy as np
import onnxruntime as ort

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--seconds", type=float, default=3.0)
ap.add_argument("--batch", type=int, default=1)
a = ap.parse_args()

so = ort.SessionOptions()
so.intra_op_num_threads = a.threads
sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
shape = [a.batch if not isinstance(d, int) else d for d in inp.shape]
feeds = {inp.name: np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)}
end = time.perf_counter() + 1.0
while time.perf_counter() < end:
    sess.run(None, feeds)
lat = []
end = time.perf_counter() + a.seconds
while time.perf_counter() < end:
    t = time.perf_counter()
    sess.run(None, feeds)
    lat.append(time.perf_counter() - t)
print(json.dumps({"p50_ms": float(np.percentile(lat, 50)) * 1e3, "samples": len(lat), "ort_version": ort.__version__}))
