/*
 * nsgate-exec: the one program nsgate runs to enter or create namespaces.
 *
 * Node cannot setns(2) itself (threads), and util-linux nsenter leaves every descriptor it
 * inherits open in the command it runs (so the descriptors that pin a target would reach into
 * the container), so this small, statically linked helper does it. It is always run from an
 * absolute host path, before it enters anything, and it never runs a program from the target
 * except the command itself.
 *
 *   nsgate-exec enter   --pid P --start-time T --ns mnt,uts,... [--uid U] [--gid G]
 *                       [--groups G1,G2] [--cwd DIR] [--cgroup-fd N | --wait] [-e NAME=VALUE]... -- ARGV...
 *   nsgate-exec sandbox --ns pid,mnt,... [--hostname H] [--root DIR] [--caps N,N|none]
 *                       [--nnp] [--readonly] [--uid U] [--gid G] --wait [-e NAME=VALUE]... -- ARGV...
 *
 * Descriptors: 0, 1, 2 are the command's stdio; 3 is the channel to nsgate (a socket): nsgate
 * writes "go\n" there when --wait is given (it has moved this process into its cgroup), and
 * this program reports on it, one line each:
 *   entered <type>=<inode> ...      the namespaces the command is in (enter)
 *   child <pid>                     the command's host pid
 *   error <stage> <ERRNO|-> <text>  a refusal or failure; "gone" means the target is not the pinned process
 *   exit <code> | signal <number>   how the command ended
 *
 * Safety, in order: not dumpable (a process in the target cannot open /proc/PID/exe of this
 * host binary, CVE-2019-5736); the target is a pidfd, and its start time is checked after the
 * pidfd is open (a reused pid is never entered); one setns(pidfd, flags) enters everything at
 * once; the command is forked into its own cgroup (clone3 CLONE_INTO_CGROUP) or this process
 * waits until nsgate has moved it there; every descriptor but 0, 1, 2 is closed before chdir
 * and execve (no host descriptor to reach through /proc/self/fd, CVE-2016-9962 and
 * CVE-2024-21626), and the working directory is checked to lie inside the root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define CHANNEL_FD 3
#define SETUP_FAILED 125
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_GROUPS 64

/* Our own copies: <linux/sched.h> and <linux/mount.h> clash with glibc's headers. */
struct nsg_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
struct nsg_mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

struct ns_kind {
  const char *name;
  int flag;
  /* The link that shows where the caller's children go (pid and time change for children only). */
  const char *link;
};

static const struct ns_kind NS_KINDS[] = {
    {"cgroup", CLONE_NEWCGROUP, "cgroup"}, {"ipc", CLONE_NEWIPC, "ipc"},
    {"mnt", CLONE_NEWNS, "mnt"},           {"net", CLONE_NEWNET, "net"},
    {"pid", CLONE_NEWPID, "pid_for_children"}, {"time", CLONE_NEWTIME, "time_for_children"},
    {"user", CLONE_NEWUSER, "user"},       {"uts", CLONE_NEWUTS, "uts"},
};
#define NS_COUNT (sizeof NS_KINDS / sizeof NS_KINDS[0])

