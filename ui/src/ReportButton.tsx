// "HTML report" for a recorded run: asks where to save, then `assay report` in the worker.
import { useState } from "preact/hooks";
import { save } from "@tauri-apps/plugin-dialog";
import { asUiError, type DocumentEvent, type UiError } from "./api";
import { ErrorNotice } from "./ErrorNotice";
import { useJob } from "./useJob";

export function ReportButton({ runId }: { runId: string | null }) {
  const job = useJob<DocumentEvent>();
  const [error, setError] = useState<UiError | null>(null);
  async function exportReport() {
    if (!runId) return;
    setError(null);
    try {
      const to = await save({ title: "Save the HTML report", defaultPath: `assay-${runId}.html` });
      if (to) await job.start({ kind: "report", run: runId, out: to });
    } catch (e) {
      setError(asUiError(e));
    }
  }
  return (
    <>
      <button type="button" onClick={exportReport} disabled={!runId || job.running}>HTML report</button>
      {(error ?? job.error) && <ErrorNotice error={(error ?? job.error)!} />}
      {job.result && <span role="status">Report written.</span>}
    </>
  );
}
