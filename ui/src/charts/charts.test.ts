import { describe, expect, it } from "vitest";
import { buildTree, costliestLeaf, layout } from "./flame";
import { between, quantile } from "./metrics";
import { decades } from "./ErrorHistogram";
import type { MetricSample } from "../api";

describe("flame graph tree", () => {
  const items = [
    { stack: "encoder;layer.0;MatMul", weight: 30, item: "a" },
    { stack: "encoder;layer.0;Relu", weight: 10, item: "b" },
    { stack: "encoder;layer.1;MatMul", weight: 50, item: "c" },
    { stack: "Gemm;head", weight: 10, item: "d" },
    { stack: "Gemm;never", weight: 0, item: "e" },
  ];

  it("sums weights up the stacks and sorts children by weight", () => {
    const root = buildTree(items);
    expect(root.value).toBe(100);
    expect(root.children.map((c) => [c.name, c.value])).toEqual([["encoder", 90], ["Gemm", 10]]);
    expect(root.children[0].children.map((c) => c.name)).toEqual(["layer.1", "layer.0"]);
  });

  it("finds the costliest leaf, not the widest inner frame", () => {
    const leaf = costliestLeaf(buildTree(items))!;
    expect(leaf.name).toBe("MatMul");
    expect(leaf.item).toBe("c");
    expect(leaf.value).toBe(50);
  });

  it("lays a zoomed frame out over the whole width, ancestors included", () => {
    const root = buildTree(items);
    const layer0 = root.children[0].children[1];
    const placed = layout(root, layer0);
    const byName = Object.fromEntries(placed.map((p) => [p.frame.name, p]));
    expect(byName["all"].w).toBe(1);
    expect(byName["layer.0"]).toMatchObject({ x: 0, w: 1, row: 2 });
    expect(byName["MatMul"].w).toBeCloseTo(0.75);
    expect(byName["Relu"].x).toBeCloseTo(0.75);
    expect(placed.some((p) => p.frame.name === "layer.1")).toBe(false);
  });
});

describe("gateway metrics", () => {
  it("interpolates a quantile within its bucket, as PromQL does", () => {
    // 100 requests: 50 under 1 ms, 40 more under 2 ms, 10 more under 4 ms.
    const h: [number, number][] = [[0.001, 50], [0.002, 90], [0.004, 100], [Infinity, 100]];
    expect(quantile(h, 0.5)).toBeCloseTo(0.001);
    expect(quantile(h, 0.7)).toBeCloseTo(0.0015);
    expect(quantile(h, 0.95)).toBeCloseTo(0.003);
    expect(quantile([], 0.5)).toBeNull();
  });

  const sample = (name: string, version: string, value: number, extra: Record<string, string> = {}): MetricSample => ({
    name,
    labels: { model: "mlp", version, ...extra },
    value,
  });

  it("turns two scrapes into rates, errors and latency by version", () => {
    const a = [
      sample("assay_request_success_total", "1.0.0", 100),
      sample("assay_request_failure_total", "1.0.0", 1, { reason: "timeout" }),
      sample("assay_request_duration_seconds_bucket", "1.0.0", 90, { le: "0.001" }),
      sample("assay_request_duration_seconds_bucket", "1.0.0", 101, { le: "+Inf" }),
    ];
    const b = [
      sample("assay_request_success_total", "1.0.0", 300),
      sample("assay_request_failure_total", "1.0.0", 5, { reason: "timeout" }),
      sample("assay_request_failure_total", "1.0.0", 1, { reason: "model" }),
      sample("assay_request_duration_seconds_bucket", "1.0.0", 290, { le: "0.001" }),
      sample("assay_request_duration_seconds_bucket", "1.0.0", 306, { le: "+Inf" }),
      sample("assay_request_success_total", "1.1.0", 10),
    ];
    const p = between(a, b, 2);
    const stable = p.get("mlp@1.0.0")!;
    expect(stable.rate).toBeCloseTo((200 + 5) / 2);
    expect(stable.errorsPerS).toBeCloseTo(5 / 2);
    expect(stable.p50Ms).toBeLessThanOrEqual(1);
    // A version first seen in the second scrape counts from zero.
    expect(p.get("mlp@1.1.0")!.rate).toBeCloseTo(5);
  });

  it("treats a counter that went down as a restarted gateway", () => {
    const p = between([sample("assay_request_success_total", "1", 500)], [sample("assay_request_success_total", "1", 20)], 1);
    expect(p.get("mlp@1")!.rate).toBe(20);
  });
});

describe("error histogram", () => {
  it("fills the empty decades between the first and the last that hold errors", () => {
    const cols = decades([{ from: 1e-6, to: 1e-5, count: 3 }, { from: 1e-3, to: 1e-2, count: 7 }]);
    expect(cols.map((c) => c.count)).toEqual([3, 0, 0, 7]);
    expect(cols[1].from).toBeCloseTo(1e-5, 12);
    expect(decades([])).toEqual([]);
  });
});
