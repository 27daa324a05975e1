//! `upstart`: keys and bundles, the upgrade server, rollout control, the node agent and the
//! demo. The server-side subcommands live in `upstart::cli::NAME`, `node` and `demo` beside it;
//! this file only parses and dispatches.

use clap::{Parser, Subcommand};
use runtime::client::Control;
use std::process::ExitCode;
use upstart::cli::{self, CliResult};

#[derive(Debug, Parser)]
#[command(
    name = "upstart",
    version,
    about = "Zero-downtime upgrades of distributed systems: bundles, the upgrade server, rollouts, the node agent"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a three-node key-value cluster on loopback and upgrade it live under load.
    Demo(upstart::demo::Args),
    /// Test an upgrade before production: random mixed-version plans with faults on a
    /// loopback cluster, checked by oracles; failing plans shrunk and saved for replay.
    Test(Box<upstart::tester::Args>),
    /// Run the upgrade layer of one node: its program, its shim, its upgrades.
    Node(Box<upstart::node_cli::Args>),
    /// Make a key pair for signing bundles.
    Keygen(cli::keygen::Args),
    /// Sign a plugin and a node binary into a bundle.
    Bundle(cli::bundle::Args),
    /// Check a bundle's signature and contents.
    Verify(cli::verify::Args),
    /// Upload a bundle to the upgrade server and start its rollout.
    Push(cli::push::Args),
    /// Run the upgrade server.
    Server(cli::server::Args),
    /// Show the rollouts and nodes, live.
    Status(cli::status::Args),
    /// Stop starting new node upgrades.
    Pause(cli::control::Args),
    /// Continue a paused rollout.
    Resume(cli::control::Args),
    /// Send every node of the rollout back to the old version.
    Rollback(cli::control::Args),
    /// Let a node in: its id and public key (`DATA/node.key.pub` of its agent).
    Enroll(cli::nodes::EnrollArgs),
    /// List the enrolled nodes; `nodes remove ID` decommissions one.
    Nodes(cli::nodes::NodesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: CliResult = match &cli.command {
        Command::Server(args) => {
            cli::init_logging("info");
            cli::block_on(cli::server::run(args))
        }
        Command::Node(args) => {
            cli::init_logging("info");
            cli::block_on(upstart::node_cli::run(args))
        }
        Command::Demo(args) => {
            cli::init_logging("warn");
            upstart::demo::run(args)
        }
        Command::Test(args) => {
            cli::init_logging("warn");
            upstart::tester::run(args)
        }
        command => {
            cli::init_logging("warn");
            match command {
                Command::Keygen(args) => cli::keygen::run(args),
                Command::Bundle(args) => cli::bundle::run(args),
                Command::Verify(args) => cli::verify::run(args),
                Command::Push(args) => cli::block_on(cli::push::run(args)),
                Command::Status(args) => cli::block_on(cli::status::run(args)),
                Command::Pause(args) => cli::block_on(cli::control::run(args, Control::Pause)),
                Command::Resume(args) => cli::block_on(cli::control::run(args, Control::Resume)),
                Command::Rollback(args) => {
                    cli::block_on(cli::control::run(args, Control::Rollback))
                }
                Command::Enroll(args) => cli::block_on(cli::nodes::enroll(args)),
                Command::Nodes(args) => cli::block_on(cli::nodes::nodes(args)),
                Command::Server(_) | Command::Node(_) | Command::Demo(_) | Command::Test(_) => {
                    Ok(())
                }
            }
        }
    };
    cli::finish(result)
}
