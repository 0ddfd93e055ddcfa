/*
 * nsgate-psi: arms the kernel's PSI triggers and reports when they fire. Node cannot wait for
 * POLLPRI on a file, so this small helper does: it reads commands on stdin, one per line, and
 * writes one line per answer or event on stdout.
 *
 *   add <id> <file> <some|full> <stallUs> <windowUs>   open <file> (a cgroup's or /proc's
 *                                                      <resource>.pressure), write the trigger
 *       -> "ok <id>" | "err <id> <errno number>"
 *   del <id>                                           close it (the kernel drops the trigger)
 *       -> "ok <id>" | "err <id> 2"
 *   a trigger fired                                    -> "fire <id>"
 *   its cgroup went away (POLLERR)                     -> "gone <id>"
 *
 * It refuses any file that is not an absolute path under /sys/fs/cgroup or /proc/pressure ending
 * in ".pressure", without "..", and opens it with O_NOFOLLOW. It exits when stdin closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TRIGGERS 1024
#define LINE_MAX_LEN 1024

static struct pollfd fds[MAX_TRIGGERS + 1];
static long ids[MAX_TRIGGERS + 1];
static int count = 1; /* fds[0] is stdin */

static void say(const char *what, long id, int err) {
  if (err) dprintf(1, "%s %ld %d\n", what, id, err);
  else dprintf(1, "%s %ld\n", what, id);
}

static int allowed(const char *path) {
  size_t n = strlen(path);
  if (strstr(path, "..") || n < 10 || strcmp(path + n - 9, ".pressure") != 0) return 0;
  return strncmp(path, "/sys/fs/cgroup/", 15) == 0 || strncmp(path, "/proc/pressure/", 15) == 0;
}

static void drop(int i) {
  close(fds[i].fd);
  fds[i] = fds[count - 1];
  ids[i] = ids[count - 1];
  count--;
}

static void add(long id, const char *path, const char *kind, long stall, long window) {
  char trigger[64];
  int fd;
  if (count > MAX_TRIGGERS) return say("err", id, ENOSPC);
  if (!allowed(path) || (strcmp(kind, "some") != 0 && strcmp(kind, "full") != 0) || stall <= 0 || window <= 0) return say("err", id, EINVAL);
  fd = open(path, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return say("err", id, errno);
  snprintf(trigger, sizeof trigger, "%s %ld %ld", kind, stall, window);
  /* the terminating NUL is part of the write, as the kernel's documentation does it */
  if (write(fd, trigger, strlen(trigger) + 1) < 0) {
    int err = errno;
    close(fd);
    return say("err", id, err);
  }
  fds[count].fd = fd;
  fds[count].events = POLLPRI;
  ids[count] = id;
  count++;
  say("ok", id, 0);
}

static void command(char *line) {
  char verb[8], path[LINE_MAX_LEN], kind[8];
  long id, stall, window;
  if (sscanf(line, "add %ld %1000s %7s %ld %ld", &id, path, kind, &stall, &window) == 5) return add(id, path, kind, stall, window);
  if (sscanf(line, "%7s %ld", verb, &id) == 2 && strcmp(verb, "del") == 0) {
    for (int i = 1; i < count; i++) {
      if (ids[i] == id) {
        drop(i);
        return say("ok", id, 0);
      }
    }
    return say("err", id, ENOENT);
  }
  dprintf(1, "bad\n");
}

int main(void) {
  static char buf[LINE_MAX_LEN * 4];
  size_t used = 0;
  fds[0].fd = 0;
  fds[0].events = POLLIN;
  for (;;) {
    if (poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (int i = count - 1; i >= 1; i--) {
      if (fds[i].revents & (POLLERR | POLLNVAL)) {
        long id = ids[i];
        drop(i);
        say("gone", id, 0);
      } else if (fds[i].revents & POLLPRI) {
        say("fire", ids[i], 0);
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      ssize_t got = read(0, buf + used, sizeof buf - used - 1);
      if (got <= 0) return 0;
      used += (size_t)got;
      buf[used] = '\0';
      char *start = buf, *nl;
      while ((nl = strchr(start, '\n'))) {
        *nl = '\0';
        if (nl - start < LINE_MAX_LEN) command(start);
        start = nl + 1;
      }
      used -= (size_t)(start - buf);
      memmove(buf, start, used);
      if (used >= sizeof buf - 1) used = 0; /* an over-long line is dropped */
    }
  }
}
