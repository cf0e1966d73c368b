/* .npy reading (loaded and memory-mapped) and writing (whole, and row block
 * by row block), atomic writes. Files are crafted byte by byte (float32,
 * big-endian, version 2.0, broken headers) in a mkdtemp folder. */
#include "harness.h"
#include "ntkit.h"
#include "readers.h"   /* ntk_npy_parse, the in-memory entry point */
#include "tmpdir.h"

#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t read_raw(const char *path, unsigned char *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    size_t len = fread(buf, 1, cap, fp);
    fclose(fp);
    return len;
}

/* Entries in a folder, "." and ".." excluded. */
static int count_entries(const char *dir)
{
    DIR *dp = opendir(dir);
    int k = 0;
    for (struct dirent *e; dp && (e = readdir(dp));)
        k += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (dp) closedir(dp);
    return k;
}

static int mkdir_ok(const char *path) { return mkdir(path, 0755) == 0; }

/* value bytes in a chosen byte order, independent of the host. */
static void put_f8(unsigned char *dst, double v, int big)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    for (int k = 0; k < 8; k++) dst[big ? 7 - k : k] = (unsigned char)(bits >> (8 * k));
}

static void put_f4(unsigned char *dst, float v, int big)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    for (int k = 0; k < 4; k++) dst[big ? 3 - k : k] = (unsigned char)(bits >> (8 * k));
}

/* A .npy image: magic, version major.0, header length, dict padded with
 * spaces and '\n' to a multiple of 64, then data. Returns its length. */
static size_t craft(unsigned char *buf, int major, const char *dict, const void *data,
                    size_t dlen)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t k = 0; k < pre - 8; k++) buf[8 + k] = (unsigned char)(hlen >> (8 * k));
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hlen - dl - 1);
    buf[total - 1] = '\n';
    if (dlen) memcpy(buf + total, data, dlen);
    return total + dlen;
}

static unsigned char g_buf[1 << 16];

static size_t g_len;   /* bytes of the last crafted file, in g_buf */

/* 1 when a and b hold the same shape and the same values, bit for bit. */
static int same_array(const ntk_array *a, const ntk_array *b)
{
    return a->rows == b->rows && a->cols == b->cols && a->ndim == b->ndim &&
           (a->rows * a->cols == 0 || memcmp(a->data, b->data, a->rows * a->cols * 8) == 0);
}

/* The in-memory reader (what the fuzz target calls) and the mapping reader
 * against the file reader on the last crafted file: same status, message
 * and array. The mapping reader maps exactly the little-endian float64
 * files with values (numpy pads the header so that the values are aligned). */
static void check_parse_agrees(const char *path)
{
    ntk_array a, b, c;
    ntk_status sa = ntk_npy_read(path, &a);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ntk_errmsg());
    ntk_status sb = ntk_npy_parse(path, g_buf, g_len, &b);
    int same = sa == sb && (sa != NTK_OK || same_array(&a, &b));
    CHECK(same && (sa == NTK_OK || strcmp(msg, ntk_errmsg()) == 0),
          "file %s (%s) vs buffer %s (%s)", ntk_status_name(sa), msg, ntk_status_name(sb),
          ntk_errmsg());
    ntk_status sc = ntk_npy_map(path, &c);
    same = sa == sc && (sa != NTK_OK || same_array(&a, &c));
    CHECK(same && (sa == NTK_OK || strcmp(msg, ntk_errmsg()) == 0),
          "file %s (%s) vs mapped %s (%s)", ntk_status_name(sa), msg, ntk_status_name(sc),
          ntk_errmsg());
    /* where the values start, and whether the header says '<f8' */
    size_t start = g_buf[6] == 1 ? 10 : 12, off = start;
    for (size_t k = 0; k < start - 8; k++) off += (size_t)g_buf[8 + k] << (8 * k);
    int f8le = 0;
    for (size_t k = start; k + 3 <= off && k + 3 <= g_len; k++)
        f8le |= memcmp(g_buf + k, "<f8", 3) == 0;
    int mappable = sc == NTK_OK && f8le && c.rows * c.cols > 0 && off % 8 == 0;
    CHECK(sc != NTK_OK || (c.map != NULL) == mappable, "mapped %d for a%s %s file at offset %zu",
          c.map != NULL, mappable ? " mappable" : "n unmappable", f8le ? "<f8" : "other", off);
    CHECK(sc == NTK_OK || (c.data == NULL && c.map == NULL && c.rows == 0),
          "mapped output reset after failure");
    CHECK(a.map == NULL && b.map == NULL, "ntk_npy_read and ntk_npy_parse never map");
    ntk_array_free(&a);
    ntk_array_free(&b);
    ntk_array_free(&c);
    CHECK(c.data == NULL && c.map == NULL && c.map_len == 0, "ntk_array_free zeroes a mapping");
}

