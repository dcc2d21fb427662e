// "Open in the native viewer": the model's graph in Assay's egui viewer (a window of its
// own), with a profile run or an accuracy comparison laid over it when one is given; or a
// profile's trace (its timeline and flame graph), when `model` is the trace's path.
import { useState } from "preact/hooks";
import { api, asUiError, type UiError } from "./api";
import { ErrorNotice } from "./ErrorNotice";

export function ViewerButton({
  model,
  profile,
  accuracy,
  label = "Open in the native viewer",
  title = "The graph in Assay's native viewer, for models too big for a browser",
}: {
  model: string | null;
  profile?: string | null;
  accuracy?: string | null;
  label?: string;
  title?: string;
}) {
  const [error, setError] = useState<UiError | null>(null);
  const [opened, setOpened] = useState(false);
  const [busy, setBusy] = useState(false);
  async function openIt() {
    if (!model) return;
    setError(null);
    setOpened(false);
    setBusy(true);
    try {
      await api.openViewer(model, { profile: profile ?? undefined, accuracy: accuracy ?? undefined });
      setOpened(true);
    } catch (e) {
      setError(asUiError(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <>
      <button type="button" onClick={openIt} disabled={!model || busy} title={title}>
        {label}
      </button>
      {opened && <span role="status"> Opened in its own window.</span>}
      {error && <ErrorNotice error={error} />}
    </>
  );
}
