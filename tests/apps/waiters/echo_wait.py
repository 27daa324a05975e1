"""A line echo server for the LD_PRELOAD library's hand-off tests, standard library only.

    python3 echo_wait.py MODE

MODE is how it waits for a connection: `poll`, `select` or `epoll` (the standard library's
`selectors.PollSelector`, `SelectSelector`, `EpollSelector`, waiting without a timeout, so a
connection it does not see is never accepted), or `accept` (a blocking `accept`). It serves one
connection at a time, echoing each line as `echo LINE`, and prints `listening ADDR` first.
"""

import selectors
import socket
import sys

SELECTORS = {
    "poll": selectors.PollSelector,
    "select": selectors.SelectSelector,
    "epoll": selectors.EpollSelector,
}


def serve(conn):
    conn.setblocking(True)
    with conn, conn.makefile("rb") as lines:
        for line in lines:
            conn.sendall(b"echo " + line)


def main():
    mode = sys.argv[1]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    host, port = listener.getsockname()
    print(f"listening {host}:{port}", flush=True)
    if mode == "accept":
        while True:
            conn, _ = listener.accept()
            serve(conn)
    selector = SELECTORS[mode]()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    while True:
        for _key, _events in selector.select():
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                continue
            serve(conn)


if __name__ == "__main__":
    main()