static void craft_file(const char *name, int major, const char *dict, const void *data,
                       size_t dlen)
{
    g_len = craft(g_buf, major, dict, data, dlen);
    write_raw(in_dir(name), g_buf, g_len);
    check_parse_agrees(in_dir(name));
}

static void test_round_trip(void)
{
    const double A[12] = {0.1, -0.0, 1e-310, 1e308, M_PI, -2.5, 7, 8, 9, 10, 11, -1e-20};
    ntk_array a;
    CHECK_OK(ntk_npy_write(in_dir("A.npy"), A, 3, 4, 2));
    CHECK_OK(ntk_npy_read(in_dir("A.npy"), &a));
    CHECK(a.ndim == 2 && a.rows == 3 && a.cols == 4, "shape %zux%zu ndim %d", a.rows, a.cols,
          a.ndim);
    CHECK(a.data && memcmp(a.data, A, sizeof A) == 0, "2-d values differ bitwise");
    ntk_array_free(&a);
    CHECK(a.data == NULL && a.rows == 0 && a.ndim == 0, "ntk_array_free zeroes the struct");
    ntk_array_free(NULL);

    CHECK_OK(ntk_npy_write(in_dir("v.npy"), A, 5, 1, 1));
    CHECK_OK(ntk_npy_read(in_dir("v.npy"), &a));
    CHECK(a.ndim == 1 && a.rows == 5 && a.cols == 1, "1-d shape %zu ndim %d", a.rows, a.ndim);
    CHECK(a.data && memcmp(a.data, A, 5 * sizeof(double)) == 0, "1-d values differ");
    ntk_array_free(&a);

    CHECK_OK(ntk_npy_write(in_dir("empty.npy"), NULL, 0, 3, 2));
    CHECK_OK(ntk_npy_read(in_dir("empty.npy"), &a));
    CHECK(a.rows == 0 && a.cols == 3 && a.ndim == 2, "(0,3) array read back as %zux%zu", a.rows,
          a.cols);
    ntk_array_free(&a);
}

/* The writer's layout: version 1.0, '<f8', 64-byte aligned header ending in '\n'. */
static void test_writer_layout(void)
{
    const double A[6] = {1, 2, 3, 4, 5, 6};
    CHECK_OK(ntk_npy_write(in_dir("L.npy"), A, 2, 3, 2));
    unsigned char b[512];
    size_t len = read_raw(in_dir("L.npy"), b, sizeof b);
    size_t hlen = b[8] | (size_t)b[9] << 8;
    CHECK(memcmp(b, "\x93NUMPY\x01\x00", 8) == 0, "magic and version 1.0");
    CHECK((10 + hlen) % 64 == 0, "header length %zu not aligned", hlen);
    CHECK(b[10 + hlen - 1] == '\n', "header ends with a newline");
    CHECK(len == 10 + hlen + sizeof A, "file size %zu", len);
    b[10 + hlen] = '\0';
    CHECK(strstr((char *)b + 10, "'descr': '<f8'") && strstr((char *)b + 10, "(2, 3)") &&
              strstr((char *)b + 10, "'fortran_order': False"),
          "header %s", b + 10);
    unsigned char le[8];
    put_f8(le, 1.0, 0);
    CHECK(memcmp(b + 10 + hlen, le, 8) == 0, "data are little-endian");
}

