/* CSV, CIFAR-10 and MNIST loaders on files synthesised in a mkdtemp folder,
 * and the file forms of ntk_dataset_make that name them. */
#include "harness.h"
#include "ntkit.h"
#include "tmpdir.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_text(const char *name, const char *text) { write_raw(in_dir(name), text, strlen(text)); }

static int equals(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* ---------------------------------------------------------------------
 * CSV
 * ------------------------------------------------------------------- */

static void expect_csv_mode(const char *text, int col, ntk_csv_header header, size_t rows,
                            const double *Xe, const double *ye)
{
    ntk_array X, y;
    write_text("t.csv", text);
    CHECK_OK(ntk_load_csv(in_dir("t.csv"), col, header, &X, &y));
    size_t d = X.cols;
    CHECK(X.rows == rows && y.rows == rows && X.ndim == 2 && y.ndim == 1, "%s: %zu rows", text,
          X.rows);
    CHECK(X.data && y.data && equals(X.data, Xe, rows * d) && equals(y.data, ye, rows),
          "%s: values", text);
    ntk_array_free(&X);
    ntk_array_free(&y);
}

static void expect_csv(const char *text, int col, size_t rows, const double *Xe, const double *ye)
{
    expect_csv_mode(text, col, NTK_CSV_HEADER_AUTO, rows, Xe, ye);
}

static void expect_csv_err_mode(const char *text, int col, ntk_csv_header header,
                                ntk_status code, const char *needle)
{
    ntk_array X, y;
    write_text("t.csv", text);
    ntk_status st = ntk_load_csv(in_dir("t.csv"), col, header, &X, &y);
    CHECK(st == code, "'%s' -> %s (%s), expected %s", text, ntk_status_name(st), ntk_errmsg(),
          ntk_status_name(code));
    CHECK(!needle || strstr(ntk_errmsg(), needle), "message '%s' lacks '%s'", ntk_errmsg(), needle);
    CHECK(!X.data && !y.data && X.rows == 0, "outputs empty after failure");
}

static void expect_csv_err(const char *text, int col, ntk_status code, const char *needle)
{
    expect_csv_err_mode(text, col, NTK_CSV_HEADER_AUTO, code, needle);
}

static void test_csv(void)
{
    const double X1[4] = {1, 2, 4, 5}, y1[2] = {3, 6};
    expect_csv("x1,x2,y\n1,2,3\n4,5,6\n", -1, 2, X1, y1);
    expect_csv("1,2,3\n4,5,6", -1, 2, X1, y1);
    expect_csv("a, b ,c\r\n\r\n 1 , 2,3\r\n\n4,5,6\r\n\n", 2, 2, X1, y1);
    const double X0[4] = {2, 3, 5, 6}, y0[2] = {1, 4};
    expect_csv("1,2,3\n4,5,6\n", 0, 2, X0, y0);
    const double Xm[4] = {1, 3, 4, 6}, ym[2] = {2, 5};
    expect_csv("p,q,r\n1,2,3\n4,5,6\n", 1, 2, Xm, ym);
    const double Xs[3] = {1e-3, -250, 0.5}, ys[3] = {1, 0, -1};
    expect_csv("1e-3,1\n-2.5E2,0\n+.5,-1\n", -1, 3, Xs, ys);

    expect_csv_err("1,2,3\n4,5\n", -1, NTK_ERR_FORMAT, "line 2 has 2 fields");
    expect_csv_err("h1,h2,h3\n1,2,3\n\n4,5,6,7\n", -1, NTK_ERR_FORMAT, "line 4");
    expect_csv_err("1,2,3\n4,abc,6\n", -1, NTK_ERR_FORMAT, "line 2, column 2: 'abc'");
    expect_csv_err("1,2,3\n4,5 6,6\n", -1, NTK_ERR_FORMAT, "line 2, column 2");
    expect_csv_err("1,2,3\n4,,6\n", -1, NTK_ERR_FORMAT, "empty cell");
    expect_csv_err("1,2,3\n4,\x1b[2J\r5,6\n", -1, NTK_ERR_FORMAT, "column 2: '?[2J?5' is not");
    expect_csv_err("1,2,3\n4,5,6,\n", -1, NTK_ERR_FORMAT, "line 2");
    expect_csv_err("", -1, NTK_ERR_FORMAT, "no data rows");
    expect_csv_err("\n  \n\n", -1, NTK_ERR_FORMAT, "no data rows");
    expect_csv_err("a,b,c\n", -1, NTK_ERR_FORMAT, "no data rows");
    expect_csv_err("a,b\n1,2,3\n", -1, NTK_ERR_FORMAT, "header has 2 columns");
    expect_csv_err("1\n2\n", -1, NTK_ERR_FORMAT, "at least 2 columns");
    expect_csv_err("1,2,3\n4,nan,6\n", -1, NTK_ERR_NONFINITE, "line 2, column 2 is NaN");
    expect_csv_err("1,2,inf\n", -1, NTK_ERR_NONFINITE, "line 1, column 3 is Inf");
    expect_csv_err("1,2,3\n", 3, NTK_ERR_ARG, "0..2");
    expect_csv_err("1,2,3\n", -2, NTK_ERR_ARG, NULL);

    ntk_array X, y;
    CHECK_ERR(ntk_load_csv(in_dir("none.csv"), -1, NTK_CSV_HEADER_AUTO, &X, &y), NTK_ERR_IO);
    CHECK(strstr(ntk_errmsg(), "none.csv"), "path named: %s", ntk_errmsg());
    CHECK_ERR(ntk_load_csv("", -1, NTK_CSV_HEADER_AUTO, &X, &y), NTK_ERR_ARG);
    CHECK_ERR(ntk_load_csv(in_dir("t.csv"), -1, (ntk_csv_header)7, &X, &y), NTK_ERR_ARG);
}

/* The first line under each header mode; a UTF-8 byte order mark. */
static void test_csv_header_modes(void)
{
    const double X1[4] = {1, 2, 4, 5}, y1[2] = {3, 6}, X2[2] = {4, 5}, y2[1] = {6};
    const ntk_csv_header AUTO = NTK_CSV_HEADER_AUTO, YES = NTK_CSV_HEADER_YES,
                         NO = NTK_CSV_HEADER_NO;
    expect_csv_mode("1,2,3\n4,5,6\n", -1, NO, 2, X1, y1);
    expect_csv_mode("1,2,3\n4,5,6\n", -1, YES, 1, X2, y2);
    expect_csv_mode("\n \n1,2,3\n4,5,6\n", -1, YES, 1, X2, y2);   /* first non-blank line */
    expect_csv_mode("p,q,r\n4,5,6\n", -1, YES, 1, X2, y2);
    expect_csv_mode("p,q,r\n4,5,6\n", -1, AUTO, 1, X2, y2);
    expect_csv_mode(",,\n4,5,6\n", -1, AUTO, 1, X2, y2);           /* no cell is a number */
    expect_csv_mode("\xEF\xBB\xBF" "1,2,3\n4,5,6\n", -1, AUTO, 2, X1, y1);
    expect_csv_mode("\xEF\xBB\xBF" "1,2,3\n4,5,6\n", -1, NO, 2, X1, y1);
    expect_csv_mode("\xEF\xBB\xBF" "a,b,c\n4,5,6\n", -1, AUTO, 1, X2, y2);
    expect_csv_mode("\xEF\xBB\xBF" "a,b,c\n4,5,6\n", -1, YES, 1, X2, y2);

    expect_csv_err_mode("1,2x,3\n4,5,6\n", -1, AUTO, NTK_ERR_FORMAT, "line 1 mixes");
    CHECK(strstr(ntk_errmsg(), "column 2 is '2x'") && strstr(ntk_errmsg(), "header=yes") &&
              strstr(ntk_errmsg(), "header=no"),
          "the ambiguous cell and both fixes: %s", ntk_errmsg());
    expect_csv_err_mode("\n\nx1,2,y\n4,5,6\n", -1, AUTO, NTK_ERR_FORMAT, "line 3 mixes");
    expect_csv_err_mode("1,,3\n4,5,6\n", -1, AUTO, NTK_ERR_FORMAT, "column 2 is ''");
    expect_csv_err_mode("\xEF\xBB" "1,2,3\n4,5,6\n", -1, AUTO, NTK_ERR_FORMAT, "line 1 mixes");
    expect_csv_err_mode("a,b,c\n4,5,6\n", -1, NO, NTK_ERR_FORMAT, "line 1, column 1: 'a'");
    CHECK(strstr(ntk_errmsg(), "if line 1 is a header, use header=yes"), "hint: %s",
          ntk_errmsg());
    expect_csv_err_mode("1,2,3\n4,x,6\n", -1, NO, NTK_ERR_FORMAT, "line 2, column 2: 'x'");
    CHECK(!strstr(ntk_errmsg(), "header=yes"), "no header hint past the first row: %s",
          ntk_errmsg());
    expect_csv_err_mode("a,b\n4,5,6\n", -1, YES, NTK_ERR_FORMAT, "header has 2 columns");
    expect_csv_err_mode("1,2,3\n", -1, YES, NTK_ERR_FORMAT, "no data rows");
    expect_csv_err_mode("\xEF\xBB\xBF", -1, AUTO, NTK_ERR_FORMAT, "no data rows");
}

/* ---------------------------------------------------------------------
 * CIFAR-10: records of 1 label byte and 3072 pixels
 * ------------------------------------------------------------------- */

#define REC 3073
static const unsigned char cifar_labels[7] = {3, 5, 1, 3, 5, 0, 3};
static unsigned char g_cifar[7 * REC];

static unsigned char cifar_pixel(size_t rec, size_t j) { return (unsigned char)((rec * 7 + j) % 256); }

static void make_cifar(void)
{
    for (size_t r = 0; r < 7; r++) {
        g_cifar[r * REC] = cifar_labels[r];
        for (size_t j = 0; j < 3072; j++) g_cifar[r * REC + 1 + j] = cifar_pixel(r, j);
    }
    write_raw(in_dir("batch.bin"), g_cifar, sizeof g_cifar);
}

/* Rows of X hold the pixels/255 of records recs[0..k), with labels ye. */
static int cifar_rows_match(const ntk_array *X, const ntk_array *y, const size_t *recs,
                            const double *ye, size_t k)
{
    if (X->rows != k || X->cols != 3072 || y->rows != k) return 0;
    for (size_t r = 0; r < k; r++) {
        if (y->data[r] != ye[r]) return 0;
        for (size_t j = 0; j < 3072; j++)
            if (X->data[r * 3072 + j] != cifar_pixel(recs[r], j) / 255.0) return 0;
    }
    return 1;
}

static void test_cifar(void)
{
    make_cifar();
    ntk_array X, y;
    const size_t recs[5] = {0, 1, 3, 4, 6};
    const double ye[5] = {1, -1, 1, -1, 1}, yf[5] = {-1, 1, -1, 1, -1};
    CHECK_OK(ntk_load_cifar10(in_dir("batch.bin"), 3, 5, 0, &X, &y));
    CHECK(cifar_rows_match(&X, &y, recs, ye, 5), "classes 3 vs 5: rows, pixels and labels");
    double lo = 1, hi = 0;
    for (size_t i = 0; X.data && i < X.rows * X.cols; i++) {
        lo = X.data[i] < lo ? X.data[i] : lo;
        hi = X.data[i] > hi ? X.data[i] : hi;
    }
    CHECK(lo == 0.0 && hi == 1.0, "pixels span [0,1]: %g..%g", lo, hi);
    ntk_array_free(&X);
    ntk_array_free(&y);
    CHECK_OK(ntk_load_cifar10(in_dir("batch.bin"), 5, 3, 0, &X, &y));
    CHECK(cifar_rows_match(&X, &y, recs, yf, 5), "swapped classes flip labels");
    ntk_array_free(&X);
    ntk_array_free(&y);
    CHECK_OK(ntk_load_cifar10(in_dir("batch.bin"), 3, 5, 2, &X, &y));
    CHECK(cifar_rows_match(&X, &y, recs, ye, 2), "max_n = 2 keeps the first two");
    ntk_array_free(&X);
    ntk_array_free(&y);

    write_raw(in_dir("cut.bin"), g_cifar, sizeof g_cifar - 10);
    CHECK_ERR(ntk_load_cifar10(in_dir("cut.bin"), 3, 5, 0, &X, &y), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "3073") && strstr(ntk_errmsg(), "truncated"), "msg: %s",
          ntk_errmsg());
    CHECK(!X.data && !y.data, "no outputs after failure");
    write_raw(in_dir("empty.bin"), g_cifar, 0);
    CHECK_ERR(ntk_load_cifar10(in_dir("empty.bin"), 3, 5, 0, &X, &y), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "empty.bin is empty"), "msg: %s", ntk_errmsg());
    g_cifar[2 * REC] = 12;
    write_raw(in_dir("label.bin"), g_cifar, sizeof g_cifar);
    g_cifar[2 * REC] = cifar_labels[2];
    CHECK_ERR(ntk_load_cifar10(in_dir("label.bin"), 3, 5, 0, &X, &y), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "label 12"), "msg: %s", ntk_errmsg());
    const unsigned char gz[REC] = {0x1f, 0x8b};
    write_raw(in_dir("gz.bin"), gz, sizeof gz);
    CHECK_ERR(ntk_load_cifar10(in_dir("gz.bin"), 3, 5, 0, &X, &y), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "gzip"), "msg: %s", ntk_errmsg());
    CHECK_ERR(ntk_load_cifar10(in_dir("batch.bin"), 3, 3, 0, &X, &y), NTK_ERR_ARG);
    CHECK_ERR(ntk_load_cifar10(in_dir("batch.bin"), 10, 3, 0, &X, &y), NTK_ERR_ARG);
    CHECK_ERR(ntk_load_cifar10(in_dir("batch.bin"), -1, 3, 0, &X, &y), NTK_ERR_ARG);
    CHECK_ERR(ntk_load_cifar10(in_dir("batch.bin"), 7, 8, 0, &X, &y), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "no images of class 7 or 8"), "msg: %s", ntk_errmsg());
    CHECK_ERR(ntk_load_cifar10(in_dir("nope.bin"), 3, 5, 0, &X, &y), NTK_ERR_IO);
}

