// A destructive or traffic-moving action asks once before it acts: the first click turns the
// button into a question with a confirming button and a way out, in place (no modal, so the
// keyboard flow and the e2e test stay simple).
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";

export function ConfirmButton(props: {
  /** What the button says, e.g. "Roll back". */
  children: ComponentChildren;
  /** The question, e.g. "Send all traffic back to 1.0.0?" */
  question: string;
  /** The confirming button's words, e.g. "Yes, roll back". */
  confirm: string;
  onConfirm: () => void;
  disabled?: boolean;
  class?: string;
  "aria-label"?: string;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" class={props.class} aria-label={props["aria-label"]} disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.children}
      </button>
    );
  return (
    <span class="confirm" role="group" aria-label={props.question}>
      <span>{props.question}</span>{" "}
      <button
        type="button"
        class="danger"
        autoFocus
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        {props.confirm}
      </button>{" "}
      <button type="button" onClick={() => setAsking(false)}>Cancel</button>
    </span>
  );
}
