//! Helper functions: typed at their call sites, no recursion, no taken names.

check_tests! {
    helper_functions_are_typed_where_they_are_called {
        let v1 =
        "record Item { v: u64 }\nservice S { fn f(x: u64) -> u64 }\nstate { xs: map<string, u64> }";
        let v2 = "record Item { v: u64 }\nservice S { fn f(x: u64, y: u64) -> u64 }\nstate { xs: map<string, u64> }";
        let rest = "fn double(x: u64) -> u64 = x * 2\n\
                fn total(m: map<string, u64>) -> u64 = sum(values(m)).double()\n\
                fn wrap(i: Item) -> Item = Item { v: double(i.v) }\n\
                invariant (old, new) { total(old.xs) == total(new.xs) }\n\
                transform (old) -> new { xs: map_values(old.xs, |x| wrap(Item { v: x }).v) }\n\
                past S { f(x) = call f(double(x), 1) }\n\
                future S { f(x, y) = call f(double(x) + y) }";
        v1,
        v2,
        rest
            => "";
        // Unknown names suggest the helpers too; arity and argument types are checked.
        v1,
        v2,
        "fn double(x: u64) -> u64 = x * 2\n\
         past S { f(x) = call f(doubel(x), double(x, x)) }\n\
         future S { f(x, y) = call f(double(\"a\") + y + x) }"
            => "U0055 13:24 unknown function `doubel`\n\
                U0056 13:35 `double` takes 1 argument, found 2\n\
                U0050 14:36 expected `u64`, found `string`";
    }

    helper_functions_may_not_recurse_nor_take_taken_names {
        let v1 = "record Item { v: u64 }\nservice S { fn f(x: u64) -> u64 }";
        let v2 = "record Item { v: string }\nservice S { fn f(x: u64) -> u64 }";
        v1,
        v2,
        "fn fact(n: u64) -> u64 = if n == 0 { 1 } else { n * fact(n - 1) }\n\
         fn even(n: u64) -> bool = n == 0 || odd(n - 1)\n\
         fn odd(n: u64) -> bool = n != 0 && even(n - 1)\n\
         fn keys(n: u64) -> u64 = n\n\
         fn fine(n: u64) -> u64 = n\n\
         fn fine(n: u64) -> u64 = n\n\
         fn pick(i: Item) -> u64 = call f(1)\n\
         fn v1_item(i: v1::Item) -> u64 = i.v"
            => "U0044 10:53 function `fact` calls itself\n\
                U0044 11:37 function `even` calls itself through `odd`\n\
                U0044 12:36 function `odd` calls itself through `even`\n\
                U0045 13:4 `keys` is a built-in function\n\
                U0045 15:4 function `fine` is defined twice\n\
                U0058 16:12 `Item` means different types in versions 1 and 2\n\
                U0037 16:27 `call` in a function";
    }
}
