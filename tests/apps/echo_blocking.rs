//! `echo-blocking`: a line echo server written the old way, with a blocking `accept` loop and a
//! thread per connection (no event loop), for the LD_PRELOAD library's tests: its `accept` must
//! also return connections the shim hands over. Prints `listening ADDR`; `--listen ADDR`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test program")]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
        .map_or("127.0.0.1:0", String::as_str);
    let listener = TcpListener::bind(addr).expect("the address is free");
    println!("listening {}", listener.local_addr().expect("bound"));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        std::thread::spawn(move || {
            let Ok(read) = stream.try_clone() else { return };
            for line in BufReader::new(read).lines() {
                let Ok(line) = line else { return };
                if writeln!(stream, "echo {line}").is_err() {
                    return;
                }
            }
        });
    }
}
