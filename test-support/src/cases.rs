//! Table-driven tests: [`test_cases!`](crate::test_cases) writes one `#[test]` per row of a
//! table, each under its own name and calling one helper with the row's arguments, so a
//! suite that runs one check over many inputs says each input once and each still passes,
//! fails and is filtered by its own name.

/// One `#[test]` per case, each calling `helper` with its arguments:
///
/// ```
/// fn doubles(n: u32, twice: u32) {
///     assert_eq!(n * 2, twice);
/// }
///
/// upstart_test_support::test_cases! { doubles;
///     one_doubles_to_two: (1, 2),
///     two_doubles_to_four: (2, 4),
/// }
/// ```
#[macro_export]
macro_rules! test_cases {
    ($helper:path; $($name:ident: ($($arg:expr),* $(,)?)),* $(,)?) => {$(
        #[test]
        fn $name() {
            $helper($($arg),*);
        }
    )*};
}
