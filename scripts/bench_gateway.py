#!/usr/bin/env python3
"""The gateway benchmark (`make bench-gateway`): Triton's perf_analyzer against a release
build of assay-gateway on loopback, serving the MLP fixture, and the same load against a
one-worker FastAPI + onnxruntime server. Prints one table and the four figures the gateway
is held to:

  (a) batching gain at concurrency 64 (throughput with dynamic batching / without)  >= 3
  (b) gateway throughput / in-process best-batch throughput (`assay bench`)          >= 0.8
  (c) p99 during hot swaps / steady-state p99, at concurrency 16                       <= 2
  (d) gateway / FastAPI throughput at concurrency 16 (and both p99s)                   >= 10

`--grpc-shadow` instead measures what gRPC and shadows cost, side by side on one gateway:
REST against gRPC at concurrency 1 (per-request overhead) and 16, and the stable's p99 with
a 100% shadow against without one (target: at most 1.1x), driven by perf_analyzer or, with
BENCH_SHADOW_CLIENT=assay, by `assay load`.

`--client-cost` measures what the load generators themselves cost: `assay load` against
perf_analyzer on the same gateway and load (REST and gRPC, concurrency 1 and 16), as each
client process's CPU time per request the gateway answered (target: assay load at most a
quarter of perf_analyzer's), then the kernel's part of a request at concurrency 1: the
system CPU time of a blocking client that only writes and reads, which no client avoids.

`--against OLD_GATEWAY_BINARY` instead compares two gateway builds side by side under the
same load (batching on, concurrency 16, the figure a change must keep within 3%): each
round runs the old and then the new gateway over its own data folder, and the medians and
their change are printed. Rounds alternate, so drift on a shared machine hits both alike.

Standard library only; needs scripts/setup.sh and scripts/setup-bench-gateway.sh first.
"""

import csv
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache")
ASSAY = os.path.join(ROOT, "target/release/assay")
GATEWAY = os.path.join(ROOT, "target/release/assay-gateway")
PERF = os.path.join(CACHE, "perf_analyzer/bin/perf_analyzer")
MODEL = os.path.join(CACHE, "fixtures/mlp.onnx")
TOKEN = "bench-admin-token-0123456789abcdef"
INTERVAL_MS = int(os.environ.get("BENCH_INTERVAL_MS", "3000"))


def cpu_model():
    """The CPU's model name, for the machine line every benchmark prints."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def sh(args, env=None, check=True):
    p = subprocess.run(args, env=env, capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed:\n{p.stderr}")
    return p.stdout


def wait_http(url, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    sys.exit(f"{url} never answered")


def perf(model, port, concurrency, extra=(), stability=None, protocol="http", tolerant=False):
    out = tempfile.mktemp(suffix=".csv")
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(CACHE, "perf_analyzer/lib"))
    args = [PERF, "-m", model, "-u", f"127.0.0.1:{port}", "-i", protocol,
            "--concurrency-range", f"{concurrency}:{concurrency}",
            "--measurement-interval", str(INTERVAL_MS), "--max-trials", "6", "-f", out,
            *(("-s", str(stability)) if stability else ()),
            *(extra or ("-b", "1"))]
    p = subprocess.run(args, env=env, capture_output=True, text=True)
    if p.returncode != 0 and tolerant and "stable measurement" in p.stdout + p.stderr:
        print(f"  (no stable measurement at c={concurrency} over {protocol}: this round is left out)", flush=True)
        return None
    if p.returncode != 0:
        sys.exit(f"perf_analyzer failed ({' '.join(args)}):\n{p.stdout[-3000:]}\n{p.stderr[-2000:]}")
    with open(out) as f:
        row = next(csv.DictReader(f))
    os.unlink(out)
    return {"throughput": float(row["Inferences/Second"]), "p50_ms": float(row["p50 latency"]) / 1e3,
            "p99_ms": float(row["p99 latency"]) / 1e3}


# The client of the shadow comparison: perf_analyzer (default) or `assay load` (a third of
# its CPU, so less of the machine goes to the client: BENCH_SHADOW_CLIENT=assay).
SHADOW_CLIENT = os.environ.get("BENCH_SHADOW_CLIENT", "perf_analyzer")


def assay_load(url, model, concurrency, env):
    """One closed-loop `assay load` window (REST, binary tensors), in perf()'s shape."""
    out = sh([ASSAY, "load", url, model, "--concurrency", str(concurrency), "--binary", "--duration",
              f"{INTERVAL_MS * 2}ms", "--warmup-time", "1s", "--no-save", "--json"], env)
    r = json.loads(out)["results"][0]
    return {"throughput": r["throughput"]["inferences_per_s"], "p50_ms": r["latency_ms"]["p50"],
            "p99_ms": r["latency_ms"]["p99"]}