struct options {
  int sandbox;
  pid_t pid;
  unsigned long long start_time;
  int have_start_time;
  int ns_flags;
  int have_uid, have_gid;
  uid_t uid;
  gid_t gid;
  int ngroups;
  gid_t groups[MAX_GROUPS];
  const char *cwd;
  int cgroup_fd;
  int wait;
  const char *hostname;
  const char *root;
  int caps_given;
  uint64_t caps;
  int nnp;
  int readonly;
  char **env;
  int nenv;
  char **argv;
};

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  for (char *p = line; p < line + n - 1; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  const char *p = line;
  while (n > 0) {
    ssize_t w = write(CHANNEL_FD, p, (size_t)n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (int)w;
  }
}

static const char *errname(int err) {
  const char *name = err ? strerrorname_np(err) : NULL;
  return name ? name : "-";
}

static void fail(const char *stage, int err, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
static void fail(const char *stage, int err, const char *fmt, ...) {
  char text[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (err)
    report("error %s %s %s: %s", stage, errname(err), text, strerror(err));
  else
    report("error %s - %s", stage, text);
  _exit(SETUP_FAILED);
}

static unsigned long long parse_number(const char *what, const char *s, unsigned long long max) {
  char *end;
  errno = 0;
  if (!s || !*s || *s == '-' || *s == '+') fail("usage", 0, "%s: not a number", what);
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v > max) fail("usage", 0, "%s: not a number in range: %s", what, s);
  return v;
}

static int parse_namespaces(const char *list, int allowed) {
  int flags = 0;
  char buf[128];
  if (strlen(list) >= sizeof buf) fail("usage", 0, "--ns: too long");
  strcpy(buf, list);
  for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    size_t i;
    for (i = 0; i < NS_COUNT; i++)
      if (strcmp(tok, NS_KINDS[i].name) == 0) break;
    if (i == NS_COUNT || !(NS_KINDS[i].flag & allowed)) fail("usage", 0, "--ns: not a namespace here: %s", tok);
    flags |= NS_KINDS[i].flag;
  }
  if (!flags) fail("usage", 0, "--ns: empty");
  return flags;
}

static void parse_args(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  o->cgroup_fd = -1;
  if (argc < 2) fail("usage", 0, "no mode");
  if (strcmp(argv[1], "enter") == 0)
    o->sandbox = 0;
  else if (strcmp(argv[1], "sandbox") == 0)
    o->sandbox = 1;
  else
    fail("usage", 0, "unknown mode");
  o->env = calloc((size_t)argc + 1, sizeof(char *));
  if (!o->env) fail("usage", ENOMEM, "calloc");
  int i;
  for (i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKES_VALUE()                                   \
  do {                                                  \
    if (!v) fail("usage", 0, "%s needs a value", a);   \
    i++;                                                \
  } while (0)
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else if (strcmp(a, "--pid") == 0) {
      TAKES_VALUE();
      o->pid = (pid_t)parse_number(a, v, INT_MAX);
    } else if (strcmp(a, "--start-time") == 0) {
      TAKES_VALUE();
      o->start_time = parse_number(a, v, ULLONG_MAX);
      o->have_start_time = 1;
    } else if (strcmp(a, "--ns") == 0) {
      TAKES_VALUE();
      int allowed = o->sandbox ? (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)
                               : (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
                                  CLONE_NEWCGROUP | CLONE_NEWUSER | CLONE_NEWTIME);
      o->ns_flags = parse_namespaces(v, allowed);
    } else if (strcmp(a, "--uid") == 0) {
      TAKES_VALUE();
      o->uid = (uid_t)parse_number(a, v, 4294967294ULL);
      o->have_uid = 1;
    } else if (strcmp(a, "--gid") == 0) {
      TAKES_VALUE();
      o->gid = (gid_t)parse_number(a, v, 4294967294ULL);
      o->have_gid = 1;
    } else if (strcmp(a, "--groups") == 0) {
      TAKES_VALUE();
      char buf[1024];
      if (strlen(v) >= sizeof buf) fail("usage", 0, "--groups: too long");
      strcpy(buf, v);
      for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->ngroups == MAX_GROUPS) fail("usage", 0, "--groups: more than %d", MAX_GROUPS);
        o->groups[o->ngroups++] = (gid_t)parse_number(a, tok, 4294967294ULL);
      }
    } else if (strcmp(a, "--cwd") == 0) {
      TAKES_VALUE();
      if (v[0] != '/') fail("usage", 0, "--cwd must be absolute");
      o->cwd = v;
    } else if (strcmp(a, "--cgroup-fd") == 0) {
      TAKES_VALUE();
      o->cgroup_fd = (int)parse_number(a, v, INT_MAX);
      if (o->cgroup_fd <= CHANNEL_FD) fail("usage", 0, "--cgroup-fd must be above %d", CHANNEL_FD);
    } else if (strcmp(a, "--wait") == 0) {
      o->wait = 1;
    } else if (strcmp(a, "--hostname") == 0) {
      TAKES_VALUE();
      if (strlen(v) == 0 || strlen(v) > 64) fail("usage", 0, "--hostname: 1 to 64 bytes");
      o->hostname = v;
    } else if (strcmp(a, "--root") == 0) {
      TAKES_VALUE();
      if (v[0] != '/') fail("usage", 0, "--root must be absolute");
      o->root = v;
    } else if (strcmp(a, "--caps") == 0) {
      TAKES_VALUE();
      o->caps_given = 1;
      if (strcmp(v, "none") != 0) {
        char buf[512];
        if (strlen(v) >= sizeof buf) fail("usage", 0, "--caps: too long");
        strcpy(buf, v);
        for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
          o->caps |= 1ULL << parse_number(a, tok, 63);
      }
    } else if (strcmp(a, "--nnp") == 0) {
      o->nnp = 1;
    } else if (strcmp(a, "--readonly") == 0) {
      o->readonly = 1;
    } else if (strcmp(a, "-e") == 0) {
      TAKES_VALUE();
      const char *eq = strchr(v, '=');
      if (!eq || eq == v) fail("usage", 0, "-e wants NAME=VALUE");
      o->env[o->nenv++] = (char *)v;
    } else {
      fail("usage", 0, "unknown option %s", a);
    }
#undef TAKES_VALUE
  }
  if (i >= argc || !argv[i][0]) fail("usage", 0, "no command after --");
  o->argv = &argv[i];
  if (!o->ns_flags) fail("usage", 0, "--ns is required");
  if (!o->sandbox && (o->pid <= 0 || !o->have_start_time)) fail("usage", 0, "enter needs --pid and --start-time");
  if (o->sandbox && !o->wait) fail("usage", 0, "sandbox needs --wait");
  if (o->sandbox && (o->cwd || o->cgroup_fd >= 0)) fail("usage", 0, "sandbox takes no --cwd or --cgroup-fd");
  if (!o->sandbox && (o->hostname || o->root || o->caps_given || o->nnp || o->readonly))
    fail("usage", 0, "enter takes no sandbox options");
  if (o->sandbox && (o->hostname && !(o->ns_flags & CLONE_NEWUTS))) fail("usage", 0, "--hostname needs a uts namespace");
  if (o->sandbox && !(o->ns_flags & CLONE_NEWNS)) fail("usage", 0, "a sandbox needs a mount namespace");
}

