import { useEffect, useState } from "preact/hooks";
import { open } from "@tauri-apps/plugin-dialog";
import { api, asUiError, type DocumentEvent, type KeyInfo, type ReleaseView, type RunSummary, type UiError } from "../api";
import { ErrorNotice } from "../ErrorNotice";
import { useOnShown } from "../visible";
import { bytes } from "../format";
import { useModel } from "../model";
import { useJob } from "../useJob";

/** Releases: a model plus its benchmark evidence, signed, verified; and the signing keys. */
export function Releases() {
  const { path } = useModel();
  const [releases, setReleases] = useState<ReleaseView[]>([]);
  const [keys, setKeys] = useState<KeyInfo[]>([]);
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [error, setError] = useState<UiError | null>(null);
  const [form, setForm] = useState({ name: "", version: "1.0.0", notes: "", evidence: "" });

  async function refresh() {
    try {
      setReleases(await api.listReleases());
      setKeys((await api.listKeys()).keys);
      if (path) setRuns(await api.listRuns(path, "bench", 20));
    } catch (e) {
      setError(asUiError(e));
    }
  }
  // The name follows the open model: a release named after one model must never hold
  // another. A name the user typed for this same model is kept.
  useEffect(() => {
    refresh();
    if (path) {
      const stem = path.split("/").pop()!.replace(/\.onnx$/, "").replace(/[^A-Za-z0-9._-]/g, "-");
      setForm((f) => ({ ...f, name: stem, evidence: "" }));
    }
  }, [path]);
  useOnShown(refresh);

  const create = useJob<DocumentEvent>((e) => e.event === "exit" && refresh());

  return (
    <section aria-labelledby="releases-title">
      <h1 id="releases-title">Releases</h1>
      {error && <ErrorNotice error={error} />}
      <h2>Create a release</h2>
      {!path && <p>Open a model in <strong>Models</strong> first.</p>}
      <form
        class="grid-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (path) create.start({ kind: "create_release", model: path, ...form, dims: [] });
        }}
      >
        <span class="label">Model</span>
        <span class="mono" data-testid="release-model">{path ?? "—"}</span>
        <label for="release-name">Name</label>
        <input id="release-name" value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
        <label for="release-version">Version</label>
        <input id="release-version" value={form.version} onInput={(e) => setForm({ ...form, version: e.currentTarget.value })} />
        <label for="release-notes">Notes</label>
        <input id="release-notes" value={form.notes} onInput={(e) => setForm({ ...form, notes: e.currentTarget.value })} />
        <label for="release-evidence">Evidence</label>
        <select id="release-evidence" value={form.evidence} onChange={(e) => setForm({ ...form, evidence: e.currentTarget.value })}>
          <option value="">no benchmark attached</option>
          {runs.map((r) => (
            <option key={r.id} value={r.id}>run {r.id} · {new Date(r.created_at * 1000).toLocaleString()}</option>
          ))}
        </select>
        <p class="muted estimate">
          Serving shapes: the dimension values of the evidence run are signed into the release, and gateways warm up with them.
        </p>
        <div class="actions">
          <button type="submit" disabled={!path || create.running}>Create release</button>
        </div>
      </form>
      {create.error && <ErrorNotice error={create.error} />}
      <h2>Release folders</h2>
      {releases.length === 0 && <p>No releases yet.</p>}
      {releases.map((r) => (
        <ReleaseCard key={r.dir} release={r} keys={keys} onChange={refresh} />
      ))}
      <Keys keys={keys} onChange={refresh} />
    </section>
  );
}

