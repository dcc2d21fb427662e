#!/usr/bin/env python3
"""The gateway against the inference servers people would otherwise run (`make
bench-servers`), every one serving the same ONNX model through onnxruntime, all driven by
`assay load` (release build) at concurrency 1, 16 and 64:

  - assay-gateway (release build): dynamic batching up to 64 rows (capped where batches stop
    paying, as measured at load), 500 µs queue delay, 2 sessions × 1 intra-op thread and a
    solo session with both cores (its threads spinning 200 µs, `BENCH_SOLO_SPIN_US`) for a
    batch that starts while the others idle; over gRPC,
    and over REST with binary tensors in a row of its own;
  - Triton: the real tritonserver of PyPI's nvidia-pytriton wheel, its Python backend calling
    onnxruntime, dynamic batching (64 rows, 500 µs), 2 instances × 1 thread
    (scripts/servers/pytriton_server.py);
  - Seldon MLServer with an onnxruntime runtime, adaptive batching (64 rows, 500 µs), 1 thread
    (scripts/servers/mlserver_server.py);
  - the KServe Python model server, 1 worker, 1 thread (scripts/servers/kserve_server.py);
  - the FastAPI + onnxruntime baseline (scripts/baseline_server.py; onnxruntime's default
    threads).

Models: the MLP fixture and the conv net (convnet_serving.onnx: about 2 ms per image on one
core). Protocol: gRPC wherever the server has it (the
gateway, Triton, MLServer, KServe), REST with binary tensors for the FastAPI baseline (it has
no gRPC); `BENCH_PROTOCOL=rest` uses REST everywhere (binary tensors, JSON for MLServer,
which has no binary extension). Also on the conv net: in-process best-batch throughput
(`assay bench`, 2 streams × 1 thread, batch 1–64) and the gateway's batching gain (on against
off at concurrency 64) next to in-process batch 64 against batch 1.

Prints one table per model and the targets. Needs scripts/setup.sh,
scripts/setup-bench-gateway.sh and scripts/setup-bench-servers.sh first.
"""

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_gateway import ASSAY, CACHE, GATEWAY, ROOT, TOKEN, cpu_model, sh  # noqa: E402

MODELS = {"mlp": os.path.join(CACHE, "fixtures/mlp.onnx"), "conv": os.path.join(CACHE, "fixtures/convnet_serving.onnx")}
LEVELS = (1, 16, 64)
DURATION = os.environ.get("BENCH_DURATION", "5s")
PROTOCOL = os.environ.get("BENCH_PROTOCOL", "grpc")
# A quick look at some servers only (`BENCH_SERVERS="assay-gateway,FastAPI baseline"`); the
# targets are printed only when every server ran.
ONLY = [x.strip() for x in os.environ.get("BENCH_SERVERS", "").split(",") if x.strip()]
# Intra-op threads per gateway session (default 1: 2 sessions × 1 thread on 2 cores).
GATEWAY_INTRA = int(os.environ.get("BENCH_GATEWAY_INTRA", "1"))
# How long the gateway's solo session spins between parallel sections (µs; unset: the
# gateway's default; 0: it never spins, as before 2026-12-04).
SOLO_SPIN = os.environ.get("BENCH_SOLO_SPIN_US")


def load(target, model, c, env, extra=()):
    """One `assay load` level; (throughput, p50, p99, errors)."""
    out = sh([ASSAY, "load", target, model, "--concurrency", str(c), "--duration", DURATION,
              "--warmup-time", "1s", "--no-save", "--json", *extra], env)
    r = json.loads(out)["results"][0]
    return {"tput": r["throughput"]["inferences_per_s"], "p50": r["latency_ms"]["p50"],
            "p99": r["latency_ms"]["p99"], "errors": r["load"]["errors"]}


