// A flame graph's tree, built from weighted stacks (frames joined by ";").

export interface Frame<T> {
  name: string;
  /** Total weight of this frame and everything under it. */
  value: number;
  children: Frame<T>[];
  parent: Frame<T> | null;
  depth: number;
  /** The item (a graph node) whose stack ends here, if any. */
  item?: T;
}

export function buildTree<T>(items: { stack: string; weight: number; item: T }[]): Frame<T> {
  const root: Frame<T> = { name: "all", value: 0, children: [], parent: null, depth: 0 };
  for (const { stack, weight, item } of items) {
    if (!(weight > 0) || !stack) continue;
    root.value += weight;
    let f = root;
    for (const name of stack.split(";")) {
      let c = f.children.find((x) => x.name === name);
      if (!c) {
        c = { name, value: 0, children: [], parent: f, depth: f.depth + 1 };
        f.children.push(c);
      }
      c.value += weight;
      f = c;
    }
    f.item = item;
  }
  const sort = (f: Frame<T>) => {
    f.children.sort((a, b) => b.value - a.value);
    f.children.forEach(sort);
  };
  sort(root);
  return root;
}

/** The leaf with the largest weight: where one inference spends the most time. */
export function costliestLeaf<T>(root: Frame<T>): Frame<T> | null {
  let best: Frame<T> | null = null;
  const walk = (f: Frame<T>) => {
    if (f.children.length === 0 && f !== root && (!best || f.value > best.value)) best = f;
    f.children.forEach(walk);
  };
  walk(root);
  return best;
}

/** Frames laid out for drawing: x and width as fractions of the zoomed frame. */
export interface Placed<T> {
  frame: Frame<T>;
  x: number;
  w: number;
  row: number;
}

export function layout<T>(root: Frame<T>, zoom: Frame<T>, minWidth = 0.001): Placed<T>[] {
  const out: Placed<T>[] = [];
  // Ancestors of the zoomed frame span the whole width, as in speedscope and inferno.
  for (let a: Frame<T> | null = zoom.parent; a; a = a.parent) out.push({ frame: a, x: 0, w: 1, row: a.depth });
  const place = (f: Frame<T>, x: number) => {
    const w = f.value / zoom.value;
    if (w < minWidth) return;
    out.push({ frame: f, x, w, row: f.depth });
    let cx = x;
    for (const c of f.children) {
      place(c, cx);
      cx += c.value / zoom.value;
    }
  };
  place(zoom, 0);
  void root;
  return out;
}

export function pathOf<T>(f: Frame<T>): string {
  const names: string[] = [];
  for (let a: Frame<T> | null = f; a && a.parent; a = a.parent) names.unshift(a.name);
  return names.join(" › ");
}
