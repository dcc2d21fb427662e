// The forms a first real use found wanting: dimensions offered and sent, the run estimate,
// settings that survive a relaunch, release names that follow the model, confirmations,
// failed loads shown with a retry, and the one benign browser warning.
import { afterEach, describe, expect, it } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { button, settle, until } from "./test-utils";
import type { FreeDim, ModelReport, ReleaseView } from "./api";
import { isBenign } from "./errors";
import { ModelContext } from "./model";
import { Benchmark, estimate } from "./views/Benchmark";
import { Gateways, parseDims } from "./views/Gateways";
import { Releases } from "./views/Releases";
import { LoadTest, levels } from "./views/LoadTest";
import { inFieldWords } from "./InputFields";

function setInput(el: HTMLInputElement, value: string) {
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
}

const dims: FreeDim[] = [
  { handle: "batch", named: true, uses: [{ input: "images", axis: 0 }], batch: true, value: 1, source: "default", reason: "batch" },
  { handle: "height", named: true, uses: [{ input: "images", axis: 2 }], batch: false, value: 320, source: "metadata", reason: "metadata 'imgsz'" },
  { handle: "width", named: true, uses: [{ input: "images", axis: 3 }], batch: false, value: 96, source: "remembered", reason: "last run of this model" },
];

const report = (path: string) =>
  ({ file: { path, size_bytes: 1, sha256: "cd".repeat(32) }, free_dims: dims }) as unknown as ModelReport;

function mount(el: preact.JSX.Element, path: string | null = "/m/det.onnx") {
  const root = document.createElement("div");
  document.body.appendChild(root);
  const value = { path, report: path ? report(path) : null, setPath: () => {} };
  render(<ModelContext.Provider value={value}>{el}</ModelContext.Provider>, root);
  return { root, rerender: (p: string) => render(<ModelContext.Provider value={{ ...value, path: p, report: report(p) }}>{el}</ModelContext.Provider>, root) };
}

afterEach(() => {
  clearMocks();
  document.body.innerHTML = "";
  localStorage.clear();
});

describe("Benchmark", () => {
  it("offers one field per dynamic dimension, pre-filled with its suggestion, and sends them", async () => {
    const jobs: any[] = [];
    mockIPC((cmd, args: any) => {
      if (cmd === "model_dims") {
        expect(args).toMatchObject({ path: "/m/det.onnx", sha256: "cd".repeat(32) });
        return dims;
      }
      if (cmd === "start_job") {
        jobs.push(args.spec);
        return { id: 1, output: null };
      }
      throw new Error(cmd);
    });
    const { root } = mount(<Benchmark />);
    await until(root, "#bench-dim-height");
    // The batch is the Batch sizes field, not a dimension field.
    expect(root.querySelector("#bench-dim-batch")).toBeNull();
    expect(root.querySelector<HTMLInputElement>("#bench-dim-height")!.value).toBe("320");
    expect(root.textContent).toContain("suggested 320 (from the model's metadata: metadata 'imgsz')");
    expect(root.textContent).toContain("suggested 96 (last used for this model");
    await act(() => setInput(root.querySelector<HTMLInputElement>("#bench-dim-width")!, "640"));
    await act(() => setInput(root.querySelector<HTMLInputElement>("#bench-fills")!, "sr=16000"));
    await act(() => button(root, "Run benchmark").click());
    await settle();
    expect(jobs).toHaveLength(1);
    expect(jobs[0].run).toMatchObject({ dims: ["height=320", "width=640"], fills: ["sr=16000"], iterations: 10, duration: "2s" });
    // The form survives a relaunch.
    expect(JSON.parse(localStorage.getItem("assay.bench-form")!)).toMatchObject({ iterations: "10", duration: "2s" });
  });

  it("refuses a bad dimension by its field name, before any job starts", async () => {
    let started = false;
    mockIPC((cmd) => {
      if (cmd === "model_dims") return dims;
      if (cmd === "start_job") started = true;
      return null;
    });
    const { root } = mount(<Benchmark />);
    await until(root, "#bench-dim-height");
    await act(() => setInput(root.querySelector<HTMLInputElement>("#bench-dim-height")!, "tall"));
    await act(() => button(root, "Run benchmark").click());
    await settle();
    expect(started).toBe(false);
    expect(root.querySelector("[role=alert]")!.textContent).toContain("Dimension “height” must be a whole number");
  });

  it("estimates the run from its settings and restores the last form", async () => {
    expect(estimate({ provider: "cpu", threads: "", batch: "1,8", concurrency: "1", warmup: "10", duration: "2s", iterations: "10", check: "" }))
      .toMatch(/^2 configurations × \(≥ 1 s warmup \+ 2s\) ≈ 6 s; longer only if 10 inferences take more than 2s$/);
    localStorage.setItem("assay.bench-form", JSON.stringify({ duration: "5s", iterations: "3" }));
    mockIPC((cmd) => (cmd === "model_dims" ? dims : null));
    const { root } = mount(<Benchmark />);
    await settle();
    expect(root.querySelector<HTMLInputElement>("#bench-duration")!.value).toBe("5s");
    expect(root.querySelector<HTMLInputElement>("#bench-iterations")!.value).toBe("3");
  });

  it("speaks the form's words in errors from the worker", () => {
    const e = inFieldWords({ kind: "usage", message: "the model's dynamic dimensions height (input images) have no value; bind them with --dim height=320 (suggested: height: spatial axis), or give whole shapes with --shape INPUT=..." });
    expect(e.message).not.toMatch(/--/);
    expect(e.message).toContain("“height” = 320");
    expect(e.message).toContain("Whole shapes");
    // A value the worker's argument parser refused names the field, not the flag.
    const bad = inFieldWords({ kind: "usage", message: "invalid value 'x' for '--batch <LIST>': invalid digit found in string" });
    expect(bad.message).toBe("invalid value 'x' for 'Batch sizes': invalid digit found in string");
  });
});