def prepare():
    """Signed releases, a key, a token and a config in a fresh work folder."""
    for p in (ASSAY, GATEWAY, PERF, MODEL):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: run `make bench-gateway` (it builds and sets up everything)")
    work = tempfile.mkdtemp(prefix="assay-bench-gw-")
    lib = json.loads(sh([ASSAY, "runtime", "list", "--json"]))
    dylib = lib["active"]["library"]
    env = dict(os.environ, XDG_DATA_HOME=os.path.join(work, "xdg"), ASSAY_KEYCHAIN="off",
               ASSAY_KEY_PASSPHRASE="bench", ASSAY_ORT_DYLIB=dylib)
    os.makedirs(os.path.join(work, "trusted"))
    sh([ASSAY, "key", "generate", "bench"], env)
    sh([ASSAY, "key", "export-public", "bench", "--out", os.path.join(work, "trusted/bench.pem")], env)
    releases = []
    for name, version in (("mlp", "1.0.0"), ("mlp", "1.0.1"), ("mlp_unbatched", "1.0.0")):
        d = os.path.join(work, f"{name}-{version}")
        sh([ASSAY, "release", "create", MODEL, "--name", name, "--version", version, "--out", d], env)
        sh([ASSAY, "sign", d, "--key", "bench", "--signature", d + ".sig"], env)
        releases.append((name, version, d))
    with open(os.path.join(work, "token"), "w") as f:
        f.write(TOKEN + "\n")
    with open(os.path.join(work, "gateway.toml"), "w") as f:
        f.write(os.environ.get("BENCH_GATEWAY_CONFIG", "[defaults]\nmax_batch_size = 64\nqueue_size = 4096\n"
                               "[models.mlp_unbatched]\ndynamic_batching = false\n"))
    return work, dylib, env, releases


def start_gateway(binary, work, data, dylib, port, extra=()):
    gw = subprocess.Popen([binary, "--config", os.path.join(work, "gateway.toml"), "--listen", f"127.0.0.1:{port}",
                           "--data", os.path.join(work, data), "--trusted-keys", os.path.join(work, "trusted"),
                           "--token-file", os.path.join(work, "token"), "--runtime", dylib, *extra],
                          stderr=open(os.path.join(work, f"{data}.log"), "a"))
    wait_http(f"http://127.0.0.1:{port}/v2/health/live")
    return gw


def stop_gateway(gw):
    gw.send_signal(signal.SIGTERM)
    gw.wait(timeout=30)


