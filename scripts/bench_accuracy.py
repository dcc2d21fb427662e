#!/usr/bin/env python3
"""The output-comparison benchmark (`make bench-accuracy`), Assay next to Polygraphy, in one run.

1. Comparison speed: 200 input sets, the conv net fixture against its FP16 conversion.
   - assay:      `assay accuracy convnet.onnx --candidate convnet_fp16.onnx --sets 200`
                 (no noise floor, no search: the comparison alone), process wall time;
   - plain:      the two ONNX Runtime sessions created and run on 200 inputs each, in one
                 Python process, no comparison (the floor any comparison pays);
   - polygraphy: `polygraphy run convnet.onnx --onnxrt --iterations 200 --save-inputs
                 --save-outputs`, then `polygraphy run convnet_fp16.onnx --onnxrt
                 --load-inputs --load-outputs` (its way to compare two model files).
   Targets: assay <= plain x 1.10, and polygraphy / assay >= 3.

2. Peak memory of the first-diverging-node search on the largest real model the tests use
   (NudeNet's YOLOv8n, 320n.onnx), against a copy with one weight changed mid-network:
   - plain:      `assay accuracy --no-locate` (the two sessions and one input set);
   - search:     `assay accuracy` with the search on (16 tensors a round, the default);
   - mark all:   `polygraphy run --onnxrt --onnx-outputs mark all` on the reference and on
                 the copy (every tensor an output; the larger of the two processes).
   Target: search <= plain x 1.5.

Peak memory is each process's maximum resident set (GNU time's %M). Standard library only;
needs scripts/setup.sh first (fixtures, the venv with polygraphy, the NudeNet model) and a
release build of `assay` (the Makefile target builds it).
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache")
ASSAY = os.path.join(ROOT, "target/release/assay")
PY = os.path.join(CACHE, "venv/bin/python")
POLY = os.path.join(CACHE, "venv/bin/polygraphy")
CONV = os.path.join(CACHE, "fixtures/convnet.onnx")
CONV16 = os.path.join(CACHE, "fixtures/convnet_fp16.onnx")
NUDENET = os.path.join(CACHE, "models/nudenet-3.4.2/320n.onnx")
SETS = int(os.environ.get("BENCH_SETS", "200"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))

PLAIN = r"""
import sys, time, numpy as np, onnxruntime as ort
ref, cand, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = time.perf_counter()
a = ort.InferenceSession(ref, providers=["CPUExecutionProvider"])
b = ort.InferenceSession(cand, providers=["CPUExecutionProvider"])
rng = np.random.default_rng(0)
name = a.get_inputs()[0].name
for i in range(n):
    x = {name: rng.uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)}
    a.run(None, x)
    b.run(None, x)
print(time.perf_counter() - t)
"""

PERTURB = r"""
import sys, numpy as np, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
convs = [n for n in m.graph.node if n.op_type == "Conv"]
target = convs[len(convs) // 2]
inits = {t.name: t for t in m.graph.initializer}
t = inits[target.input[1]]
w = numpy_helper.to_array(t).copy()
w.flat[0] += 0.5
t.CopyFrom(numpy_helper.from_array(w, t.name))
onnx.save(m, sys.argv[2])
print(target.name, len(m.graph.node))
"""


def wall(cmd, **kw):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


def peak_kib(cmd, ok=(0,)):
    """The peak resident set of `cmd`, in KiB (GNU time); the command must exit with `ok`."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=False,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if out.returncode not in ok:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return int(out.stderr.strip().splitlines()[-1])


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def main():
    for p in (ASSAY, POLY, CONV, CONV16, NUDENET):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: run `make setup` and build assay with --release first")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"comparison speed: {SETS} input sets, convnet.onnx vs convnet_fp16.onnx, median of {ROUNDS} rounds")

    assay_s, inproc_s, plain_s, poly_s = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        pin, pout = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        for _ in range(ROUNDS):
            # Alternating order within the round keeps drift from favouring one tool.
            t = time.perf_counter()
            out = subprocess.run([ASSAY, "accuracy", CONV, "--candidate", CONV16, "--sets", str(SETS),
                                  "--noise-sets", "0", "--no-locate", "--json"],
                                 check=True, capture_output=True, text=True)
            assay_s.append(time.perf_counter() - t)
            inproc_s.append(json.loads(out.stdout)["total_s"])
            out = subprocess.run([PY, "-c", PLAIN, CONV, CONV16, str(SETS)], check=True,
                                 capture_output=True, text=True)
            plain_s.append(float(out.stdout.strip()))
            poly_s.append(poly_round(pin, pout))
    a, i, p, g = median(assay_s), median(inproc_s), median(plain_s), median(poly_s)
    print()
    print(f"{'':44} {'seconds':>9}")
    print(f"{'assay accuracy, in process (its total_s)':44} {i:9.3f}")
    print(f"{'assay accuracy, whole process':44} {a:9.3f}")
    print(f"{'plain sessions, in process (Python ORT)':44} {p:9.3f}")
    print(f"{'polygraphy, whole processes (save, compare)':44} {g:9.3f}")
    print(f"assay / plain (both in process) {i / p:6.3f}  (target <= 1.10) {'MET' if i <= p * 1.10 else 'MISSED'}")
    print(f"polygraphy / assay (processes)  {g / a:6.2f}  (target >= 3)    {'MET' if g >= 3 * a else 'MISSED'}")

    print()
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "320n-changed.onnx")
        out = subprocess.run([PY, "-c", PERTURB, NUDENET, bad], check=True, capture_output=True, text=True)
        node, nodes = out.stdout.split()
        print(f"peak memory: {os.path.basename(NUDENET)} ({nodes} nodes) vs a copy with one weight of {node} changed, one input set")
        common = [ASSAY, "accuracy", NUDENET, "--candidate", bad, "--sets", "1", "--noise-sets", "0",
                  "--dim", "height=320", "--dim", "width=320", "--json"]
        plain = peak_kib(common + ["--no-locate"])
        search = peak_kib(common)
        report = json.loads(subprocess.run(common, check=True, capture_output=True, text=True).stdout)
        d = report["candidates"][0]["divergence"] or {}
        found = f"{d.get('node')} in {d.get('rounds')} rounds, at most {d.get('max_exposed')} tensors at once"
        if d.get("node") != node:
            sys.exit(f"the search named {d.get('node')}, not the changed {node}")
        mark = max(peak_kib([POLY, "run", m, "--onnxrt", "--onnx-outputs", "mark", "all",
                             "--input-shapes", "images:[1,3,320,320]"])
                   for m in (NUDENET, bad))
    print(f"{'':40} {'peak MiB':>9}")
    print(f"{'assay, plain comparison':40} {plain / 1024:9.1f}")
    print(f"{'assay, first-diverging-node search':40} {search / 1024:9.1f}   (found {found})")
    print(f"{'polygraphy --onnx-outputs mark all':40} {mark / 1024:9.1f}   (one model per process)")
    print(f"search / plain {search / plain:5.2f}  (target <= 1.5) {'MET' if search <= plain * 1.5 else 'MISSED'}")


def poly_round(pin, pout):
    t = time.perf_counter()
    subprocess.run([POLY, "run", CONV, "--onnxrt", "--iterations", str(SETS),
                    "--save-inputs", pin, "--save-outputs", pout],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Exits 1 when the FP16 outputs miss its default tolerance, which they do: expected.
    subprocess.run([POLY, "run", CONV16, "--onnxrt", "--load-inputs", pin, "--load-outputs", pout],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