/* ---------------------------------------------------------------------
 * MNIST idx files: 6 images of 4x3 pixels
 * ------------------------------------------------------------------- */

#define NIMG 6
#define NPIX 12
static const unsigned char mnist_labels[NIMG] = {1, 7, 1, 2, 7, 9};

static void put_be32(unsigned char *b, unsigned v)
{
    for (int k = 0; k < 4; k++) b[k] = (unsigned char)(v >> (24 - 8 * k));
}

/* images: magic 2051, n, 4, 3, pixels; labels: magic 2049, n_labels, labels. */
static void make_mnist(const char *img, const char *lab, unsigned n_labels, size_t img_len)
{
    unsigned char ib[16 + NIMG * NPIX + 8] = {0}, lb[8 + NIMG + 1];
    put_be32(ib, 2051);
    put_be32(ib + 4, NIMG);
    put_be32(ib + 8, 4);
    put_be32(ib + 12, 3);
    for (size_t i = 0; i < NIMG * NPIX; i++) ib[16 + i] = (unsigned char)(i * 3);
    put_be32(lb, 2049);
    put_be32(lb + 4, n_labels);
    memcpy(lb + 8, mnist_labels, NIMG);
    lb[8 + NIMG] = 7;
    write_raw(in_dir(img), ib, img_len);
    write_raw(in_dir(lab), lb, 8 + n_labels);
}

