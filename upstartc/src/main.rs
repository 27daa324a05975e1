//! `upstartc`: checks upgrade specs, compiles them to plugins, and explains diagnostic codes.
//!
//! Exit codes: 0 clean, 1 the specs have errors (or warnings under `--deny warnings`, or use
//! something `compile` does not support yet), 2 usage or IO errors, 3 internal compiler errors
//! (the generated plugin did not build).

use clap::{Parser, Subcommand, ValueEnum};
use codespan_reporting::term::termcolor::ColorChoice;
use compiler::build::{build_plugin, BuildError, BuildOptions};
use compiler::check::{check_sources, CheckOutput};
use lang::diagnostic::{Code, Severity};
use lang::span::SourceMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use upstartc::{explain, out, out_raw, render, say};

#[derive(Parser, Debug)]
#[command(
    name = "upstartc",
    version,
    about = "The Upstart upgrade-spec compiler"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Type-check specs; several files are checked together as one chain (1 -> 2, 2 -> 3)
    Check {
        /// Spec files (`*.ups`)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// `human` for people, `json` for one JSON object per diagnostic per line
        #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
        message_format: MessageFormat,
        /// `--deny warnings` makes warnings fail the check
        #[arg(long, value_enum)]
        deny: Vec<Deny>,
        /// When to colour human output
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Check a spec and build its plugin (a cdylib); prints the plugin's path
    Compile {
        /// The spec file (`*.ups`)
        file: PathBuf,
        /// Where to write the generated crate [default: target/upstart/<name>-<from>-<to>]
        #[arg(short = 'o', long = "out-dir", value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// When to colour diagnostics
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Test a spec's proof obligations on generated values: the transform establishes the
    /// invariant, rules are total, round trips are lossless, and where methods have models,
    /// rules answer as the models and keep the states related
    Verify {
        /// Spec files (`*.ups`); several are checked together as a chain, then each is verified
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seed of the generated cases; printed on every run so a failure can be replayed
        #[arg(long)]
        seed: Option<u64>,
        /// Cases per obligation
        #[arg(long, default_value_t = compiler::verify::DEFAULT_CASES)]
        cases: u32,
        /// `human` for people, `json` for one report object per spec on stdout
        #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
        message_format: MessageFormat,
        /// When to colour human output
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Print the calls `upstart test` makes: for every version of a chain of specs, its
    /// methods and calls with generated arguments over a small key space
    Workload {
        /// Spec files (`*.ups`), checked together as a chain
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seed of the generated calls (the same seed, the same calls)
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Calls per version
        #[arg(long, default_value_t = 64)]
        calls: u32,
        /// One JSON object on stdout instead of lines for people
        #[arg(long)]
        json: bool,
    },
    /// Replay a client's calls against the method models of its version (for `upstart test`):
    /// reads `{"nodes": N, "local": [METHOD...], "calls": [{"node": K, "method", "params"}...],
    /// "probes": [...]}` on stdin, prints one JSON object: each call's model answer (a model
    /// state per node, writes reaching every node but those of `local` methods), and the
    /// read-only probes' answers on each node's final state
    Replay {
        /// Spec files (`*.ups`), checked together as a chain
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The version of the client whose models answer
        #[arg(long)]
        version: u64,
    },
    /// Mutation-test the rules: mutate every rule, verify each mutant that checks, and report
    /// per rule and in total how many mutants `verify` kills
    Mutate {
        /// Spec files (`*.ups`); each is mutated alone
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seed of `verify`'s generated cases for every mutant
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Cases per obligation for each mutant
        #[arg(long, default_value_t = compiler::mutate::MutateOptions::default().cases)]
        cases: u32,
        /// One JSON object with every report and the totals on stdout
        #[arg(long)]
        json: bool,
        /// Exit 1 when the total kill rate (percent) is under this
        #[arg(long, value_name = "PERCENT")]
        fail_under: Option<f64>,
    },
    /// Print the long explanation of a diagnostic code, e.g. `upstartc explain U0057`
    Explain { code: String },
    /// Run the language server on stdin/stdout, for editors
    Lsp,
    /// Format specs in place (one canonical layout, comments kept); refuses files that do not parse
    Fmt {
        /// Spec files (`*.ups`)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write nothing: list the files that would change and exit 1 if there are any
        #[arg(long)]
        check: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Deny {
    Warnings,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Color {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            files,
            message_format,
            deny,
            color,
        } => check(&files, message_format, !deny.is_empty(), color),
        Command::Compile {
            file,
            out_dir,
            color,
        } => compile(&file, out_dir, color),
        Command::Verify {
            files,
            seed,
            cases,
            message_format,
            color,
        } => verify(&files, seed, cases, message_format, color),
        Command::Workload {
            files,
            seed,
            calls,
            json,
        } => workload(&files, seed, calls, json),
        Command::Replay { files, version } => replay(&files, version),
        Command::Mutate {
            files,
            seed,
            cases,
            json,
            fail_under,
        } => upstartc::mutate_cli::run(
            &files,
            &compiler::mutate::MutateOptions { seed, cases },
            json,
            fail_under,
        ),
        Command::Explain { code } => explain_code(&code),
        Command::Fmt { files, check } => upstartc::fmt_cli::run(&files, check),
        Command::Lsp => upstart_lsp::run_stdio(),
    }
}

/// How many of `diagnostics` are errors.
fn error_count(diagnostics: &[lang::diagnostic::Diagnostic]) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count()
}

/// Reads spec files into a source map (exit code 2 on an unreadable file).
fn read_sources(paths: &[PathBuf]) -> Result<SourceMap, ExitCode> {
    let mut sources = SourceMap::new();
    for path in paths {
        match upstartc::input::read_spec(path) {
            Ok(text) => {
                sources.add(path.display().to_string(), text);
            }
            Err(e) => {
                say!("error: {e}");
                return Err(ExitCode::from(2));
            }
        }
    }
    Ok(sources)
}

/// Reads and checks spec files for `what` (`the replay`), which needs them free of errors:
/// their diagnostics are shown and the exit code is 1 otherwise (2 on an unreadable file).
fn checked(paths: &[PathBuf], what: &str) -> Result<CheckOutput, ExitCode> {
    let sources = read_sources(paths)?;
    let out = check_sources(&sources);
    if out.has_errors() {
        render::human_to_stderr(&sources, &out.diagnostics, ColorChoice::Never);
        say!("error: {what} needs specs that check without errors");
        return Err(ExitCode::from(1));
    }
    Ok(out)
}

fn verify(
    paths: &[PathBuf],
    seed: Option<u64>,
    cases: u32,
    format: MessageFormat,
    color: Color,
) -> ExitCode {
    let sources = match read_sources(paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let out = check_sources(&sources);
    let check_errors = error_count(&out.diagnostics);
    if check_errors > 0 {
        render::human_to_stderr(&sources, &out.diagnostics, color_choice(color));
        say!(
            "{}",
            summary(
                paths.len(),
                check_errors,
                out.diagnostics.len() - check_errors
            )
        );
        say!("error: verify needs specs that check without errors");
        return ExitCode::from(1);
    }
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let options = compiler::verify::VerifyOptions { seed, cases };
    let mut failed = false;
    for model in &out.models {
        let report = compiler::verify::verify(model, &options);
        failed |= report.has_errors();
        match format {
            MessageFormat::Json => out!("{}", report.to_json()),
            MessageFormat::Human => {
                render::human_to_stderr(&sources, &report.diagnostics, color_choice(color));
                say!("{report}");
            }
        }
    }
    if format == MessageFormat::Human {
        say!("seed {seed} (replay with `--seed {seed}`)");
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn workload(paths: &[PathBuf], seed: u64, calls: u32, json: bool) -> ExitCode {
    let out = match checked(paths, "the workload") {
        Ok(out) => out,
        Err(code) => return code,
    };
    let options = compiler::workload::WorkloadOptions {
        seed,
        calls,
        ..Default::default()
    };
    let Some(w) = compiler::workload::workload(&out.models, &options) else {
        say!("error: no spec given");
        return ExitCode::from(2);
    };
    if json {
        match serde_json::to_string(&w) {
            Ok(text) => out!("{text}"),
            Err(e) => {
                say!("error: cannot encode the workload: {e}");
                return ExitCode::from(3);
            }
        }
    } else {
        for v in &w.versions {
            out!("version {} ({} methods)", v.version, v.methods.len());
            for c in &v.calls {
                out!("  {} {}", c.method, c.params);
            }
        }
    }
    ExitCode::SUCCESS
}

/// What `upstartc replay` reads on stdin.
struct ReplayInput {
    nodes: usize,
    local: Vec<String>,
    calls: Vec<compiler::replay::NodeCall>,
    probes: Vec<compiler::workload::Call>,
}

fn replay_input(input: &serde_json::Value) -> Result<ReplayInput, serde_json::Error> {
    let field = |name: &str| input.get(name).cloned().unwrap_or(serde_json::json!([]));
    Ok(ReplayInput {
        nodes: serde_json::from_value(input.get("nodes").cloned().unwrap_or(1.into()))?,
        local: serde_json::from_value(field("local"))?,
        calls: serde_json::from_value(field("calls"))?,
        probes: serde_json::from_value(field("probes"))?,
    })
}

fn replay(paths: &[PathBuf], version: u64) -> ExitCode {
    let out = match checked(paths, "the replay") {
        Ok(out) => out,
        Err(code) => return code,
    };
    let input = serde_json::from_reader(std::io::stdin().lock())
        .and_then(|v: serde_json::Value| replay_input(&v));
    let input = match input {
        Ok(i) => i,
        Err(e) => {
            say!("error: stdin is not `{{\"nodes\": N, \"local\": [...], \"calls\": [...], \"probes\": [...]}}`: {e}");
            return ExitCode::from(2);
        }
    };
    match compiler::replay::replay(
        &out.models,
        version,
        input.nodes,
        &input.local,
        &input.calls,
        &input.probes,
    ) {
        Ok(r) => match serde_json::to_string(&r) {
            Ok(text) => {
                out!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                say!("error: cannot encode the replay: {e}");
                ExitCode::from(3)
            }
        },
        Err(e) => {
            say!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn color_choice(color: Color) -> ColorChoice {
    match color {
        Color::Always => ColorChoice::Always,
        Color::Never => ColorChoice::Never,
        Color::Auto if std::io::stderr().is_terminal() => ColorChoice::Auto,
        Color::Auto => ColorChoice::Never,
    }
}

fn compile(path: &Path, out_dir: Option<PathBuf>, color: Color) -> ExitCode {
    let text = match upstartc::input::read_spec(path) {
        Ok(text) => text,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut sources = SourceMap::new();
    sources.add(path.display().to_string(), text.clone());
    let out = check_sources(&sources);
    let errors = error_count(&out.diagnostics);
    if !out.diagnostics.is_empty() {
        render::human_to_stderr(&sources, &out.diagnostics, color_choice(color));
    }
    let model = match out.models.first() {
        Some(model) if errors == 0 => model,
        _ => {
            let warnings = out.diagnostics.len() - errors;
            say!("{}", summary(1, errors.max(1), warnings));
            return ExitCode::from(1);
        }
    };
    let mut options = BuildOptions::from_env();
    options.out_dir = out_dir;
    match build_plugin(model, &text, &options, &mut |line| say!("upstartc: {line}")) {
        Ok(built) => {
            out!("{}", built.plugin.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            say!("error: {e}");
            match &e {
                BuildError::Io { .. } | BuildError::CargoNotRun { .. } => ExitCode::from(2),
                e if e.is_internal() => ExitCode::from(3),
                _ => ExitCode::from(1),
            }
        }
    }
}

fn check(paths: &[PathBuf], format: MessageFormat, deny_warnings: bool, color: Color) -> ExitCode {
    let sources = match read_sources(paths) {
        Ok(sources) => sources,
        Err(code) => return code,
    };
    let out = check_sources(&sources);
    let errors = error_count(&out.diagnostics);
    let warnings = out.diagnostics.len() - errors;
    match format {
        MessageFormat::Json => out_raw!("{}", render::json_lines(&sources, &out.diagnostics)),
        MessageFormat::Human => {
            render::human_to_stderr(&sources, &out.diagnostics, color_choice(color));
            say!("{}", summary(paths.len(), errors, warnings));
        }
    }
    if errors > 0 || (deny_warnings && warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn summary(files: usize, errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let specs = plural(files, "spec");
    match (errors, warnings) {
        (0, 0) => format!("checked {specs}: ok"),
        (0, w) => format!("checked {specs}: ok, {}", plural(w, "warning")),
        (e, 0) => format!("checked {specs}: {}", plural(e, "error")),
        (e, w) => format!(
            "checked {specs}: {}, {}",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

fn explain_code(text: &str) -> ExitCode {
    let Some(code) = Code::parse(text) else {
        say!("error: `{text}` is not a diagnostic code\n\nhelp: codes look like `U0007`");
        return ExitCode::from(2);
    };
    match (code.info(), explain::explanation(code)) {
        (Some(info), Some(text)) => {
            out!(
                "{code} ({}): {}\n\n{}",
                info.severity.as_str(),
                info.summary,
                text.trim_end()
            );
            ExitCode::SUCCESS
        }
        _ => {
            say!("error: no diagnostic has the code `{code}`");
            ExitCode::from(2)
        }
    }
}