/* Blocks until nsgate says "go" (it has moved this process into the cgroup); EOF means stop. */
static void wait_for_go(void) {
  char buf[3];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t n = read(CHANNEL_FD, buf + got, sizeof buf - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(SETUP_FAILED);
    got += (size_t)n;
  }
  if (memcmp(buf, "go\n", 3) != 0) fail("usage", 0, "unexpected word on the channel");
}

/* Field 22 of /proc/PID/stat, counted after the last ')' (comm may hold anything). */
static int read_start_time(int procfd, pid_t pid, unsigned long long *out) {
  char path[32], buf[4096];
  snprintf(path, sizeof path, "%d/stat", (int)pid);
  int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  int err = errno;
  close(fd);
  if (n <= 0) {
    errno = n < 0 ? err : EIO;
    return -1;
  }
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) {
    errno = EIO;
    return -1;
  }
  /* After ") ": field 3 (state), then one space per field up to field 22. */
  p += 2;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) {
      errno = EIO;
      return -1;
    }
    p++;
  }
  char *end;
  errno = 0;
  *out = strtoull(p, &end, 10);
  if (errno || end == p) {
    errno = EIO;
    return -1;
  }
  return 0;
}

static int open_host_proc(void) {
  int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("proc", errno, "open /proc");
  struct statfs sfs;
  if (fstatfs(fd, &sfs) < 0) fail("proc", errno, "statfs /proc");
  if (sfs.f_type != PROC_SUPER_MAGIC) fail("proc", 0, "/proc is not procfs");
  return fd;
}

