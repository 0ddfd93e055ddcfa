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
 * pidfd is open (a reused pid is never entered); one setns(pidfd, flags) enters every namespace
 * but the cgroup one at once; the command is forked into its own cgroup (clone3
 * CLONE_INTO_CGROUP) or this process waits until nsgate has moved it there, and only once the
 * command's process is in its cgroup does it enter the target's cgroup namespace (under
 * nsdelegate the kernel refuses to move a process into a cgroup outside the mover's cgroup
 * namespace, and the command's cgroup usually lies outside the target's); every descriptor but
 * 0, 1, 2 is closed before chdir and execve (no host descriptor to reach through /proc/self/fd,
 * CVE-2016-9962 and CVE-2024-21626), and the working directory is checked to lie inside the root.
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
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

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
#define MAX_JOIN_CGROUPS 32
#define MAX_FILTERS 32
#define SYNC_FD (CHANNEL_FD + 1)
#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

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
  /* enter --confine: the target's credentials, capabilities, no_new_privs, LSM label, seccomp
     filters, rlimits, oom_score_adj, and its cgroups (the cgroup.procs files given). */
  int confine;
  const char *lsm;
  int njoin;
  const char *join[MAX_JOIN_CGROUPS];
  /* sandbox --userns BASE:COUNT: a user namespace with 0..COUNT-1 mapped to BASE.. on the host. */
  int userns;
  unsigned long long userns_base, userns_count;
  char **env;
  int nenv;
  char **argv;
};

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int read_last_cap(void);
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
    } else if (strcmp(a, "--confine") == 0) {
      o->confine = 1;
    } else if (strcmp(a, "--lsm") == 0) {
      TAKES_VALUE();
      if (strcmp(v, "apparmor") != 0 && strcmp(v, "selinux") != 0) fail("usage", 0, "--lsm: apparmor or selinux");
      o->lsm = v;
    } else if (strcmp(a, "--join-cgroup") == 0) {
      TAKES_VALUE();
      if (o->njoin >= MAX_JOIN_CGROUPS) fail("usage", 0, "--join-cgroup: too many");
      if (v[0] != '/') fail("usage", 0, "--join-cgroup: an absolute cgroup.procs path");
      o->join[o->njoin++] = v;
    } else if (strcmp(a, "--userns") == 0) {
      TAKES_VALUE();
      char buf[64];
      const char *colon = strchr(v, ':');
      if (!colon || strlen(v) >= sizeof buf) fail("usage", 0, "--userns wants BASE:COUNT");
      memcpy(buf, v, (size_t)(colon - v));
      buf[colon - v] = 0;
      o->userns_base = parse_number(a, buf, 4294967294ULL);
      o->userns_count = parse_number(a, colon + 1, 4294967294ULL);
      if (o->userns_base == 0 || o->userns_count == 0 || o->userns_base + o->userns_count > 4294967295ULL)
        fail("usage", 0, "--userns: a range above 0 that fits in 32 bits");
      o->userns = 1;
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
  if (!o->sandbox && (o->hostname || o->root || o->caps_given || o->nnp || o->readonly || o->userns))
    fail("usage", 0, "enter takes no sandbox options");
  if (o->sandbox && (o->confine || o->njoin || o->lsm)) fail("usage", 0, "sandbox takes no --confine, --join-cgroup or --lsm");
  if (!o->confine && (o->njoin || o->lsm)) fail("usage", 0, "--join-cgroup and --lsm go with --confine");
  if (o->confine && (o->cgroup_fd >= 0 || o->wait)) fail("usage", 0, "--confine joins the target's cgroups: no --cgroup-fd or --wait");
  if (o->userns && o->have_uid && o->uid >= o->userns_count) fail("usage", 0, "--uid is outside the --userns range");
  if (o->userns && o->have_gid && o->gid >= o->userns_count) fail("usage", 0, "--gid is outside the --userns range");
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

/* ---- the target's confinement (enter --confine) ------------------------------------------ */

struct confinement {
  unsigned long long uid[4], gid[4];
  int ngroups;
  gid_t groups[MAX_GROUPS];
  uint64_t inh, prm, eff, bnd, amb;
  int nnp, seccomp_mode, nfilters;
  struct sock_fprog filters[MAX_FILTERS]; /* index 0 is the newest, as the kernel numbers them */
  struct rlimit rlimits[RLIM_NLIMITS];
  int oom_score_adj;
  char label[256]; /* the LSM label, empty when no LSM labels the target */
};

static char *read_small(int dirfd, const char *path, char *buf, size_t size, int *err) {
  int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    return NULL;
  }
  ssize_t n = read(fd, buf, size - 1);
  *err = errno;
  close(fd);
  if (n < 0) return NULL;
  buf[n] = 0;
  return buf;
}

