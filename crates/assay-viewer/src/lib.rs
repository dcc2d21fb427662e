//! Assay's native viewer: an ONNX model's graph at any size, with a stored profile run laid
//! over it as heat, two runs' difference, or an accuracy comparison's errors along the graph.
//!
//! - [`hierarchy`]: nested groups from node-name scopes, crowded levels split into runs, so
//!   no layout ever takes more than [`app::MAX_ITEMS`] boxes;
//! - [`layout`]: a layered layout of one group's boxes (few crossings, no overlaps);
//! - [`scene`]: which groups are open, a cached layout per open group, and what is visible;
//! - [`overlay`]: per-node numbers from runs, aggregated per group, with their legend;
//! - [`interop`]: Model Explorer's per-node data JSON, exported from any overlay and
//!   imported as one;
//! - [`runs`]: reading those runs from the history, checked to be of the model on screen;
//! - [`trace`]: a profile trace (Chrome trace JSON) of any size, as a timeline by thread
//!   and a flame graph, drawn at a cost bounded by the screen, not the trace;
//! - [`app`]: the window (toolbar, outline, canvas, details), drawn by the `assay-viewer`
//!   binary and by the interaction tests alike.

pub mod app;
pub mod hierarchy;
pub mod interop;
pub mod layout;
pub mod overlay;
pub mod runs;
pub mod scene;
pub mod trace;

pub use app::{GraphView, Viewer};
