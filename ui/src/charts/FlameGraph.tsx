// An interactive flame graph (icicle: the whole on top): click or Enter to zoom, search to
// highlight, hover or focus for the frame's path, weight and share. `FlameGraph` draws a
// profile's operators (kernel time per inference); `StackFlame` any weighted stacks (a
// gateway's CPU samples).
import type { JSX } from "preact";
import { useMemo, useState } from "preact/hooks";
import type { NodeStats } from "../api";
import { us } from "../format";
import { buildTree, costliestLeaf, layout, pathOf, type Frame } from "./flame";

const ROW = 20;

/** A profile's operators, by scope, weighted by kernel time per inference. */
export function FlameGraph({ nodes }: { nodes: NodeStats[] }) {
  const items = useMemo(
    () => nodes.map((n) => ({ stack: n.stack || `${n.op_type};${n.name}`, weight: n.per_inference_us, item: n })),
    [nodes],
  );
  return (
    <Flame
      items={items}
      weight={(v) => `${us(v)} per inference`}
      whole="kernel time"
      placeholder="MatMul, /encoder/layer.0…"
      empty="The profile recorded no kernel time."
      kind={(n) => n.op_type}
      details={(n) => (
        <div>
          {n.op_type} on {n.provider} · {n.calls} calls
          <br />in {n.input_shapes || "?"} → out {n.output_shapes || "?"}
        </div>
      )}
    />
  );
}

/** Weighted stacks (`frame;frame;leaf`) counted in `unit`, e.g. CPU samples. */
export function StackFlame({ stacks, unit, whole }: { stacks: { stack: string; weight: number }[]; unit: string; whole: string }) {
  const items = useMemo(() => stacks.map((s) => ({ ...s, item: null })), [stacks]);
  return (
    <Flame
      items={items}
      weight={(v) => `${v.toLocaleString()} ${unit}`}
      whole={whole}
      placeholder="a function or thread name"
      empty={`No ${unit} were recorded.`}
    />
  );
}

interface FlameProps<T> {
  items: { stack: string; weight: number; item: T }[];
  /** A weight in words ("12 µs per inference", "40 samples"). */
  weight: (v: number) => string;
  /** What the whole is ("kernel time", "CPU samples"). */
  whole: string;
  placeholder: string;
  empty: string;
  /** The kind of a frame's item, shown beside the costliest frame. */
  kind?: (item: T) => string;
  /** More about a frame's item, in its tooltip. */
  details?: (item: T) => JSX.Element;
}

function Flame<T>({ items, weight, whole, placeholder, empty, kind, details }: FlameProps<T>) {
  const root = useMemo(() => buildTree(items), [items]);
  const [zoom, setZoom] = useState<Frame<T>>(root);
  const [query, setQuery] = useState("");
  const [hover, setHover] = useState<{ f: Frame<T>; x: number; y: number } | null>(null);
  const placed = useMemo(() => layout(root, zoom), [root, zoom]);
  const rows = placed.reduce((m, p) => Math.max(m, p.row), 0) + 1;
  const costliest = useMemo(() => costliestLeaf(root), [root]);
  const q = query.trim().toLowerCase();
  const matched = useMemo(() => {
    if (!q) return 0;
    let total = 0;
    const walk = (f: Frame<T>) => {
      if (f.name.toLowerCase().includes(q)) total += f.value;
      else f.children.forEach(walk);
    };
    root.children.forEach(walk);
    return total;
  }, [root, q]);

  if (root.value === 0) return <p>{empty}</p>;
  const share = (f: { value: number }) => (100 * f.value) / root.value;

  return (
    <div class="flame" data-testid="flame-graph">
      <div class="row">
        <label for="flame-search">Search frames</label>
        <input id="flame-search" value={query} placeholder={placeholder} onInput={(e) => setQuery(e.currentTarget.value)} />
        {q && <span aria-live="polite">{share({ value: matched }).toFixed(1)}% of the {whole} matches</span>}
        {zoom !== root && <button type="button" onClick={() => setZoom(root)}>Reset zoom</button>}
      </div>
      {costliest && (
        <p data-testid="costliest-frame">
          Costliest frame: <strong>{costliest.name}</strong>
          {costliest.item != null && kind && <> ({kind(costliest.item)})</>} — {weight(costliest.value)},{" "}
          {share(costliest).toFixed(1)}% of {whole}{" "}
          <button type="button" class="link" onClick={() => setZoom(costliest.parent ?? root)}>Zoom to it</button>
        </p>
      )}
      <div class="flame-canvas" style={{ height: `${rows * ROW}px` }} onMouseLeave={() => setHover(null)}>
        {placed.map((p) => {
          const f = p.frame;
          const hit = q && f.name.toLowerCase().includes(q);
          return (
            <div
              key={pathOf(f) + p.row}
              class={`frame${hit ? " match" : ""}${f === costliest ? " costliest" : ""}`}
              data-testid="flame-frame"
              data-name={f.name}
              data-share={share(f).toFixed(2)}
              // Only labelled frames are tab stops: slivers would add hundreds of them.
              tabIndex={p.w > 0.02 ? 0 : -1}
              role="button"
              aria-label={`${f.name}: ${weight(f.value)}, ${share(f).toFixed(1)}%`}
              style={{ left: `${p.x * 100}%`, width: `${p.w * 100}%`, top: `${p.row * ROW}px`, height: `${ROW - 2}px`, background: color(f.name, !!hit) }}
              onClick={() => setZoom(f.children.length ? f : f.parent ?? root)}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === " ") {
                  e.preventDefault();
                  setZoom(f.children.length ? f : f.parent ?? root);
                }
              }}
              onBlur={() => setHover(null)}
              onMouseMove={(e) => setHover({ f, x: e.clientX, y: e.clientY })}
              onFocus={(e) => {
                const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
                setHover({ f, x: r.left, y: r.bottom });
              }}
            >
              {p.w > 0.02 ? f.name : ""}
            </div>
          );
        })}
      </div>
      {hover && (
        <div class="tooltip" role="tooltip" style={{ left: `${hover.x + 12}px`, top: `${hover.y + 12}px` }}>
          <strong>{pathOf(hover.f) || "all"}</strong>
          <div>
            {weight(hover.f.value)} · {share(hover.f).toFixed(2)}% of {whole}
          </div>
          {hover.f.item != null && details?.(hover.f.item)}
        </div>
      )}
    </div>
  );
}

/** Warm colours by name (stable across renders), search hits in the accent colour. */
function color(name: string, hit: boolean): string {
  if (hit) return "#8b5cf6";
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return `hsl(${10 + (h % 40)}, ${70 + (h % 20)}%, ${58 + (h % 12)}%)`;
}