static const char *status_field(const char *status, const char *name) {
  size_t len = strlen(name);
  for (const char *p = status; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, name, len) == 0 && p[len] == ':') return p + len + 1;
  return NULL;
}

static void confine_fail(const char *part, int err, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
static void confine_fail(const char *part, int err, const char *fmt, ...) {
  char text[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  fail("confine", err, "%s: %s", part, text);
}

/* Uid, Gid and Groups as the reader's user namespace sees them (read again after entering the target's). */
static void read_ids(int procfd, pid_t pid, struct confinement *c) {
  char path[32], status[8192];
  int err;
  snprintf(path, sizeof path, "%d/status", (int)pid);
  if (!read_small(procfd, path, status, sizeof status, &err)) confine_fail("user", err, "read /proc/%d/status", (int)pid);
  const char *uid = status_field(status, "Uid"), *gid = status_field(status, "Gid"), *groups = status_field(status, "Groups");
  if (!uid || !gid || !groups ||
      sscanf(uid, "%llu %llu %llu %llu", &c->uid[0], &c->uid[1], &c->uid[2], &c->uid[3]) != 4 ||
      sscanf(gid, "%llu %llu %llu %llu", &c->gid[0], &c->gid[1], &c->gid[2], &c->gid[3]) != 4)
    confine_fail("user", 0, "cannot parse the ids in /proc/%d/status", (int)pid);
  c->ngroups = 0;
  for (const char *p = groups; *p && *p != '\n';) {
    char *end;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\n' || !*p) break;
    unsigned long long g = strtoull(p, &end, 10);
    if (end == p) break;
    if (c->ngroups >= MAX_GROUPS) confine_fail("groups", 0, "process %d has more than %d groups", (int)pid, MAX_GROUPS);
    c->groups[c->ngroups++] = (gid_t)g;
    p = end;
  }
}

static uint64_t status_hex(const char *status, const char *name, pid_t pid) {
  const char *v = status_field(status, name);
  char *end;
  if (!v) confine_fail("capabilities", 0, "no %s in /proc/%d/status", name, (int)pid);
  uint64_t x = strtoull(v, &end, 16);
  if (end == v) confine_fail("capabilities", 0, "cannot parse %s of process %d", name, (int)pid);
  return x;
}

static volatile sig_atomic_t alarm_rang;
static void on_alarm(int sig) {
  (void)sig;
  alarm_rang = 1;
}

/*
 * The target's seccomp filters, as checkpoint/restore tools read them: PTRACE_SEIZE, then
 * PTRACE_INTERRUPT to hold it still for the moment PTRACE_SECCOMP_GET_FILTER needs, then detach.
 * Needs CAP_SYS_ADMIN in the host's user namespace and no filter on this process: done before setns.
 */
static void read_filters(pid_t pid, struct confinement *c, int expected) {
  if (expected > MAX_FILTERS) confine_fail("seccomp", 0, "process %d has %d filters (at most %d are copied)", (int)pid, expected, MAX_FILTERS);
  if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0) confine_fail("seccomp", errno, "cannot attach to process %d to read its filters", (int)pid);
  if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0) confine_fail("seccomp", errno, "cannot stop process %d to read its filters", (int)pid);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm; /* no SA_RESTART: waitpid returns EINTR */
  sigaction(SIGALRM, &sa, NULL);
  alarm(2);
  int status;
  for (;;) {
    pid_t r = waitpid(pid, &status, __WALL);
    if (r == pid && WIFSTOPPED(status)) break;
    if (r == pid) fail("gone", ESRCH, "process %d has exited", (int)pid);
    if (r < 0 && errno == EINTR && !alarm_rang) continue;
    /* A frozen or stopped target never reaches the ptrace stop; leaving detaches it. */
    confine_fail("seccomp", alarm_rang ? ETIMEDOUT : errno, "process %d did not stop to have its filters read", (int)pid);
  }
  alarm(0);
  int n;
  for (n = 0; n < MAX_FILTERS; n++) {
    long len = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)(long)n, NULL);
    if (len < 0 && errno == ENOENT) break;
    if (len <= 0 || len > BPF_MAXINSNS) confine_fail("seccomp", len < 0 ? errno : EINVAL, "cannot read filter %d of process %d", n, (int)pid);
    struct sock_filter *insns = calloc((size_t)len, sizeof *insns);
    if (!insns) confine_fail("seccomp", ENOMEM, "filter %d", n);
    if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)(long)n, insns) != len) confine_fail("seccomp", errno, "filter %d of process %d changed", n, (int)pid);
    c->filters[n].len = (unsigned short)len;
    c->filters[n].filter = insns;
  }
  /* A signal that arrived while it was held goes back to it; an interrupt stop passes nothing. */
  int sig = (status >> 16) == PTRACE_EVENT_STOP ? 0 : WSTOPSIG(status);
  ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)sig);
  if (n != expected) confine_fail("seccomp", 0, "process %d reports %d filters, %d were read", (int)pid, expected, n);
  c->nfilters = n;
}