static void test_mnist(void)
{
    const size_t full = 16 + NIMG * NPIX;
    make_mnist("img", "lab", NIMG, full);
    ntk_array X, y;
    CHECK_OK(ntk_load_mnist(in_dir("img"), in_dir("lab"), 7, 1, 0, &X, &y));
    const size_t idx[4] = {0, 1, 2, 4};
    const double ye[4] = {-1, 1, -1, 1};
    int ok = X.rows == 4 && X.cols == NPIX && y.rows == 4 && X.ndim == 2 && y.ndim == 1;
    for (size_t r = 0; ok && r < 4; r++) {
        ok = y.data[r] == ye[r];
        for (size_t j = 0; ok && j < NPIX; j++)
            ok = X.data[r * NPIX + j] == (double)(unsigned char)((idx[r] * NPIX + j) * 3) / 255.0;
    }
    CHECK(ok, "MNIST classes 7 vs 1: rows, pixels and labels");
    ntk_array_free(&X);
    ntk_array_free(&y);
    CHECK_OK(ntk_load_mnist(in_dir("img"), in_dir("lab"), 7, 1, 3, &X, &y));
    CHECK(X.rows == 3 && y.rows == 3, "max_n = 3 gives %zu rows", X.rows);
    ntk_array_free(&X);
    ntk_array_free(&y);

    CHECK_ERR(ntk_load_mnist(in_dir("lab"), in_dir("img"), 7, 1, 0, &X, &y), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "2051"), "swapped files: %s", ntk_errmsg());
    CHECK(!X.data && !y.data, "no outputs after failure");
    make_mnist("img_cut", "lab_ok", NIMG, full - 5);
    CHECK_ERR(ntk_load_mnist(in_dir("img_cut"), in_dir("lab_ok"), 7, 1, 0, &X, &y),
              NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "truncated"), "msg: %s", ntk_errmsg());
    make_mnist("img_long", "lab_ok", NIMG, full + 3);
    CHECK_ERR(ntk_load_mnist(in_dir("img_long"), in_dir("lab_ok"), 7, 1, 0, &X, &y),
              NTK_ERR_FORMAT);
    make_mnist("img_ok", "lab_short", NIMG - 1, full);
    CHECK_ERR(ntk_load_mnist(in_dir("img_ok"), in_dir("lab_short"), 7, 1, 0, &X, &y),
              NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "6 images") && strstr(ntk_errmsg(), "5 labels"), "msg: %s",
          ntk_errmsg());
    make_mnist("img_ok", "lab_long", NIMG + 1, full);   /* labels file claims 7 */
    CHECK_ERR(ntk_load_mnist(in_dir("img_ok"), in_dir("lab_long"), 7, 1, 0, &X, &y),
              NTK_ERR_FORMAT);
    CHECK_ERR(ntk_load_mnist(in_dir("img"), in_dir("lab"), 1, 1, 0, &X, &y), NTK_ERR_ARG);
    CHECK_ERR(ntk_load_mnist(in_dir("img"), in_dir("lab"), 3, 4, 0, &X, &y), NTK_ERR_ARG);
    CHECK_ERR(ntk_load_mnist(in_dir("img"), in_dir("none"), 7, 1, 0, &X, &y), NTK_ERR_IO);

    /* no images: refused with the file named, not "no images of class" */
    unsigned char hdr[16], lhdr[8];
    put_be32(hdr, 2051);
    put_be32(hdr + 4, 0);
    put_be32(hdr + 8, 28);
    put_be32(hdr + 12, 28);
    put_be32(lhdr, 2049);
    put_be32(lhdr + 4, 0);
    write_raw(in_dir("img0"), hdr, sizeof hdr);
    write_raw(in_dir("lab0"), lhdr, sizeof lhdr);
    CHECK_ERR(ntk_load_mnist(in_dir("img0"), in_dir("lab0"), 7, 1, 0, &X, &y), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "img0 holds no images"), "msg: %s", ntk_errmsg());
    put_be32(hdr + 4, 1);
    put_be32(hdr + 8, 0);
    put_be32(lhdr + 4, 1);
    unsigned char lab1[9];
    memcpy(lab1, lhdr, 8);
    lab1[8] = 7;
    write_raw(in_dir("img0"), hdr, sizeof hdr);
    write_raw(in_dir("lab0"), lab1, sizeof lab1);
    CHECK_ERR(ntk_load_mnist(in_dir("img0"), in_dir("lab0"), 7, 1, 0, &X, &y), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "zero pixels"), "msg: %s", ntk_errmsg());

    unsigned char lb[8 + NIMG];
    put_be32(lb, 2049);
    put_be32(lb + 4, NIMG);
    memcpy(lb + 8, mnist_labels, NIMG);
    lb[8 + 3] = 10;
    write_raw(in_dir("lab_bad"), lb, sizeof lb);
    CHECK_ERR(ntk_load_mnist(in_dir("img"), in_dir("lab_bad"), 7, 1, 0, &X, &y), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "label 10"), "msg: %s", ntk_errmsg());
}