static ino_t ns_inode(int procfd, const char *who, const char *link) {
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "%s/ns/%s", who, link);
  if (fstatat(procfd, path, &st, 0) < 0) return 0;
  return st.st_ino;
}

static void close_from(unsigned int first) {
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
  for (int fd = (int)first; fd < 65536; fd++) close(fd);
}

static void set_credentials(const struct options *o, int entered_user) {
  if (!o->have_uid && !o->have_gid && !o->ngroups && !entered_user) return;
  uid_t uid = o->have_uid ? o->uid : 0;
  gid_t gid = o->have_gid ? o->gid : 0;
  if (setgroups((size_t)o->ngroups, o->groups) < 0) {
    /* A user namespace may deny setgroups; without supplementary groups asked for, that is fine. */
    if (!(entered_user && errno == EPERM && o->ngroups == 0)) fail("creds", errno, "setgroups");
  }
  if (setresgid(gid, gid, gid) < 0) fail("creds", errno, "setgid %u", (unsigned)gid);
  if (setresuid(uid, uid, uid) < 0) fail("creds", errno, "setuid %u", (unsigned)uid);
}

/* execvpe over the command's own PATH (glibc's execvpe would use this process's environment). */
static void exec_command(char **argv, char **env) {
  const char *file = argv[0];
  if (strchr(file, '/')) {
    execve(file, argv, env);
    return;
  }
  const char *path = NULL;
  for (char **e = env; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
  if (!path) path = DEFAULT_PATH;
  int seen_eacces = 0;
  char full[PATH_MAX];
  for (const char *dir = path;; dir++) {
    const char *end = strchrnul(dir, ':');
    size_t len = (size_t)(end - dir);
    if (len == 0) {
      dir = ".", len = 1;
    }
    if (len + 1 + strlen(file) < sizeof full) {
      memcpy(full, dir, len);
      full[len] = '/';
      strcpy(full + len + 1, file);
      execve(full, argv, env);
      if (errno == EACCES) seen_eacces = 1;
      else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT)
        return;
    }
    if (!*end) break;
    dir = end;
  }
  errno = seen_eacces ? EACCES : ENOENT;
}

static void reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
}

