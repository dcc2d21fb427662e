// Helpers the view tests share: letting IPC promises and renders settle, and finding things.
import { expect } from "vitest";
import { act } from "preact/test-utils";

export async function settle() {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
}

/** Lets chained IPC calls and renders finish until `css` is on the page. */
export async function until(root: Element, css: string) {
  for (let i = 0; i < 50 && !root.querySelector(css); i++) await settle();
  expect(root.querySelector(css), css).not.toBeNull();
}

export const button = (root: Element, text: string) =>
  [...root.querySelectorAll("button")].find((b) => b.textContent?.includes(text)) as HTMLButtonElement;
