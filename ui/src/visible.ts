// Views stay mounted; this tells a view each time it is shown again, so lists (runs,
// releases, gateways, runtimes) refresh then instead of showing what they read first.
import { createContext } from "preact";
import { useContext, useEffect, useRef } from "preact/hooks";

/** How many times the view has been shown (0 while hidden). */
export const ShownContext = createContext(1);

/** Calls `refresh` whenever the view is shown again after being hidden. */
export function useOnShown(refresh: () => void) {
  const shown = useContext(ShownContext);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (shown > 0) refresh();
  }, [shown]);
}
