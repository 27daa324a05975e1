//! How long a translated connection polls for what is due before it sleeps: a budget per kind
//! of wait (the node's answer, the caller's next frame) that adapts to the waits it sees, the
//! way the kernel's haltpoll governor adapts a vCPU's halt-polling.
//!
//! A connection starts with no budget (a connection never seen busy is never polled for). A
//! wait that ends within the cap but beyond the budget grows it (to a quarter of the cap at
//! first, then doubling, up to the cap); a wait that ends within the budget keeps it; a wait
//! longer than the cap (a caller that pauses, a node slow to answer) sets it to zero, so the
//! next such wait sleeps at once, and only a short wait, measured without polling, brings the
//! budget back.

use std::time::Duration;

/// One kind of wait's polling budget on one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget(Duration);

impl Budget {
    /// How long the next wait of this kind is polled for.
    pub fn get(self) -> Duration {
        self.0
    }

    /// A wait of this kind ended after `waited`; `cap` is the most any wait is polled for
    /// ([`ShimConfig::spin`](crate::ShimConfig::spin), zero: never).
    pub fn adjust(&mut self, waited: Duration, cap: Duration) {
        if waited > cap {
            self.0 = Duration::ZERO;
        } else if waited > self.0 {
            self.0 = (self.0 * 2).max(cap / 4).min(cap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_micros(40);

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn a_budget_starts_at_zero_grows_with_short_waits_up_to_the_cap() {
        let mut b = Budget::default();
        assert_eq!(b.get(), Duration::ZERO);
        b.adjust(us(2), CAP);
        assert_eq!(b.get(), us(10));
        // Within the budget: kept.
        b.adjust(us(3), CAP);
        assert_eq!(b.get(), us(10));
        // Beyond it, within the cap: doubled, never past the cap.
        b.adjust(us(30), CAP);
        assert_eq!(b.get(), us(20));
        b.adjust(us(30), CAP);
        assert_eq!(b.get(), us(40));
        b.adjust(us(39), CAP);
        assert_eq!(b.get(), CAP);
    }

    #[test]
    fn a_wait_longer_than_the_cap_stops_the_polling_and_a_zero_cap_never_polls() {
        let mut b = Budget::default();
        b.adjust(us(2), CAP);
        b.adjust(us(30), CAP);
        assert_eq!(b.get(), us(20));
        b.adjust(Duration::from_millis(3), CAP);
        assert_eq!(b.get(), Duration::ZERO);
        let mut never = Budget::default();
        for waited in [us(0), us(1), us(100)] {
            never.adjust(waited, Duration::ZERO);
            assert_eq!(never.get(), Duration::ZERO);
        }
    }
}
