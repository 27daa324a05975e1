//! Counts whole frames in a byte stream the shim copies without decoding, so a drain can tell
//! when a copied connection has no request in flight (requests sent minus answers received)
//! and close it between requests instead of waiting for the client to hang up.

use crate::config::Framing;

/// Frames completed so far in one direction of a copied stream.
#[derive(Debug, Clone)]
pub struct FrameCounter {
    framing: Framing,
    /// Length framing: bytes of the current header read so far, and the header.
    header_len: usize,
    header: [u8; 4],
    /// Length framing: body bytes of the current frame still to come.
    body_left: usize,
}

impl FrameCounter {
    pub fn new(framing: Framing) -> FrameCounter {
        FrameCounter {
            framing,
            header_len: 0,
            header: [0; 4],
            body_left: 0,
        }
    }

    /// The number of frames that `bytes` (the next bytes of the stream) complete.
    pub fn feed(&mut self, bytes: &[u8]) -> u64 {
        match self.framing {
            Framing::Lines => bytes.iter().filter(|&&b| b == b'\n').count() as u64,
            Framing::Length => self.feed_length(bytes),
        }
    }

    fn feed_length(&mut self, mut bytes: &[u8]) -> u64 {
        let mut done = 0;
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let take = self.body_left.min(bytes.len());
                self.body_left -= take;
                bytes = bytes.get(take..).unwrap_or_default();
                if self.body_left == 0 {
                    done += 1;
                }
                continue;
            }
            let need = 4 - self.header_len;
            let take = need.min(bytes.len());
            if let (Some(dst), Some(src)) = (
                self.header.get_mut(self.header_len..self.header_len + take),
                bytes.get(..take),
            ) {
                dst.copy_from_slice(src);
            }
            self.header_len += take;
            bytes = bytes.get(take..).unwrap_or_default();
            if self.header_len == 4 {
                self.header_len = 0;
                self.body_left = u32::from_be_bytes(self.header) as usize;
                if self.body_left == 0 {
                    done += 1;
                }
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_newlines() {
        let mut c = FrameCounter::new(Framing::Lines);
        assert_eq!(c.feed(b"{\"a\":1}\n{\"b\""), 1);
        assert_eq!(c.feed(b":2}\n\n"), 2);
    }

    #[test]
    fn length_frames_count_across_any_split() {
        let mut stream = Vec::new();
        for body in [&b"hello"[..], b"", b"a longer frame body"] {
            stream.extend_from_slice(&(body.len() as u32).to_be_bytes());
            stream.extend_from_slice(body);
        }
        for cut in 0..=stream.len() {
            for step in [1, 2, 3, 7] {
                let mut c = FrameCounter::new(Framing::Length);
                let (a, b) = stream.split_at(cut);
                let mut total = c.feed(a);
                for chunk in b.chunks(step) {
                    total += c.feed(chunk);
                }
                assert_eq!(total, 3, "cut {cut} step {step}");
            }
        }
    }
}