/* float32, big-endian and version-2.0 files written by hand. */
static void test_crafted(void)
{
    const float F[6] = {1.5f, -2.25f, 3.0f, 0.1f, 1e-30f, -7.0f};
    unsigned char raw[64];
    ntk_array a;
    for (int big = 0; big <= 1; big++) {
        for (int k = 0; k < 6; k++) put_f4(raw + 4 * k, F[k], big);
        craft_file("f4.npy", 1,
                   big ? "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }"
                       : "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                   raw, 24);
        CHECK_OK(ntk_npy_read(in_dir("f4.npy"), &a));
        CHECK(a.rows == 2 && a.cols == 3 && a.ndim == 2, "f4 shape (big %d)", big);
        int same = a.data != NULL;
        for (int k = 0; same && k < 6; k++) same = a.data[k] == (double)F[k];
        CHECK(same, "float32 values (big-endian %d)", big);
        ntk_array_free(&a);
    }

    const double D[4] = {M_PI, -1e-300, 12345.678, 0.0};
    for (int k = 0; k < 4; k++) put_f8(raw + 8 * k, D[k], 1);
    craft_file("be.npy", 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (4,), }", raw, 32);
    CHECK_OK(ntk_npy_read(in_dir("be.npy"), &a));
    CHECK(a.ndim == 1 && a.rows == 4 && a.data && memcmp(a.data, D, sizeof D) == 0,
          "big-endian float64 1-d");
    ntk_array_free(&a);

    for (int k = 0; k < 4; k++) put_f8(raw + 8 * k, D[k], 0);
    craft_file("v2.npy", 2, "{\"shape\":(2,2),\"fortran_order\":False,\"descr\":\"<f8\"}", raw, 32);
    CHECK_OK(ntk_npy_read(in_dir("v2.npy"), &a));
    CHECK(a.ndim == 2 && a.rows == 2 && a.cols == 2 && a.data &&
              memcmp(a.data, D, sizeof D) == 0,
          "version 2.0, double quotes, other key order");
    ntk_array_free(&a);

    craft_file("n1.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 1), }", raw, 32);
    CHECK_OK(ntk_npy_read(in_dir("n1.npy"), &a));
    CHECK(a.ndim == 2 && a.rows == 4 && a.cols == 1, "shape (4, 1) stays 2-d");
    ntk_array_free(&a);

    unsigned char tail[40];
    memcpy(tail, raw, 32);
    memcpy(tail + 32, "GARBAGE!", 8);
    craft_file("tail.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", tail, 40);
    CHECK_OK(ntk_npy_read(in_dir("tail.npy"), &a));
    CHECK(a.rows == 4, "trailing bytes are ignored");
    ntk_array_free(&a);
}

/* name: file crafted from dict and n little-endian doubles of value v. */
static ntk_status read_crafted(int major, const char *dict, size_t n, double v, ntk_array *a)
{
    static unsigned char raw[8 * 600];
    for (size_t k = 0; k < n; k++) put_f8(raw + 8 * k, v, 0);
    craft_file("bad.npy", major, dict, raw, 8 * n);
    a->data = (double *)1;   /* must be reset by the reader */
    return ntk_npy_read(in_dir("bad.npy"), a);
}

static void expect_format(int major, const char *dict, size_t n, const char *needle)
{
    ntk_array a;
    ntk_status st = read_crafted(major, dict, n, 1.0, &a);
    CHECK(st == NTK_ERR_FORMAT, "%s -> %s (%s)", dict, ntk_status_name(st), ntk_errmsg());
    CHECK(!needle || strstr(ntk_errmsg(), needle), "message '%s' lacks '%s'", ntk_errmsg(),
          needle);
    CHECK(a.data == NULL && a.rows == 0, "output reset after failure");
}

static void test_broken(void)
{
    const char *ok500 = "{'descr': '<f8', 'fortran_order': False, 'shape': (100, 5), }";
    expect_format(1, ok500, 499, "truncated");
    CHECK(strstr(ntk_errmsg(), "100x5 float64 (4000 bytes of data) but only 3992 bytes"),
          "message: %s", ntk_errmsg());
    expect_format(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 4, "Fortran");
    expect_format(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", 4, "'<i4'");
    expect_format(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 1, "'<f2'");
    expect_format(1, "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", 2,
                  "structured");
    expect_format(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 1000000), }",
                  4, NULL);
    expect_format(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", 4,
                  "truncated");
    expect_format(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
                  4, NULL);
    expect_format(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                  4, "overflow");
    expect_format(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 1), }", 4,
                  "3 dimensions");
    expect_format(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 1, "0 dimensions");
    expect_format(1, "{'descr': '<f8', 'shape': (2,), }", 2, "missing");
    expect_format(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", 2, "'x'");
    expect_format(1, "hello", 2, "malformed");
    /* file bytes quoted in a message are shown without control characters */
    expect_format(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x\ny\x1b': 1}", 2,
                  "unexpected header key 'x?y?'");
    expect_format(1, "{'descr': '<\r8', 'fortran_order': False, 'shape': (2,), }", 2,
                  "dtype '<?8'");
    expect_format(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", 2, NULL);
    expect_format(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 2, "truncated");

    ntk_array a;
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    CHECK_ERR(read_crafted(1, dict, 3, NAN, &a), NTK_ERR_NONFINITE);
    CHECK(a.data == NULL, "no data after NaN");
    CHECK_ERR(read_crafted(1, dict, 3, -INFINITY, &a), NTK_ERR_NONFINITE);

    /* broken preambles */
    size_t len = craft(g_buf, 1, dict, NULL, 0);
    unsigned char b[256];
    memcpy(b, g_buf, len);
    b[5] = 'Z';
    write_raw(in_dir("magic.npy"), b, len);
    CHECK_ERR(ntk_npy_read(in_dir("magic.npy"), &a), NTK_ERR_FORMAT);
    b[5] = 'Y';
    b[6] = 3;
    write_raw(in_dir("v3.npy"), b, len);
    CHECK_ERR(ntk_npy_read(in_dir("v3.npy"), &a), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "3.0"), "version named: %s", ntk_errmsg());
    write_raw(in_dir("cut.npy"), g_buf, 40);   /* header cut short */
    CHECK_ERR(ntk_npy_read(in_dir("cut.npy"), &a), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "truncated"), "message: %s", ntk_errmsg());
    write_raw(in_dir("tiny.npy"), g_buf, 7);
    CHECK_ERR(ntk_npy_read(in_dir("tiny.npy"), &a), NTK_ERR_FORMAT);
    write_raw(in_dir("zero.npy"), g_buf, 0);
    CHECK_ERR(ntk_npy_read(in_dir("zero.npy"), &a), NTK_ERR_FORMAT);
    CHECK_ERR(ntk_npy_read(in_dir("missing.npy"), &a), NTK_ERR_IO);
    CHECK(strstr(ntk_errmsg(), "missing.npy"), "path named: %s", ntk_errmsg());
    CHECK_ERR(ntk_npy_read(g_dir, &a), NTK_ERR_IO);
    CHECK(strstr(ntk_errmsg(), "is a directory, not a regular file"), "message: %s",
          ntk_errmsg());
}

