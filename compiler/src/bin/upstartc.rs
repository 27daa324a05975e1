//! `upstartc`: checks upgrade specs and explains diagnostic codes.
//!
//! Exit codes: 0 clean, 1 the specs have errors (or warnings under `--deny warnings`),
//! 2 usage or IO errors.

use clap::{Parser, Subcommand, ValueEnum};
use codespan_reporting::term::termcolor::ColorChoice;
use compiler::check::check_sources;
use compiler::{explain, render};
use lang::diagnostic::{Code, Severity};
use lang::span::SourceMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "upstartc", version, about = "The Upstart upgrade-spec compiler")]
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
    /// Print the long explanation of a diagnostic code, e.g. `upstartc explain U0057`
    Explain {
        code: String,
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
        Command::Check { files, message_format, deny, color } => check(&files, message_format, !deny.is_empty(), color),
        Command::Explain { code } => explain_code(&code),
    }
}

fn check(paths: &[PathBuf], format: MessageFormat, deny_warnings: bool, color: Color) -> ExitCode {
    let mut sources = SourceMap::new();
    for path in paths {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                sources.add(path.display().to_string(), text);
            }
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let out = check_sources(&sources);
    let errors = out.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = out.diagnostics.len() - errors;
    match format {
        MessageFormat::Json => print!("{}", render::json_lines(&sources, &out.diagnostics)),
        MessageFormat::Human => {
            let choice = match color {
                Color::Always => ColorChoice::Always,
                Color::Never => ColorChoice::Never,
                Color::Auto if std::io::stderr().is_terminal() => ColorChoice::Auto,
                Color::Auto => ColorChoice::Never,
            };
            render::human_to_stderr(&sources, &out.diagnostics, choice);
            eprintln!("{}", summary(paths.len(), errors, warnings));
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
        (e, w) => format!("checked {specs}: {}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

fn explain_code(text: &str) -> ExitCode {
    let Some(code) = Code::parse(text) else {
        eprintln!("error: `{text}` is not a diagnostic code\n\nhelp: codes look like `U0007`");
        return ExitCode::from(2);
    };
    match (code.info(), explain::explanation(code)) {
        (Some(info), Some(text)) => {
            println!("{code} ({}): {}\n\n{}", info.severity.as_str(), info.summary, text.trim_end());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("error: no diagnostic has the code `{code}`");
            ExitCode::from(2)
        }
    }
}
