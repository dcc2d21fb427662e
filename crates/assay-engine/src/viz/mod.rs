//! Pictures of results: plotters charts ([`charts`]), the self-contained HTML report of a
//! benchmark or profile ([`report`]) and of an output comparison ([`accuracy`]).

pub mod accuracy;
pub mod charts;
pub mod report;
