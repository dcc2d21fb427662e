import { useState } from "preact/hooks";
import type { UiError } from "./api";

/** An error as a sentence, with the detail one click away. */
export function ErrorNotice({ error }: { error: UiError }) {
  const [open, setOpen] = useState(false);
  return (
    <div class="error" role="alert">
      <p>{error.message}</p>
      {error.detail && (
        <button type="button" class="link" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? "Hide details" : "Show details"}
        </button>
      )}
      {open && <pre>{error.detail}</pre>}
    </div>
  );
}
