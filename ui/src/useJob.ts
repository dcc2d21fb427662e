// A long job in the worker process, as component state: start, follow its events, cancel.
import { useRef, useState } from "preact/hooks";
import { api, asUiError, type ConsoleEvent, type ErrorEvent, type JobEvent, type JobSpec, type UiError } from "./api";

/** The events a job of kind `E` sends: its own, an error, and the console's ending. */
export type EventOf<E extends JobEvent> = E | ErrorEvent | ConsoleEvent;
/** A job's `result` event. */
export type ResultOf<E extends JobEvent> = Extract<E, { event: "result" }>;

export interface JobState<E extends JobEvent> {
  running: boolean;
  /** The worker's `result` event, once it arrives. */
  result: ResultOf<E> | null;
  error: UiError | null;
  cancelled: boolean;
  /** The job's output file or folder, when the console chose it. */
  output: string | null;
}

const idle = { running: false, result: null, error: null, cancelled: false, output: null };

/**
 * `onEvent` sees every event (progress for live charts); the state keeps the outcome. `E` is
 * the kind of job's own events (the generated `BenchEvent`, `InstallEvent`, ...), so a
 * field renamed on the Rust side breaks the view's build.
 */
export function useJob<E extends JobEvent = JobEvent>(onEvent?: (e: EventOf<E>) => void) {
  const [state, setState] = useState<JobState<E>>(idle);
  const id = useRef<number | null>(null);
  // A cancel clicked before the worker's id is known is applied as soon as it is.
  const cancelPending = useRef(false);

  async function start(spec: JobSpec) {
    id.current = null;
    cancelPending.current = false;
    setState({ ...idle, running: true });
    let result: ResultOf<E> | null = null;
    try {
      const started = await api.startJob(spec, (raw) => {
        // The console forwards only the events of the job it started.
        const e = raw as EventOf<E>;
        onEvent?.(e);
        if (e.event === "result") result = e as ResultOf<E>;
        if (e.event === "error") {
          const failed = e as ErrorEvent;
          setState((s) => ({
            ...s,
            running: false,
            error: { kind: failed.kind, message: failed.message, detail: failed.detail ?? null },
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
