// End to end in the real webview: tauri-driver drives WebKitWebDriver against the built
// `assay-console` (a custom-protocol build), under Xvfb. Plain WebDriver over fetch.
//
// usage: node ui/e2e/console.e2e.mjs   (APP, DRIVER and SHOTS may be set; see below)
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:net";

const root = resolve(import.meta.dirname, "../..");
const APP = process.env.APP ?? join(root, "target/debug/assay-console");
const DRIVER = process.env.DRIVER ?? "tauri-driver";
const SHOTS = process.env.SHOTS ?? join(root, "target/e2e-screenshots");
const WORKER = process.env.ASSAY_WORKER ?? join(root, "target/debug/assay");
const GATEWAY = process.env.ASSAY_GATEWAY ?? join(root, "target/debug/assay-gateway");
const PORT = 4444 + (process.pid % 1000);
const PERF = join(root, "target/e2e-perf.json");
const perf = {};
const base = `http://127.0.0.1:${PORT}`;
let driver;
let session;

async function wd(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}

const s = (path) => `/session/${session}${path}`;
const ELEMENT = "element-6066-11e4-a5e6-4a76f0c4a4a5";
// WebKitWebDriver answers with the W3C key; older drivers used "ELEMENT".
const id = (e) => e[ELEMENT] ?? e.ELEMENT ?? Object.values(e)[0];

