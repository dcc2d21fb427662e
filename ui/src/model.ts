// The model the user has open, shared by the views (Models opens it; Benchmark, Profile and
// Releases use it).
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { ModelReport } from "./api";

export interface OpenModel {
  path: string | null;
  /** What inspect said of it (inputs, dynamic dimensions, sha256). */
  report: ModelReport | null;
  setPath: (p: string, report?: ModelReport) => void;
}

export const ModelContext = createContext<OpenModel>({ path: null, report: null, setPath: () => {} });

export const useModel = () => useContext(ModelContext);