static rlim_t parse_limit(const char *s, char **end) {
  while (*s == ' ') s++;
  if (strncmp(s, "unlimited", 9) == 0) {
    *end = (char *)s + 9;
    return RLIM_INFINITY;
  }
  return (rlim_t)strtoull(s, end, 10);
}

/* /proc/PID/limits: a header, then one line per limit in RLIMIT_* order, the values after column 26. */
static void read_limits(int procfd, pid_t pid, struct confinement *c) {
  char path[32], text[4096];
  int err;
  snprintf(path, sizeof path, "%d/limits", (int)pid);
  if (!read_small(procfd, path, text, sizeof text, &err)) confine_fail("rlimits", err, "read /proc/%d/limits", (int)pid);
  char *line = strchr(text, '\n');
  int r;
  for (r = 0; r < RLIM_NLIMITS && line && line[1]; r++) {
    line++;
    if (strlen(line) < 26) break;
    char *end;
    c->rlimits[r].rlim_cur = parse_limit(line + 25, &end);
    c->rlimits[r].rlim_max = parse_limit(end, &end);
    line = strchr(line, '\n');
  }
  if (r != RLIM_NLIMITS) confine_fail("rlimits", 0, "/proc/%d/limits has %d limits, not %d", (int)pid, r, RLIM_NLIMITS);
}