def compare(old, rounds):
    """The old and the new gateway, alternately, under the same load; medians side by side."""
    if not os.path.exists(old):
        sys.exit(f"{old} is missing")
    work, dylib, env, releases = prepare()
    port = 18700
    url = f"http://127.0.0.1:{port}"
    builds = (("before", old), ("after", GATEWAY))
    for label, binary in builds:
        gw = start_gateway(binary, work, f"data-{label}", dylib, port)
        try:
            for name, version, d in releases:
                sh([ASSAY, "push", d, "--signature", d + ".sig", "--gateway", url, "--token", TOKEN], env)
        finally:
            stop_gateway(gw)
    figures = {label: [] for label, _ in builds}
    for n in range(rounds):
        for label, binary in builds:
            gw = start_gateway(binary, work, f"data-{label}", dylib, port)
            try:
                wait_http(f"{url}/v2/models/mlp/ready")
                r = perf("mlp", port, 16, stability=30)
            finally:
                stop_gateway(gw)
            figures[label].append(r)
            print(f"  round {n + 1} {label:<6} batching on c=16 {r['throughput']:>9.0f} infer/s  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms", flush=True)

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2
    b = median([r["throughput"] for r in figures["before"]])
    a = median([r["throughput"] for r in figures["after"]])
    bp = median([r["p99_ms"] for r in figures["before"]])
    ap = median([r["p99_ms"] for r in figures["after"]])
    change = (a / b - 1) * 100
    cpu = cpu_model()
    print()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs; {platform.platform()}; {rounds} alternating rounds, {INTERVAL_MS} ms windows")
    print(f"before {old}: median {b:.0f} infer/s, p99 {bp:.3f} ms")
    print(f"after  {GATEWAY}: median {a:.0f} infer/s, p99 {ap:.3f} ms")
    print(f"change at c=16 with batching: {change:+.1f}%   (target: within 3%)   {'PASS' if change >= -3 else 'MISS'}")


def grpc_and_shadow():
    """REST against gRPC, and the stable's p99 with and without a 100% shadow."""
    work, dylib, env, releases = prepare()
    port, grpc_port = 18700, 18701
    gw = start_gateway(GATEWAY, work, "data", dylib, port, ("--grpc-listen", f"127.0.0.1:{grpc_port}"))
    url = f"http://127.0.0.1:{port}"
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    rows = {}
    try:
        for name, version, d in releases:
            sh([ASSAY, "push", d, "--signature", d + ".sig", "--gateway", url, "--token", TOKEN], env)
        # Alternating rounds, medians: drift on a shared machine hits both sides alike.
        for n in range(rounds):
            for c in (1, 16):
                for proto, p in (("rest", port), ("grpc", grpc_port)):
                    r = perf("mlp", p, c, stability=30, protocol="http" if proto == "rest" else "grpc", tolerant=True)
                    if r is None:
                        continue
                    rows.setdefault((proto, c), []).append(r)
                    print(f"  round {n + 1} {proto:<4} c={c:<3} {r['throughput']:>9.0f} infer/s  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms", flush=True)
            for label, percent in (("no shadow", 0), ("100% shadow", 100)):
                if percent or n > 0:  # ending a shadow that was never set is refused (409)
                    sh([ASSAY, "gateway", "shadow", "mlp", "1.0.1", str(percent), "--gateway", url, "--token", TOKEN], env)
                if SHADOW_CLIENT == "assay":
                    r = assay_load(url, "mlp", 16, env)
                else:
                    r = perf("mlp", port, 16, stability=30, tolerant=True)
                if r is None:
                    continue
                rows.setdefault(label, []).append(r)
                print(f"  round {n + 1} stable c=16 {label:<12} {r['throughput']:>9.0f} infer/s  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms", flush=True)
        analysis = json.loads(sh([ASSAY, "gateway", "analysis", "mlp", "--json", "--gateway", url, "--token", TOKEN], env))
    finally:
        stop_gateway(gw)

    def med(key, field):
        v = sorted(r[field] for r in rows.get(key, [])) or [float("nan")]
        return v[len(v) // 2]
    cpu = cpu_model()
    print()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs; {platform.platform()}; perf_analyzer from tritonclient 2.50.0, "
          f"{INTERVAL_MS} ms windows, medians of {rounds} alternating rounds; the shadow's client: {SHADOW_CLIENT}")
    for c in (1, 16):
        rest, grpc = (("rest", c), ("grpc", c))
        print(f"c={c:<3} REST {med(rest, 'throughput'):>7.0f} infer/s p50 {med(rest, 'p50_ms'):.3f} ms p99 {med(rest, 'p99_ms'):.3f} ms | "
              f"gRPC {med(grpc, 'throughput'):>7.0f} infer/s p50 {med(grpc, 'p50_ms'):.3f} ms p99 {med(grpc, 'p99_ms'):.3f} ms")
    overhead_us = (med(("grpc", 1), "p50_ms") - med(("rest", 1), "p50_ms")) * 1e3
    print(f"gRPC - REST per-request p50 at c=1: {overhead_us:+.0f} us")
    ratio = med("100% shadow", "p99_ms") / med("no shadow", "p99_ms")
    sh_ = (analysis.get("shadow") or {})
    print(f"stable p99 at c=16: {med('no shadow', 'p99_ms'):.3f} ms without a shadow, {med('100% shadow', 'p99_ms'):.3f} ms "
          f"with a 100% shadow: {ratio:.2f}x (target <= 1.1)  {'PASS' if ratio <= 1.1 else 'MISS'}")
    print(f"  the shadow compared {sh_.get('compared')} of {sh_.get('mirrored')} mirrored requests "
          f"({sh_.get('dropped')} dropped when its queue was full), agreement {sh_.get('agreement')}")


