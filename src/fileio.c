/* Output files that are never half-written, never replace what they must not,
 * and vanish when the write fails or the process is stopped.
 *
 * A stream writes to a temporary file next to its destination and renames it
 * onto the destination at commit, so that a reader sees the old file or the
 * whole new one. The destination is resolved first: a symbolic link is
 * followed (the link stays, its target is replaced), a directory or a block
 * device is refused, and another non-regular file (a character device such as
 * /dev/null, a FIFO) is written through, since there is nothing to replace.
 * An output set stages several streams and renames them together, so that a
 * failure while producing the second file leaves the first untouched.
 *
 * Temporary files are recorded in a fixed table that ntk_tmpfiles_remove()
 * walks with unlink() alone, so a signal handler may call it. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

/* ---- the table of live temporary files -------------------------------- */

enum { TMP_SLOTS = 64, TMP_PATH = 4096 };
static char g_tmp_path[TMP_SLOTS][TMP_PATH];
static volatile sig_atomic_t g_tmp_used[TMP_SLOTS];

static int tmp_register(const char *path)
{
    size_t len = strlen(path);
    if (len >= TMP_PATH) return -1;
    for (int k = 0; k < TMP_SLOTS; k++) {
        if (g_tmp_used[k]) continue;
        memcpy(g_tmp_path[k], path, len + 1);
        g_tmp_used[k] = 1;
        return k;
    }
    return -1;   /* table full: the file is still removed on every error path */
}

static void tmp_release(int slot)
{
    if (slot >= 0) g_tmp_used[slot] = 0;
}

void ntk_tmpfiles_remove(void)
{
    for (int k = 0; k < TMP_SLOTS; k++)
        if (g_tmp_used[k]) {
            unlink(g_tmp_path[k]);
            g_tmp_used[k] = 0;
        }
}

/* ---- destinations ----------------------------------------------------- */

typedef enum { DEST_NEW, DEST_REGULAR, DEST_THROUGH } dest_kind;

/* Follow symbolic links from path (at most 40) into out; classify the end. */
static ntk_status resolve_dest(const char *path, char *out, size_t cap, dest_kind *kind,
                               mode_t *mode)
{
    if (!path || !*path) return ntk_set_error(NTK_ERR_ARG, "output path is empty");
    if (strlen(path) >= cap)
        return ntk_set_error(NTK_ERR_ARG, "output path '%.60s...' is too long", path);
    strcpy(out, path);
    for (int hop = 0; hop < 40; hop++) {
        struct stat st;
        if (lstat(out, &st) != 0) {
            if (errno != ENOENT)
                return ntk_set_error(NTK_ERR_IO, "%s: cannot inspect the output path: %s", path,
                                     strerror(errno));
            *kind = DEST_NEW;
            *mode = 0;
            return NTK_OK;
        }
        if (S_ISLNK(st.st_mode)) {
            char target[TMP_PATH];
            ssize_t len = readlink(out, target, sizeof target - 1);
            if (len < 0)
                return ntk_set_error(NTK_ERR_IO, "%s: cannot read the symbolic link: %s", path,
                                     strerror(errno));
            target[len] = '\0';
            if (target[0] == '/') {
                if ((size_t)len >= cap) break;
                memcpy(out, target, (size_t)len + 1);
            } else {
                /* relative to the directory holding the link */
                char *slash = strrchr(out, '/');
                size_t keep = slash ? (size_t)(slash - out) + 1 : 0;
                if (keep + (size_t)len >= cap) break;
                memmove(out + keep, target, (size_t)len + 1);
            }
            continue;
        }
        if (S_ISDIR(st.st_mode))
            return ntk_set_error(NTK_ERR_IO, "%s is a directory; give a file name inside it", path);
        if (S_ISBLK(st.st_mode))
            return ntk_set_error(NTK_ERR_IO,
                                 "%s is a block device; refusing to write over it: give a file name",
                                 path);
        *kind = S_ISREG(st.st_mode) ? DEST_REGULAR : DEST_THROUGH;
        *mode = st.st_mode & 07777;
        return NTK_OK;
    }
    return ntk_set_error(NTK_ERR_IO, "%s: too many levels of symbolic links, or a link target "
                         "too long", path);
}

