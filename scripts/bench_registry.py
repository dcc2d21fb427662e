#!/usr/bin/env python3
"""The registry benchmark (`make bench-registry`): a 2 GiB release through a real OCI registry
(Debian's docker-registry on loopback, plain HTTP, one fresh registry per tool so neither
finds the other's blobs), side by side with ORAS (PyPI's `oras`, the Python SDK):

  (a) push: `assay push ... oci://` against `oras push` of the same files      target: Assay >= ORAS
  (b) pull: a gateway's verified pull (`assay gateway pull`) against `oras pull` target: Assay >= ORAS,
      with the gateway's peak memory during the pull                          target: flat, < 64 MiB growth
  (c) bytes sent for a second version that changes one 1 MiB file              target: < 2 MiB
  (d) a rollout of that version across three gateways with short analysis windows, split into
      pulling, warming and analysis.

Release builds; needs scripts/setup.sh first (docker-registry, the ORAS venv). About 14 GiB of
scratch space in $TMPDIR.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_gateway import ASSAY, CACHE, GATEWAY, ROOT, TOKEN, cpu_model, sh, wait_http  # noqa: E402

ORAS_PY = os.path.join(CACHE, "venv-oras/bin/python")
MODEL = os.path.join(ROOT, "assets/sample-mlp.onnx")
GiB, MiB = 1 << 30, 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def registry(work, name):
    d = os.path.join(work, name)
    os.makedirs(d)
    port = free_port()
    with open(os.path.join(d, "config.yml"), "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\n"
                f"http:\n  addr: 127.0.0.1:{port}\n")
    p = subprocess.Popen(["docker-registry", "serve", os.path.join(d, "config.yml")],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "log"), "w"))
    wait_http(f"http://127.0.0.1:{port}/v2/")
    return p, f"127.0.0.1:{port}"


def write_random(path, size, seed):
    """Incompressible bytes, quickly: a 1 MiB random block, varied per MiB."""
    block = bytearray(os.urandom(MiB))
    with open(path, "wb") as f:
        for i in range(size // MiB):
            block[:8] = (i + seed * 1_000_003).to_bytes(8, "little")
            f.write(block)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main():
    for p in (ASSAY, GATEWAY, ORAS_PY):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: run `make bench-registry` (it builds and sets up everything)")
    if shutil.which("docker-registry") is None:
        sys.exit("docker-registry is missing: run `make setup`")
    work = tempfile.mkdtemp(prefix="assay-bench-registry-")
    procs = []
    try:
        run(work, procs)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def run(work, procs):
    dylib = json.loads(sh([ASSAY, "runtime", "list", "--json"]))["active"]["library"]
    env = dict(os.environ, XDG_DATA_HOME=os.path.join(work, "xdg"), ASSAY_KEYCHAIN="off",
               ASSAY_KEY_PASSPHRASE="bench", ASSAY_ORT_DYLIB=dylib, DOCKER_CONFIG=os.path.join(work, "docker"))
    os.makedirs(os.path.join(work, "trusted"))
    sh([ASSAY, "key", "generate", "bench"], env)
    sh([ASSAY, "key", "export-public", "bench", "--out", os.path.join(work, "trusted/bench.pem")], env)
    with open(os.path.join(work, "token"), "w") as f:
        f.write(TOKEN + "\n")

    # A 2 GiB release: two 1 GiB weight shards and a 1 MiB vocabulary next to the model.
    src = os.path.join(work, "src")
    os.makedirs(src)
    shards = [os.path.join(src, f"weights-{i}.bin") for i in (1, 2)]
    for i, s in enumerate(shards):
        write_random(s, GiB - (MiB if i == 1 else 0), i + 1)
    vocab = os.path.join(src, "vocab.bin")
    write_random(vocab, MiB, 7)
    rel = {}
    for version in ("1.0.0", "1.1.0"):
        if version == "1.1.0":
            write_random(vocab, MiB, 8)  # the one file the new version changes
        d = os.path.join(work, f"rel-{version}")
        args = [ASSAY, "release", "create", MODEL, "--name", "big", "--version", version, "--out", d]
        for s in (*shards, vocab):
            args += ["--include", s]
        sh(args, env)
        sh([ASSAY, "sign", d, "--key", "bench", "--signature", d + ".sig"], env)
        rel[version] = d
    files = sorted(os.listdir(rel["1.0.0"]))
    size = sum(os.path.getsize(os.path.join(rel["1.0.0"], f)) for f in files)
    print(f"release: {len(files)} files, {size / GiB:.2f} GiB", flush=True)

    # (a) Push, each tool to a registry of its own.
    reg_a, host_a = registry(work, "registry-assay")
    reg_o, host_o = registry(work, "registry-oras")
    procs += [reg_a, reg_o]
    t_assay, out = timed(lambda: json.loads(sh([ASSAY, "push", rel["1.0.0"], "--signature", rel["1.0.0"] + ".sig",
                                                f"oci://{host_a}/bench/big:1.0.0", "--plain-http", "--json"], env)))
    assert out["bytes_sent"] >= size, out
    oras = f"""