def answered(url, model):
    """The gateway's count of answered requests of a model (its Prometheus metrics)."""
    text = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
    prefix = f'assay_request_success_total{{model="{model}"'
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(prefix))


def measured_child(args, env=None):
    """Runs a client to completion (its CPU time then shows in RUSAGE_CHILDREN); its stdout."""
    p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate()
    if p.returncode != 0:
        sys.exit(f"{args[0]} failed:\n{out[-3000:]}\n{err[-2000:]}")
    return out


def client_cost():
    """What each client spends per request on the same gateway and load: assay load against
    perf_analyzer, the client's whole process CPU time over the requests the gateway answered."""
    import resource
    work, dylib, env, releases = prepare()
    port, grpc_port = 18710, 18711
    gw = start_gateway(GATEWAY, work, "data", dylib, port, ("--grpc-listen", f"127.0.0.1:{grpc_port}"))
    url = f"http://127.0.0.1:{port}"
    pa_env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(CACHE, "perf_analyzer/lib"))
    rows = []
    try:
        for name, version, d in releases[:1]:
            sh([ASSAY, "push", d, "--signature", d + ".sig", "--gateway", url, "--token", TOKEN], env)
        for c in (1, 16):
            for proto, p in (("rest", port), ("grpc", grpc_port)):
                row = {"c": c, "proto": proto}
                for client in ("perf_analyzer", "assay load"):
                    if client == "perf_analyzer":
                        args = [PERF, "-m", "mlp", "-u", f"127.0.0.1:{p}", "-i", "http" if proto == "rest" else "grpc",
                                "--concurrency-range", f"{c}:{c}", "--measurement-interval", str(INTERVAL_MS), "-b", "1"]
                        e = pa_env
                    else:
                        target = f"http://127.0.0.1:{p}" if proto == "rest" else f"grpc://127.0.0.1:{p}"
                        args = [ASSAY, "load", target, "mlp", "--concurrency", str(c), "--duration", f"{INTERVAL_MS * 3}ms",
                                "--no-save", "--json", *(["--binary"] if proto == "rest" else [])]
                        e = env
                    before = answered(url, "mlp")
                    t0 = time.time()
                    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    out = measured_child(args, e)
                    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    wall = time.time() - t0
                    n = answered(url, "mlp") - before
                    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
                    row[client] = {"us_per_req": cpu / max(n, 1) * 1e6, "requests": n, "cores": cpu / wall}
                    if client == "assay load":
                        row["own"] = json.loads(out)["results"][0]["load"]["client_cpu_us_per_request"]
                rows.append(row)
                pa, al = row["perf_analyzer"], row["assay load"]
                print(f"  c={c:<3} {proto:<4} perf_analyzer {pa['us_per_req']:>6.1f} us/req ({pa['cores']:.2f} cores, {pa['requests']:.0f} req) | "
                      f"assay load {al['us_per_req']:>6.1f} us/req ({al['cores']:.2f} cores, {al['requests']:.0f} req; "
                      f"its own figure for the measured window {row['own']:.1f})", flush=True)
        floor = kernel_floor(port, 20000)
    finally:
        stop_gateway(gw)
    cpu = cpu_model()
    print()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs; {platform.platform()}; the MLP on a release assay-gateway; "
          "client CPU = the client process's user + system time over the requests the gateway answered")
    print(f"{'load':<10} {'perf_analyzer':>16} {'assay load':>14} {'ratio':>7}  target <= 0.25")
    for row in rows:
        pa, al = row["perf_analyzer"]["us_per_req"], row["assay load"]["us_per_req"]
        print(f"c={row['c']:<3} {row['proto']:<5} {pa:>12.1f} us {al:>10.1f} us {al / pa:>7.2f}  {'PASS' if al / pa <= 0.25 else 'MISS'}")
    rest1 = next(r for r in rows if r["c"] == 1 and r["proto"] == "rest")["perf_analyzer"]["us_per_req"]
    print(f"the kernel's part of one REST round trip at c=1 (the system CPU time of a blocking client that only "
          f"writes the request and reads the answer, {floor['n']} requests): {floor['sys_us']:.1f} us a request; "
          f"a quarter of perf_analyzer's c=1 REST cost is {rest1 / 4:.1f} us")