static mode_t default_mode(void)
{
    mode_t mask = umask(022);
    umask(mask);
    return 0666 & ~mask;
}

/* ---- streams ---------------------------------------------------------- */

struct ntk_stream {
    int fd;
    int slot;                  /* in the temporary-file table, or -1 */
    int through;               /* writing straight into a non-regular file */
    int failed;                /* a write failed: commit refuses */
    char *dest;                /* resolved destination */
    char *tmp;                 /* temporary file (NULL when writing through) */
    char *shown;               /* the path as the caller gave it, for messages */
};

static void stream_release(ntk_stream *s)
{
    free(s->dest);
    free(s->tmp);
    free(s->shown);
    free(s);
}

void ntk_stream_discard(ntk_stream *s)
{
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    if (s->tmp) unlink(s->tmp);
    tmp_release(s->slot);
    stream_release(s);
}

ntk_status ntk_stream_open(const char *path, ntk_stream **out)
{
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_stream_open: output is NULL");
    *out = NULL;
    char dest[TMP_PATH];
    dest_kind kind = DEST_NEW;
    mode_t mode = 0;
    NTK_TRY(resolve_dest(path, dest, sizeof dest, &kind, &mode));
    ntk_stream *s = ntk_calloc(1, sizeof *s, "output stream");
    if (!s) return NTK_ERR_NOMEM;
    s->fd = -1;
    s->slot = -1;
    s->dest = strdup(dest);
    s->shown = strdup(path);
    if (!s->dest || !s->shown) {
        stream_release(s);
        return ntk_set_error(NTK_ERR_NOMEM, "%s: out of memory", path);
    }
    if (kind == DEST_THROUGH) {
        /* O_NONBLOCK: a FIFO without a reader fails at once instead of hanging */
        s->fd = open(dest, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (s->fd < 0) {
            ntk_status st = ntk_set_error(NTK_ERR_IO, "%s: cannot open for writing: %s", path,
                                          errno == ENXIO ? "nobody is reading it" : strerror(errno));
            stream_release(s);
            return st;
        }
        int fl = fcntl(s->fd, F_GETFL);
        if (fl >= 0) (void)fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK);
        s->through = 1;
        *out = s;
        return NTK_OK;
    }
    static const char suffix[] = ".tmp.XXXXXX";
    size_t dlen = strlen(dest);
    s->tmp = malloc(dlen + sizeof suffix);
    if (!s->tmp) {
        stream_release(s);
        return ntk_set_error(NTK_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(s->tmp, dest, dlen);
    memcpy(s->tmp + dlen, suffix, sizeof suffix);
    /* block the signals a front end catches while the file and its table
     * entry appear together, so a handler never misses a temporary file */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    s->fd = mkstemp(s->tmp);
    int err = errno;
    if (s->fd >= 0) s->slot = tmp_register(s->tmp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (s->fd < 0) {
        free(s->tmp);
        s->tmp = NULL;
        stream_release(s);
        return ntk_set_error(NTK_ERR_IO,
                             "%s: cannot create a file next to it: %s; check that the directory "
                             "exists and is writable",
                             path, strerror(err));
    }
    (void)fchmod(s->fd, kind == DEST_REGULAR ? mode : default_mode());
    *out = s;
    return NTK_OK;
}

ntk_status ntk_stream_write(ntk_stream *s, const void *buf, size_t len)
{
    ntk_clear_error();
    if (!s) return ntk_set_error(NTK_ERR_ARG, "ntk_stream_write: stream is NULL");
    if (s->failed) return ntk_set_error(NTK_ERR_IO, "%s: an earlier write failed", s->shown);
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = write(s->fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            s->failed = 1;
            return ntk_set_error(NTK_ERR_IO, "%s: could not write: %s; free some space or choose "
                                 "another place", s->shown, strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return NTK_OK;
}

/* Flush and close the temporary file; the rename is left to the caller. */
static ntk_status stream_finish(ntk_stream *s)
{
    int err = 0;
    if (!s->through && fsync(s->fd) != 0) err = errno;
    if (close(s->fd) != 0 && !err) err = errno;
    s->fd = -1;
    if (err) {
        s->failed = 1;
        return ntk_set_error(NTK_ERR_IO, "%s: could not write: %s; free some space or choose "
                             "another place", s->shown, strerror(err));
    }
    return NTK_OK;
}

static ntk_status stream_rename(ntk_stream *s)
{
    if (s->through) return NTK_OK;
    if (rename(s->tmp, s->dest) != 0)
        return ntk_set_error(NTK_ERR_IO, "%s: cannot put the file in place: %s", s->shown,
                             strerror(errno));
    free(s->tmp);
    s->tmp = NULL;
    tmp_release(s->slot);
    s->slot = -1;
    return NTK_OK;
}

ntk_status ntk_stream_commit(ntk_stream *s)
{
    ntk_clear_error();
    if (!s) return ntk_set_error(NTK_ERR_ARG, "ntk_stream_commit: stream is NULL");
    ntk_status st = s->failed ? ntk_set_error(NTK_ERR_IO, "%s: an earlier write failed", s->shown)
                              : stream_finish(s);
    if (st == NTK_OK) st = stream_rename(s);
    ntk_stream_discard(s);
    return st;
}

/* ---- output sets ------------------------------------------------------ */

enum { OUTSET_MAX = 32 };

struct ntk_outset {
    ntk_stream *s[OUTSET_MAX];
    int n;
};

ntk_status ntk_outset_create(ntk_outset **out)
{
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_outset_create: output is NULL");
    *out = ntk_calloc(1, sizeof **out, "output set");
    return *out ? NTK_OK : NTK_ERR_NOMEM;
}

ntk_status ntk_outset_add_spans(ntk_outset *o, const char *path, const ntk_span *spans, int nspans)
{
    if (!o) return ntk_set_error(NTK_ERR_ARG, "output set is NULL");
    if (o->n == OUTSET_MAX)
        return ntk_set_error(NTK_ERR_ARG, "an output set holds at most %d files", OUTSET_MAX);
    for (int k = 0; k < o->n; k++)
        if (strcmp(o->s[k]->shown, path) == 0)
            return ntk_set_error(NTK_ERR_ARG, "%s is named twice as an output; give each output "
                                 "its own file", path);
    ntk_stream *s;
    NTK_TRY(ntk_stream_open(path, &s));
    ntk_status st = NTK_OK;
    for (int i = 0; st == NTK_OK && i < nspans; i++)
        if (spans[i].len) st = ntk_stream_write(s, spans[i].buf, spans[i].len);
    if (st == NTK_OK) st = stream_finish(s);
    if (st != NTK_OK) {
        ntk_stream_discard(s);
        return st;
    }
    o->s[o->n++] = s;
    return NTK_OK;
}

ntk_status ntk_outset_add(ntk_outset *o, const char *path, const void *buf, size_t len)
{
    ntk_clear_error();
    if (!buf && len) return ntk_set_error(NTK_ERR_ARG, "ntk_outset_add: buffer is NULL");
    ntk_span span = {buf, len};
    return ntk_outset_add_spans(o, path, &span, 1);
}

ntk_status ntk_outset_commit(ntk_outset *o)
{
    ntk_clear_error();
    if (!o) return ntk_set_error(NTK_ERR_ARG, "output set is NULL");
    ntk_status st = NTK_OK;
    for (int k = 0; k < o->n; k++) {
        ntk_status sk = stream_rename(o->s[k]);
        if (sk != NTK_OK && st == NTK_OK) st = sk;   /* keep the first message */
    }
    return st;
}

void ntk_outset_free(ntk_outset *o)
{
    if (!o) return;
    for (int k = 0; k < o->n; k++) ntk_stream_discard(o->s[k]);
    free(o);
}

ntk_status ntk_write_spans_atomic(const char *path, const ntk_span *spans, int nspans)
{
    ntk_outset *o;
    NTK_TRY(ntk_outset_create(&o));
    ntk_status st = ntk_outset_add_spans(o, path, spans, nspans);
    if (st == NTK_OK) st = ntk_outset_commit(o);
    ntk_outset_free(o);
    return st;
}

ntk_status ntk_write_file_atomic(const char *path, const void *buf, size_t len)
{
    ntk_clear_error();
    if (!buf && len > 0) return ntk_set_error(NTK_ERR_ARG, "ntk_write_file_atomic: buffer is NULL");
    ntk_span span = {buf, len};
    return ntk_write_spans_atomic(path, &span, 1);
}
