//! Writes a generated large spec to stdout, for timing `upstartc check` / `verify` by hand:
//! `cargo run -p lang --example synth -- 10000 models > big.ups` (`models`: the methods carry
//! models, so `verify` checks the simulation obligations; without it, no models).

fn main() {
    let mut args = std::env::args().skip(1);
    let lines = args.next().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let text = if args.next().as_deref() == Some("models") {
        lang::synth::large_spec_with_models(lines)
    } else {
        lang::synth::large_spec(lines)
    };
    print!("{text}");
}