def kernel_floor(port, n):
    """What the kernel alone charges a client per REST request at concurrency 1: the system
    CPU time of this thread while it sends the MLP request `n` times on one blocking socket,
    reading each whole answer (user time is Python's and left out)."""
    import resource
    import socket
    header = json.dumps({"inputs": [{"name": "input", "shape": [1, 512], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 2048}}]}).encode()
    body = header + bytes(2048)
    request = (f"POST /v2/models/mlp/infer HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
               f"content-type: application/octet-stream\r\ninference-header-content-length: {len(header)}\r\n"
               f"content-length: {len(body)}\r\n\r\n").encode() + body
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def once():
        s.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, rest = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200"):
            sys.exit(f"the floor client's request failed: {head[:200]!r}")
        length = next(int(l.split(b":", 1)[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
        while len(rest) < length:
            rest += s.recv(65536)

    for _ in range(500):
        once()
    r0 = resource.getrusage(resource.RUSAGE_THREAD)
    for _ in range(n):
        once()
    r1 = resource.getrusage(resource.RUSAGE_THREAD)
    s.close()
    return {"n": n, "sys_us": (r1.ru_stime - r0.ru_stime) / n * 1e6}


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--grpc-shadow":
        return grpc_and_shadow()
    if len(sys.argv) >= 2 and sys.argv[1] == "--client-cost":
        return client_cost()
    if len(sys.argv) >= 3 and sys.argv[1] == "--against":
        rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
        return compare(sys.argv[2], rounds)
    work, dylib, env, releases = prepare()
    port = 18700
    gw = start_gateway(GATEWAY, work, "data", dylib, port)
    base = None
    try:
        url = f"http://127.0.0.1:{port}"
        for name, version, d in releases:
            sh([ASSAY, "push", d, "--signature", d + ".sig", "--gateway", url, "--token", TOKEN], env)
        results = {}
        for label, model in (("batching off", "mlp_unbatched"), ("batching on", "mlp")):
            for c in (1, 16, 64):
                r = perf(model, port, c)
                results[(label, c)] = r
                print(f"  gateway {label:<12} c={c:<3} {r['throughput']:>9.0f} infer/s  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms", flush=True)

        # The same gateway when each request carries 16 rows: HTTP costs per row drop 16x.
        rows16 = perf("mlp", port, 16, ("-b", "16"))
        print(f"  gateway batching on  c=16 -b 16 {rows16['throughput']:>6.0f} rows/s   p50 {rows16['p50_ms']:.3f} ms  p99 {rows16['p99_ms']:.3f} ms", flush=True)

        # (c) p99 while the stable version swaps back and forth every 0.5 s.
        stop = threading.Event()
        swaps = [0]

        def swapper():
            v = ["1.0.1", "1.0.0"]
            while not stop.is_set():
                sh([ASSAY, "gateway", "activate", "mlp", v[swaps[0] % 2], "--gateway", url, "--token", TOKEN], env)
                swaps[0] += 1
                time.sleep(0.5)
        t = threading.Thread(target=swapper)
        t.start()
        swapping = perf("mlp", port, 16)
        stop.set()
        t.join()
        print(f"  gateway during {swaps[0]} hot swaps c=16 {swapping['throughput']:>9.0f} infer/s  p50 {swapping['p50_ms']:.3f} ms  p99 {swapping['p99_ms']:.3f} ms", flush=True)
    finally:
        stop_gateway(gw)

    # In-process: the same model, the same machine, the best batch size.
    bench = json.loads(sh([ASSAY, "bench", MODEL, "--batch", "1,8,16,32,64", "--duration", "3s", "--json", "--runtime", dylib],
                          dict(env, ASSAY_DB=os.path.join(work, "runs.db"))))
    best = max(bench["results"], key=lambda r: r["throughput"]["samples_per_s"])
    in_process = best["throughput"]["samples_per_s"]
    print(f"  in-process best batch {best['batch']}: {in_process:.0f} rows/s", flush=True)

    # (d) The FastAPI + onnxruntime baseline under the same perf_analyzer load.
    bport = 18701
    base = subprocess.Popen([os.path.join(CACHE, "venv-baseline/bin/python"), os.path.join(ROOT, "scripts/baseline_server.py"),
                             MODEL, "mlp", str(bport)], stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{bport}/v2/health/ready")
        b1 = perf("mlp", bport, 1)
        b16 = perf("mlp", bport, 16)
    finally:
        base.terminate()
        base.wait(timeout=30)
    print(f"  fastapi baseline        c=1   {b1['throughput']:>9.0f} infer/s  p50 {b1['p50_ms']:.3f} ms  p99 {b1['p99_ms']:.3f} ms")
    print(f"  fastapi baseline        c=16  {b16['throughput']:>9.0f} infer/s  p50 {b16['p50_ms']:.3f} ms  p99 {b16['p99_ms']:.3f} ms")

    on64, off64, on16 = results[("batching on", 64)], results[("batching off", 64)], results[("batching on", 16)]
    gain = on64["throughput"] / off64["throughput"]
    share = on64["throughput"] / in_process
    swap_ratio = swapping["p99_ms"] / on16["p99_ms"]
    vs_base = on16["throughput"] / b16["throughput"]
    cpu = cpu_model()
    print()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs; {platform.platform()}; perf_analyzer from tritonclient 2.50.0, {INTERVAL_MS} ms windows")
    print(f"(a) batching gain at c=64:             {gain:.2f}x   (target >= 3)          {'PASS' if gain >= 3 else 'MISS'}")
    print(f"(b) gateway / in-process best batch:   {share:.2f}    (target >= 0.8)         {'PASS' if share >= 0.8 else 'MISS'}"
          f"   [with 16-row requests: {rows16['throughput'] / in_process:.2f}]")
    print(f"(c) p99 during swaps / steady, c=16:   {swap_ratio:.2f}x   (target <= 2)          {'PASS' if swap_ratio <= 2 else 'MISS'}")
    print(f"(d) gateway / FastAPI at c=16:         {vs_base:.1f}x    (target >= 10, lower p99: {on16['p99_ms']:.2f} vs {b16['p99_ms']:.2f} ms)  "
          f"{'PASS' if vs_base >= 10 and on16['p99_ms'] < b16['p99_ms'] else 'MISS'}")


if __name__ == "__main__":
    main()