/* The last steps of the command's process: no descriptor but 0, 1, 2 (and the close-on-exec channel). */
static void run_command(const struct options *o, const char *cwd) __attribute__((noreturn));
static void run_command(const struct options *o, const char *cwd) {
  close_from(CHANNEL_FD + 1);
  if (cwd) {
    if (chdir(cwd) < 0) fail("cwd", errno, "chdir %s", cwd);
  }
  /* A working directory outside the root (a leaked directory, CVE-2024-21626) makes getcwd fail. */
  char here[PATH_MAX];
  if (!getcwd(here, sizeof here) || here[0] != '/') fail("cwd", errno ? errno : ENOENT, "working directory is outside the root");
  reset_signals();
  o->env[o->nenv] = NULL;
  exec_command(o->argv, o->env);
  int err = errno;
  report("error exec %s %s: %s", errname(err), o->argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

static pid_t spawn_child(int cgroup_fd) {
  if (cgroup_fd < 0) return fork();
  struct nsg_clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = (uint64_t)cgroup_fd;
  return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

/* The helper's last job: wait for the command and say how it ended. */
static int wait_and_report(pid_t child) {
  /* The command's stdio belongs to the command: EOF reaches nsgate when the command's side closes. */
  close(0);
  close(1);
  close(2);
  report("child %d", (int)child);
  int status;
  for (;;) {
    pid_t r = waitpid(child, &status, 0);
    if (r == child) break;
    if (r < 0 && errno != EINTR) fail("wait", errno, "waitpid");
  }
  if (WIFSIGNALED(status))
    report("signal %d", WTERMSIG(status));
  else
    report("exit %d", WEXITSTATUS(status));
  return 0;
}

static int enter(struct options *o) {
  if (o->wait) wait_for_go();
  int procfd = open_host_proc();
  int pidfd = (int)syscall(SYS_pidfd_open, o->pid, 0);
  if (pidfd < 0) {
    if (errno == ESRCH) fail("gone", ESRCH, "process %d has exited", (int)o->pid);
    fail("pidfd", errno, "pidfd_open %d", (int)o->pid);
  }
  /* The pidfd holds whichever process had the pid when it was opened; the start time says it is the pinned one. */
  unsigned long long start;
  if (read_start_time(procfd, o->pid, &start) < 0) {
    if (errno == ENOENT || errno == ESRCH) fail("gone", errno, "process %d has exited", (int)o->pid);
    fail("proc", errno, "read /proc/%d/stat", (int)o->pid);
  }
  if (start != o->start_time)
    fail("gone", 0, "process %d started at %llu, not %llu: the pid was reused", (int)o->pid, start, o->start_time);
  if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0) fail("gone", errno, "process %d has exited", (int)o->pid);

  int flags = o->ns_flags;
  char pidstr[16];
  snprintf(pidstr, sizeof pidstr, "%d", (int)o->pid);
  /* setns refuses the user namespace one is already in; nothing to enter then. */
  if ((flags & CLONE_NEWUSER) && ns_inode(procfd, pidstr, "user") == ns_inode(procfd, "self", "user")) flags &= ~CLONE_NEWUSER;
  if (setns(pidfd, flags) < 0) {
    if (errno == ESRCH) fail("gone", ESRCH, "process %d has exited", (int)o->pid);
    fail("setns", errno, "setns into process %d", (int)o->pid);
  }
  close(pidfd);

  char line[512];
  size_t len = (size_t)snprintf(line, sizeof line, "entered");
  for (size_t i = 0; i < NS_COUNT; i++) {
    if (!(o->ns_flags & NS_KINDS[i].flag)) continue;
    len += (size_t)snprintf(line + len, sizeof line - len, " %s=%llu", NS_KINDS[i].name,
                            (unsigned long long)ns_inode(procfd, "self", NS_KINDS[i].link));
  }
  close(procfd);
  report("%s", line);

  pid_t child = spawn_child(o->cgroup_fd);
  if (child < 0) fail("clone", errno, "fork the command");
  if (child == 0) {
    /* In the child: the parent stays root, and clone3 needed root for the cgroup. */
    set_credentials(o, (o->ns_flags & CLONE_NEWUSER) != 0);
    /* Changing credentials clears the parent-death signal, so it is set after. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Without the mount namespace, the command would start in nsgate's own working directory. */
    run_command(o, o->cwd ? o->cwd : (o->ns_flags & CLONE_NEWNS) ? NULL : "/");
  }
  if (o->cgroup_fd >= 0) close(o->cgroup_fd);
  return wait_and_report(child);
}

static void set_readonly(const char *path, int only_if_mount) {
  if (only_if_mount) {
    struct statx stx;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0, &stx) < 0) {
      if (errno == ENOENT) return;
      fail("mount", errno, "statx %s", path);
    }
    if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) || !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) return;
  }
  struct nsg_mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) < 0)
    fail("mount", errno, "make %s read-only", path);
}