import os, sys, oras.client
c = oras.client.OrasClient(hostname=sys.argv[1], insecure=True)
os.chdir(sys.argv[3])
c.push(target=sys.argv[2], files=sorted(os.listdir('.')), disable_path_validation=True)
"""
    t_oras, _ = timed(lambda: sh([ORAS_PY, "-c", oras, host_o, f"{host_o}/bench/big:1.0.0", rel["1.0.0"]]))

    # (c) The second version: only the changed file (and the small metadata) is sent.
    t_second, second = timed(lambda: json.loads(sh([ASSAY, "push", rel["1.1.0"], "--signature", rel["1.1.0"] + ".sig",
                                                    f"oci://{host_a}/bench/big:1.1.0", "--plain-http", "--json"], env)))

    # (b) Pull: a gateway's verified pull (not activated: the pull alone), its memory sampled,
    # against `oras pull` of the same artifact.
    with open(os.path.join(work, "gateway.toml"), "w") as f:
        f.write(f'[registry]\nhost = "{host_a}"\nplain_http = true\n[canary]\ninterval_ms = 100\n')

    def gateway(name):
        port = free_port()
        gw = subprocess.Popen([GATEWAY, "--config", os.path.join(work, "gateway.toml"), "--listen", f"127.0.0.1:{port}",
                               "--data", os.path.join(work, name), "--trusted-keys", os.path.join(work, "trusted"),
                               "--token-file", os.path.join(work, "token"), "--runtime", dylib],
                              stderr=open(os.path.join(work, f"{name}.log"), "w"))
        procs.append(gw)
        wait_http(f"http://127.0.0.1:{port}/v2/health/live")
        return gw, f"http://127.0.0.1:{port}"

    gw, url = gateway("gw-pull")
    before = rss_kib(gw.pid, "VmRSS")
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(gw.pid, "VmRSS"))
            time.sleep(0.02)

    th = threading.Thread(target=sample)
    th.start()
    t_pull, pulled = timed(lambda: json.loads(sh([ASSAY, "gateway", "pull", "big", f"oci://{host_a}/bench/big:1.0.0",
                                                   "--no-activate", "--gateway", url, "--token", TOKEN, "--json"], env)))
    stop.set()
    th.join()
    hwm = rss_kib(gw.pid, "VmHWM")
    out_dir = os.path.join(work, "oras-pull")
    os.makedirs(out_dir)
    oras_pull = "import sys, oras.client\nc = oras.client.OrasClient(hostname=sys.argv[1], insecure=True)\nc.pull(target=sys.argv[2], outdir=sys.argv[3])\n"
    t_oras_pull, _ = timed(lambda: sh([ORAS_PY, "-c", oras_pull, host_a, f"{host_a}/bench/big:1.0.0", out_dir]))
    shutil.rmtree(out_dir)
    gw.send_signal(signal.SIGTERM)
    gw.wait(timeout=30)
    shutil.rmtree(os.path.join(work, "gw-pull"))

    # (d) A rollout of 1.1.0 to three gateways on 1.0.0, waves 1 / 2 / all, promoted after a
    # 2 s hold without a rollback.
    gws = [gateway(f"fleet-{i}") for i in range(3)]
    for _, u in gws:
        sh([ASSAY, "gateway", "pull", "big", f"oci://{host_a}/bench/big:1.0.0", "--gateway", u, "--token", TOKEN], env)
    fleet = os.path.join(work, "fleet.toml")
    with open(fleet, "w") as f:
        f.write('name = "bench"\n[registry]\nplain_http = true\n[rollout]\nwaves = ["1", "2", "100%"]\ncanary_percent = 20\nhold_s = 2\npoll_ms = 100\n')
        for i, (_, u) in enumerate(gws):
            f.write(f'[[gateway]]\nname = "g{i}"\nurl = "{u}"\ntoken_file = "{os.path.join(work, "token")}"\n')
    t_rollout, rollout = timed(lambda: json.loads(sh([ASSAY, "fleet", "rollout", fleet, "big", f"oci://{host_a}/bench/big:1.1.0",
                                                      "--json", "--state", os.path.join(work, "rollout.json")], env)))
    assert rollout["status"] == "done", rollout

    mbps = lambda t: size / MiB / t
    print()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; registry: docker-registry (CNCF distribution) on loopback, plain HTTP")
    print(f"release: {len(files)} files, {size / GiB:.2f} GiB (two 1 GiB shards, a 1 MiB file, the model, the metadata)")
    print()
    print(f"{'':<34}{'Assay':>14}{'ORAS (oras-py 0.2.43)':>26}")
    print(f"{'(a) push 2 GiB':<34}{t_assay:>11.1f} s {'':>3}{t_oras:>20.1f} s   "
          f"{mbps(t_assay):.0f} vs {mbps(t_oras):.0f} MiB/s  {'MET' if t_assay <= t_oras else 'MISS'}")
    print(f"{'(b) pull 2 GiB (verified)':<34}{t_pull:>11.1f} s {'':>3}{t_oras_pull:>20.1f} s   "
          f"{mbps(t_pull):.0f} vs {mbps(t_oras_pull):.0f} MiB/s  {'MET' if t_pull <= t_oras_pull else 'MISS'}")
    growth = (peak[0] - before) / 1024
    print(f"{'    gateway memory during the pull':<34} RSS {before / 1024:.0f} MiB before, peak {peak[0] / 1024:.0f} MiB "
          f"(+{growth:.1f} MiB; VmHWM {hwm / 1024:.0f} MiB)  {'MET' if growth < 64 else 'MISS'} (< 64 MiB growth)")
    print(f"{'(c) second version, 1 MiB changed':<34} sent {second['bytes_sent'] / MiB:.2f} MiB in {second['blobs_sent']} blob(s), "
          f"{second['blobs_present']} already there, {t_second:.1f} s  {'MET' if second['bytes_sent'] < 2 * MiB else 'MISS'} (< 2 MiB)")
    s = rollout["seconds"]
    print(f"{'(d) rollout to 3 gateways, 3 waves':<34} {t_rollout:.1f} s wall: pulling {s['pulling']:.1f} s, "
          f"warming {s['warming']:.1f} s, analysis {s['analysis']:.1f} s (summed over gateways; 2 s hold)")
    print(f"    pulled per gateway: {pulled['source']['bytes_fetched'] / MiB:.0f} MiB on the first pull; "
          f"the rollout's pulls fetched only the changed file (the rest linked from the gateway's blob store)")


if __name__ == "__main__":
    main()
