//! State transforms (both directions), invariants and method models over state.

check_tests! {
    transform_must_assign_every_new_field_and_read_every_old_one {
        "state { a: map<string, u64>, lost: u64 }",
        "state { a: map<string, u64>, b: bool }",
        "invariant (o, n) { keys(o.a) == keys(n.a) }\ntransform (o) -> n { a: o.a }"
            => "U0068 3:30 the transform never reads `lost`\n\
                U0054 9:1 the transform does not assign `b`";
    }

    reverse_transform_assigns_the_old_state_from_the_new_one {
        let (v1, v2) = (
        "state { a: map<string, u64>, c: string }",
        "state { a: map<string, u64>, b: bool, c: string }",
    );
        let fwd = "invariant (o, n) { keys(o.a) == keys(n.a) }\ntransform (o) -> n { a: o.a, b: true, c: o.c }";
        // Types come from the old state; `new` is the new state; every old field is assigned; a
        // field the old state does not have is refused; unread new fields are named together.
        v1,
        v2,
        &format!("{fwd}\ntransform (new) -> old {{ a: new.b, zz: 1 }}")
            => "U0054 10:1 the reverse transform does not assign `c`\n\
                U0072 10:1 the reverse transform never reads `a`, `c` of the new state\n\
                U0050 10:29 expected `map<string, u64>`, found `bool`\n\
                U0067 10:36 the state of version 1 has no field `zz`";
        v1,
        v2,
        &format!("{fwd}\ntransform (new) -> old {{ a: new.a, c: new.c }}")
            => "U0072 10:1 the reverse transform never reads `b` of the new state";
        v1,
        v2,
        &format!("{fwd}\ntransform (new) -> old {{ a: new.a, c: if new.b {{ new.c }} else {{ \"\" }} }}")
            => "";
        v1,
        v2,
        &format!("{fwd}\ntransform (new) -> old {{ a: new.a, c: new.c, b: new.b }}\ntransform (new) -> old {{ a: new.a, c: new.c }}")
            => "U0067 10:46 the state of version 1 has no field `b`\n\
                U0012 11:1 the reverse transform is given twice";
    }

    invariant_clauses_are_booleans {
        "state { a: u64 }",
        "state { a: u64 }",
        "invariant (o, n) { o.a + 1 }"
            => "U0065 8:20 an invariant clause must be `bool`, found `u64`";
    }

    method_models_are_typed_over_their_versions_state {
        let v1 = "record Entry { key: string, value: string }\nservice S {\n  fn get(key: string) -> option<string> = get(state.entries, key)\n  fn put(key: string, value: string) -> unit { let e = Entry { key: key, value: value }; state.entries = insert(state.entries, e.key, e.value) }\n  fn bad(key: string) -> u64 { state.entries = key; disallow \"no\" }\n  fn wrong() -> bool = call get(\"a\")\n}\nstate { entries: map<string, string> }";
        let v2 = "record Entry { key: string, value: u64 }\nservice S {\n  fn get(key: string) -> option<string> = some(Entry { key: key, value: 1 }.key)\n  fn put(key: string, value: string) -> unit\n  fn bad(key: string) -> u64\n  fn wrong() -> bool\n}\nstate { entries: map<string, string> }";
        v1,
        v2,
        ""
            => "U0050 7:48 expected `map<string, string>`, found `string`\nU0038 7:53 `disallow` in a method model\nU0037 8:24 `call` in a method model";
    }
}
