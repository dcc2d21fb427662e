// Links between views: a view asks for another one, with what it should show there (the
// accuracy comparison's diverging node, found again in the profile's operator table).
import { createContext } from "preact";
import { useContext } from "preact/hooks";

/** A request to pick a node out; a fresh object per request, so asking twice acts twice. */
export interface NodeRequest {
  name: string;
}

export interface Navigation {
  /** Opens Profile with `node` picked out in its operator table. */
  showNode: (node: string) => void;
  /** The node Profile should pick out, if a view asked for one. */
  node: NodeRequest | null;
}

export const NavContext = createContext<Navigation>({ showNode: () => {}, node: null });

export const useNav = () => useContext(NavContext);
