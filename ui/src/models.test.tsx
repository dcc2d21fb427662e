import { afterEach, describe, expect, it } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { Models } from "./views/Models";
import type { ModelReport } from "./api";

const report: ModelReport = {
  schema: "assay.inspect/1",
  file: { path: "/m/sample-mlp.onnx", size_bytes: 2048, sha256: "ab".repeat(32) },
  model: { producer_name: "assay-fixtures", producer_version: "1.0", ir_version: 8, domain: "", model_version: 0, doc_string: "", opsets: [{ domain: "ai.onnx", version: 17 }] },
  inputs: [{ name: "input", element_type: "float", shape: ["batch", 64] }],
  outputs: [{ name: "logits", element_type: "float", shape: ["batch", 10] }],
  metadata: { task: "classification" },
  free_dims: [{ handle: "batch", named: true, uses: [{ input: "input", axis: 0 }], batch: true, value: 1, source: "default", reason: "batch" }],
  graph: { name: "g", node_count: 5, operators: { Gemm: 3, Relu: 2 }, parameter_count: 26122, parameter_bytes: 104488, initializer_count: 6, subgraph_count: 0, external_data: [] },
};

async function settle() {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
}

function click(el: Element) {
  (el as HTMLElement).click();
}

afterEach(() => {
  clearMocks();
  document.body.innerHTML = "";
  localStorage.clear();
});

describe("Models", () => {
  it("opens the sample model and shows its signature and operators", async () => {
    const calls: string[] = [];
    mockIPC((cmd, args) => {
      calls.push(cmd);
      if (cmd === "sample_model") return "/m/sample-mlp.onnx";
      if (cmd === "inspect_model") {
        expect((args as { path: string }).path).toBe("/m/sample-mlp.onnx");
        return report;
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const root = document.createElement("div");
    document.body.appendChild(root);
    render(<Models />, root);
    const sample = [...root.querySelectorAll("button")].find((b) => b.textContent?.includes("sample"))!;
    await act(() => click(sample));
    await settle();
    expect(calls).toEqual(["sample_model", "inspect_model"]);
    const text = root.querySelector("[data-testid=model-report]")!.textContent!;
    expect(text).toContain("sample-mlp.onnx");
    expect(text).toContain("[batch, 64]");
    expect(text).toContain("Gemm");
    expect(text).toContain("2.0 KiB");
    expect(localStorage.getItem("assay.recent-models")).toContain("/m/sample-mlp.onnx");
  });

  it("shows a failure as a sentence with the detail one click away", async () => {
    mockIPC((cmd) => {
      if (cmd === "inspect_model") throw { kind: "model", message: "/x.onnx is not an ONNX model", detail: "Decode(...)" };
      return null;
    });
    const root = document.createElement("div");
    document.body.appendChild(root);
    render(<Models />, root);
    const input = root.querySelector("input")!;
    await act(() => {
      input.value = "/x.onnx";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(() => {
      root.querySelector("form")!.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    });
    await settle();
    const alert = root.querySelector("[role=alert]")!;
    expect(alert.textContent).toContain("is not an ONNX model");
    expect(alert.textContent).not.toContain("Decode(...)");
    await act(() => click(alert.querySelector("button")!));
    expect(alert.textContent).toContain("Decode(...)");
  });
});
