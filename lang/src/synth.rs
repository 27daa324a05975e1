//! Synthesizes large, valid specs for benchmarks (`upstartc check` on 10,000 lines) and for
//! editor-latency measurements. Pure: returns text.

use std::fmt::Write;

/// A valid spec of at least `min_lines` lines: records that gain a field, services whose
/// methods return them (so every method needs a past and a future rule), state maps of them,
/// a transform and an invariant over all of it.
pub fn large_spec(min_lines: usize) -> String {
    sized(min_lines, false)
}

/// [`large_spec`] whose methods carry models (`read` and `kind` read the state, `write`
/// inserts), and whose invariant relates every field both versions have, so `upstartc verify`
/// checks the simulation obligations of every rule and unchanged method.
pub fn large_spec_with_models(min_lines: usize) -> String {
    sized(min_lines, true)
}

fn sized(min_lines: usize, models: bool) -> String {
    let per_unit = with_units(2, models).lines().count() - with_units(1, models).lines().count();
    let mut units = min_lines / per_unit.max(1) + 1;
    loop {
        let text = with_units(units, models);
        if text.lines().count() >= min_lines {
            return text;
        }
        units += 1;
    }
}

fn with_units(units: usize, models: bool) -> String {
    let mut s = String::with_capacity(units * 4_000);
    let _ = writeln!(s, "// generated: {units} units, for benchmarks\nupgrade big 1 -> 2\n\nprotocol jsonrpc {{ framing: lines }}\n");
    for v in [1u64, 2] {
        let _ = writeln!(s, "version {v} {{");
        for i in 0..units {
            let _ = writeln!(s, "  record Rec{i} {{\n    name: string,\n    count: u64,\n    note: option<string>,\n    tags: list<string>,");
            if v == 2 {
                let _ = writeln!(s, "    archived: bool,");
            }
            let _ = writeln!(
                s,
                "  }}\n  enum Kind{i} {{\n    Small,\n    Large(u64),\n    Named(string),\n  }}"
            );
        }
        for i in 0..units {
            let _ = writeln!(s, "  service Svc{i} {{");
            if models {
                let _ = writeln!(
                    s,
                    "    fn read{i}(key: string) -> option<Rec{i}> = get(state.table{i}, key)"
                );
                let _ = writeln!(s, "    fn write{i}(key: string, rec: Rec{i}) -> unit {{\n      state.table{i} = insert(state.table{i}, key, rec)\n    }}");
                let _ = writeln!(s, "    fn kind{i}(key: string) -> Kind{i} = match get(state.table{i}, key) {{\n      some(r) => Kind{i}::Large(r.count),\n      none => Kind{i}::Small,\n    }}");
            } else {
                let _ = writeln!(s, "    fn read{i}(key: string) -> option<Rec{i}>");
                let _ = writeln!(s, "    fn write{i}(key: string, rec: Rec{i}) -> unit");
                let _ = writeln!(s, "    fn kind{i}(key: string) -> Kind{i}");
            }
            let _ = writeln!(s, "  }}");
        }
        let _ = writeln!(s, "  state {{");
        for i in 0..units {
            let _ = writeln!(s, "    table{i}: map<string, Rec{i}>,");
        }
        let _ = writeln!(s, "  }}\n}}\n");
    }
    let _ = writeln!(s, "invariant (old, new) {{");
    for i in 0..units {
        let _ = writeln!(s, "  keys(old.table{i}) == keys(new.table{i})");
        let _ = writeln!(s, "  forall k in keys(old.table{i}): old.table{i}[k].name == new.table{i}[k].name && old.table{i}[k].count == new.table{i}[k].count");
        if models {
            let _ = writeln!(s, "  forall k in keys(old.table{i}): old.table{i}[k].note == new.table{i}[k].note && old.table{i}[k].tags == new.table{i}[k].tags");
        }
    }
    let _ = writeln!(s, "}}\n\ntransform (old) -> new {{");
    for i in 0..units {
        let _ = writeln!(
            s,
            "  table{i}: map_values(old.table{i}, |r| v2::Rec{i} {{\n    name: r.name,\n    count: r.count,\n    note: r.note,\n    tags: r.tags,\n    archived: false,\n  }}),"
        );
    }
    let _ = writeln!(s, "}}\n");
    for i in 0..units {
        let _ = writeln!(s, "past Svc{i} {{");
        let _ = writeln!(s, "  read{i}(key) = (call read{i}(key)).map(|r| v1::Rec{i} {{ name: r.name, count: r.count, note: r.note, tags: r.tags }})");
        let _ = writeln!(s, "  write{i}(key, rec) = call write{i}(key, v2::Rec{i} {{\n    name: rec.name,\n    count: rec.count,\n    note: rec.note,\n    tags: rec.tags,\n    archived: false,\n  }})");
        let _ = writeln!(s, "}}\n\nfuture Svc{i} {{");
        let _ = writeln!(s, "  read{i}(key) = (call read{i}(key)).map(|r| v2::Rec{i} {{ name: r.name, count: r.count, note: r.note, tags: r.tags, archived: false }})");
        let _ = writeln!(s, "  write{i}(key, rec) = if rec.archived {{\n    disallow \"archiving needs version 2\"\n  }} else {{\n    call write{i}(key, v1::Rec{i} {{ name: rec.name, count: rec.count, note: rec.note, tags: rec.tags }})\n  }}");
        let _ = writeln!(s, "}}\n");
    }
    let _ = writeln!(s, "schedule {{\n  rolling {{ batch: 1, max_unavailable: 1 }}\n  order: node_id\n  healthy_for: 5s\n}}");
    s
}