static void blocked(int sig)
{
    static const char msg[] = "FAIL test_npy: ntk_npy_read blocked on a FIFO (named pipe)\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
    _exit(1);
}

/* A FIFO is refused at once (opening one for reading waits for a writer
 * unless it is opened non-blocking), and so is a character device. */
static void test_not_regular(void)
{
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s", in_dir("pipe.npy"));
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    signal(SIGALRM, blocked);
    alarm(20);
    ntk_array a;
    CHECK_ERR(ntk_npy_read(fifo, &a), NTK_ERR_IO);
    CHECK(strstr(ntk_errmsg(), fifo) && strstr(ntk_errmsg(), "FIFO") &&
              strstr(ntk_errmsg(), "regular file"),
          "message: %s", ntk_errmsg());
    CHECK(a.data == NULL && a.rows == 0, "output reset");
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    CHECK_ERR(ntk_npy_read("/dev/null", &a), NTK_ERR_IO);
    CHECK(strstr(ntk_errmsg(), "character device"), "message: %s", ntk_errmsg());
    CHECK_ERR(ntk_npy_read("", &a), NTK_ERR_ARG);
    CHECK_ERR(ntk_npy_read(NULL, &a), NTK_ERR_ARG);
    unlink(fifo);
}

static void test_atomic(void)
{
    int before = count_entries(g_dir);
    const char *p = in_dir("note.txt");
    CHECK_OK(ntk_write_file_atomic(p, "hello", 5));
    CHECK_OK(ntk_write_file_atomic(p, "bye", 3));
    unsigned char b[16];
    CHECK(read_raw(p, b, sizeof b) == 3 && memcmp(b, "bye", 3) == 0, "overwritten contents");
    CHECK(count_entries(g_dir) == before + 1, "no temporary files left (%d entries)",
          count_entries(g_dir));

    CHECK_ERR(ntk_write_file_atomic(in_dir("nodir/x.txt"), "a", 1), NTK_ERR_IO);
    CHECK(strstr(ntk_errmsg(), "nodir/x.txt"), "path named: %s", ntk_errmsg());
    const char *sub = in_dir("sub");
    CHECK(mkdir_ok(sub), "mkdir");
    char target[300];
    snprintf(target, sizeof target, "%s/inner", sub);
    CHECK(mkdir_ok(target), "mkdir inner");
    CHECK_ERR(ntk_write_file_atomic(target, "a", 1), NTK_ERR_IO);   /* rename onto a folder */
    CHECK(count_entries(sub) == 1, "temporary file removed after a failed rename");

    const double x[2] = {1, 2};
    CHECK_ERR(ntk_npy_write(in_dir("bad.npy"), x, 1, 2, 1), NTK_ERR_ARG);
    CHECK_ERR(ntk_npy_write(in_dir("bad.npy"), x, 1, 2, 3), NTK_ERR_ARG);
    CHECK_ERR(ntk_npy_write(in_dir("bad.npy"), NULL, 1, 2, 2), NTK_ERR_ARG);
    CHECK_ERR(ntk_npy_write("", x, 1, 2, 2), NTK_ERR_ARG);
}