/* ---------------------------------------------------------------------
 * ntk_dataset_make on these files
 * ------------------------------------------------------------------- */

static void test_dataset_files(void)
{
    char spec[512];
    ntk_dataset ds;
    write_text("d.csv", "a,b,c\n1,2,3\n4,5,6\n7,8,9\n10,11,12\n");
    snprintf(spec, sizeof spec, "csv:%s:target=0", in_dir("d.csv"));
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 3, 1, 0, 1, 0, NULL}, &ds));
    const double Xtr[6] = {2, 3, 5, 6, 8, 9}, ytr[3] = {1, 4, 7}, Xte[2] = {11, 12};
    CHECK(ds.n == 3 && ds.n_test == 1 && ds.d == 2, "csv split %zu/%zu d %zu", ds.n, ds.n_test,
          ds.d);
    CHECK(ds.X_train && equals(ds.X_train, Xtr, 6) && equals(ds.y_train, ytr, 3) &&
              equals(ds.X_test, Xte, 2) && ds.y_test[0] == 10,
          "csv rows split in order");
    ntk_dataset_free(&ds);
    snprintf(spec, sizeof spec, "csv:%s:target=x", in_dir("d.csv"));
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 3, 1, 0, 1, 0, NULL}, &ds), NTK_ERR_ARG);

    snprintf(spec, sizeof spec, "cifar10:%s:3,5", in_dir("batch.bin"));
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 3, 1, 0, 1, 0, NULL}, &ds));
    CHECK(ds.n == 3 && ds.n_test == 1 && ds.d == 3072 && ds.y_test[0] == -1,
          "cifar split: n %zu, d %zu", ds.n, ds.d);
    ntk_dataset_free(&ds);
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 0, 2, 3072, 1, 0, NULL}, &ds));
    CHECK(ds.n == 3 && ds.n_test == 2, "n = 0 takes all but n_test: %zu", ds.n);
    ntk_dataset_free(&ds);
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 4, 2, 0, 1, 0, NULL}, &ds), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "4 + 2"), "msg: %s", ntk_errmsg());
    snprintf(spec, sizeof spec, "cifar10:%s:3", in_dir("batch.bin"));
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 2, 1, 0, 1, 0, NULL}, &ds), NTK_ERR_ARG);

    snprintf(spec, sizeof spec, "mnist:%s:%s:7,1", in_dir("img"), in_dir("lab"));
    CHECK_OK(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 2, 2, 12, 1, 1, NULL}, &ds));
    CHECK(ds.n == 2 && ds.n_test == 2 && ds.d == 12, "mnist split");
    ntk_dataset_free(&ds);
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 2, 2, 10, 1, 0, NULL}, &ds), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "12 columns"), "msg: %s", ntk_errmsg());
    snprintf(spec, sizeof spec, "mnist:%s:7,1", in_dir("img"));
    CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 2, 2, 0, 1, 0, NULL}, &ds), NTK_ERR_ARG);
}