def start(args, env, ready_url, log, tries=3):
    """Starts a server and waits for its model; a start that fails is tried again (PyTriton's
    Python backend sometimes misses its handshake right after the previous instance ended)."""
    import urllib.request
    for attempt in range(tries):
        p = subprocess.Popen(args, env=env, stdout=open(log, "a"), stderr=subprocess.STDOUT, start_new_session=True)
        end = time.time() + 120
        while time.time() < end and p.poll() is None:
            try:
                urllib.request.urlopen(ready_url, timeout=1).read()
                return p
            except Exception:
                time.sleep(0.3)
        stop(p)
        print(f"  ({os.path.basename(args[1] if len(args) > 1 else args[0])} did not start, try {attempt + 1} of {tries}; see {log})", flush=True)
        time.sleep(3)
    sys.exit(f"{ready_url} never answered; see {log}")


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)
    except ProcessLookupError:
        pass
    except Exception:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main():
    for p in (ASSAY, GATEWAY):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: run `make bench-servers` (it builds and sets up everything)")
    work = tempfile.mkdtemp(prefix="assay-bench-servers-")
    dylib = json.loads(sh([ASSAY, "runtime", "list", "--json"]))["active"]["library"]
    env = dict(os.environ, XDG_DATA_HOME=os.path.join(work, "xdg"), ASSAY_KEYCHAIN="off",
               ASSAY_KEY_PASSPHRASE="bench", ASSAY_ORT_DYLIB=dylib, ASSAY_DB=os.path.join(work, "runs.db"))
    os.makedirs(os.path.join(work, "trusted"))
    sh([ASSAY, "key", "generate", "bench"], env)
    sh([ASSAY, "key", "export-public", "bench", "--out", os.path.join(work, "trusted/bench.pem")], env)
    with open(os.path.join(work, "token"), "w") as f:
        f.write(TOKEN + "\n")
    with open(os.path.join(work, "gateway.toml"), "w") as f:
        f.write(f"[defaults]\nmax_batch_size = 64\nmax_queue_delay_us = 500\ninstances = 2\nintra_threads = {GATEWAY_INTRA}\nqueue_size = 4096\n"
                + (f"solo_spin_us = {int(SOLO_SPIN)}\n" if SOLO_SPIN else "")
                + "[models.conv_unbatched]\ndynamic_batching = false\n")
    releases = [("mlp", MODELS["mlp"]), ("conv", MODELS["conv"]), ("conv_unbatched", MODELS["conv"])]
    gw_port, gw_grpc = 18800, 18801
    gw = start([GATEWAY, "--config", os.path.join(work, "gateway.toml"), "--listen", f"127.0.0.1:{gw_port}",
                "--grpc-listen", f"127.0.0.1:{gw_grpc}", "--data", os.path.join(work, "gw"),
                "--trusted-keys", os.path.join(work, "trusted"), "--token-file", os.path.join(work, "token"),
                "--runtime", dylib], env, f"http://127.0.0.1:{gw_port}/v2/health/live", os.path.join(work, "gateway.log"))
    results = {}
    try:
        for name, path in releases:
            d = os.path.join(work, name)
            sh([ASSAY, "release", "create", path, "--name", name, "--version", "1.0.0", "--out", d], env)
            sh([ASSAY, "sign", d, "--key", "bench", "--signature", d + ".sig"], env)
            sh([ASSAY, "push", d, "--signature", d + ".sig", "--gateway", f"http://127.0.0.1:{gw_port}", "--token", TOKEN], env)
        for model, path in MODELS.items():
            servers = [("assay-gateway", None, f"grpc://127.0.0.1:{gw_grpc}", f"http://127.0.0.1:{gw_port}"),
                       ("assay-gateway REST", None, None, f"http://127.0.0.1:{gw_port}")]
            py = lambda v: os.path.join(CACHE, v, "bin/python")  # noqa: E731
            servers += [
                ("Triton (pytriton)", [py("venv-pytriton"), os.path.join(ROOT, "scripts/servers/pytriton_server.py"), path, model, "18810", "18811"],
                 "grpc://127.0.0.1:18811", "http://127.0.0.1:18810"),
                ("MLServer", [py("venv-mlserver"), os.path.join(ROOT, "scripts/servers/mlserver_server.py"), path, model, "18820", "18821"],
                 "grpc://127.0.0.1:18821", "http://127.0.0.1:18820"),
                ("KServe", [py("venv-kserve"), os.path.join(ROOT, "scripts/servers/kserve_server.py")],
                 "grpc://127.0.0.1:18831", "http://127.0.0.1:18830"),
                ("FastAPI baseline", [py("venv-baseline"), os.path.join(ROOT, "scripts/baseline_server.py"), path, model, "18840"],
                 None, "http://127.0.0.1:18840"),
            ]
            for label, args, grpc, rest in servers:
                if ONLY and label not in ONLY:
                    continue
                proc = None
                if args:
                    senv = dict(env, MODEL=path, NAME=model, HTTP_PORT=rest.rsplit(":", 1)[1], GRPC_PORT=(grpc or ":0").rsplit(":", 1)[1])
                    proc = start(args, senv, f"{rest}/v2/models/{model}", os.path.join(work, f"{label.split()[0]}-{model}.log"))
                try:
                    if PROTOCOL == "grpc" and grpc:
                        target, extra, proto = grpc, (), "gRPC"
                    else:
                        target, proto = rest, "REST binary"
                        extra = () if label == "MLServer" else ("--binary",)
                        proto = "REST JSON" if label == "MLServer" else proto
                    for c in LEVELS:
                        r = load(target, model, c, env, extra)
                        results[(model, label, c)] = dict(r, proto=proto)
                        print(f"  {model:<5} {label:<18} {proto:<11} c={c:<3} {r['tput']:>8.0f} infer/s  p50 {r['p50']:>7.3f} ms  p99 {r['p99']:>8.3f} ms"
                              f"{'  errors ' + str(r['errors']) if r['errors'] else ''}", flush=True)
                finally:
                    if proc:
                        stop(proc)
        # The conv net: the gateway without batching at 64, and in process.
        r = load(f"grpc://127.0.0.1:{gw_grpc}" if PROTOCOL == "grpc" else f"http://127.0.0.1:{gw_port}", "conv_unbatched", 64, env,
                 () if PROTOCOL == "grpc" else ("--binary",))
        results[("conv", "unbatched", 64)] = r
        print(f"  conv  assay-gateway, batching off   c=64  {r['tput']:>8.0f} infer/s  p99 {r['p99']:.3f} ms", flush=True)
    finally:
        stop(gw)
    bench = json.loads(sh([ASSAY, "bench", MODELS["conv"], "--batch", "1,8,16,32,64", "--concurrency", "2", "--intra-threads", "1",
                           "--duration", "3s", "--json", "--no-save"], env))
    rows = {r["batch"]: r["throughput"]["samples_per_s"] for r in bench["results"]}
    best_batch = max(rows, key=rows.get)

    cpu = cpu_model()
    print()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs; {platform.platform()}; assay load (release), {DURATION} per level after 1 s of warm-up")
    labels = ["assay-gateway", "assay-gateway REST", "Triton (pytriton)", "MLServer", "KServe", "FastAPI baseline"]
    for model in MODELS:
        print(f"\n{model}: infer/s, p50 / p99 ms")
        print(f"{'server':<19}{'protocol':<12}" + "".join(f"{'c=' + str(c):>30}" for c in LEVELS))
        for label in labels:
            cells = [results.get((model, label, c)) for c in LEVELS]
            proto = next((x["proto"] for x in cells if x), "")
            print(f"{label:<19}{proto:<12}" + "".join(
                f"{x['tput']:>10.0f} {x['p50']:>8.3f} / {x['p99']:>8.3f}" if x else f"{'-':>30}" for x in cells))
    print()
    in_process = ", ".join(f"batch {b} {r:.0f}" for b, r in sorted(rows.items()))
    print(f"conv in process (assay bench, 2 streams x 1 thread), rows/s: {in_process}")
    if ONLY:
        return
    for model in MODELS:
        others = [l for l in labels[2:] if (model, l, 16) in results]
        for c in (16, 64):
            g = results[(model, "assay-gateway", c)]
            best = max(others, key=lambda l: results[(model, l, c)]["tput"])
            b = results[(model, best, c)]
            low = min(results[(model, l, c)]["p99"] for l in others)
            ok = g["tput"] > b["tput"] and g["p99"] < low
            print(f"{model} c={c}: gateway {g['tput']:.0f} infer/s p99 {g['p99']:.2f} ms; best other {best} {b['tput']:.0f} infer/s, lowest other p99 {low:.2f} ms  "
                  f"{'PASS' if ok else 'MISS'}")
        # Like for like: the gateway over the protocol the fastest other server was driven
        # with (the FastAPI baseline has REST only), its other protocol printed beside it.
        first = min(others, key=lambda l: results[(model, l, 1)]["p50"])
        fastest = results[(model, first, 1)]
        same, other = (("assay-gateway", "assay-gateway REST") if fastest["proto"] == "gRPC"
                       else ("assay-gateway REST", "assay-gateway"))
        g1 = results[(model, same, 1)]
        o1 = results.get((model, other, 1))
        print(f"{model} c=1: gateway p50 {g1['p50']:.3f} ms over {g1['proto']}"
              + (f" ({o1['p50']:.3f} over {o1['proto']})" if o1 else "")
              + f", fastest other {first} {fastest['p50']:.3f} ms over {fastest['proto']}  {'PASS' if g1['p50'] <= fastest['p50'] else 'MISS'}")
    # The gateway's best throughput on the conv net, whichever protocol and concurrency.
    (g_label, g_c) = max(((l, c) for l in labels[:2] for c in (16, 64) if ("conv", l, c) in results),
                         key=lambda k: results[("conv", *k)]["tput"])
    g_best = results[("conv", g_label, g_c)]["tput"]
    share = g_best / rows[best_batch]
    print(f"conv: gateway ({g_label}, c={g_c}) {g_best:.0f} infer/s against in-process best batch {best_batch} {rows[best_batch]:.0f} rows/s: "
          f"{share:.2f}x (target >= 0.9)  {'PASS' if share >= 0.9 else 'MISS'}")
    g64 = results[("conv", "assay-gateway", 64)]["tput"]
    gain = g64 / results[("conv", "unbatched", 64)]["tput"]
    in_gain = rows[64] / rows[1]
    print(f"conv: batching gain at c=64 {gain:.2f}x against in-process batch 64 / batch 1 {in_gain:.2f}x: {gain / in_gain:.2f} of it (target >= 0.9)  "
          f"{'PASS' if gain / in_gain >= 0.9 else 'MISS'}")


if __name__ == "__main__":
    main()