static void read_confinement(const struct options *o, int procfd, pid_t pid, struct confinement *c) {
  char path[48], status[8192], buf[300];
  int err;
  memset(c, 0, sizeof *c);
  read_ids(procfd, pid, c);
  snprintf(path, sizeof path, "%d/status", (int)pid);
  if (!read_small(procfd, path, status, sizeof status, &err)) confine_fail("capabilities", err, "read /proc/%d/status", (int)pid);
  c->inh = status_hex(status, "CapInh", pid);
  c->prm = status_hex(status, "CapPrm", pid);
  c->eff = status_hex(status, "CapEff", pid);
  c->bnd = status_hex(status, "CapBnd", pid);
  c->amb = status_hex(status, "CapAmb", pid);
  const char *nnp = status_field(status, "NoNewPrivs"), *mode = status_field(status, "Seccomp"), *count = status_field(status, "Seccomp_filters");
  if (!nnp) confine_fail("no_new_privs", 0, "no NoNewPrivs in /proc/%d/status", (int)pid);
  if (!mode) confine_fail("seccomp", 0, "no Seccomp in /proc/%d/status (a kernel without seccomp)", (int)pid);
  c->nnp = atoi(nnp);
  c->seccomp_mode = atoi(mode);
  if (c->seccomp_mode == 1) confine_fail("seccomp", 0, "process %d is in strict seccomp mode, under which no command can start", (int)pid);
  if (c->seccomp_mode == 2) read_filters(pid, c, count ? atoi(count) : -1);
  read_limits(procfd, pid, c);
  snprintf(path, sizeof path, "%d/oom_score_adj", (int)pid);
  if (!read_small(procfd, path, buf, sizeof buf, &err)) confine_fail("oom_score_adj", err, "read /proc/%d/oom_score_adj", (int)pid);
  c->oom_score_adj = atoi(buf);
  snprintf(path, sizeof path, "%d/attr/current", (int)pid);
  if (read_small(procfd, path, buf, sizeof buf, &err)) {
    size_t len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\0')) buf[--len] = 0;
    /* AppArmor writes "profile (mode)"; "unconfined" is no profile at all. */
    if (o->lsm && strcmp(o->lsm, "apparmor") == 0) {
      char *mode_at = strstr(buf, " (");
      if (mode_at) *mode_at = 0;
      if (strcmp(buf, "unconfined") == 0) buf[0] = 0;
    }
    if (buf[0] && !o->lsm) confine_fail("lsm", 0, "process %d has the label \"%s\" of an LSM nsgate was not told of", (int)pid, buf);
    if (strlen(buf) >= sizeof c->label) confine_fail("lsm", 0, "the label of process %d is too long", (int)pid);
    strcpy(c->label, buf);
  } else if (err != EINVAL && err != ENOENT && err != EOPNOTSUPP) {
    confine_fail("lsm", err, "read /proc/%d/attr/current", (int)pid);
  }
}

static void report_confinement(const struct confinement *c, int njoin) {
  char groups[MAX_GROUPS * 11 + 2] = "";
  size_t len = 0;
  for (int i = 0; i < c->ngroups; i++) len += (size_t)snprintf(groups + len, sizeof groups - len, "%s%u", i ? "," : "", (unsigned)c->groups[i]);
  report("confined uid=%llu,%llu,%llu,%llu gid=%llu,%llu,%llu,%llu groups=%s inh=%016llx prm=%016llx eff=%016llx bnd=%016llx amb=%016llx "
         "nnp=%d seccomp=%d filters=%d lsm=%s oom=%d rlimits=%d cgroups=%d",
         c->uid[0], c->uid[1], c->uid[2], c->uid[3], c->gid[0], c->gid[1], c->gid[2], c->gid[3], c->ngroups ? groups : "-",
         (unsigned long long)c->inh, (unsigned long long)c->prm, (unsigned long long)c->eff, (unsigned long long)c->bnd,
         (unsigned long long)c->amb, c->nnp, c->seccomp_mode, c->nfilters, c->label[0] ? c->label : "-", c->oom_score_adj,
         RLIM_NLIMITS, njoin);
}

/* The target's cgroup.procs files, opened in the host's mount namespace (before setns). */
static void open_join_cgroups(const struct options *o, int *fds) {
  for (int i = 0; i < o->njoin; i++) {
    fds[i] = open(o->join[i], O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fds[i] < 0) confine_fail("cgroups", errno, "open %s", o->join[i]);
    struct statfs sfs;
    if (fstatfs(fds[i], &sfs) < 0 || (sfs.f_type != CGROUP_SUPER_MAGIC && sfs.f_type != CGROUP2_SUPER_MAGIC))
      confine_fail("cgroups", 0, "%s is not on a cgroup filesystem", o->join[i]);
  }
}

