import { afterEach, describe, expect, it } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { button, settle, until } from "./test-utils";
import { Runs } from "./views/Runs";
import { Gateways } from "./views/Gateways";
import { Accuracy } from "./views/Accuracy";
import { ModelContext } from "./model";

function mount(el: preact.JSX.Element) {
  const root = document.createElement("div");
  document.body.appendChild(root);
  render(el, root);
  return root;
}

afterEach(() => {
  clearMocks();
  document.body.innerHTML = "";
});

const run = (id: string, created_at: number) => ({
  id, kind: "bench", created_at, model_path: "/m/mlp.onnx", model_sha256: "ab".repeat(32), rows: 1, p50_ms: 1.5, providers: ["cpu"],
});

const change = (a: number, b: number) => ({ a_ms: a, b_ms: b, delta_ms: b - a, delta_pct: (100 * (b - a)) / a, ci95_pct: [1, 3] });

describe("Runs", () => {
  it("compares the two picked runs with the older one as the baseline", async () => {
    const calls: any[] = [];
    mockIPC((cmd, args: any) => {
      calls.push([cmd, args]);
      if (cmd === "list_runs") return [run("bbbb2222", 200), run("aaaa1111", 100)];
      if (cmd === "compare_runs") {
        return {
          comparison: {
            a: { id: args.a, model_sha256: "x", model_path: "" },
            b: { id: args.b, model_sha256: "x", model_path: "" },
            rows: [{ provider: "cpu", batch: 1, concurrency: 1, samples: [100, 100], p50: change(1, 1.02), p99: change(2, 2.1), verdict: "slower" }],
            unmatched: [],
            warnings: [],
          },
          diff_flamegraph_svg: null,
        };
      }
      throw new Error(cmd);
    });
    const root = mount(<Runs />);
    await until(root, "[data-testid=runs-table]");
    const boxes = root.querySelectorAll<HTMLInputElement>("[data-testid=runs-table] input[type=checkbox]");
    expect(boxes.length).toBe(2);
    expect(button(root, "Compare").disabled).toBe(true);
    await act(() => boxes.forEach((b) => b.click()));
    await act(() => button(root, "Compare").click());
    await settle();
    expect(calls.find(([c]) => c === "compare_runs")[1]).toMatchObject({ a: "aaaa1111", b: "bbbb2222" });
    const text = root.querySelector("[data-testid=comparison]")!.textContent!;
    expect(text).toContain("Run aaaa1111 (A) against run bbbb2222 (B)");
    expect(text).toContain("slower");
    expect(text).toContain("+2.0%");
  });
});

describe("Gateways", () => {
  it("sets a canary on the newest non-stable release with the chosen share", async () => {
    const controls: any[] = [];
    mockIPC((cmd, args: any) => {
      if (cmd === "list_gateways") return [{ name: "local", url: "http://127.0.0.1:1", ca_cert: null, token_storage: "file" }];
      if (cmd === "list_releases") return [];
      if (cmd === "gateway_metrics") return [];
      if (cmd === "gateway_overview") {
        return {
          status: { ready: true, version: "0.1.0", onnxruntime: "1.31.1", uptime_s: 5, trusted_keys: ["k"] },
          models: [{
            name: "mlp", stable: "1.0.0", canary: null, previous: null, ready: true,
            releases: [
              { version: "1.0.0", pushed_at: 1, signer: "k", bytes: 10, files: 2, role: "stable" },
              { version: "1.1.0", pushed_at: 2, signer: "k", bytes: 10, files: 2, role: "idle" },
            ],
          }],
        };
      }
      if (cmd === "gateway_control") {
        controls.push(args);
        return {};
      }
      throw new Error(cmd);
    });
    const root = mount(<Gateways />);
    await until(root, "[data-testid=gateway-health]");
    await until(root, "input[type=range]");
    expect(root.querySelector("[data-testid=gateway-health]")!.textContent).toContain("ready");
    const slider = root.querySelector<HTMLInputElement>("input[type=range]")!;
    await act(() => {
      slider.value = "30";
      slider.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(() => button(root, "Set canary").click());
    await settle();
    expect(controls).toEqual([{ name: "local", model: "mlp", control: { action: "canary", version: "1.1.0", percent: 30 } }]);
    // Promote needs a canary to promote.
    expect(button(root, "Promote").disabled).toBe(true);
  });
});

describe("Accuracy", () => {
  it("asks for a candidate, then starts one comparison job with each candidate line", async () => {
    const jobs: any[] = [];
    mockIPC((cmd, args: any) => {
      if (cmd === "start_job") {
        jobs.push(args.spec);
        return { id: 1, output: null };
      }
      throw new Error(cmd);
    });
    const root = mount(
      <ModelContext.Provider value={{ path: "/m/sample.onnx", report: null, setPath: () => {} }}>
        <Accuracy />
      </ModelContext.Provider>,
    );
    await act(() => button(root, "Compare").click());
    expect(root.querySelector("[role=alert], .error")?.textContent).toContain("Add a candidate");
    expect(jobs).toEqual([]);
    const set = async (css: string, value: string) => {
      const el = root.querySelector<HTMLInputElement | HTMLTextAreaElement>(css)!;
      await act(() => {
        el.value = value;
        el.dispatchEvent(new Event("input", { bubbles: true }));
      });
    };
    await set("#accuracy-candidates", "cuda\n\n  other.onnx@cpu  ");
    await set("#accuracy-atol", "logits=1e-3");
    await act(() => button(root, "Compare").click());
    await settle();
    expect(jobs).toEqual([
      expect.objectContaining({
        kind: "accuracy", model: "/m/sample.onnx", reference: "cpu", candidates: ["cuda", "other.onnx@cpu"], sets: 8, atol: "logits=1e-3",
      }),
    ]);
  });
});
