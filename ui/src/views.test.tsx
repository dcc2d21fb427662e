import { afterEach, describe, expect, it } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { button, settle, until } from "./test-utils";
import { Runs } from "./views/Runs";
import { Gateways } from "./views/Gateways";
import { Accuracy } from "./views/Accuracy";
import { Fleet } from "./views/Fleet";
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

describe("Fleet", () => {
  it("shows each gateway's versions and the saved rollout's waves, and rolls out only an oci:// reference", async () => {
    localStorage.setItem("assay.fleet", JSON.stringify({ file: "/f/fleet.toml", model: "mlp", reference: "" }));
    const jobs: any[] = [];
    const progress = (step: string) => ({ step, prior_stable: "1.0.0", detail: step, candidate_requests: 0, updated_at: 1 });
    mockIPC((cmd, args: any) => {
      if (cmd === "fleet_status") {
        expect(args).toEqual({ path: "/f/fleet.toml", model: "mlp" });
        const gw = (name: string, stable: string, canary: any) => ({
          name, url: `http://${name}:8000`, labels: { zone: name }, error: null,
          status: { name: "assay-gateway", version: "0.1.0", uptime_s: 1, ready: true, onnxruntime: "1.31.1", trusted_keys: [],
            models: { mlp: { stable, canary, releases: 2, ready: true } } },
        });
        return {
          fleet: "prod",
          gateways: [gw("g1", "1.1.0", null), gw("g2", "1.0.0", { version: "1.1.0", percent: 10, auto_promote_after: 50, since: 1 }),
            { name: "g3", url: "http://g3:8000", labels: {}, status: null, error: "cannot reach the gateway" }],
          rollout: {
            fleet: "prod", model: "mlp", reference: "oci://r/mlp:1.1.0", version: "1.1.0", status: "running", error: null,
            waves: [{ gateways: ["g1"], done: true }, { gateways: ["g2", "g3"], done: false }],
            gateways: { g1: progress("promoted"), g2: progress("canary"), g3: progress("pending") },
            started_at: 1, updated_at: 2, seconds: { pulling: 1, warming: 0.5, analysis: 3 },
          },
          halt_requested: false,
        };
      }
      if (cmd === "start_job") {
        jobs.push(args.spec);
        return { id: 1, output: null };
      }
      throw new Error(cmd);
    });
    const root = mount(<Fleet />);
    await until(root, "[data-testid=fleet-gateways]");
    const rows = [...root.querySelectorAll("[data-testid=fleet-gateways] tbody tr")].map((r) => r.textContent);
    expect(rows[0]).toContain("1.1.0");
    expect(rows[1]).toContain("1.1.0 at 10%");
    expect(rows[2]).toContain("unreachable");
    const waves = [...root.querySelectorAll("[data-testid=fleet-wave]")].map((w) => w.textContent);
    expect(waves).toHaveLength(2);
    expect(waves[0]).toContain("g1: promoted");
    expect(waves[1]).toContain("g2: canary");
    expect(button(root, "Roll out").disabled).toBe(true);
    const input = root.querySelector<HTMLInputElement>("#fleet-reference")!;
    await act(() => {
      input.value = "registry/mlp:1.2.0";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    expect(button(root, "Roll out").disabled).toBe(true);
    await act(() => {
      input.value = "oci://registry/mlp:1.2.0";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(() => button(root, "Roll out").click());
    await settle();
    expect(jobs).toEqual([{ kind: "fleet_rollout", fleet: "/f/fleet.toml", model: "mlp", reference: "oci://registry/mlp:1.2.0" }]);
  });
});