static int capset_all(uint64_t eff, uint64_t prm, uint64_t inh) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(eff >> (32 * i));
    data[i].permitted = (uint32_t)(prm >> (32 * i));
    data[i].inheritable = (uint32_t)(inh >> (32 * i));
  }
  return (int)syscall(SYS_capset, &hdr, data);
}

/*
 * oom_score_adj and the LSM label for the next execve are inherited at fork: set on this helper
 * just before it forks the command (it never executes anything itself).
 */
static void confine_inherited(const struct options *o, const struct confinement *c, int procfd) {
  char adj[16];
  snprintf(adj, sizeof adj, "%d", c->oom_score_adj);
  char now[16];
  int err;
  int current = read_small(procfd, "self/oom_score_adj", now, sizeof now, &err) ? atoi(now) : 0;
  int fd = openat(procfd, "self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  /* Lowering it needs CAP_SYS_RESOURCE; a higher score than the target's is more confined, not less. */
  if (fd < 0 || (write(fd, adj, strlen(adj)) < 0 && !((errno == EACCES || errno == EPERM) && c->oom_score_adj < current)))
    confine_fail("oom_score_adj", errno, "set %s", adj);
  close(fd);
  if (c->label[0]) {
    char text[300];
    /* AppArmor takes "exec PROFILE" (its change_onexec); SELinux the context itself. */
    snprintf(text, sizeof text, strcmp(o->lsm, "apparmor") == 0 ? "exec %s" : "%s", c->label);
    fd = openat(procfd, "thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) < 0) confine_fail("lsm", errno, "set the label %s for the command", c->label);
    close(fd);
  }
}

/*
 * The cgroup namespace comes last, once the process is in the cgroup it will run in: with
 * nsdelegate (systemd mounts cgroup2 so) the kernel refuses a migration, a clone3 into a cgroup
 * included, whose source or destination lies outside the mover's cgroup namespace, and both
 * usually do (nsgate's cgroup, the per-exec one beside the target's). -1: not asked for.
 */
static void enter_cgroup_namespace(int pidfd, pid_t pid) {
  if (pidfd < 0) return;
  if (setns(pidfd, CLONE_NEWCGROUP) < 0) {
    if (errno == ESRCH) fail("gone", ESRCH, "process %d has exited", (int)pid);
    fail("setns", errno, "setns into the cgroup namespace of process %d", (int)pid);
  }
}

/*
 * In the command's process, before anything of the target runs: the target's cgroups (then its
 * cgroup namespace), rlimits,
 * bounding set and ids. The filters and the final capability
 * sets come last (confine_last), after the descriptors are closed and the working directory set.
 */
static void confine_first(const struct options *o, const struct confinement *c, const int *join_fds, int last_cap, int cgroupns_pidfd) {
  for (int i = 0; i < o->njoin; i++) {
    if (write(join_fds[i], "0", 1) != 1) confine_fail("cgroups", errno, "join %s", o->join[i]);
    close(join_fds[i]);
  }
  /* In the target's cgroups now: its cgroup namespace may be entered (see enter_cgroup_namespace). */
  enter_cgroup_namespace(cgroupns_pidfd, o->pid);
  /* Never above this process's own hard limit (raising it needs CAP_SYS_RESOURCE): lower is more confined, not less. */
  for (int r = 0; r < RLIM_NLIMITS; r++) {
    struct rlimit now, want = c->rlimits[r];
    if (getrlimit(r, &now) < 0) confine_fail("rlimits", errno, "read limit %d", r);
    if (want.rlim_max > now.rlim_max) want.rlim_max = now.rlim_max;
    if (want.rlim_cur > want.rlim_max) want.rlim_cur = want.rlim_max;
    if (setrlimit(r, &want) < 0) confine_fail("rlimits", errno, "set limit %d", r);
  }
  for (int cap = 0; cap <= last_cap; cap++)
    if (!(c->bnd & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) confine_fail("capabilities", errno, "drop %d from the bounding set", cap);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) confine_fail("capabilities", errno, "keepcaps");
  uid_t uid[3] = {(uid_t)c->uid[0], (uid_t)c->uid[1], (uid_t)c->uid[2]};
  gid_t gid[3] = {(gid_t)c->gid[0], (gid_t)c->gid[1], (gid_t)c->gid[2]};
  int ngroups = c->ngroups;
  const gid_t *groups = c->groups;
  if (o->have_uid) uid[0] = uid[1] = uid[2] = o->uid;
  if (o->have_gid) gid[0] = gid[1] = gid[2] = o->gid;
  if (o->have_uid || o->have_gid) ngroups = o->ngroups, groups = o->groups;
  if (setgroups((size_t)ngroups, groups) < 0) fail("creds", errno, "setgroups");
  if (setresgid(gid[0], gid[1], gid[2]) < 0) fail("creds", errno, "setgid %u", (unsigned)gid[1]);
  if (setresuid(uid[0], uid[1], uid[2]) < 0) fail("creds", errno, "setuid %u", (unsigned)uid[1]);
  /* Every capability still permitted is made effective again: installing a filter without no_new_privs needs CAP_SYS_ADMIN. */
  (void)last_cap;
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct now[2];
  if (syscall(SYS_capget, &hdr, now) < 0) confine_fail("capabilities", errno, "capget");
  uint64_t all = (uint64_t)now[0].permitted | ((uint64_t)now[1].permitted << 32);
  if (capset_all(all, all, c->inh) < 0) confine_fail("capabilities", errno, "raise the inheritable set to the target's");
}

static void confine_last(const struct confinement *c) {
  if (c->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) confine_fail("no_new_privs", errno, "set no_new_privs");
  /* Oldest first, as the target installed them: the kernel numbers the newest 0. */
  for (int i = c->nfilters - 1; i >= 0; i--)
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &c->filters[i], 0, 0) < 0) confine_fail("seccomp", errno, "install filter %d", i);
  /* From here on the target's filter judges every system call. */
  if (capset_all(c->eff, c->prm, c->inh) < 0) confine_fail("capabilities", errno, "set the target's capabilities");
  for (int cap = 0; cap < 64; cap++)
    if ((c->amb & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) confine_fail("capabilities", errno, "ambient %d", cap);
  /* The helper counts the command as started only after this byte: a filter that kills any step above shows as a refusal. */
  if (write(SYNC_FD, "e", 1) != 1) confine_fail("seccomp", errno, "the target's filter refused a write");
}

/* The last steps of the command's process: no descriptor but 0, 1, 2 (and the close-on-exec channel). */
static void run_command(const struct options *o, const char *cwd, const struct confinement *c) __attribute__((noreturn));
static void run_command(const struct options *o, const char *cwd, const struct confinement *c) {
  close_from(c ? SYNC_FD + 1 : CHANNEL_FD + 1);
  if (cwd) {
    if (chdir(cwd) < 0) fail("cwd", errno, "chdir %s", cwd);
  }
  /* A working directory outside the root (a leaked directory, CVE-2024-21626) makes getcwd fail. */
  char here[PATH_MAX];
  if (!getcwd(here, sizeof here) || here[0] != '/') fail("cwd", errno ? errno : ENOENT, "working directory is outside the root");
  reset_signals();
  if (c) confine_last(c);
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

/* The command's process group, killed by SIGTERM from nsgate (a timeout) and when the command ends. */
static volatile pid_t command_group;
static void on_term(int sig) {
  (void)sig;
  if (command_group > 0) {
    kill(-command_group, SIGKILL);
    kill(command_group, SIGKILL);
  }
}

/*
 * A confined command is in the target's cgroups, not in one of nsgate's, so the cgroup cannot
 * end its tree: the command leads its own process group, which this helper kills on SIGTERM
 * (nsgate's timeout) and when the command has ended (before reaping it, so the group's id
 * cannot have been reused). A process that left the group (setsid) is the target's, as with
 * docker exec.
 */
static int wait_confined(pid_t child, int sync_fd) {
  char byte = 0;
  ssize_t n;
  do n = read(sync_fd, &byte, 1);
  while (n < 0 && errno == EINTR);
  close(sync_fd);
  int started = n == 1 && byte == 'e';
  close(0);
  close(1);
  close(2);
  if (started) report("child %d", (int)child);
  siginfo_t info;
  for (;;) {
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT) == 0) break;
    if (errno != EINTR) fail("wait", errno, "waitid");
  }
  kill(-child, SIGKILL);
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!started) {
    /* It died before it could say it was about to run the command: a step of the confinement killed it. */
    if (WIFSIGNALED(status)) confine_fail("seccomp", 0, "the target's filter stopped a confinement step (signal %d)", WTERMSIG(status));
    _exit(SETUP_FAILED); /* it reported why on the channel */
  }
  if (WIFSIGNALED(status))
    report("signal %d", WTERMSIG(status));
  else
    report("exit %d", WEXITSTATUS(status));
  return 0;
}

