//! `upstartc mutate`: the table and `--json` on an example spec, `--fail-under` as an exit
//! code, and a spec that fails `verify` itself refused with a hint.

use std::path::PathBuf;
use std::process::Command;
use upstart_test_support::repo_root;

fn spec(rel: &str) -> PathBuf {
    repo_root().join(rel)
}

fn upstartc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_upstartc"))
}

#[test]
fn mutate_prints_a_table_and_json_with_the_totals() {
    let kv = spec("specs/kv/kv-1-2.ups");
    let out = upstartc()
        .args(["mutate", "--cases", "8"])
        .arg(&kv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("rule") && table.contains("past Kv.put"),
        "{table}"
    );
    assert!(table.contains("mutants killed"), "{table}");

    let out = upstartc()
        .args(["mutate", "--cases", "8", "--json"])
        .arg(&kv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = json["total"].as_u64().unwrap();
    let killed = json["killed"].as_u64().unwrap();
    assert!(total > 0 && killed <= total, "{json}");
    assert_eq!(json["specs"][0]["total"].as_u64(), Some(total));
    assert!(json["specs"][0]["mutants"].as_array().unwrap().len() as u64 == total);
}

#[test]
fn fail_under_fails_a_rate_below_it() {
    let out = upstartc()
        .args(["mutate", "--cases", "8", "--fail-under", "100.5"])
        .arg(spec("specs/kv/kv-1-2.ups"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is under `--fail-under 100.5`"), "{stderr}");
}

#[test]
fn a_spec_failing_verify_is_refused() {
    let out = upstartc()
        .args(["mutate", "--cases", "64"])
        .arg(spec("specs/verify/past-drops-argument.ups"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the spec itself fails `verify`"),
        "{stderr}"
    );
    assert!(stderr.contains("help: `upstartc verify"), "{stderr}");
}
