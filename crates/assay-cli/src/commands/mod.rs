//! One module per verb. Each parses its arguments into an engine call and formats the result.

mod accuracy;
mod bench;
mod compare;
mod fleet;
mod gateway;
mod inspect;
mod key;
mod load;
mod plan;
mod profile;
mod registry;
mod release;
mod report;
mod runs;
mod runtime;
mod store;
mod view;

use crate::{
    cli::{Cli, Command, FleetCommand, KeyCommand, ReleaseCommand, RunsCommand, RuntimeCommand},
    exit::Machine,
};

/// Runs the parsed command.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Inspect(a) => inspect::run(cli, a),
        Command::Bench(a) => bench::run(cli, a),
        Command::Profile(a) => profile::run(cli, a),
        Command::Load(a) => load::run(cli, a),
        Command::Runs(c) => runs::run(cli, c),
        Command::Compare(a) => compare::run(cli, a),
        Command::Accuracy(a) => accuracy::run(cli, a),
        Command::View(a) => view::run(cli, a),
        Command::Report(a) => report::run(cli, a),
        Command::Key(c) => key::run(c),
        Command::Release(ReleaseCommand::Create(a)) => release::create(cli, a),
        Command::Sign(a) => release::sign(a),
        Command::Verify(a) => release::verify(a),
        Command::Push(a) => gateway::push(a),
        Command::Gateway(c) => gateway::run(c),
        Command::Fleet(c) => fleet::run(c),
        Command::Runtime(RuntimeCommand::Install(a)) => runtime::install(a),
        Command::Runtime(RuntimeCommand::List(a)) => runtime::list(cli, a),
    }
}

/// How errors must be written for this command.
pub fn machine_output(command: &Command) -> Machine {
    match command {
        Command::Inspect(a) if a.json => Machine::Json,
        Command::Bench(a) if a.output.events => Machine::Events,
        Command::Bench(a) if a.output.json => Machine::Json,
        Command::Profile(a) if a.events => Machine::Events,
        Command::Load(a) if a.output.events => Machine::Events,
        Command::Load(a) if a.output.json => Machine::Json,
        Command::Profile(a) if a.json => Machine::Json,
        Command::Compare(a) if a.json => Machine::Json,
        Command::Accuracy(a) if a.output.events => Machine::Events,
        Command::Accuracy(a) if a.output.json => Machine::Json,
        Command::Report(a) if a.json => Machine::Json,
        Command::Sign(a) if a.json => Machine::Json,
        Command::Verify(a) if a.json => Machine::Json,
        Command::Push(a) if a.events => Machine::Events,
        Command::Push(a) if a.conn.json => Machine::Json,
        Command::Gateway(c) if c.conn().json => Machine::Json,
        Command::Fleet(FleetCommand::Rollout { events: true, .. }) => Machine::Events,
        Command::Fleet(
            FleetCommand::Status { json: true, .. }
            | FleetCommand::Rollout { json: true, .. }
            | FleetCommand::Rollback { json: true, .. },
        ) => Machine::Json,
        Command::Release(ReleaseCommand::Create(a)) if a.json => Machine::Json,
        Command::Key(
            KeyCommand::Generate { json: true, .. }
            | KeyCommand::List { json: true }
            | KeyCommand::ExportPublic { json: true, .. }
            | KeyCommand::Import { json: true, .. }
            | KeyCommand::Rm { json: true, .. },
        ) => Machine::Json,
        Command::Runs(
            RunsCommand::List { json: true, .. }
            | RunsCommand::Show { json: true, .. }
            | RunsCommand::Import { json: true, .. }
            | RunsCommand::Rm { json: true, .. },
        ) => Machine::Json,
        Command::Runtime(RuntimeCommand::Install(a)) if a.events => Machine::Events,
        Command::Runtime(RuntimeCommand::Install(a)) if a.json => Machine::Json,
        Command::Runtime(RuntimeCommand::List(a)) if a.json => Machine::Json,
        _ => Machine::Text,
    }
}

/// Prints one NDJSON line and flushes, so a reading process sees it at once.
pub(crate) fn emit_line(value: &impl serde::Serialize) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, value);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}
