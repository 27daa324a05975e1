//! Comparison-guided generation: a field or parameter the spec compares with a literal
//! (`p.carrier == "DHL"`) is generated equal to that literal often, so a wrong rule exposed
//! only when several values each equal their literal is caught even in a spec with many
//! other literals (which dilute the spec-wide dictionary).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use compiler::check::check_sources;
use compiler::model::SpecModel;
use compiler::verify::{verify, VerifyOptions, VerifyReport};
use lang::diagnostic::codes;
use lang::span::SourceMap;

fn model(text: &str) -> SpecModel {
    let mut sources = SourceMap::new();
    sources.add("parcels.ups", text);
    let out = check_sources(&sources);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    out.models.into_iter().next().unwrap()
}

fn run(m: &SpecModel, seed: u64) -> VerifyReport {
    verify(m, &VerifyOptions { seed, cases: 64 })
}

/// Whether a call, alone or in a sequence, answered other than the caller's model.
fn caught(r: &VerifyReport) -> bool {
    r.diagnostics.iter().any(|d| {
        d.code == codes::VERIFY_SIMULATION_ANSWER || d.code == codes::VERIFY_SIMULATION_SEQUENCE
    })
}

/// Parcels gain an `express` flag (DHL next-day outside the EU) and a region label (one of
/// many zone literals, which make any one literal rare among all the spec's); the fee gains
/// the zone. `FUTURE_GET` and `FUTURE_FEE` are the future rules under test.
const PARCELS: &str = r#"upgrade parcels 1 -> 2

protocol jsonrpc { framing: lines }

version 1 {
  record Parcel {
    carrier: string,
    service: string,
    zone: string,
  }
  service Parcels {
    fn get(id: string) -> option<Parcel> = get(state.parcels, id)
    fn fee(carrier: string, service: string) -> u64 = if carrier == "DHL" && service == "NEXT-DAY" {
      900
    } else {
      500
    }
  }
  state {
    parcels: map<string, Parcel>,
  }
}

version 2 {
  record Parcel {
    carrier: string,
    service: string,
    zone: string,
    express: bool,
    region: string,
  }
  service Parcels {
    fn get(id: string) -> option<Parcel> = get(state.parcels, id)
    fn fee(carrier: string, service: string, zone: string) -> u64 = if carrier == "DHL"
      && service == "NEXT-DAY"
      && zone != "EU" {
      1500
    } else if carrier == "DHL" && service == "NEXT-DAY" {
      900
    } else {
      500
    }
  }
  state {
    parcels: map<string, Parcel>,
  }
}

invariant (old, new) {
  keys(old.parcels) == keys(new.parcels)
  forall id in keys(old.parcels): {
    let o = old.parcels[id];
    let n = new.parcels[id];
    n.carrier == o.carrier && n.service == o.service && n.zone == o.zone
      && n.express == (o.carrier == "DHL" && o.service == "NEXT-DAY" && o.zone != "EU")
  }
}

transform (old) -> new {
  parcels: map_values(old.parcels, |p| AS_V2),
}

past Parcels {
  get(id) = (call get(id)).map(|p| v1::Parcel { carrier: p.carrier, service: p.service, zone: p.zone })
  fee(carrier, service) = call fee(carrier, service, "EU")
}

future Parcels {
  FUTURE_GET
  FUTURE_FEE
}
"#;

/// A version-2 parcel made of a version-1 one `p`: the transform's and the right future `get`'s.
const AS_V2: &str = r#"v2::Parcel {
    carrier: p.carrier,
    service: p.service,
    zone: p.zone,
    express: p.carrier == "DHL" && p.service == "NEXT-DAY" && p.zone != "EU",
    region: match p.zone {
      "EU" => "europe",
      "US" => "americas",
      "CA" => "americas",
      "BR" => "americas",
      "CN" => "asia",
      "JP" => "asia",
      "IN" => "asia",
      "AU" => "oceania",
      "ZA" => "africa",
      _ => "elsewhere",
    },
  }"#;

const GET: &str = "get(id) = (call get(id)).map(|p| AS_V2)";

const FEE: &str = r#"fee(carrier, service, zone) = if carrier == "DHL" && service == "NEXT-DAY" && zone != "EU" {
    1500
  } else {
    call fee(carrier, service)
  }"#;

fn parcels(get: &str, fee: &str) -> SpecModel {
    model(
        &PARCELS
            .replace("FUTURE_GET", get)
            .replace("FUTURE_FEE", fee)
            .replace("AS_V2", AS_V2),
    )
}

/// The right rules pass, on every seed tried.
#[test]
fn the_right_rules_pass() {
    let m = parcels(GET, FEE);
    for seed in 0..4 {
        let r = run(&m, seed);
        assert!(r.diagnostics.is_empty(), "seed {seed}:\n{r}");
    }
}

/// The finding: a future `get` that forgets that DHL's next-day service is express passed
/// `verify` on every seed: it is wrong only for a parcel whose carrier and service both
/// equal their literal, and each string was one of the spec's ~20 literals once in ~40
/// draws. Now `carrier` and `service`, which the spec compares with `"DHL"` and
/// `"NEXT-DAY"`, are often exactly those.
#[test]
fn a_state_field_compared_with_a_literal_is_generated_equal_to_it() {
    let wrong = AS_V2.replace(
        r#"express: p.carrier == "DHL" && p.service == "NEXT-DAY" && p.zone != "EU","#,
        r#"express: false,"#,
    );
    assert_ne!(wrong, AS_V2);
    let m = parcels(&GET.replace("AS_V2", &wrong), FEE);
    for seed in 0..4 {
        let r = run(&m, seed);
        assert!(caught(&r), "seed {seed}:\n{r}");
    }
}

/// The same for parameters: a future `fee` that ignores the zone answers wrongly only when
/// `carrier` and `service` are `"DHL"` and `"NEXT-DAY"` and the zone is not `"EU"`.
#[test]
fn a_parameter_compared_with_a_literal_is_generated_equal_to_it() {
    let m = parcels(
        GET,
        "fee(carrier, service, zone) = call fee(carrier, service)",
    );
    for seed in 0..4 {
        let r = run(&m, seed);
        assert!(caught(&r), "seed {seed}:\n{r}");
    }
}
