//! Orderings of node ids (natural, reverse, seeded shuffle) and node-id globs.

use super::settings::Order;
use std::cmp::Ordering;

/// Compares node ids with digit runs as numbers: `n2 < n10`, then bytewise to break ties.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let (nx, rx) = split_digits(x);
                let (ny, ry) = split_digits(y);
                let (tx, ty) = (trim_zeros(nx), trim_zeros(ny));
                let by_value = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                x = rx;
                y = ry;
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = x.get(1..).unwrap_or_default();
                y = y.get(1..).unwrap_or_default();
            }
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    s.split_at(n)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| **b == b'0').count();
    s.get(n..).unwrap_or_default()
}

/// A key of `id` in a shuffle by `seed`: splitmix64 over FNV-1a of the id.
pub fn shuffle_key(seed: u64, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Sorts `ids` in `order` (with `seed` for `random`).
pub fn sort_ids(ids: &mut [&str], order: Order, seed: u64) {
    match order {
        Order::NodeId => ids.sort_by(|a, b| natural_cmp(a, b)),
        Order::ReverseNodeId => ids.sort_by(|a, b| natural_cmp(b, a)),
        Order::Random => ids.sort_by(|a, b| {
            shuffle_key(seed, a)
                .cmp(&shuffle_key(seed, b))
                .then_with(|| a.cmp(b))
        }),
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters and `?` any one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|c| *c == '*')
}