function ReleaseCard({ release, keys, onChange }: { release: ReleaseView; keys: KeyInfo[]; onChange: () => void }) {
  const signers = keys.filter((k) => k.has_private);
  const [key, setKey] = useState("");
  const [passphrase, setPassphrase] = useState<string | null>(null);
  const [verified, setVerified] = useState<string | null>(null);
  // A failed verify takes the green badge away until a verify passes again.
  const [failed, setFailed] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const sign = useJob<DocumentEvent>((e) => {
    if (e.event !== "exit") return;
    setFailed(false);
    onChange();
  });
  const chosen = key || signers[0]?.name || "";
  const slug = `${release.name}-${release.version}`;

  async function verify() {
    setVerified(null);
    setError(null);
    try {
      const v = await api.verifyRelease(release.dir, release.signature!, chosen);
      setFailed(false);
      setVerified(`Verified: ${v.files} files, ${bytes(v.bytes)}, signed by key ${v.key_hint.slice(0, 16)}…`);
    } catch (e) {
      setFailed(true);
      setError(asUiError(e));
    }
  }
  const meta = release.metadata;
  const serving = Object.entries(meta.serving.dims);
  const evidence = meta.evidence?.summary[0];
  const badge = !release.signature
    ? <span class="badge">unsigned</span>
    : failed
      ? <span class="badge bad" data-testid="verify-failed">verification failed</span>
      : <span class="badge ok">signed</span>;

  return (
    <article class="card" data-testid="release" data-release={slug}>
      <h3>{release.name} {release.version} {badge}</h3>
      <p>
        Model <span class="mono" data-testid="release-file">{meta.model.file}</span>
        <span class="muted mono"> · sha256 {meta.model.sha256.slice(0, 12)}…</span>
        {serving.length > 0 && <span class="muted"> · serving shapes {serving.map(([k, v]) => `${k}=${v}`).join(" ")}</span>}
      </p>
      {meta.accuracy && (
        <p class="muted" data-testid="release-accuracy">
          Accuracy: comparison <span class="mono">{meta.accuracy.run_id.slice(0, 8)}</span> {meta.accuracy.passed ? "passed" : "FAILED"} against {meta.accuracy.reference}:{" "}
          {meta.accuracy.candidates.map((c) => `${c.label} ${c.verdict} (max abs ${c.worst_max_abs.toExponential(2)})`).join(", ")}
        </p>
      )}
      {evidence && (
        <p class="muted" data-testid="release-evidence">
          Evidence: run <span class="mono">{meta.evidence!.run_id.slice(0, 8)}</span>, {evidence.provider} batch {evidence.batch}:
          p50 {evidence.p50_ms.toFixed(3)} ms, p99 {evidence.p99_ms.toFixed(3)} ms, {evidence.throughput.inferences_per_s.toFixed(0)} inferences/s
        </p>
      )}
      <p class="mono muted">{release.dir}</p>
      <div class="row">
        <label for={`key-${slug}`}>Key</label>
        <select id={`key-${slug}`} value={chosen} onChange={(e) => setKey(e.currentTarget.value)}>
          {keys.map((k) => <option key={k.name} value={k.name}>{k.name}{k.has_private ? "" : " (public only)"}</option>)}
        </select>
        <button type="button" disabled={!signers.length || sign.running} onClick={() => setPassphrase("")}>Sign…</button>
        <button type="button" disabled={!release.signature} onClick={verify}>Verify</button>
      </div>
      {passphrase !== null && (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            sign.start({ kind: "sign", dir: release.dir, key: chosen, passphrase });
            setPassphrase(null);
          }}
        >
          <label for={`pass-${slug}`}>Passphrase of “{chosen}”</label>
          <input id={`pass-${slug}`} type="password" autoFocus value={passphrase} onInput={(e) => setPassphrase(e.currentTarget.value)} />
          <button type="submit">Sign</button>
          <button type="button" onClick={() => setPassphrase(null)}>Cancel</button>
        </form>
      )}
      {sign.running && <p aria-live="polite"><progress aria-label="Signing" /> Hashing and signing…</p>}
      {sign.error && <ErrorNotice error={sign.error} />}
      {verified && <p role="status" class="good">{verified}</p>}
      {error && <ErrorNotice error={error} />}
    </article>
  );
}

function Keys({ keys, onChange }: { keys: KeyInfo[]; onChange: () => void }) {
  const [gen, setGen] = useState({ name: "", pass: "", confirm: "" });
  const [pem, setPem] = useState<{ name: string; pem: string } | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function generate() {
    setError(null);
    if (gen.pass !== gen.confirm) return setError({ kind: "usage", message: "the passphrases do not match" });
    setBusy(true);
    try {
      await api.generateKey(gen.name.trim(), gen.pass);
      setGen({ name: "", pass: "", confirm: "" });
      onChange();
    } catch (e) {
      setError(asUiError(e));
    } finally {
      setBusy(false);
    }
  }

  async function importKey() {
    setError(null);
    try {
      const file = await open({ title: "Import a PEM key", filters: [{ name: "PEM", extensions: ["pem", "pub", "key"] }] });
      if (typeof file !== "string") return;
      const name = file.split("/").pop()!.replace(/\.(pub\.)?(pem|pub|key)$/, "");
      // A private key is stored encrypted with the passphrase typed in the form.
      await api.importKey(gen.name.trim() || name, file, gen.pass || undefined);
      onChange();
    } catch (e) {
      setError(asUiError(e));
    }
  }

  return (
    <>
      <h2 id="keys">Keys</h2>
      <table data-testid="keys-table">
        <thead><tr><th>Name</th><th>Kind</th><th>Private key in</th><th>Fingerprint (model_signing hint)</th><th /></tr></thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.name}>
              <td>{k.name}</td>
              <td>{k.has_private ? "signing" : "public only"}</td>
              <td>{k.storage}</td>
              <td class="mono">{k.hint.slice(0, 24)}…</td>
              <td>
                <button
                  type="button"
                  class="link"
                  onClick={() => api.exportPublicKey(k.name).then((pem) => setPem({ name: k.name, pem }), (e) => setError(asUiError(e)))}
                >
                  Public key
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {pem && (
        <div>
          <p>Public key of “{pem.name}” — give it to a gateway's <code>--trusted-keys</code> folder:</p>
          <pre class="mono" data-testid="public-pem">{pem.pem}</pre>
          <button type="button" onClick={() => navigator.clipboard?.writeText(pem.pem).catch(() => setError({ kind: "io", message: "the clipboard refused the copy; select the text instead" }))}>
            Copy
          </button>
        </div>
      )}
      <form class="row" onSubmit={(e) => (e.preventDefault(), generate())}>
        <label for="key-name">New key</label>
        <input id="key-name" class="short" value={gen.name} placeholder="release" onInput={(e) => setGen({ ...gen, name: e.currentTarget.value })} />
        <label for="key-pass">Passphrase</label>
        <input id="key-pass" type="password" class="short" value={gen.pass} onInput={(e) => setGen({ ...gen, pass: e.currentTarget.value })} />
        <label for="key-confirm">Again</label>
        <input id="key-confirm" type="password" class="short" value={gen.confirm} onInput={(e) => setGen({ ...gen, confirm: e.currentTarget.value })} />
        <button type="submit" disabled={busy || !gen.name.trim()}>Generate key</button>
        <button type="button" onClick={importKey} title="Uses the name and passphrase typed here (a public key needs neither)">Import a PEM key…</button>
      </form>
      {busy && <p aria-live="polite">Generating and encrypting the key…</p>}
      {error && <ErrorNotice error={error} />}
    </>
  );
}