static void enter_root(const char *root) {
  if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0) fail("root", errno, "bind %s", root);
  if (chdir(root) < 0) fail("root", errno, "chdir %s", root);
  /* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the new root. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) fail("root", errno, "pivot_root %s", root);
  if (umount2(".", MNT_DETACH) < 0) fail("root", errno, "detach the old root");
  if (chdir("/") < 0) fail("root", errno, "chdir /");
}

static void drop_capabilities(const struct options *o, int last_cap) {
  uint64_t keep = o->caps_given ? o->caps : 0;
  for (int c = 0; c <= last_cap; c++)
    if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) fail("caps", errno, "drop %d from the bounding set", c);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) fail("caps", errno, "clear ambient");
  int switching = o->have_uid && o->uid != 0;
  if (switching && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail("caps", errno, "keepcaps");
  set_credentials(o, 0);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int i = 0; i < 2; i++) data[i].effective = data[i].permitted = data[i].inheritable = (uint32_t)(keep >> (32 * i));
  if (syscall(SYS_capset, &hdr, data) < 0) fail("caps", errno, "capset");
  /* A non-root command keeps its capabilities across execve only as ambient ones. */
  if (switching)
    for (int c = 0; c <= last_cap; c++)
      if ((keep & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) fail("caps", errno, "ambient %d", c);
}

static int read_last_cap(void) {
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  char buf[16] = {0};
  if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0) fail("caps", errno, "read cap_last_cap");
  close(fd);
  int last = atoi(buf);
  return last > 0 && last < 64 ? last : 40;
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (write(fd, text, strlen(text)) < 0) { /* best effort */
  }
  close(fd);
}

static int sandbox(struct options *o) {
  wait_for_go();
  int last_cap = read_last_cap();
  if ((o->ns_flags & CLONE_NEWPID) && unshare(CLONE_NEWPID) < 0) fail("unshare", errno, "unshare pid");
  pid_t child = fork();
  if (child < 0) fail("clone", errno, "fork the sandbox");
  if (child == 0) {
    if (unshare(o->ns_flags & ~CLONE_NEWPID) < 0) fail("unshare", errno, "unshare");
    if (o->hostname && sethostname(o->hostname, strlen(o->hostname)) < 0) fail("hostname", errno, "sethostname");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail("mount", errno, "make / private");
    if (o->root) enter_root(o->root);
    if (o->ns_flags & CLONE_NEWPID) {
      /* /proc of the new pid namespace, read-only: uid 0 without capabilities could still write sysctls. */
      umount2("/proc", MNT_DETACH);
      if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0) fail("mount", errno, "mount /proc");
    }
    if (o->readonly) {
      set_readonly("/", 0);
    } else {
      set_readonly("/proc", 1);
      set_readonly("/sys", 1);
    }
    if (chdir("/") < 0) fail("cwd", errno, "chdir /");
    drop_capabilities(o, last_cap);
    if (o->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("caps", errno, "no_new_privs");
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    run_command(o, NULL);
  }
  /* This helper stays in the sandbox's cgroup as the command's parent: never the OOM killer's pick. */
  write_file("/proc/self/oom_score_adj", "-1000");
  return wait_and_report(child);
}

int main(int argc, char **argv) {
  /* Nothing in a target may open this process's /proc entries (exe, fd, mem) while it runs. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (fcntl(CHANNEL_FD, F_SETFD, FD_CLOEXEC) < 0) _exit(SETUP_FAILED);
  struct options o;
  parse_args(argc, argv, &o);
  /* Only stdio, the channel and the cgroup directory come from nsgate. */
  if (o.cgroup_fd >= 0) {
    if (o.cgroup_fd != CHANNEL_FD + 1) fail("usage", 0, "--cgroup-fd must be %d", CHANNEL_FD + 1);
    if (fcntl(o.cgroup_fd, F_SETFD, FD_CLOEXEC) < 0) fail("usage", errno, "cgroup fd");
    close_from(CHANNEL_FD + 2);
  } else {
    close_from(CHANNEL_FD + 1);
  }
  return o.sandbox ? sandbox(&o) : enter(&o);
}
