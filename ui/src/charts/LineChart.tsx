// A line chart on uPlot: canvas-drawn, so 100,000 points render in milliseconds, and cheap to
// update while a benchmark streams (setData, no re-layout).
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  values: (number | null)[];
}

export interface LineChartProps {
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: Series[];
  height?: number;
  /** Points only (a scatter of samples) instead of lines; for up to a few thousand points
   * (lines are decimated per pixel column, so they stay fast at any size). */
  points?: boolean;
  /** Point diameter in pixels when `points` (default 2; larger for a few points). */
  pointSize?: number;
}

const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2"];

/** Builds the uPlot options; exported for the chart benchmark. */
export function chartOptions(p: LineChartProps, width: number): uPlot.Options {
  return {
    title: p.title,
    width,
    height: p.height ?? 260,
    scales: { x: { time: false } },
    axes: [{ label: p.xLabel }, { label: p.yLabel }],
    series: [
      { label: p.xLabel },
      ...p.series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        width: 1.5,
        // A null is a break (between configurations), not a gap to bridge.
        spanGaps: false,
        ...(p.points ? { paths: () => null, points: { show: true, size: p.pointSize ?? 2, fill: COLORS[i % COLORS.length] } } : { points: { show: false } }),
      })),
    ],
  };
}

export function LineChart(props: LineChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = `${props.title}|${props.series.map((s) => s.label).join(",")}|${props.points}`;
  const data = [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData;

  useEffect(() => {
    const el = host.current!;
    plot.current = new uPlot(chartOptions(props, el.clientWidth || 640), data, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height: props.height ?? 260 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [props.x, props.series]);

  return <div class="chart" ref={host} role="img" aria-label={props.title} />;
}
