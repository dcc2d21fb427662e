// End to end in the real webview: tauri-driver drives WebKitWebDriver against the built
// `assay-console` (a custom-protocol build), under Xvfb. Plain WebDriver over fetch.
//
// usage: node ui/e2e/console.e2e.mjs   (APP, DRIVER and SHOTS may be set; see below)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");
const APP = process.env.APP ?? join(root, "target/debug/assay-console");
const DRIVER = process.env.DRIVER ?? "tauri-driver";
const SHOTS = process.env.SHOTS ?? join(root, "target/e2e-screenshots");
const PORT = 4444 + (process.pid % 1000);
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

before(async () => {
  driver = spawn(DRIVER, ["--port", String(PORT)], { stdio: "ignore" });
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
});

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

test("settings list the installed ONNX Runtime", async () => {
  await wd("POST", s(`/element/${await findByText("nav button", "Settings")}/click`), {});
  await find("#settings-title");
  const main = await find("main");
  assert.match(await wd("GET", s(`/element/${main}/text`)), /ONNX Runtime/);
  await shot("settings");
});