/* ntk_npy_map: the values of the loaded read, bit for bit, without a copy;
 * writes to the array stay in the process (MAP_PRIVATE); a file whose values
 * are not at an aligned offset is loaded instead. */
static void test_map(void)
{
    enum { R = 700, C = 9 };   /* 50 KiB of values: the mapping spans several pages */
    static double A[R * C];
    ntk_rng rng;
    ntk_rng_seed(&rng, 5);
    ntk_rng_normal_fill(&rng, A, R * C);
    A[3] = -0.0;
    A[4] = 4.9e-324;   /* subnormal */
    const char *p = in_dir("big.npy");
    CHECK_OK(ntk_npy_write(p, A, R, C, 2));
    ntk_array a, m;
    CHECK_OK(ntk_npy_read(p, &a));
    CHECK_OK(ntk_npy_map(p, &m));
    CHECK(m.map != NULL && m.map_len >= R * C * 8 && m.rows == R && m.cols == C && m.ndim == 2,
          "mapped %p (%zu bytes), shape %zux%zu", m.map, m.map_len, m.rows, m.cols);
    CHECK(same_array(&a, &m), "mapped values differ from the loaded ones");
    CHECK(m.map && (const unsigned char *)m.data - (const unsigned char *)m.map == 128 &&
              (uintptr_t)m.data % sizeof(double) == 0,
          "data sit past the 128-byte header, aligned");

    /* in place, as ntk_standardize_apply does: the process sees the change,
     * the file and a second mapping of it do not */
    for (size_t i = 0; i < (size_t)R * C; i++) m.data[i] = 2.0 * m.data[i] + 1.0;
    ntk_array m2, back;
    CHECK_OK(ntk_npy_map(p, &m2));
    CHECK(same_array(&a, &m2), "a second mapping sees the first one's writes");
    CHECK(m.data[R * C - 1] == 2.0 * A[R * C - 1] + 1.0, "the write reached the array");
    ntk_array_free(&m);
    ntk_array_free(&m2);
    CHECK_OK(ntk_npy_read(p, &back));
    CHECK(same_array(&a, &back), "writing to the mapped array changed the file");
    ntk_array_free(&back);
    ntk_array_free(&a);

    /* the values at offset 75 (not a multiple of 8): loaded, not mapped */
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    size_t dl = strlen(dict), hlen = 75 - 10;
    unsigned char b[128];
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)hlen;
    b[9] = 0;
    memcpy(b + 10, dict, dl);
    memset(b + 10 + dl, ' ', hlen - dl - 1);
    b[74] = '\n';
    for (int k = 0; k < 3; k++) put_f8(b + 75 + 8 * k, A[k], 0);
    g_len = 75 + 24;
    memcpy(g_buf, b, g_len);
    write_raw(in_dir("odd.npy"), b, g_len);
    check_parse_agrees(in_dir("odd.npy"));
    CHECK_OK(ntk_npy_map(in_dir("odd.npy"), &m));
    CHECK(m.map == NULL && m.rows == 3 && memcmp(m.data, A, 24) == 0, "unaligned: loaded");
    ntk_array_free(&m);

    /* the checks of the loaded read: truncation, NaN deep in the mapping */
    CHECK(truncate(p, 128 + 8 * (R * C - 1)) == 0, "truncate");
    CHECK_ERR(ntk_npy_map(p, &m), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "truncated") && m.data == NULL && m.map == NULL, "message: %s",
          ntk_errmsg());
    A[R * C - 2] = NAN;
    CHECK_OK(ntk_npy_write(p, A, R, C, 2));
    CHECK_ERR(ntk_npy_map(p, &m), NTK_ERR_NONFINITE);
    CHECK(m.data == NULL && m.map == NULL, "no mapping kept after NaN");
    CHECK_ERR(ntk_npy_map(in_dir("missing.npy"), &m), NTK_ERR_IO);
    CHECK_ERR(ntk_npy_map(NULL, &m), NTK_ERR_ARG);
    CHECK_ERR(ntk_npy_map(p, NULL), NTK_ERR_ARG);
}