async function find(css, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const el = await wd("POST", s("/element"), { using: "css selector", value: css });
      return id(el);
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function findByText(css, text, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const els = await wd("POST", s("/elements"), { using: "css selector", value: css });
    for (const e of els) {
      const t = await wd("GET", s(`/element/${id(e)}/text`));
      if (t.includes(text)) return id(e);
    }
    if (Date.now() > end) throw new Error(`no ${css} with text ${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function shot(name) {
  mkdirSync(SHOTS, { recursive: true });
  const png = await wd("GET", s("/screenshot"));
  writeFileSync(join(SHOTS, `${name}.png`), Buffer.from(png, "base64"));
}

// The app gets a data folder of its own (history, keys, releases, gateways) and the runtime
// the developer already has, found before the data folder moves.
const home = mkdtempSync(join(tmpdir(), "assay-e2e-"));
const runtime = JSON.parse(execFileSync(WORKER, ["runtime", "list", "--json"])).active.library;
const env = { ...process.env, XDG_DATA_HOME: join(home, "data"), ASSAY_KEYCHAIN: "off", ASSAY_ORT_DYLIB: runtime, ASSAY_WORKER: WORKER };
let gateway;
// The Fleet test's registry and gateways.
const fleetProcs = [];

before(async () => {
  driver = spawn(DRIVER, ["--port", String(PORT)], { stdio: "ignore", env });
  const end = Date.now() + 20000;
  for (;;) {
    try {
      await fetch(`${base}/status`);
      break;
    } catch {
      if (Date.now() > end) throw new Error("tauri-driver did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const created = await wd("POST", "/session", {
    capabilities: { alwaysMatch: { "tauri:options": { application: APP } } },
  });
  session = created.sessionId;
});

after(async () => {
  if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
  driver?.kill();
  gateway?.kill();
  for (const p of fleetProcs) p.kill();
  writeFileSync(PERF, JSON.stringify(perf, null, 2));
  console.log("e2e perf:", JSON.stringify(perf));
});

// The last screen of every test, pass or fail: what the user would have seen.
afterEach(async (t) => {
  if (session) await shot(`last-${t.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}`).catch(() => {});
});

async function exec(script, args = []) {
  return wd("POST", s("/execute/sync"), { script, args });
}

async function click(el) {
  await wd("POST", s(`/element/${el}/click`), {});
}

async function type(css, text) {
  const el = await find(css);
  await wd("POST", s(`/element/${el}/clear`), {});
  await wd("POST", s(`/element/${el}/value`), { text });
  // A re-render between the clear and the keystrokes can put the old value back (the
  // field is controlled): then set it the way an input event would.
  const now = await exec("return document.querySelector(arguments[0]).value", [css]);
  if (now !== text) await setValue(css, text);
}

/** Sets a control's value the way a user's input would (sliders and selects included). */
async function setValue(css, value, event = "input") {
  await find(css);
  await exec(
    `const el = document.querySelector(arguments[0]);
     const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype
       : el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
     Object.getOwnPropertyDescriptor(proto, "value").set.call(el, arguments[1]);
     el.dispatchEvent(new Event(arguments[2], { bubbles: true }));`,
    [css, value, event],
  );
}

async function textOf(css, timeoutMs) {
  return wd("GET", s(`/element/${await find(css, timeoutMs)}/text`));
}

/** The cells' text of each row matching `css` (WebKit runs a row's cells together). */
async function rows(css) {
  await find(css);
  return exec("return [...document.querySelectorAll(arguments[0])].map((r) => [...r.cells].map((c) => c.textContent.trim()))", [css]);
}

async function view(name) {
  await click(await findByText("nav button", name));
}

/** Waits until `css`'s text matches `re`. */
async function waitText(css, re, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const t = await textOf(css, timeoutMs).catch(() => "");
    if (re.test(t)) return t;
    if (Date.now() > end) throw new Error(`${css} never matched ${re}; last text: ${t}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test("the sample model opens in one click and is inspected", async () => {
  await shot("models-empty");
  await wd("POST", s(`/element/${await findByText("button", "sample")}/click`), {});
  const report = await find("[data-testid=model-report]");
  const text = await wd("GET", s(`/element/${report}/text`));
  assert.match(text, /sample-mlp\.onnx/);
  assert.match(text, /\[batch, 64\]/);
  assert.match(text, /MatMul/);
  assert.match(text, /[0-9a-f]{64}/);
  await shot("models-sample");
});

test("a missing file reads as a sentence, and the window stays usable", async () => {
  const input = await find("#model-path");
  await wd("POST", s(`/element/${input}/clear`), {});
  await wd("POST", s(`/element/${input}/value`), { text: "/nonexistent/model.onnx" });
  await wd("POST", s(`/element/${await findByText("button", "Inspect")}/click`), {});
  const alert = await find("[role=alert]");
  assert.match(await wd("GET", s(`/element/${alert}/text`)), /no such file/);
  await shot("models-error");
});

test("first paint and the 100,000-sample chart are measured", async () => {
  perf.first_paint_ms = await exec("return window.assayPerf.firstPaintMs");
  const times = [];
  for (let i = 0; i < 5; i++) {
    times.push(await wd("POST", s("/execute/async"), { script: "window.assayPerf.chartBenchmark(100000).then(arguments[0])", args: [] }));
  }
  times.sort((a, b) => a - b);
  perf.chart_100k_ms_median = times[2];
  perf.chart_100k_ms_all = times;
  assert.ok(times.every((t) => t > 0), `chart times ${times}`);
});

test("the sample model is benchmarked, with live progress, results and charts", async () => {
  await click(await findByText("button", "sample"));
  await find("[data-testid=model-report]");
  await view("Benchmark");
  await type("#bench-batch", "1,4");
  // One intra-op thread leaves the second core of a 2-core CI machine to the window, so the
  // stall figure measures the console, not the benchmark competing with it for CPU.
  await type("#bench-threads", "1");
  await type("#bench-duration", "1s");
  await exec("window.assayPerf.resetStalls()");
  await click(await findByText("button", "Run benchmark"));
  // The live chart appears while the worker still runs.
  await find(".chart canvas", 30000);
  await shot("benchmark-running");
  // The job and its live chart survive a visit to another view.
  await view("Runs");
  await view("Benchmark");
  const results = await waitText("[data-testid=bench-results]", /run [0-9a-f]{8}/, 120000);
  perf.benchmark_stalls = await exec("return window.assayPerf.stalls");
  assert.match(results, /cpu/);
  assert.match(results, /\[[0-9.]+ ms–[0-9.]+ ms\]/, "p50 with its confidence interval");
  const rows = await wd("POST", s("/elements"), { using: "css selector", value: "[data-testid=bench-results] tbody tr" });
  assert.equal(rows.length, 2, "one row per batch size");
  await click(await find('[data-testid=bench-results] tbody tr:first-child button[aria-label^="Chart samples"]'));
  const charted = await waitText("main", /Every measured inference of cpu · batch 1 · 1 stream\(s\) \([0-9,]+ samples\)/);
  const count = Number(charted.match(/\(([0-9,]+) samples\)/)[1].replaceAll(",", ""));
  // The chart holds every sample of the row: as many as the results table counted.
  const counted = Number((await textOf("[data-testid=bench-results] tbody tr:first-child td:nth-child(4)")).replaceAll(",", ""));
  assert.ok(count > 0 && count === counted, `charted ${count} samples, the row counted ${counted}`);
  await shot("benchmark");
});

test("a benchmark can be cancelled, and the console stays usable", async () => {
  await type("#bench-duration", "60s");
  await click(await findByText("button", "Run benchmark"));
  await click(await findByText("button", "Cancel", 30000));
  await waitText("main", /cancelled; nothing was recorded/, 30000);
  await type("#bench-duration", "1s");
});

test("the profile shows the costliest frame of the flame graph", async () => {
  await view("Profile");
  await click(await findByText("form button", "Profile"));
  const costliest = await waitText("[data-testid=costliest-frame]", /Costliest frame/, 120000);
  const name = costliest.match(/Costliest frame: (\S+)/)[1];
  // The costliest frame is the top row of the operator table, sorted by time per inference.
  const top = await textOf("[data-testid=operator-table] tbody tr:first-child td:first-child");
  assert.ok(top.replaceAll("/", ";").endsWith(name), `top operator ${top}, costliest frame ${name}`);
  const frames = await wd("POST", s("/elements"), { using: "css selector", value: "[data-testid=flame-frame]" });
  assert.ok(frames.length >= 3, `${frames.length} frames`);
  await shot("profile");
  // Zoom into it, then search.
  await click(await findByText("[data-testid=costliest-frame] button", "Zoom"));
  await find("[data-testid=flame-frame].costliest");
  await type("#flame-search", name);
  await waitText(".flame", /% of the kernel time matches/);
  await find("[data-testid=timeline] .span");
  await shot("profile-zoomed-search");
  // The profile's trace opens in the native viewer: a process of its own, on this display.
  await click(await findByText("button", "Open the trace in the native viewer"));
  try {
    await findByText("[role=status]", "Opened in its own window", 20000);
  } catch (e) {
    await shot("profile-trace-viewer-failed");
    const alerts = await wd("POST", s("/elements"), { using: "css selector", value: "[role=alert]" });
    const said = await Promise.all(alerts.map((a) => wd("GET", s(`/element/${id(a)}/text`))));
    throw new Error(`the viewer did not open: ${said.join(" | ") || e.message}`);
  }
  const viewers = () => {
    try {
      return execFileSync("pgrep", ["-f", "assay-viewer.*trace.json"]).toString().trim();
    } catch {
      return "";
    }
  };
  assert.ok(viewers(), "no assay-viewer process on the trace");
  execFileSync("pkill", ["-f", "assay-viewer.*trace.json"]);
});

test("a comparison against a perturbed copy finds the changed node, on screen and in the profile", async () => {
  await view("Accuracy");
  const perturbed = join(root, ".cache/fixtures/sample-mlp_perturbed.onnx");
  // Cancel first: a comparison over many sets stops when asked, and the view stays usable.
  await type("#accuracy-candidates", perturbed);
  await type("#accuracy-sets", "5000000");
  await click(await findByText("form button", "Compare"));
  await waitText("section[aria-labelledby=accuracy-title] [aria-live]", /input set \d+ of 5000000/, 60000);
  await click(await findByText("form button", "Cancel"));
  await waitText("section[aria-labelledby=accuracy-title] [role=status]", /cancelled/);

  // The sample model against a copy with one bias of /encoder/layer.1/fc/Add raised by 1.0.
  await type("#accuracy-sets", "8");
  await click(await findByText("form button", "Compare"));
  await waitText("[data-testid=accuracy-verdict]", /outside tolerance and above/, 120000);
  assert.equal(await textOf("[data-testid=divergence-node]"), "/encoder/layer.1/fc/Add");
  assert.match(await textOf("[data-testid=noise-floor]"), /^deterministic/);
  const [name, verdict, maxAbs] = (await rows("[data-testid=accuracy-outputs] tbody tr"))[0];
  assert.deepEqual([name, verdict], ["logits", "FAIL"]);
  assert.ok(Number(maxAbs) > 0.01, `max abs ${maxAbs}`);
  // The divergence names the changed weight with its error, and the output it moved.
  const tensors = await rows("[data-testid=divergence] tbody tr");
  const weight = tensors.find((r) => r[0] === "encoder.layer.1.fc.bias");
  assert.deepEqual(weight?.slice(1, 3), ["weight", "1.000"], JSON.stringify(tensors));
  const moved = tensors.find((r) => r[0] === "/encoder/layer.1/fc/Add_output_0");
  assert.deepEqual(moved?.slice(1, 3), ["activation", "1.000"], JSON.stringify(tensors));
  const outside = await wd("POST", s("/elements"), { using: "css selector", value: "[data-testid=error-histogram] rect.outside" });
  assert.ok(outside.length >= 1, "the error distribution has columns beyond the tolerance");
  await shot("accuracy");

  // The node, linked to its row in the profile's operator table.
  await click(await findByText("[data-testid=divergence] button", "Show in the profile"));
  await waitText("[data-testid=profile-focus]", /\/encoder\/layer\.1\/fc\/Add/);
  // Node names are the original graph's only with optimizations off: the link turns them off.
  const unoptimized = "return document.querySelector('section[aria-labelledby=profile-title] input[type=checkbox]').checked";
  for (let i = 0; i < 50 && !(await exec(unoptimized)); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await exec(unoptimized), true);
  await click(await findByText("form button", "Profile"));
  await waitText("[data-testid=profile-focus]", /picked out in the operator table/, 120000);
  assert.equal(await textOf("[data-testid=operator-table] tr.picked td:first-child"), "/encoder/layer.1/fc/Add");
  await shot("accuracy-node-in-profile");
});

test("two runs are compared side by side", async () => {
  await view("Runs");
  await find("[data-testid=runs-table] input[type=checkbox]");
  const boxes = await wd("POST", s("/elements"), { using: "css selector", value: "[data-testid=runs-table] input[type=checkbox]" });
  assert.ok(boxes.length >= 2, `${boxes.length} runs`);
  await click(id(boxes[0]));
  await click(id(boxes[1]));
  await click(await findByText("button", "Compare"));
  const cmp = await waitText("[data-testid=comparison]", /against run/);
  assert.match(cmp, /faster|slower|no significant difference/);
  await shot("runs");
});

async function createAndSign(version, name = "sample-mlp") {
  await view("Releases");
  await type("#release-version", version);
  await click(await findByText("button", "Create release"));
  const card = `[data-release="${name}-${version}"]`;
  await find(card, 60000);
  await click(await findByText(`${card} button`, "Sign"));
  await type(`#pass-${name}-${version.replaceAll(".", "\\.")}`, "correct horse battery");
  await click(await findByText(`${card} button[type=submit]`, "Sign"));
  // The green badge, not just the word: a failed verify turns it red.
  await find(`${card} .badge.ok`, 60000);
  assert.equal(await textOf(`${card} .badge.ok`), "signed");
  await click(await findByText(`${card} button`, "Verify"));
  await waitText(card, /Verified: \d+ files/);
}

test("a release is created with evidence, signed and verified", async () => {
  await view("Releases");
  await type("#key-name", "e2e");
  await type("#key-pass", "correct horse battery");
  await type("#key-confirm", "correct horse battery");
  await click(await findByText("button", "Generate key"));
  await waitText("[data-testid=keys-table]", /e2e/, 30000);
  // The runs that can be evidence load after the view shows: wait for the first one.
  await find("#release-evidence option:nth-child(2)");
  await setValue("#release-evidence", await exec("return document.querySelector('#release-evidence option:nth-child(2)').value"), "change");
  await createAndSign("1.0.0");
  // The signed metadata's evidence reaches the card typed: the run and its figures.
  await waitText("[data-testid=release-evidence]", /Evidence: run [0-9a-f]{8}, cpu batch 1: p50 [0-9.]+ ms, p99 [0-9.]+ ms, [1-9][0-9]* inferences\/s/, 10000);
  await shot("releases");
});

test("the release is pushed to a real gateway, listed, and a canary is set", async () => {
  // A gateway on 127.0.0.1 that trusts the key the console just made.
  const trusted = join(home, "trusted");
  mkdirSync(trusted, { recursive: true });
  copyFileSync(join(home, "data/assay/keys/e2e.pub.pem"), join(trusted, "e2e.pub.pem"));
  writeFileSync(join(home, "admin.token"), "e2e-admin-token-0123456789");
  const log = join(home, "gateway.log");
  gateway = spawn(GATEWAY, ["--listen", "127.0.0.1:0", "--data", join(home, "gw"), "--trusted-keys", trusted, "--token-file", join(home, "admin.token")], {
    env: Object.fromEntries(Object.entries(env).filter(([k]) => k !== "ASSAY_GATEWAY_TOKEN")),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const url = await new Promise((ok, fail) => {
    gateway.stderr.on("data", (d) => {
      stderr += d;
      const m = stderr.match(/listening on (http:\/\/[0-9.]+:\d+)\s/);
      if (m) ok(m[1]);
    });
    gateway.on("exit", () => fail(new Error(`the gateway exited: ${stderr}`)));
  });
  writeFileSync(log, stderr);

  await view("Gateways");
  await type("#gw-name", "local");
  await type("#gw-url", url);
  await type("#gw-token", "e2e-admin-token-0123456789");
  await click(await findByText("button", "Save gateway"));
  await waitText("[data-testid=gateway-health]", /ready/, 30000);
  await click(await findByText("[data-testid=gateway-panel] button", "Push"));
  await waitText("[data-testid=gateway-model]", /stable 1\.0\.0/, 60000);

  await createAndSign("1.1.0");
  await view("Gateways");
  const pick = "return [...document.querySelectorAll('#push-release option')].find(o => o.text.includes('1.1.0'))?.value ?? null";
  let value = null;
  for (let i = 0; i < 100 && !value; i++) {
    value = await exec(pick);
    if (!value) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(value, "release 1.1.0 is offered for pushing");
  await setValue("#push-release", value, "change");
  await click(await findByText("[data-testid=gateway-panel] button", "Push"));
  await waitText("[data-testid=gateway-model]", /1\.1\.0/, 60000);
  // First as a shadow: all of the stable's traffic is run again on 1.1.0 and compared;
  // clients keep getting 1.0.0's answers.
  await setValue("#canary-percent-sample-mlp", "100");
  await click(await findByText("button", "Set shadow"));
  await waitText("[data-testid=gateway-model]", /shadow 1\.1\.0 at 100%/, 30000);
  {
    const body = JSON.stringify({ inputs: [{ name: "input", shape: [1, 64], datatype: "FP32", data: Array(64).fill(0.25) }] });
    for (let i = 0; i < 20; i++) {
      const a = await fetch(`${url}/v2/models/sample-mlp/infer`, { method: "POST", headers: { "content-type": "application/json" }, body });
      assert.equal(a.status, 200, await a.text());
      assert.equal(a.headers.get("x-assay-model-version"), "1.0.0");
    }
  }
  await waitText("[data-testid=shadow-report]", /100\.0% of 20 compared requests agree; 0 shadow errors, 0 dropped of 20 mirrored/, 30000);
  await shot("gateways-shadow");
  // Then as a canary: the shadow moves on to answering a share of clients.
  await setValue("#canary-percent-sample-mlp", "25");
  await click(await findByText("button", "Set canary"));
  await waitText("[data-testid=gateway-model]", /canary 1\.1\.0 at 25%/, 30000);

  // Traffic through the gateway shows up in the live metrics, by version.
  const body = JSON.stringify({ inputs: [{ name: "input", shape: [1, 64], datatype: "FP32", data: Array(64).fill(0.5) }] });
  let pumping = true;
  let served = 0;
  const pump = (async () => {
    while (pumping) {
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => fetch(`${url}/v2/models/sample-mlp/infer`, { method: "POST", headers: { "content-type": "application/json" }, body })),
      );
      for (const a of answers) {
        assert.equal(a.status, 200, await a.text());
        await a.arrayBuffer().catch(() => {});
        served++;
      }
    }
  })();
  try {
    const rates = "return Object.fromEntries([...document.querySelectorAll('[data-testid=traffic-now] tbody tr')].map((tr) => [tr.cells[0].textContent, Number(tr.cells[1].textContent)]))";
    let seen = {};
    for (let i = 0; i < 120 && !(seen["sample-mlp@1.0.0"] > 0 && seen["sample-mlp@1.1.0"] > 0); i++) {
      await new Promise((r) => setTimeout(r, 250));
      seen = await exec(rates);
    }
    assert.ok(seen["sample-mlp@1.0.0"] > 0 && seen["sample-mlp@1.1.0"] > 0, JSON.stringify(seen));
    // The canary's share of the charted traffic is near its 25%.
    const share = seen["sample-mlp@1.1.0"] / (seen["sample-mlp@1.0.0"] + seen["sample-mlp@1.1.0"]);
    assert.ok(share > 0.1 && share < 0.4, `canary share ${share}`);
    await shot("gateways-traffic");
    // The gateway's own CPU profile under this traffic, as a flame graph of its threads.
    await setValue("#gw-profile-seconds", "2");
    await click(await findByText("[data-testid=gateway-profile] button", "Profile the gateway"));
    await waitText("[data-testid=gateway-profile]", /\d+ samples over 2 s/, 60000);
    await waitText("[data-testid=gateway-profile] [data-testid=costliest-frame]", /Costliest frame: .+ samples/, 10000);
    const frames = await exec("return [...document.querySelectorAll('[data-testid=gateway-profile] [data-testid=flame-frame]')].map((f) => f.dataset.name)");
    assert.ok(frames.some((n) => n.includes("assay_gateway")), `no gateway frame in ${frames.slice(0, 40).join(" | ")}`);
    await exec("document.querySelector('[data-testid=gateway-profile]').scrollIntoView()");
    await shot("gateways-cpu-profile");
  } finally {
    pumping = false;
    await pump;
  }
  assert.ok(served > 0);

  // A load test from the console: `assay load` in the worker against this gateway's model,
  // charted while it runs; its requests are ones the gateway really answered.
  const answered = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return text.split("\n").filter((l) => l.startsWith('assay_request_success_total{model="sample-mlp"')).reduce((n, l) => n + Number(l.split(" ").pop()), 0);
  };
  const before = await answered();
  await setValue("#load-sample-mlp-concurrency", "1,4");
  await setValue("#load-sample-mlp-duration", "2s");
  await click(await findByText("[data-testid=load-test] button", "Run load test"));
  await waitText("[data-testid=load-test]", /Load test progress|in flight/, 30000);
  await waitText("[data-testid=load-results]", /saved as run [0-9a-f]{8}/, 90000);
  const loadRows = await rows("[data-testid=load-row]");
  assert.deepEqual(loadRows.map((r) => r[0]), ["1 in flight", "4 in flight"]);
  let measured = 0;
  for (const r of loadRows) {
    const requests = Number(r[1].replace(/,/g, ""));
    assert.ok(requests > 100, `a 2 s level answered only ${requests}: ${r}`);
    assert.equal(r[2], "0", `errors: ${r}`);
    assert.match(r[5], /^\d+ req\/s$/);
    measured += requests;
  }
  assert.ok((await answered()) - before >= measured, "every measured request was answered by the gateway");
  const charts = await exec("return document.querySelectorAll('[data-testid=load-test] .chart').length");
  assert.equal(charts, 2, "the live throughput and latency charts");
  await exec("document.querySelector('[data-testid=load-test]').scrollIntoView()");
  await shot("gateways-load-test");

  // The gateway itself, asked directly, agrees.
  const models = await (await fetch(`${url}/admin/v1/models`, { headers: { authorization: "Bearer e2e-admin-token-0123456789" } })).json();
  const m = models.models.find((x) => x.name === "sample-mlp");
  assert.equal(m.stable, "1.0.0");
  assert.equal(m.canary.version, "1.1.0");
  assert.equal(m.canary.percent, 25);
  assert.equal(m.shadow, null, "the shadow moved on to the canary");
  await shot("gateways");
});

/** A gateway process on a free port; resolves to its URL once it listens. */
function startGateway(args) {
  const p = spawn(GATEWAY, ["--listen", "127.0.0.1:0", ...args], {
    env: Object.fromEntries(Object.entries(env).filter(([k]) => k !== "ASSAY_GATEWAY_TOKEN")),
    stdio: ["ignore", "ignore", "pipe"],
  });
  fleetProcs.push(p);
  let stderr = "";
  return new Promise((ok, fail) => {
    p.stderr.on("data", (d) => {
      stderr += d;
      const m = stderr.match(/listening on (http:\/\/[0-9.]+:\d+)\s/);
      if (m) ok(m[1]);
    });
    p.on("exit", () => fail(new Error(`the gateway exited: ${stderr}`)));
  });
}

test("a release goes from a registry to a fleet of two gateways, wave by wave, in the Fleet view", async () => {
  // A real OCI registry (Debian's docker-registry) on a free loopback port.
  const dir = join(home, "registry");
  mkdirSync(dir, { recursive: true });
  const port = await new Promise((ok) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const p = srv.address().port;
      srv.close(() => ok(p));
    });
  });
  writeFileSync(join(dir, "config.yml"), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  fleetProcs.push(spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: "ignore" }));
  for (let i = 0; ; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false);
    if (up) break;
    assert.ok(i < 200, "the registry did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  // The console's signed releases, pushed with the CLI as a release manager would.
  const repo = `oci://127.0.0.1:${port}/e2e/sample-mlp`;
  for (const v of ["1.0.0", "1.1.0"]) {
    const rel = execFileSync("find", [home, "-type", "d", "-name", `sample-mlp-${v}`]).toString().trim().split("\n")[0];
    assert.ok(rel, `the console's release ${v}`);
    const out = JSON.parse(execFileSync(WORKER, ["push", rel, "--signature", `${rel}.sig`, `${repo}:${v}`, "--plain-http", "--json"], { env }));
    assert.equal(out.files, 2);
  }
  // Two gateways that trust the console's key and pull from the registry, both on 1.0.0.
  const config = join(home, "fleet-gateway.toml");
  writeFileSync(config, `[registry]\nhost = "127.0.0.1:${port}"\nplain_http = true\n`);
  const urls = [];
  for (const n of ["east", "west"]) {
    const url = await startGateway(["--config", config, "--data", join(home, `fleet-${n}`), "--trusted-keys", join(home, "trusted"), "--token-file", join(home, "admin.token")]);
    execFileSync(WORKER, ["gateway", "pull", "sample-mlp", `${repo}:1.0.0`, "--gateway", url, "--token-file", join(home, "admin.token")], { env });
    urls.push([n, url]);
  }
  const fleet = join(home, "fleet.toml");
  writeFileSync(
    fleet,
    `name = "e2e"\n[registry]\nplain_http = true\n[rollout]\nwaves = ["1", "100%"]\ncanary_percent = 50\nhold_s = 1\npoll_ms = 200\n` +
      urls.map(([n, u]) => `[[gateway]]\nname = "${n}"\nurl = "${u}"\ntoken_file = "${join(home, "admin.token")}"\nlabels = { region = "${n}" }\n`).join(""),
  );

  await view("Fleet");
  await type("#fleet-file", fleet);
  await type("#fleet-model", "sample-mlp");
  await click(await findByText("button", "Refresh"));
  await waitText("[data-testid=fleet-gateways]", /east.*ready.*1\.0\.0.*west.*ready.*1\.0\.0/s, 30000);
  await type("#fleet-reference", `${repo}:1.1.0`);
  await click(await findByText("button", "Roll out"));
  await waitText("[data-testid=rollout-status]", /^done$/, 90000);
  const waves = await exec("return [...document.querySelectorAll('[data-testid=fleet-wave]')].map(w => w.textContent)");
  assert.equal(waves.length, 2);
  assert.match(waves[0], /east: promoted/);
  assert.match(waves[1], /west: promoted/);
  // The table, refreshed from the gateways themselves, shows both on the new version.
  await waitText("[data-testid=fleet-gateways]", /east.*1\.1\.0.*west.*1\.1\.0/s, 30000);
  for (const [, url] of urls) {
    const st = await (await fetch(`${url}/admin/v1/status`, { headers: { authorization: "Bearer e2e-admin-token-0123456789" } })).json();
    assert.equal(st.models["sample-mlp"].stable, "1.1.0");
  }
  await shot("fleet");
});