describe("Releases", () => {
  it("names the release after the open model, even when another model was open before", async () => {
    mockIPC((cmd) => {
      if (cmd === "list_releases" || cmd === "list_runs") return [];
      if (cmd === "list_keys") return { dir: "/k", keys: [] };
      throw new Error(cmd);
    });
    const { root, rerender } = mount(<Releases />, "/m/sample-mlp.onnx");
    await settle();
    expect(root.querySelector<HTMLInputElement>("#release-name")!.value).toBe("sample-mlp");
    await act(() => rerender("/ocr/rec.onnx"));
    await settle();
    expect(root.querySelector<HTMLInputElement>("#release-name")!.value).toBe("rec");
    expect(root.querySelector("[data-testid=release-model]")!.textContent).toBe("/ocr/rec.onnx");
  });
});

describe("Release cards", () => {
  it("take the green badge away when a verify fails, and show why", async () => {
    let verifies = 0;
    mockIPC((cmd) => {
      if (cmd === "list_releases") {
        const release: ReleaseView = {
          dir: "/r/det-1.0.0", name: "det", version: "1.0.0", signature: "/r/det-1.0.0.sig",
          metadata: {
            schema: "assay.release/1", name: "det", version: "1.0.0", created_at: 1, notes: null,
            model: { file: "320n.onnx", sha256: "ab".repeat(32), size_bytes: 10, producer: "", opsets: [] },
            signature: { inputs: [], outputs: [] },
            serving: { dims: { height: 320 }, sources: { height: "given" }, fills: {} },
            files: ["320n.onnx"], evidence: null, accuracy: null,
          },
        };
        return [release];
      }
      if (cmd === "list_keys") return { dir: "/k", keys: [{ name: "release", hint: "h", has_private: true, storage: "file", public_path: "/k/release.pub.pem" }] };
      if (cmd === "list_runs") return [];
      if (cmd === "verify_release") {
        verifies++;
        throw { kind: "verification", message: "digest mismatch: 320n.onnx" };
      }
      throw new Error(cmd);
    });
    const { root } = mount(<Releases />);
    await until(root, "[data-testid=release]");
    const card = root.querySelector("[data-testid=release]")!;
    expect(card.querySelector("[data-testid=release-file]")!.textContent).toBe("320n.onnx");
    expect(card.textContent).toContain("serving shapes height=320");
    expect(card.querySelector(".badge.ok")!.textContent).toBe("signed");
    await act(() => button(card, "Verify").click());
    await settle();
    expect(verifies).toBe(1);
    expect(card.querySelector(".badge.ok")).toBeNull();
    expect(card.querySelector("[data-testid=verify-failed]")!.textContent).toBe("verification failed");
    expect(card.querySelector("[role=alert]")!.textContent).toContain("digest mismatch");
  });
});