/* ntk_npy_writer: row blocks into one file, float32 within 2^-24 relative,
 * no file unless every row arrives, and room checked before any work. */
static void test_writer(void)
{
    enum { R = 37, C = 5 };
    double A[R * C];
    ntk_rng rng;
    ntk_rng_seed(&rng, 9);
    ntk_rng_normal_fill(&rng, A, R * C);
    A[0] = 1e300;    /* float32 overflows it: float64 only */
    A[1] = 1e-310;
    const char *p = in_dir("rows.npy");
    ntk_npy_writer *w;
    CHECK_OK(ntk_npy_writer_open(p, R, C, 2, 0, &w));
    for (size_t r0 = 0; r0 < R; r0 += 10) CHECK_OK(ntk_npy_writer_rows(w, A + r0 * C, R - r0 < 10 ? R - r0 : 10));
    CHECK_OK(ntk_npy_writer_commit(w));
    ntk_array a;
    CHECK_OK(ntk_npy_read(p, &a));
    CHECK(a.rows == R && a.cols == C && a.ndim == 2 && memcmp(a.data, A, sizeof A) == 0,
          "row blocks read back bit for bit");
    ntk_array_free(&a);
    /* the same bytes as the one-piece writer */
    unsigned char b1[2048], b2[2048];
    size_t l1 = read_raw(p, b1, sizeof b1);
    CHECK_OK(ntk_npy_write(in_dir("whole.npy"), A, R, C, 2));
    size_t l2 = read_raw(in_dir("whole.npy"), b2, sizeof b2);
    CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0, "row blocks and ntk_npy_write give the same file");

    /* float32: '<f4', each value the nearest float: within 2^-24 relative
     * (round to nearest; normal range), and exactly (float)x */
    A[0] = 3.0e38;
    A[1] = -1.0 / 3.0;
    const char *q = in_dir("f32.npy");
    CHECK_OK(ntk_npy_writer_open(q, R, C, 2, 1, &w));
    CHECK_OK(ntk_npy_writer_rows(w, A, R));
    CHECK_OK(ntk_npy_writer_commit(w));
    size_t lq = read_raw(q, b1, sizeof b1);
    char head[129];
    memcpy(head, b1, 128);
    head[128] = '\0';
    CHECK(lq == 128 + 4 * R * C && strstr(head + 10, "'descr': '<f4'"), "float32 layout");
    CHECK_OK(ntk_npy_read(q, &a));
    double worst = 0.0;
    int exact = a.data != NULL;
    for (size_t i = 0; exact && i < (size_t)R * C; i++) {
        exact = a.data[i] == (double)(float)A[i];
        worst = fmax(worst, fabs(a.data[i] - A[i]) / fabs(A[i]));
    }
    CHECK(exact, "float32 values are the nearest floats");
    CHECK_LE(worst, ldexp(1.0, -24), "float32 rounding: at most half an ulp, 2^-24 relative");
    ntk_array_free(&a);
    /* the in-memory float32 output: the same file */
    ntk_outset *o;
    CHECK_OK(ntk_outset_create(&o));
    CHECK_OK(ntk_outset_add_npy_f32(o, in_dir("f32b.npy"), A, R, C, 2));
    CHECK_OK(ntk_outset_commit(o));
    ntk_outset_free(o);
    CHECK(read_raw(in_dir("f32b.npy"), b2, sizeof b2) == lq && memcmp(b1 + 128, b2 + 128, lq - 128) == 0,
          "ntk_outset_add_npy_f32 writes what the writer writes");

    /* beyond float32: refused, the earlier file stays, no temporary file */
    int before = count_entries(g_dir);
    A[2 * C + 3] = -4e38;
    CHECK_OK(ntk_npy_writer_open(q, R, C, 2, 1, &w));
    CHECK_ERR(ntk_npy_writer_rows(w, A, R), NTK_ERR_NONFINITE);
    CHECK(strstr(ntk_errmsg(), "row 2, column 3") && strstr(ntk_errmsg(), "float32"),
          "message: %s", ntk_errmsg());
    CHECK_ERR(ntk_npy_writer_rows(w, A, 1), NTK_ERR_IO);
    CHECK_ERR(ntk_npy_writer_commit(w), NTK_ERR_IO);
    CHECK(count_entries(g_dir) == before && read_raw(q, b2, sizeof b2) == lq &&
              memcmp(b1, b2, lq) == 0,
          "the earlier file is untouched and no temporary file is left");
    CHECK_OK(ntk_outset_create(&o));
    CHECK_ERR(ntk_outset_add_npy_f32(o, q, A, R, C, 2), NTK_ERR_NONFINITE);
    ntk_outset_free(o);
    A[2 * C + 3] = 0.5;

    /* rows counted: too many refused, too few leave no file */
    CHECK_OK(ntk_npy_writer_open(in_dir("short.npy"), R, C, 2, 0, &w));
    CHECK_ERR(ntk_npy_writer_rows(w, A, R + 1), NTK_ERR_ARG);
    CHECK_OK(ntk_npy_writer_rows(w, A, R - 1));
    CHECK_ERR(ntk_npy_writer_commit(w), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "36 of 37 rows"), "message: %s", ntk_errmsg());
    CHECK(count_entries(g_dir) == before, "no file after a short write");
    CHECK_OK(ntk_npy_writer_open(in_dir("gone.npy"), R, C, 2, 0, &w));
    ntk_npy_writer_discard(w);
    ntk_npy_writer_discard(NULL);
    CHECK(count_entries(g_dir) == before, "discard leaves no file");
    CHECK_ERR(ntk_npy_writer_open(in_dir("bad.npy"), 3, 2, 1, 0, &w), NTK_ERR_ARG);
    CHECK_ERR(ntk_npy_writer_open(in_dir("bad.npy"), 3, 2, 3, 0, &w), NTK_ERR_ARG);
    CHECK_ERR(ntk_npy_writer_open("", 3, 2, 2, 0, &w), NTK_ERR_ARG);
    CHECK_ERR(ntk_npy_writer_open(in_dir("nodir/x.npy"), 3, 2, 2, 0, &w), NTK_ERR_IO);
    /* a device is written through (nothing to reserve) */
    CHECK_OK(ntk_npy_writer_open("/dev/null", R, C, 2, 0, &w));
    CHECK_OK(ntk_npy_writer_rows(w, A, R));
    CHECK_OK(ntk_npy_writer_commit(w));

    /* room, checked before anything is written: a file larger than the free
     * space of the file system (2^50 bytes), and one over the file-size limit */
    CHECK_ERR(ntk_npy_writer_open(in_dir("huge.npy"), (size_t)1 << 47, 1, 1, 0, &w), NTK_ERR_IO);
    CHECK(strstr(ntk_errmsg(), "huge.npy") && strstr(ntk_errmsg(), "free"), "message: %s",
          ntk_errmsg());
    struct rlimit old, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0, "getrlimit");
    lim = old;
    lim.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        CHECK_ERR(ntk_npy_writer_open(in_dir("fsz.npy"), 1000, 1, 1, 0, &w), NTK_ERR_IO);
        CHECK(strstr(ntk_errmsg(), "file-size limit"), "message: %s", ntk_errmsg());
        CHECK_OK(ntk_npy_writer_open(in_dir("fsz.npy"), 100, 1, 1, 0, &w));
        ntk_npy_writer_discard(w);
        setrlimit(RLIMIT_FSIZE, &old);
    }
    signal(SIGXFSZ, prev);
    CHECK(count_entries(g_dir) == before, "no file after a refused open");
}