/* ---------------------------------------------------------------------
 * CSV header detection through data specs
 * ------------------------------------------------------------------- */

/* 40 numeric rows "i,i+1,i+2"; row 0 replaced by first when not NULL;
 * prefix (a byte order mark) before everything. */
static void write_rows40(const char *name, const char *prefix, const char *first)
{
    static char text[2048];
    size_t len = (size_t)snprintf(text, sizeof text, "%s", prefix);
    for (int i = 0; i < 40; i++) {
        if (i == 0 && first)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s\n", first);
        else
            len += (size_t)snprintf(text + len, sizeof text - len, "%d,%d,%d\n", i, i + 1, i + 2);
    }
    write_raw(in_dir(name), text, len);
}

/* ntk_dataset_make(csv:FILE[:opts]) with n = 0, n_test = 5: rows used or an error. */
static ntk_status csv_dataset(const char *name, const char *opts, ntk_dataset *ds)
{
    char spec[512];
    snprintf(spec, sizeof spec, "csv:%s%s%s", in_dir(name), opts ? ":" : "", opts ? opts : "");
    return ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 0, 5, 0, 1, 0, NULL}, ds);
}

static void test_csv_header_specs(void)
{
    ntk_dataset ds;
    /* A typo in the first data line must not turn it into a silent header. */
    write_rows40("typo.csv", "", "0,1x,2");
    CHECK_ERR(csv_dataset("typo.csv", NULL, &ds), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "typo.csv") && strstr(ntk_errmsg(), "line 1") &&
              strstr(ntk_errmsg(), "header=yes") && strstr(ntk_errmsg(), "header=no"),
          "mixed first line named with both fixes: %s", ntk_errmsg());
    CHECK(ds.X_train == NULL, "nothing left after failure");

    /* A UTF-8 byte order mark before numeric data: every row is data. */
    write_rows40("bom.csv", "\xEF\xBB\xBF", NULL);
    CHECK_OK(csv_dataset("bom.csv", NULL, &ds));
    CHECK(ds.n + ds.n_test == 40 && ds.X_train && ds.X_train[0] == 0 && ds.X_train[1] == 1 &&
              ds.y_train && ds.y_train[0] == 2,
          "BOM file: %zu + %zu rows, first row kept", ds.n, ds.n_test);
    ntk_dataset_free(&ds);

    /* A BOM before a real header: the header is still recognised. */
    write_rows40("bomh.csv", "\xEF\xBB\xBF", "a,b,c");
    CHECK_OK(csv_dataset("bomh.csv", NULL, &ds));
    CHECK(ds.n + ds.n_test == 39 && ds.X_train && ds.X_train[0] == 1, "BOM + header: %zu rows",
          ds.n + ds.n_test);
    ntk_dataset_free(&ds);

    /* Explicit modes, alone and with target=COL. */
    write_rows40("num.csv", "", NULL);
    CHECK_OK(csv_dataset("num.csv", "header=yes", &ds));
    CHECK(ds.n + ds.n_test == 39 && ds.X_train && ds.X_train[0] == 1,
          "header=yes skips the first line: %zu rows", ds.n + ds.n_test);
    ntk_dataset_free(&ds);
    CHECK_OK(csv_dataset("num.csv", "header=no,target=0", &ds));
    CHECK(ds.n + ds.n_test == 40 && ds.X_train && ds.X_train[0] == 1 && ds.y_train[0] == 0,
          "header=no with target=0: %zu rows", ds.n + ds.n_test);
    ntk_dataset_free(&ds);
    CHECK_OK(csv_dataset("num.csv", "target=1,header=auto", &ds));
    CHECK(ds.n + ds.n_test == 40 && ds.y_train && ds.y_train[0] == 1, "target=1,header=auto");
    ntk_dataset_free(&ds);
    CHECK_OK(csv_dataset("typo.csv", "header=yes", &ds));
    CHECK(ds.n + ds.n_test == 39, "header=yes accepts the typo line as a header");
    ntk_dataset_free(&ds);
    CHECK_ERR(csv_dataset("typo.csv", "header=no", &ds), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "line 1, column 2: '1x'"), "header=no: %s", ntk_errmsg());
    write_rows40("head.csv", "", "x,y,z");
    CHECK_ERR(csv_dataset("head.csv", "header=no", &ds), NTK_ERR_FORMAT);
    CHECK(strstr(ntk_errmsg(), "line 1, column 1: 'x'") && strstr(ntk_errmsg(), "header=yes"),
          "header=no on a header line suggests header=yes: %s", ntk_errmsg());

    const char *bad[] = {"header=maybe", "header=", "headers=yes", "target=1,target=0",
                         "header=no,header=yes", "target=1,", "target=1:header=no", "foo"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_ERR(csv_dataset("num.csv", bad[k], &ds), NTK_ERR_ARG);
        CHECK(strstr(ntk_errmsg(), "header=yes|no|auto") && strstr(ntk_errmsg(), "target=COL"),
              "'%s': the message shows the option syntax: %s", bad[k], ntk_errmsg());
    }
}

