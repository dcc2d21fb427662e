import { useEffect, useRef, useState } from "preact/hooks";
import { api, asUiError, type PushEvent, type GatewayOverview, type MetricSample, type ModelOverview, type ReleaseView, type SavedGateway, type ShadowReport, type CpuProfile, type UiError } from "../api";
import { ConfirmButton } from "../Confirm";
import { ErrorNotice } from "../ErrorNotice";
import { useOnShown } from "../visible";
import { LineChart } from "../charts/LineChart";
import { StackFlame } from "../charts/FlameGraph";
import { between } from "../charts/metrics";
import { bytes } from "../format";
import { useJob } from "../useJob";
import { LoadTest } from "./LoadTest";

/** `height=640 width=640` (or commas) as dimension values; undefined when empty. */
export function parseDims(text: string | undefined): Record<string, number> | undefined {
  if (!text?.trim()) return undefined;
  const out: Record<string, number> = {};
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([^=]+)=(\d+)$/.exec(part);
    if (!m) throw { kind: "usage", message: `Warm-up shapes: “${part}” is not NAME=VALUE` };
    out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Gateways: saved gateways, their releases, push, canary, promote, rollback, live metrics. */
export function Gateways() {
  const [saved, setSaved] = useState<SavedGateway[]>([]);
  const [current, setCurrent] = useState<string | null>(null);
  const [form, setForm] = useState({ name: "", url: "http://127.0.0.1:8000", token: "", ca: "" });
  const [error, setError] = useState<UiError | null>(null);

  async function refresh() {
    try {
      const list = await api.listGateways();
      setSaved(list);
      // Keep the selection while it exists; otherwise select the first gateway left.
      setCurrent((c) => (c && list.some((g) => g.name === c) ? c : (list[0]?.name ?? null)));
    } catch (e) {
      setError(asUiError(e));
    }
  }
  useEffect(() => {
    refresh();
  }, []);
  useOnShown(refresh);

  async function add() {
    setError(null);
    try {
      const g = await api.addGateway(form.name.trim(), form.url.trim(), form.token, form.ca || undefined);
      setForm({ ...form, name: "", token: "" });
      setCurrent(g.name);
      await refresh();
    } catch (e) {
      setError(asUiError(e));
    }
  }

  const selected = saved.find((g) => g.name === current);
  return (
    <section aria-labelledby="gateways-title">
      <h1 id="gateways-title">Gateways</h1>
      <div class="row gateway-picker" role="group" aria-label="Saved gateways">
        {saved.map((g) => (
          <button type="button" key={g.name} aria-pressed={current === g.name} onClick={() => setCurrent(g.name)}>
            {g.name}
          </button>
        ))}
      </div>
      <details open={saved.length === 0}>
        <summary>Add a gateway</summary>
        <form class="grid-form" onSubmit={(e) => (e.preventDefault(), add())}>
          <label for="gw-name">Name</label>
          <input id="gw-name" value={form.name} placeholder="staging" onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
          <label for="gw-url">URL</label>
          <input id="gw-url" value={form.url} onInput={(e) => setForm({ ...form, url: e.currentTarget.value })} />
          <label for="gw-token">Admin token</label>
          <input id="gw-token" type="password" value={form.token} onInput={(e) => setForm({ ...form, token: e.currentTarget.value })} />
          <label for="gw-ca">CA certificate (optional)</label>
          <input id="gw-ca" value={form.ca} placeholder="/path/to/ca.pem" onInput={(e) => setForm({ ...form, ca: e.currentTarget.value })} />
          <div class="actions">
            <button type="submit" disabled={!form.name.trim() || !form.token}>Save gateway</button>
          </div>
        </form>
      </details>
      {error && <ErrorNotice error={error} />}
      {selected && (
        <GatewayPanel
          key={selected.name}
          gateway={selected}
          onRemoved={refresh}
        />
      )}
    </section>
  );
}

function GatewayPanel({ gateway, onRemoved }: { gateway: SavedGateway; onRemoved: () => void }) {
  const [overview, setOverview] = useState<GatewayOverview | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [releases, setReleases] = useState<ReleaseView[]>([]);
  const [toPush, setToPush] = useState("");
  const [progress, setProgress] = useState<{ sent: number; total: number; resumed: number } | null>(null);

  async function refresh() {
    try {
      setOverview(await api.gatewayOverview(gateway.name));
      setError(null);
    } catch (e) {
      setOverview(null);
      setError(asUiError(e));
    }
  }
  const loadReleases = () => api.listReleases().then((r) => setReleases(r.filter((x) => x.signature)), () => {});
  useEffect(() => {
    refresh();
    loadReleases();
  }, [gateway.name]);
  // A running shadow's comparison is followed live.
  const shadowing = overview?.models.some((m) => m.shadow) ?? false;
  useEffect(() => {
    if (!shadowing) return;
    const t = setInterval(refresh, 2000);
    return () => clearInterval(t);
  }, [shadowing, gateway.name]);
  // Back from Releases with a newly signed release: offer it.
  useOnShown(() => {
    refresh();
    loadReleases();
  });

  const push = useJob<PushEvent>((e) => {
    if (e.event === "push_progress") setProgress({ sent: e.sent, total: e.total, resumed: e.resumed });
    if (e.event === "exit") refresh();
  });
  const chosen = releases.find((r) => r.dir === toPush) ?? releases[0];

  return (
    <div data-testid="gateway-panel">
      <h2>
        {gateway.name} <span class="muted mono">{gateway.url}</span>
      </h2>
      <p class="muted">
        Token stored in {gateway.token_storage === "keychain" ? "the OS keychain" : "a file readable only by you"}.{" "}
        <button type="button" class="link" onClick={refresh}>Refresh</button>
        <ConfirmButton
          class="link"
          question={`Forget ${gateway.name} and its token? (The gateway itself is not touched.)`}
          confirm="Yes, forget it"
          onConfirm={() => api.removeGateway(gateway.name).then(onRemoved, (e) => setError(asUiError(e)))}
        >
          Forget this gateway
        </ConfirmButton>
      </p>
      {error && <ErrorNotice error={error} />}
      {overview && (
        <p data-testid="gateway-health">
          <span class={`badge ${overview.status.ready ? "ok" : ""}`}>{overview.status.ready ? "ready" : "not ready"}</span> assay-gateway{" "}
          {overview.status.version} · ONNX Runtime {overview.status.onnxruntime} · up {overview.status.uptime_s} s ·{" "}
          {overview.status.trusted_keys.length} trusted key(s)
        </p>
      )}
      <h3>Push a release</h3>
      {releases.length === 0 ? (
        <p>No signed release yet: create and sign one in <strong>Releases</strong>.</p>
      ) : (
        <div class="row">
          <label for="push-release">Release</label>
          <select id="push-release" value={chosen?.dir} onChange={(e) => setToPush(e.currentTarget.value)}>
            {releases.map((r) => <option key={r.dir} value={r.dir}>{r.name} {r.version}</option>)}
          </select>
          <button
            type="button"
            disabled={push.running || !chosen}
            onClick={() => chosen && push.start({ kind: "push", dir: chosen.dir, signature: chosen.signature!, gateway: gateway.name, no_activate: false })}
          >
            Push
          </button>
          {push.running && <button type="button" onClick={push.cancel}>Cancel</button>}
        </div>
      )}
      {push.running && progress && (
        <p aria-live="polite">
          <progress value={progress.sent} max={Math.max(1, progress.total)} aria-label="Push progress" /> {bytes(progress.sent)} of{" "}
          {bytes(progress.total)}
          {progress.resumed > 0 && <> (resumed: {bytes(progress.resumed)} were already there)</>}
        </p>
      )}
      {push.cancelled && <p role="status">Push interrupted. Push again to resume where it stopped.</p>}
      {push.error && <ErrorNotice error={push.error} />}
      {overview?.models.map((m) => <ModelPanel key={m.name} gateway={gateway.name} model={m} onChange={refresh} />)}
      <LiveMetrics gateway={gateway.name} />
      <SelfProfile gateway={gateway.name} />
    </div>
  );
}

function ModelPanel({ gateway, model, onChange }: { gateway: string; model: ModelOverview; onChange: () => void }) {
  const others = model.releases.filter((r) => r.version !== model.stable);
  const [picked, setVersion] = useState<string>("");
  // The pick stands while it names a release here; otherwise the canary, or the newest other.
  const version = others.some((r) => r.version === picked) ? picked : (model.canary?.version ?? others[others.length - 1]?.version ?? "");
  const [percent, setPercent] = useState<number>(model.canary?.percent ?? 10);
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);
  // Warm-up shapes typed for a retry of a version that failed to load, by version.
  const [warm, setWarm] = useState<Record<string, string>>({});

  async function control(c: Parameters<typeof api.gatewayControl>[2]) {
    setBusy(true);
    setError(null);
    try {
      await api.gatewayControl(gateway, model.name, c);
      onChange();
    } catch (e) {
      setError(asUiError(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <article class="card" data-testid="gateway-model" data-model={model.name}>
      <h3>
        {model.name} · stable <strong>{model.stable ?? "none"}</strong>
        {model.canary && <> · canary <strong>{model.canary.version}</strong> at {model.canary.percent}%</>}
        {model.shadow && <> · shadow <strong>{model.shadow.version}</strong> at {model.shadow.percent}%</>}
      </h3>
      {model.shadow_report && <ShadowSummary report={model.shadow_report} />}
      <div class="table-wrap">
      <table>
        <thead><tr><th>Version</th><th>Role</th><th>Model file</th><th>Pushed</th><th class="num">Size</th><th>Signer</th><th /></tr></thead>
        <tbody>
          {model.releases.map((r) => (
            <>
              <tr key={r.version} data-testid="gateway-release" data-version={r.version}>
                <td>{r.version}</td>
                <td>{r.role !== "idle" ? r.role : r.load_error ? <span class="flagged">failed to load</span> : "stored"}</td>
                <td class="mono">{r.model_file}</td>
                <td>{new Date(r.pushed_at * 1000).toLocaleString()}</td>
                <td class="num">{bytes(r.bytes)}</td><td class="mono">{String(r.signer).slice(0, 16)}…</td>
                <td>
                  {r.role !== "stable" && (
                    <ConfirmButton
                      class="link"
                      aria-label={`activate ${r.version}`}
                      question={`Make ${r.version} the stable release? All unpinned traffic moves to it.`}
                      confirm={`Yes, activate ${r.version}`}
                      disabled={busy}
                      onConfirm={() => {
                        try {
                          control({ action: "activate", version: r.version, dims: parseDims(warm[r.version]) ?? null });
                        } catch (e) {
                          setError(asUiError(e));
                        }
                      }}
                    >
                      Activate
                    </ConfirmButton>
                  )}
                </td>
              </tr>
              {r.load_error && (
                <tr key={`${r.version}-error`} class="load-error" data-testid="load-error">
                  <td colSpan={7}>
                    <p class="warning">⚠ {r.load_error}</p>
                    <label for={`warm-${model.name}-${r.version}`}>Warm-up shapes for a retry </label>
                    <input
                      id={`warm-${model.name}-${r.version}`}
                      placeholder="height=640 width=640"
                      value={warm[r.version] ?? Object.entries({ ...(r.serving_dims ?? {}), ...(r.warm_dims ?? {}) }).map(([k, v]) => `${k}=${v}`).join(" ")}
                      onInput={(e) => {
                        const v = e.currentTarget.value;
                        setWarm((w) => ({ ...w, [r.version]: v }));
                      }}
                    />
                    <span class="muted"> then Activate</span>
                  </td>
                </tr>
              )}
            </>
          ))}
        </tbody>
      </table>
      </div>
      {others.length > 0 && (
        <div class="row">
          <label for={`canary-version-${model.name}`}>Candidate</label>
          <select id={`canary-version-${model.name}`} value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
            {others.map((r) => <option key={r.version} value={r.version}>{r.version}</option>)}
          </select>
          <label for={`canary-percent-${model.name}`}>Share: {percent}%</label>
          <input
            id={`canary-percent-${model.name}`}
            type="range"
            min={0}
            max={100}
            step={1}
            value={percent}
            onInput={(e) => setPercent(Number(e.currentTarget.value))}
          />
          <button type="button" disabled={busy || !version} onClick={() => control({ action: "canary", version, percent })}>Set canary</button>
          <button
            type="button"
            disabled={busy || !version || model.canary?.version === version}
            title="Clients keep getting the stable's answers; the share is run again on this version and compared"
            onClick={() => control({ action: "shadow", version, percent })}
          >
            Set shadow
          </button>
          {model.shadow && (
            <button type="button" disabled={busy} onClick={() => control({ action: "shadow", version: model.shadow!.version, percent: 0 })}>
              End shadow
            </button>
          )}
          <ConfirmButton
            disabled={busy || !model.canary}
            question={`Promote canary ${model.canary?.version ?? ""} to stable for all traffic?`}
            confirm="Yes, promote"
            onConfirm={() => control({ action: "promote" })}
          >
            Promote
          </ConfirmButton>
          <ConfirmButton
            disabled={busy || (!model.canary && !(model.previous?.length > 0))}
            question={model.canary ? `End canary ${model.canary.version} and send all traffic to ${model.stable}?` : `Return to ${model.previous?.[model.previous.length - 1] ?? "the previous release"}?`}
            confirm="Yes, roll back"
            onConfirm={() => control({ action: "rollback" })}
          >
            Roll back
          </ConfirmButton>
        </div>
      )}
      {error && <ErrorNotice error={error} />}
      {model.stable && <LoadTest gateway={gateway} model={model.name} />}
    </article>
  );
}

/** The gateway's own CPU profile over a few seconds, as a flame graph. */
function SelfProfile({ gateway }: { gateway: string }) {
  const [seconds, setSeconds] = useState(5);
  const [profile, setProfile] = useState<CpuProfile | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);
  async function take() {
    setBusy(true);
    setError(null);
    try {
      setProfile(await api.gatewayProfile(gateway, seconds));
    } catch (e) {
      setError(asUiError(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <section data-testid="gateway-profile">
      <h3>Where the gateway spends its CPU</h3>
      <div class="row">
        <label for="gw-profile-seconds">Seconds</label>
        <input class="compact" id="gw-profile-seconds" type="number" min={1} max={60} style={{ width: "5em" }} value={seconds} onInput={(e) => setSeconds(Number(e.currentTarget.value))} />
        <button type="button" disabled={busy} onClick={take}>
          Profile the gateway
        </button>
        {busy && <progress aria-label="Profiling the gateway" />}
      </div>
      {error && <ErrorNotice error={error} />}
      {profile && (
        <>
          <p class="muted">
            {profile.samples.toLocaleString()} samples over {profile.seconds} s (99 per second per busy thread); the first frame is the thread.
          </p>
          <StackFlame key={profile.samples} stacks={profile.stacks} unit="samples" whole="CPU samples" />
        </>
      )}
    </section>
  );
}

/** How the shadow's answers compare with the stable's so far. */
function ShadowSummary({ report: r }: { report: ShadowReport }) {
  const ms = (v: number | null) => (v == null ? "–" : `${v.toFixed(2)} ms`);
  const disagree = r.compared - r.agreed;
  return (
    <div class="shadow-summary" data-testid="shadow-report">
      <p>
        Shadow <strong>{r.version}</strong> against {r.stable}: <strong>{(r.agreement * 100).toFixed(1)}%</strong> of {r.compared} compared
        requests agree{disagree > 0 && <span class="flagged"> ({disagree} disagree)</span>}; {r.errors} shadow errors, {r.dropped} dropped of{" "}
        {r.mirrored} mirrored.
      </p>
      <p class="muted">
        |error| p50 {r.abs_error_p50.toExponential(2)}, p99 {r.abs_error_p99.toExponential(2)}, max {r.abs_error_max.toExponential(2)} (atol{" "}
        {r.atol}, rtol {r.rtol}) · latency p50/p99: stable {ms(r.stable_p50_ms)} / {ms(r.stable_p99_ms)}, shadow {ms(r.shadow_p50_ms)} /{" "}
        {ms(r.shadow_p99_ms)}
      </p>
      {r.last_problem && <p class="warning">Last: {r.last_problem}</p>}
    </div>
  );
}

const POLL_MS = 2000;
const WINDOW = 150;

/** Request rate, p50/p99 and errors by version, from /metrics every two seconds. */
function LiveMetrics({ gateway }: { gateway: string }) {
  const last = useRef<{ t: number; samples: MetricSample[] } | null>(null);
  const t0 = useRef(performance.now());
  const [series, setSeries] = useState<{ x: number[]; byVersion: Map<string, { rate: (number | null)[]; p50: (number | null)[]; p99: (number | null)[]; err: (number | null)[] }> }>({ x: [], byVersion: new Map() });
  const [error, setError] = useState<UiError | null>(null);

  useEffect(() => {
    let stop = false;
    const tick = async () => {
      try {
        const samples = await api.gatewayMetrics(gateway);
        const now = performance.now();
        if (last.current && !stop) {
          const points = between(last.current.samples, samples, (now - last.current.t) / 1000);
          setSeries((s) => {
            const x = [...s.x, (now - t0.current) / 1000].slice(-WINDOW);
            const byVersion = new Map(s.byVersion);
            for (const v of new Set([...byVersion.keys(), ...points.keys()])) {
              const p = points.get(v);
              const old = byVersion.get(v) ?? { rate: Array(s.x.length).fill(null), p50: Array(s.x.length).fill(null), p99: Array(s.x.length).fill(null), err: Array(s.x.length).fill(null) };
              byVersion.set(v, {
                rate: [...old.rate, p?.rate ?? 0].slice(-WINDOW),
                p50: [...old.p50, p?.p50Ms ?? null].slice(-WINDOW),
                p99: [...old.p99, p?.p99Ms ?? null].slice(-WINDOW),
                err: [...old.err, p?.errorsPerS ?? 0].slice(-WINDOW),
              });
            }
            return { x, byVersion };
          });
        }
        last.current = { t: now, samples };
        setError(null);
      } catch (e) {
        setError(asUiError(e));
      }
    };
    // The next scrape is scheduled when this one has answered, so a slow gateway never
    // has scrapes piling up (each also gives up within the poll interval).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const loop = async () => {
      await tick();
      if (!stop) timer = setTimeout(loop, POLL_MS);
    };
    loop();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [gateway]);

  const versions = [...series.byVersion.keys()];
  const latest = (xs: (number | null)[]) => xs[xs.length - 1];
  const fmt = (v: number | null | undefined, digits: number) => (v === null || v === undefined ? "—" : v.toFixed(digits));
  return (
    <div data-testid="gateway-metrics">
      <h3>Live traffic</h3>
      {error && <ErrorNotice error={error} />}
      {series.x.length >= 1 && versions.length > 0 && (
        <table data-testid="traffic-now">
          <thead><tr><th>Model@version</th><th class="num">Requests/s</th><th class="num">p50</th><th class="num">p99</th><th class="num">Errors/s</th></tr></thead>
          <tbody>
            {versions.map((v) => {
              const d = series.byVersion.get(v)!;
              return (
                <tr key={v}>
                  <td class="mono">{v}</td>
                  <td class="num">{fmt(latest(d.rate), 1)}</td>
                  <td class="num">{fmt(latest(d.p50), 2)} ms</td>
                  <td class="num">{fmt(latest(d.p99), 2)} ms</td>
                  <td class="num">{fmt(latest(d.err), 2)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {series.x.length < 2 ? (
        <p class="muted">Collecting /metrics every {POLL_MS / 1000} s…</p>
      ) : (
        <div class="charts">
          <LineChart title="Requests per second" xLabel="s" yLabel="req/s" x={series.x} series={versions.map((v) => ({ label: v, values: series.byVersion.get(v)!.rate }))} height={200} />
          <LineChart
            title="Latency p50 / p99 (ms)"
            xLabel="s"
            yLabel="ms"
            x={series.x}
            series={versions.flatMap((v) => [
              { label: `${v} p50`, values: series.byVersion.get(v)!.p50 },
              { label: `${v} p99`, values: series.byVersion.get(v)!.p99 },
            ])}
            height={200}
          />
          <LineChart title="Errors per second" xLabel="s" yLabel="err/s" x={series.x} series={versions.map((v) => ({ label: v, values: series.byVersion.get(v)!.err }))} height={200} />
        </div>
      )}
    </div>
  );
}