describe("Gateways", () => {
  it("shows why a version did not load, asks before activating it, and retries with other shapes", async () => {
    const controls: any[] = [];
    mockIPC((cmd, args: any) => {
      if (cmd === "list_gateways") return [{ name: "local", url: "http://127.0.0.1:1", ca_cert: null, token_storage: "file" }];
      if (cmd === "list_releases" || cmd === "gateway_metrics") return [];
      if (cmd === "gateway_overview") {
        return {
          status: { ready: true, version: "0.1.0", onnxruntime: "1.31.1", uptime_s: 5, trusted_keys: ["k"] },
          models: [{
            name: "det", stable: null, canary: null, previous: [], ready: false,
            releases: [{
              version: "1.0.0", pushed_at: 1, signer: "k", bytes: 10, files: 2, role: "idle", model_file: "320n.onnx",
              serving_dims: { batch: 1, height: 1, width: 1 }, warm_dims: {},
              load_error: "det 1.0.0 failed to load: the warm-up inference at images=[1,3,1,1] failed: Concat",
            }],
          }],
        };
      }
      if (cmd === "gateway_control") {
        controls.push(args.control);
        return {};
      }
      throw new Error(cmd);
    });
    const { root } = mount(<Gateways />);
    await until(root, "[data-testid=load-error]");
    expect(root.querySelector("[data-testid=load-error]")!.textContent).toContain("images=[1,3,1,1]");
    expect(root.querySelector("[data-testid=gateway-release]")!.textContent).toContain("320n.onnx");
    const retry = root.querySelector<HTMLInputElement>("[data-testid=load-error] input")!;
    expect(retry.value).toBe("batch=1 height=1 width=1");
    await act(() => setInput(retry, "height=320 width=320"));
    await act(() => button(root, "Activate").click());
    expect(controls).toEqual([]);
    await act(() => button(root, "Yes, activate 1.0.0").click());
    await settle();
    expect(controls).toEqual([{ action: "activate", version: "1.0.0", dims: { height: 320, width: 320 } }]);
    expect(() => parseDims("height=tall")).toThrow();
  });
});

describe("Load test", () => {
  it("refuses levels that are not numbers, then starts one load job with the levels and the mode", async () => {
    const jobs: any[] = [];
    mockIPC((cmd, args: any) => {
      if (cmd === "start_job") {
        jobs.push(args.spec);
        return { id: 1, output: null };
      }
      throw new Error(cmd);
    });
    let { root } = mount(<LoadTest gateway="local" model="mlp" />);
    await act(() => setInput(root.querySelector<HTMLInputElement>("#load-mlp-concurrency")!, "1, 4, x"));
    await act(() => button(root, "Run load test").click());
    expect(root.textContent).toContain("Concurrency: “x” is not a whole number above 0");
    expect(jobs).toEqual([]);
    await act(() => setInput(root.querySelector<HTMLInputElement>("#load-mlp-concurrency")!, "1, 4,16"));
    await act(() => button(root, "Run load test").click());
    await settle();
    expect(jobs).toEqual([{ kind: "load", gateway: "local", model: "mlp", concurrency: "1,4,16", rate: undefined, duration: "5s", binary: false }]);
    // While it runs, a second one cannot start.
    expect(button(root, "Run load test").disabled).toBe(true);
    // Open loop: the rate goes instead, and may be fractional.
    document.body.innerHTML = "";
    ({ root } = mount(<LoadTest gateway="local" model="mlp" />));
    const mode = root.querySelector<HTMLSelectElement>("#load-mlp-mode")!;
    await act(() => {
      mode.value = "open";
      mode.dispatchEvent(new Event("change", { bubbles: true }));
    });
    await act(() => setInput(root.querySelector<HTMLInputElement>("#load-mlp-rate")!, "12.5"));
    await act(() => button(root, "Run load test").click());
    await settle();
    expect(jobs[1]).toMatchObject({ kind: "load", concurrency: undefined, rate: "12.5" });
    expect(() => levels("Rate", "0", false)).toThrow();
    expect(levels("Concurrency", " ", true)).toBeUndefined();
  });
});

describe("window errors", () => {
  it("treats only the ResizeObserver loop warning as benign", () => {
    expect(isBenign("ResizeObserver loop completed with undelivered notifications.")).toBe(true);
    expect(isBenign("TypeError: x is undefined")).toBe(false);
  });
});
