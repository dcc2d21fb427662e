// A long job in the worker process, as component state: start, follow its events, cancel.
import { useRef, useState } from "preact/hooks";
import { api, asUiError, type JobEvent, type JobSpec, type UiError } from "./api";

export interface JobState {
  running: boolean;
  /** The worker's `result` event, once it arrives. */
  result: JobEvent | null;
  error: UiError | null;
  cancelled: boolean;
  /** The job's output file or folder, when the console chose it. */
  output: string | null;
}

const idle: JobState = { running: false, result: null, error: null, cancelled: false, output: null };

/** `onEvent` sees every event (progress for live charts); the state keeps the outcome. */
export function useJob(onEvent?: (e: JobEvent) => void) {
  const [state, setState] = useState<JobState>(idle);
  const id = useRef<number | null>(null);
  // A cancel clicked before the worker's id is known is applied as soon as it is.
  const cancelPending = useRef(false);

  async function start(spec: JobSpec) {
    id.current = null;
    cancelPending.current = false;
    setState({ ...idle, running: true });
    let result: JobEvent | null = null;
    try {
      const started = await api.startJob(spec, (e) => {
        onEvent?.(e);
        if (e.event === "result") result = e;
        if (e.event === "error") {
          setState((s) => ({
            ...s,
            running: false,
            error: { kind: e.kind ?? "worker", message: e.message ?? "the job failed", detail: e.detail ?? null },
          }));
        } else if (e.event === "cancelled") {
          setState((s) => ({ ...s, running: false, cancelled: true }));
        } else if (e.event === "exit") {
          setState((s) => ({ ...s, running: false, result }));
        }
      });
      id.current = started.id;
      setState((s) => ({ ...s, output: started.output }));
      if (cancelPending.current) await api.cancelJob(started.id);
    } catch (e) {
      setState({ ...idle, error: asUiError(e) });
    }
  }

  async function cancel() {
    if (id.current === null) cancelPending.current = true;
    else await api.cancelJob(id.current).catch(() => false);
  }

  return { ...state, start, cancel };
}
