/* A line echo server for the LD_PRELOAD library's hand-off tests, in C.
 *
 *     echo_wait MODE
 *
 * MODE is how it waits for a connection on its non-blocking listening socket: `epoll`,
 * `poll`, `ppoll`, `select`, `pselect` (each without a timeout, so a connection it does not
 * see is never accepted), or `accept` (a blocking `accept` on a blocking socket). It serves
 * one connection at a time, echoing each line as `echo LINE`, and prints `listening ADDR`.
 * The tests build it as distributions build programs (`-O2 -D_FORTIFY_SOURCE=2`). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static void serve(int conn) {
    char buf[4096];
    char line[4200];
    size_t used = 0;
    int flags = fcntl(conn, F_GETFL);
    fcntl(conn, F_SETFL, flags & ~O_NONBLOCK);
    for (;;) {
        ssize_t n = read(conn, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) {
            if (used < sizeof line - 6) line[used++] = buf[i];
            if (buf[i] == '\n') {
                char out[4300];
                int len = snprintf(out, sizeof out, "echo %.*s", (int)used, line);
                if (write(conn, out, (size_t)len) != len) goto done;
                used = 0;
            }
        }
    }
done:
    close(conn);
}

static void wait_readable(const char *mode, int fd, int ep) {
    if (strcmp(mode, "epoll") == 0) {
        struct epoll_event ev;
        while (epoll_wait(ep, &ev, 1, -1) < 0 && errno == EINTR) {}
    } else if (strcmp(mode, "poll") == 0) {
        struct pollfd fds[1] = {{.fd = fd, .events = POLLIN}};
        while (poll(fds, 1, -1) < 0 && errno == EINTR) {}
    } else if (strcmp(mode, "ppoll") == 0) {
        struct pollfd fds[1] = {{.fd = fd, .events = POLLIN}};
        while (ppoll(fds, 1, NULL, NULL) < 0 && errno == EINTR) {}
    } else if (strcmp(mode, "select") == 0 || strcmp(mode, "pselect") == 0) {
        int rc;
        do {
            fd_set set;
            FD_ZERO(&set);
            FD_SET(fd, &set);
            rc = mode[0] == 's' ? select(fd + 1, &set, NULL, NULL, NULL)
                                : pselect(fd + 1, &set, NULL, NULL, NULL, NULL);
            if (rc > 0 && !FD_ISSET(fd, &set)) {
                fprintf(stderr, "select reported a descriptor not asked for\n");
                exit(2);
            }
        } while (rc < 0 && errno == EINTR);
    } else {
        fprintf(stderr, "unknown mode `%s`\n", mode);
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: echo_wait MODE\n");
        return 2;
    }
    const char *mode = argv[1];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("listen");
        return 1;
    }
    printf("listening 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    int blocking = strcmp(mode, "accept") == 0;
    int ep = -1;
    if (!blocking) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (strcmp(mode, "epoll") == 0) {
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
            ep = epoll_create1(EPOLL_CLOEXEC);
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
    }
    for (;;) {
        if (!blocking) wait_readable(mode, fd, ep);
        int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
            perror("accept");
            return 1;
        }
        serve(conn);
    }
}