/* ---------------------------------------------------------------------
 * Input files that are not regular files
 * ------------------------------------------------------------------- */

static void blocked(int sig)
{
    static const char msg[] = "FAIL test_loaders: a reader blocked on a FIFO (named pipe)\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
    _exit(1);
}

/* Every reader refuses a FIFO at once (opening one for reading blocks until
 * a writer appears), a directory and a character device, naming the path. */
static void test_not_regular(void)
{
    char fifo[256], dir[256];   /* in_dir's buffers are reused */
    snprintf(fifo, sizeof fifo, "%s", in_dir("pipe"));
    snprintf(dir, sizeof dir, "%s", in_dir("folder"));
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    CHECK(mkdir(dir, 0700) == 0, "mkdir");
    make_mnist("img_r", "lab_r", NIMG, 16 + NIMG * NPIX);
    signal(SIGALRM, blocked);
    alarm(20);
    const char *paths[3] = {fifo, dir, "/dev/null"};
    const char *kinds[3] = {"FIFO", "directory", "character device"};
    for (int k = 0; k < 3; k++) {
        ntk_array X, y;
        const char *p = paths[k];
        CHECK_ERR(ntk_load_cifar10(p, 3, 5, 0, &X, &y), NTK_ERR_IO);
        CHECK(strstr(ntk_errmsg(), p) && strstr(ntk_errmsg(), kinds[k]) &&
                  strstr(ntk_errmsg(), "regular file"),
              "cifar10 on %s: %s", p, ntk_errmsg());
        CHECK_ERR(ntk_load_mnist(p, in_dir("lab_r"), 7, 1, 0, &X, &y), NTK_ERR_IO);
        CHECK(strstr(ntk_errmsg(), kinds[k]), "mnist images on %s: %s", p, ntk_errmsg());
        CHECK_ERR(ntk_load_mnist(in_dir("img_r"), p, 7, 1, 0, &X, &y), NTK_ERR_IO);
        CHECK(strstr(ntk_errmsg(), kinds[k]), "mnist labels on %s: %s", p, ntk_errmsg());
        CHECK(!X.data && !y.data, "no outputs after failure");
        char spec[512];
        ntk_dataset ds;
        snprintf(spec, sizeof spec, "csv:%s", p);
        CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, NULL, 0, 1, 0, 1, 0, NULL}, &ds), NTK_ERR_IO);
        CHECK(strstr(ntk_errmsg(), kinds[k]), "csv on %s: %s", p, ntk_errmsg());
        snprintf(spec, sizeof spec, "npy:%s", p);
        CHECK_ERR(ntk_dataset_make(&(ntk_dataset_spec){spec, "linear", 0, 1, 0, 1, 0, NULL}, &ds), NTK_ERR_IO);
        CHECK(strstr(ntk_errmsg(), kinds[k]), "npy on %s: %s", p, ntk_errmsg());
    }
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    unlink(fifo);
    rmdir(dir);
}

int main(void)
{
    tmpdir_make("ntk_loaders");
    test_csv();
    test_csv_header_modes();
    test_cifar();
    test_mnist();
    test_dataset_files();
    test_csv_header_specs();
    test_not_regular();
    remove_tree(g_dir);
    return t_finish();
}
