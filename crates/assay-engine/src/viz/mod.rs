//! Pictures of results: plotters charts ([`charts`]) and the self-contained HTML report
//! ([`report`]).

pub mod charts;
pub mod report;