// A real third-party detector (YOLOv8n, from the nudenet wheel) with symbolic batch, height
// and width: the forms offer its dimensions, and it goes from benchmark to a serving gateway.
const DETECTOR = join(root, ".cache/models/nudenet-3.4.2/320n.onnx");

test("a detector with symbolic height and width: benchmark, profile, release, push and serve", async () => {
  await view("Models");
  await type("#model-path", DETECTOR);
  await click(await findByText("button", "Inspect"));
  await waitText("[data-testid=model-report]", /320n\.onnx/);
  await view("Benchmark");
  // One field per dimension, pre-filled from the model's own metadata (imgsz).
  await waitText("main", /suggested 320 \(from the model's metadata/);
  assert.equal(await exec("return document.querySelector('#bench-dim-height').value"), "320");
  assert.equal(await exec("return document.querySelector('#bench-dim-width').value"), "320");
  await type("#bench-batch", "1");
  await type("#bench-duration", "1s");
  await type("#bench-iterations", "5");
  await shot("benchmark-detector-form");
  await click(await findByText("button", "Run benchmark"));
  const results = await waitText("[data-testid=bench-results]", /run [0-9a-f]{8}/, 120000);
  assert.match(results, /cpu/);
  await click(await find('[data-testid=bench-results] tbody tr:first-child button[aria-label^="Chart samples"]'));
  const charted = await waitText("main", /Every measured inference of cpu · batch 1 · 1 stream\(s\) \([0-9,]+ samples\)/);
  const n = Number(charted.match(/\(([0-9,]+) samples\)/)[1].replaceAll(",", ""));
  assert.ok(n >= 5, `${n} samples charted`);
  await shot("benchmark-detector");

  await view("Profile");
  await find("#profile-dim-height");
  assert.equal(await exec("return document.querySelector('#profile-dim-height').value"), "320");
  await type("#profile-iterations", "5");
  await click(await findByText("form button", "Profile"));
  await waitText("[data-testid=costliest-frame]", /Costliest frame/, 180000);
  await shot("profile-detector");

  await view("Releases");
  // The name follows the open model, and the form says which file goes in.
  assert.equal(await exec("return document.querySelector('#release-name').value"), "320n");
  assert.match(await textOf("[data-testid=release-model]"), /320n\.onnx/);
  // The runs that can be evidence load after the view shows: wait for the first one.
  await find("#release-evidence option:nth-child(2)");
  await setValue("#release-evidence", await exec("return document.querySelector('#release-evidence option:nth-child(2)').value"), "change");
  await createAndSign("1.0.0", "320n");
  const card = await textOf('[data-release="320n-1.0.0"]');
  assert.match(card, /Model 320n\.onnx/);
  assert.match(card, /serving shapes batch=1 height=320 width=320/);
  await shot("releases-detector");

  await view("Gateways");
  const pick = "return [...document.querySelectorAll('#push-release option')].find(o => o.text.includes('320n 1.0.0'))?.value ?? null";
  let value = null;
  for (let i = 0; i < 100 && !value; i++) {
    value = await exec(pick);
    if (!value) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(value, "the detector's release is offered for pushing");
  await setValue("#push-release", value, "change");
  await click(await findByText("[data-testid=gateway-panel] button", "Push"));
  await waitText('[data-model="320n"]', /stable 1\.0\.0/, 90000);
  const url = await exec("return document.querySelector('[data-testid=gateway-panel] h2 .mono').textContent");
  const body = JSON.stringify({ inputs: [{ name: "images", shape: [1, 3, 320, 320], datatype: "FP32", data: Array(3 * 320 * 320).fill(0) }] });
  const answer = await fetch(`${url}/v2/models/320n/infer`, { method: "POST", headers: { "content-type": "application/json" }, body });
  assert.equal(answer.status, 200, await answer.text());
  await shot("gateways-detector");
});

test("help lists the views and shortcuts, and About names the versions", async () => {
  await exec("document.activeElement?.blur()");
  await wd("POST", s("/actions"), { actions: [{ type: "key", id: "kb", actions: [{ type: "keyDown", value: "\uE031" }, { type: "keyUp", value: "\uE031" }] }] });
  // The console's version and the runtime's arrive separately: wait for both.
  const about = await waitText("[data-testid=about]", /Assay console \d+\.\d+\.\d+.*ONNX Runtime 1\.31/, 30000);
  assert.match(about, /Assay console \d+\.\d+\.\d+/);
  assert.match(await textOf("dialog.help"), /Ctrl\+7/);
  await shot("help");
  await click(await findByText("dialog.help button", "Close"));
});

test("settings show the runtime, hardware, data locations and theme", async () => {
  await view("Settings");
  await waitText("main", /Active: ONNX Runtime 1\.31/, 30000);
  const dirs = await textOf("[data-testid=data-locations]");
  assert.ok(dirs.includes(join(home, "data")), dirs);
  await shot("settings");
  await click(await findByText("label", "Dark"));
  await shot("settings-dark");
  await click(await findByText("label", "Follow the OS"));
});
