// The model the user has open, shared by the views (Models opens it; Benchmark, Profile and
// Releases use it).
import { createContext } from "preact";
import { useContext } from "preact/hooks";

export interface OpenModel {
  path: string | null;
  setPath: (p: string) => void;
}

export const ModelContext = createContext<OpenModel>({ path: null, setPath: () => {} });

export const useModel = () => useContext(ModelContext);