static int enter(struct options *o) {
  if (o->wait) wait_for_go();
  /* SIGTERM means "kill the command" once there is one; until then it waits. */
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  if (o->confine) sigprocmask(SIG_BLOCK, &term, NULL);
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
  /* The cgroup namespace is entered after the command's process is in its cgroup (enter_cgroup_namespace). */
  int cgroupns_pidfd = (flags & CLONE_NEWCGROUP) ? pidfd : -1;
  flags &= ~CLONE_NEWCGROUP;

  static struct confinement conf;
  int join_fds[MAX_JOIN_CGROUPS];
  int last_cap = 0;
  if (o->confine) {
    /* Read while this is still host root in the host's namespaces (the filters need CAP_SYS_ADMIN there). */
    read_confinement(o, procfd, o->pid, &conf);
    open_join_cgroups(o, join_fds);
    last_cap = read_last_cap();
    /* The pidfd still holds the pinned process: if it exited while being read, nothing runs. */
    if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0) fail("gone", errno, "process %d has exited", (int)o->pid);
  }
  if (flags && setns(pidfd, flags) < 0) {
    if (errno == ESRCH) fail("gone", ESRCH, "process %d has exited", (int)o->pid);
    fail("setns", errno, "setns into process %d", (int)o->pid);
  }
  if (cgroupns_pidfd < 0) close(pidfd);
  /* In the target's user namespace the ids are read again, as that namespace numbers them. */
  if (o->confine && (flags & CLONE_NEWUSER)) read_ids(procfd, o->pid, &conf);
  /* Root regains its whole bounding set at execve: a root target holding less cannot be copied. */
  if (o->confine && !o->have_uid && conf.uid[1] == 0 && ((conf.inh | conf.bnd) & ~conf.prm))
    confine_fail("capabilities", 0, "process %d runs as root with fewer capabilities (%016llx) than root regains at execve (%016llx)", (int)o->pid,
                 (unsigned long long)conf.prm, (unsigned long long)(conf.inh | conf.bnd));

  if (o->confine) report_confinement(&conf, o->njoin);

  int sync[2] = {-1, -1};
  if (o->confine && pipe2(sync, O_CLOEXEC) < 0) fail("clone", errno, "pipe");
  if (o->confine) confine_inherited(o, &conf, procfd);
  pid_t child = spawn_child(o->cgroup_fd);
  if (child < 0) fail("clone", errno, "fork the command");
  if (child == 0) {
    if (o->confine) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      setpgid(0, 0);
      close(sync[0]);
      if (dup3(sync[1], SYNC_FD, O_CLOEXEC) < 0) fail("clone", errno, "dup");
      confine_first(o, &conf, join_fds, last_cap, cgroupns_pidfd);
    } else {
      /* Forked straight into its cgroup (or this helper was moved there before): now its namespace. */
      enter_cgroup_namespace(cgroupns_pidfd, o->pid);
      /* In the child: the parent stays root, and clone3 needed root for the cgroup. */
      set_credentials(o, (o->ns_flags & CLONE_NEWUSER) != 0);
    }
    /* Changing credentials clears the parent-death signal, so it is set after. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Without the mount namespace, the command would start in nsgate's own working directory. */
    run_command(o, o->cwd ? o->cwd : (o->ns_flags & CLONE_NEWNS) ? NULL : "/", o->confine ? &conf : NULL);
  }
  if (o->cgroup_fd >= 0) close(o->cgroup_fd);
  /* This helper follows its command into the cgroup namespace, so what it reports is read back from itself. */
  if (cgroupns_pidfd >= 0) {
    if (setns(cgroupns_pidfd, CLONE_NEWCGROUP) < 0) {
      int err = errno;
      kill(child, SIGKILL);
      fail(err == ESRCH ? "gone" : "setns", err, "setns into the cgroup namespace of process %d", (int)o->pid);
    }
    close(cgroupns_pidfd);
  }
  char line[512];
  size_t len = (size_t)snprintf(line, sizeof line, "entered");
  for (size_t i = 0; i < NS_COUNT; i++) {
    if (!(o->ns_flags & NS_KINDS[i].flag)) continue;
    len += (size_t)snprintf(line + len, sizeof line - len, " %s=%llu", NS_KINDS[i].name,
                            (unsigned long long)ns_inode(procfd, "self", NS_KINDS[i].link));
  }
  report("%s", line);
  if (!o->confine) {
    close(procfd);
    return wait_and_report(child);
  }
  close(procfd);
  for (int i = 0; i < o->njoin; i++) close(join_fds[i]);
  close(sync[1]);
  setpgid(child, child);
  command_group = child;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigprocmask(SIG_UNBLOCK, &term, NULL);
  return wait_confined(child, sync[0]);
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
  set_credentials(o, o->userns);
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
  int asked[2] = {-1, -1}, mapped[2] = {-1, -1};
  if (o->userns && (pipe2(asked, O_CLOEXEC) < 0 || pipe2(mapped, O_CLOEXEC) < 0)) fail("clone", errno, "pipe");
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
    if (o->userns) {
      /*
       * Last, after /proc and the mounts were made as host root: a user namespace that owns
       * none of the sandbox's other namespaces, whose root is an unprivileged host uid. Host
       * files owned by root are then not root's to this process.
       */
      if (unshare(CLONE_NEWUSER) < 0) fail("unshare", errno, "unshare user");
      char byte = 'u';
      if (write(asked[1], &byte, 1) != 1 || read(mapped[0], &byte, 1) != 1 || byte != 'm') fail("userns", EIO, "the helper did not map the user namespace");
    }
    drop_capabilities(o, last_cap);
    if (o->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("caps", errno, "no_new_privs");
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    run_command(o, NULL, NULL);
  }
  if (o->userns) {
    close(asked[1]);
    close(mapped[0]);
    char byte;
    if (read(asked[0], &byte, 1) == 1) {
      char path[64], map[64];
      snprintf(map, sizeof map, "0 %llu %llu\n", o->userns_base, o->userns_count);
      const char *files[] = {"uid_map", "gid_map"};
      for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/proc/%d/%s", (int)child, files[i]);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, map, strlen(map)) < 0) {
          kill(child, SIGKILL);
          fail("userns", errno, "write %s", path);
        }
        close(fd);
      }
      if (write(mapped[1], "m", 1) != 1) fail("userns", errno, "tell the sandbox");
    }
    close(asked[0]);
    close(mapped[1]);
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