/* ntk_npy_read_rows: every row range of every dtype and byte order, both
 * format versions, 2-d and 1-d, equals the same rows of the full read (the
 * oracle: ntk_npy_read, tested above), bit for bit; bad ranges, truncation,
 * Fortran order and NaN in the rows read are refused with a message. */
static void test_read_rows(void)
{
    enum { R = 7, C = 3 };
    static const char *descr[] = {"<f8", ">f8", "<f4", ">f4"};
    double A[R * C];
    ntk_rng rng;
    ntk_rng_seed(&rng, 11);
    ntk_rng_normal_fill(&rng, A, R * C);
    unsigned char raw[8 * R * C];
    int all_same = 1;
    for (int t = 0; t < 4; t++)
        for (int major = 1; major <= 2; major++)
            for (int nd = 1; nd <= 2; nd++) {
                int esz = descr[t][2] - '0', big = descr[t][0] == '>';
                size_t cols = nd == 2 ? C : 1;
                for (size_t i = 0; i < R * cols; i++) {
                    if (esz == 8) put_f8(raw + 8 * i, A[i], big);
                    else put_f4(raw + 4 * i, (float)A[i], big);
                }
                char dict[128];
                if (nd == 2)
                    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, "
                             "'shape': (%d, %d), }", descr[t], R, C);
                else
                    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, "
                             "'shape': (%d,), }", descr[t], R);
                craft_file("rows.npy", major, dict, raw, (size_t)esz * R * cols);
                ntk_array full, part;
                CHECK_OK(ntk_npy_read(in_dir("rows.npy"), &full));
                size_t sr, sc;
                int snd;
                CHECK_OK(ntk_npy_shape(in_dir("rows.npy"), &sr, &sc, &snd));
                CHECK(sr == R && sc == cols && snd == nd, "shape %zux%zu, %d-d", sr, sc, snd);
                for (size_t r0 = 0; r0 <= R; r0++)
                    for (size_t cnt = 0; r0 + cnt <= R; cnt++) {
                        ntk_status st = ntk_npy_read_rows(in_dir("rows.npy"), r0, cnt, &part);
                        int same = st == NTK_OK && part.rows == cnt && part.cols == cols &&
                                   part.ndim == nd && part.map == NULL &&
                                   (cnt ? part.data && memcmp(part.data, full.data + r0 * cols,
                                                              cnt * cols * sizeof(double)) == 0
                                        : part.data == NULL);
                        if (!same) {
                            all_same = 0;
                            CHECK(same, "%s v%d %d-d rows [%zu, %zu): %s", descr[t], major, nd, r0,
                                  r0 + cnt, ntk_errmsg());
                        }
                        ntk_array_free(&part);
                    }
                ntk_array_free(&full);
            }
    CHECK(all_same, "every range of every layout equals the full read's rows");

    /* bad ranges: one message naming the range and the rows */
    const char *p = in_dir("rows2.npy");
    CHECK_OK(ntk_npy_write(p, A, R, C, 2));
    ntk_array a;
    const size_t bad[][2] = {{0, R + 1}, {R, 1}, {R + 1, 0}, {3, SIZE_MAX}, {SIZE_MAX, 2}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a.data = (double *)1;
        CHECK_ERR(ntk_npy_read_rows(p, bad[i][0], bad[i][1], &a), NTK_ERR_ARG);
        CHECK(strstr(ntk_errmsg(), "the array has 7 rows") && strstr(ntk_errmsg(), "rows2.npy") &&
                  a.data == NULL && a.rows == 0,
              "range [%zu, +%zu): %s", bad[i][0], bad[i][1], ntk_errmsg());
    }
    /* NaN: refused in the rows read, not looked at elsewhere */
    double B[R * C];
    memcpy(B, A, sizeof B);
    B[5 * C + 1] = NAN;
    CHECK_OK(ntk_npy_write(p, B, R, C, 2));
    CHECK_ERR(ntk_npy_read_rows(p, 4, 2, &a), NTK_ERR_NONFINITE);
    CHECK(a.data == NULL, "no data after NaN");
    CHECK_OK(ntk_npy_read_rows(p, 0, 5, &a));
    CHECK(a.rows == 5 && memcmp(a.data, A, 5 * C * sizeof(double)) == 0, "rows before the NaN");
    ntk_array_free(&a);
    /* the file's size is checked against the header, whatever the range */
    CHECK(truncate(p, 128 + 8 * (R * C - 1)) == 0, "truncate");
    CHECK_ERR(ntk_npy_read_rows(p, 0, 1, &a), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "truncated") != NULL, "message: %s", ntk_errmsg());
    size_t sr, sc;
    int snd;
    CHECK_ERR(ntk_npy_shape(p, &sr, &sc, &snd), NTK_ERR_FORMAT);
    craft_file("fort.npy", 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", raw, 32);
    CHECK_ERR(ntk_npy_read_rows(in_dir("fort.npy"), 0, 1, &a), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "Fortran") != NULL, "message: %s", ntk_errmsg());
    CHECK_ERR(ntk_npy_read_rows(in_dir("missing.npy"), 0, 1, &a), NTK_ERR_IO);
    CHECK_ERR(ntk_npy_read_rows(NULL, 0, 1, &a), NTK_ERR_ARG);
    CHECK_ERR(ntk_npy_read_rows(p, 0, 1, NULL), NTK_ERR_ARG);
}

int main(void)
{
    tmpdir_make("ntk_npy");
    test_round_trip();
    test_writer_layout();
    test_crafted();
    test_broken();
    test_not_regular();
    test_atomic();
    test_map();
    test_writer();
    test_read_rows();
    remove_tree(g_dir);
    return t_finish();
}
