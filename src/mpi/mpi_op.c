/* The kernel operator distributed by rows (src/mpi/ntk_mpi.h): creation,
 * products, diagonal, columns and the cross block to test points, for the
 * three kinds of local work (EMPIRICAL in src/mpi/mpi_emp.c). */
#include "mpi_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[] = {"empirical J(J^T U)", "tiles", "lin features"};

const char *ntk_dop_kind_name(ntk_dop_kind kind)
{
    return (unsigned)kind < 3 ? kind_names[kind] : "unknown";
}

ntk_dop_kind ntk_dop_get_kind(const ntk_dop *op) { return op->kind; }
size_t ntk_dop_size(const ntk_dop *op) { return op->n; }
MPI_Comm ntk_dop_comm(const ntk_dop *op) { return op->comm; }
size_t ntk_dop_products(const ntk_dop *op) { return op->products; }

void ntk_dop_times(const ntk_dop *op, double *cpu, double *local, double *comm)
{
    *cpu = op->t_cpu, *local = op->t_local, *comm = op->t_comm;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the clocks around a local step (start) and an exchange (comm) */
typedef struct {
    double cpu, wall;
} stamp;
static stamp now(void) { return (stamp){thread_cpu(), MPI_Wtime()}; }
static void add_local(ntk_dop *op, stamp s)
{
    op->t_cpu += thread_cpu() - s.cpu;
    op->t_local += MPI_Wtime() - s.wall;
}
static void add_comm(ntk_dop *op, stamp s) { op->t_comm += MPI_Wtime() - s.wall; }

void ntk_dop_range(const ntk_dop *op, size_t *r0, size_t *nloc)
{
    *r0 = op->r0;
    *nloc = op->nloc;
}

/* Half of the available memory, shared by the processes of this node. */
static size_t default_limit(MPI_Comm comm)
{
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    size_t avail = ntk_mem_available();
    return (avail ? avail / 2 : (size_t)4 << 30) / (size_t)(local > 0 ? local : 1);
}

/* counts and offsets of k-column blocks of rows, for the collectives */
static ntk_status set_k(ntk_dop *op, size_t k)
{
    if ((double)op->n * (double)k > 2147483647.0)
        return ntk_set_error(NTK_ERR_ARG, "distributed kernel operator: n·k = %zu·%zu exceeds "
                             "the range of MPI counts", op->n, k);
    for (int q = 0; q < op->size; q++) {
        op->cntk[q] = op->cnt[q] * (int)k;
        op->dspk[q] = op->dsp[q] * (int)k;
    }
    if (k <= op->kcap) return NTK_OK;
    free(op->Ufull);
    op->kcap = 0, op->Vfull = NULL;
    /* EMPIRICAL: Jᵀ U (m·k·(d + 1)); the others: U gathered and V summed (n·k each) */
    size_t len = op->kind == NTK_DOP_EMPIRICAL ? emp_part_len(op, k) : ntk_size_mul(2 * op->n, k, 1, 1);
    if (op->kind == NTK_DOP_EMPIRICAL && len > 2147483647u)
        return ntk_set_error(NTK_ERR_ARG, "empirical kernel operator: m·k·(d + 1) = %zu exceeds "
                             "the range of MPI counts", len);
    op->Ufull = ntk_alloc(len, sizeof(double), "gathered vectors");
    if (!op->Ufull) return NTK_ERR_NOMEM;
    if (op->kind != NTK_DOP_EMPIRICAL) op->Vfull = op->Ufull + op->n * k;
    op->kcap = k;
    return NTK_OK;
}

static ntk_status tiles_store(ntk_dop *op, size_t fixed);

#define RING_TAG 7101

/* The bytes this process needs besides the tiles it may keep: its rows and
 * the visiting blocks (local rows only), U gathered and V summed for one
 * column, one tile of side b. */
static size_t fixed_bytes(const ntk_dop *op, size_t b)
{
    size_t rows = op->X ? 0 : op->nloc + (size_t)op->nvis * op->maxloc;
    return 8 * (rows * op->d + 2 * op->n + b * b);
}

static const char *fmt_bytes(size_t bytes, char buf[32])
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    for (; v >= 1024.0 && u < 4; u++) v /= 1024.0;
    snprintf(buf, 32, u ? "%.3g %s" : "%.0f %s", v, unit[u]);
    return buf;
}

/* TILES: split each process's rows into tiles of at most b rows, of
 * nearly equal size; with local rows, refuse when the rows, the visiting
 * blocks, the vectors and one tile exceed the memory limit, before the
 * large allocations. */
static ntk_status tiles_layout(ntk_dop *op)
{
    double b = sqrt((double)op->mem_limit / 4.0 / 8.0);
    size_t side = b < 64 ? 64 : b > 2048 ? 2048 : (size_t)b;
    size_t total = 0, maxb = 1;
    for (int q = 0; q < op->size; q++) {
        size_t rows = (size_t)op->cnt[q], nt = (rows + side - 1) / side;
        total += nt;
        if (nt && (rows + nt - 1) / nt > maxb) maxb = (rows + nt - 1) / nt;
    }
    size_t fixed = fixed_bytes(op, maxb);
    if (!op->X && fixed > op->mem_limit) {
        char a[32], v[32], u[32], t[32], f[32], l[32];
        return ntk_set_error(NTK_ERR_NOMEM, "distributed kernel operator: process %d needs its "
                             "%zu rows of X (%s), %d visiting block%s (%s), the vectors (%s) and "
                             "a kernel tile (%s): %s, over the memory limit (--mem-limit) of %s; "
                             "raise it or run on more processes", op->rank, op->nloc,
                             fmt_bytes(8 * op->nloc * op->d, a), op->nvis, op->nvis == 1 ? "" : "s",
                             fmt_bytes(8 * (size_t)op->nvis * op->maxloc * op->d, v),
                             fmt_bytes(16 * op->n, u), fmt_bytes(8 * maxb * maxb, t),
                             fmt_bytes(fixed, f), fmt_bytes(op->mem_limit, l));
    }
    op->tile0 = ntk_alloc(total + 1 + (size_t)op->size + 1, sizeof(size_t), "tile boundaries");
    if (!op->tile0) return NTK_ERR_NOMEM;
    op->ptile = op->tile0 + total + 1;
    size_t t = 0;
    for (int q = 0; q < op->size; q++) {
        size_t rows = (size_t)op->cnt[q], nt = (rows + side - 1) / side, start = (size_t)op->dsp[q];
        op->ptile[q] = t;
        for (size_t j = 0; j < nt; j++) op->tile0[t++] = start + j * rows / nt;   /* near-equal */
    }
    op->ptile[op->size] = t;
    op->tile0[t] = op->n;
    op->ntiles = total;
    op->tile_first = op->ptile[op->rank], op->tile_end = op->ptile[op->rank + 1];
    op->b = maxb;
    op->T = ntk_alloc(ntk_size_mul(maxb, maxb, 1, 1), sizeof(double), "kernel tile");
    if (!op->T) return NTK_ERR_NOMEM;
    for (int i = 0; i < op->nvis; i++)
        if (!(op->vis[i] = ntk_alloc(ntk_size_mul(op->maxloc, op->d, 1, 1), sizeof(double),
                                     "visiting rows of X")))
            return NTK_ERR_NOMEM;
    return tiles_store(op, fixed);
}

static ntk_status create_local(ntk_dop *op)
{
    if (op->kind == NTK_DOP_EMPIRICAL) {
        emp_part *e;
        NTK_TRY(emp_part_create(op, &e));
        return set_k(op, 1);
    }
    /* LIN: the library's matrix-free operator on the replicated points */
    if (op->kind == NTK_DOP_LIN)
        NTK_TRY(ntk_op_create(&op->desc, op->X, op->n, NTK_OP_MATRIX_FREE, op->mem_limit / 2, &op->full));
    if (op->kind == NTK_DOP_TILES) NTK_TRY(tiles_layout(op));
    return set_k(op, 1);
}

ntk_dop_kind ntk_dop_kind_of(const ntk_kernel_desc *desc)
{
    return desc->source == NTK_KERNEL_INFINITE ? NTK_DOP_TILES
           : desc->source == NTK_KERNEL_LIN    ? NTK_DOP_LIN
           : ntk_net_is_deep(desc->net)        ? NTK_DOP_TILES
                                               : NTK_DOP_EMPIRICAL;
}

/* X: every row (replicated), or NULL and Xl: this process's rows. */
static ntk_status dop_create(MPI_Comm comm, const ntk_kernel_desc *desc, const double *X,
                             const double *Xl, size_t n, size_t mem_limit, ntk_dop **out)
{
    ntk_clear_error();
    *out = NULL;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ntk_status st = NTK_OK;
    /* the same n everywhere, else the exchanges below would not match */
    unsigned long long nn[2] = {n, ~(unsigned long long)n};
    MPI_Allreduce(MPI_IN_PLACE, nn, 2, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm);
    size_t r0 = 0, nl = 0;
    if (n) ntk_mpi_split(n, rank, size, &r0, &nl);
    if (nn[0] != n || ~nn[1] != n)
        st = ntk_set_error(NTK_ERR_ARG, "distributed kernel operator: the processes were given "
                           "different n (here %zu); give every process the same points", n);
    else if (!desc || !desc->net || n == 0 || (!X && !Xl && nl))
        st = ntk_set_error(NTK_ERR_ARG, "distributed kernel operator: no description, inputs or points");
    else if (n > 2147483647u)
        st = ntk_set_error(NTK_ERR_ARG, "distributed kernel operator: n = %zu exceeds the range "
                           "of MPI counts", n);
    ntk_dop *op = st == NTK_OK ? ntk_calloc(1, sizeof *op, "distributed kernel operator") : NULL;
    if (st == NTK_OK && !op) st = NTK_ERR_NOMEM;
    if (op) {
        op->comm = comm, op->rank = rank, op->size = size;
        op->n = n, op->d = desc->net->d;
        op->net = *desc->net;
        op->desc = *desc;
        op->desc.net = &op->net;
        op->desc.diagonal = 0;
        op->X = X;
        op->r0 = r0, op->nloc = nl;
        op->Xloc = X ? X + r0 * op->d : Xl;
        op->mem_limit = mem_limit ? mem_limit : default_limit(comm);
        op->kind = ntk_dop_kind_of(desc);
        size_t first;
        ntk_mpi_split(n, 0, size, &first, &op->maxloc);   /* the first process has the most rows */
        /* a block of rows visits during a product (P − 1 of them during a
         * cross product): two buffers, one worked on while the next arrives */
        op->nvis = X || op->kind != NTK_DOP_TILES ? 0 : size - 1 < 2 ? size - 1 : 2;
        if (op->kind == NTK_DOP_EMPIRICAL && (!desc->W || !desc->v))
            st = ntk_set_error(NTK_ERR_ARG, "empirical kernel operator: the weights W and v are NULL");
        else if (!X && op->kind == NTK_DOP_LIN)
            st = ntk_set_error(NTK_ERR_ARG, "distributed kernel operator: the %s kind needs every "
                               "row of X on every process (its products need every row's "
                               "features); create it with ntk_dop_create",
                               ntk_dop_kind_name(op->kind));
        else if ((double)op->maxloc * (double)op->d > 2147483647.0)
            st = ntk_set_error(NTK_ERR_ARG, "distributed kernel operator: a process's rows of X "
                               "(%zu·%zu) exceed the range of MPI counts; run on more processes",
                               op->maxloc, op->d);
        op->cnt = ntk_alloc(4 * (size_t)size, sizeof(int), "process counts");
        if (!op->cnt && st == NTK_OK) st = NTK_ERR_NOMEM;
        if (op->cnt) {
            op->dsp = op->cnt + size, op->cntk = op->dsp + size, op->dspk = op->cntk + size;
            for (int q = 0; q < size; q++) {
                size_t qr0, qn;
                ntk_mpi_split(n, q, size, &qr0, &qn);
                op->cnt[q] = (int)qn, op->dsp[q] = (int)qr0;
            }
        }
        if (st == NTK_OK && op->kind == NTK_DOP_EMPIRICAL)
            st = ntk_check_finite(op->Xloc, op->nloc * op->d, "X");
        if (st == NTK_OK) st = create_local(op);
    }
    st = ntk_mpi_agree(comm, st);
    if (st != NTK_OK) {
        ntk_dop_free(op);
        return st;
    }
    /* whether the blocks must travel at every product: one process that
     * does not keep its tiles needs the others' rows each time */
    MPI_Allreduce(&op->need_x, &op->ring_every, 1, MPI_INT, MPI_MAX, comm);
    *out = op;
    return NTK_OK;
}

ntk_status ntk_dop_create(MPI_Comm comm, const ntk_kernel_desc *desc, const double *X, size_t n,
                          size_t mem_limit, ntk_dop **out)
{
    return dop_create(comm, desc, X, NULL, n, mem_limit, out);
}

ntk_status ntk_dop_create_local(MPI_Comm comm, const ntk_kernel_desc *desc, const double *X_loc,
                                size_t n, size_t mem_limit, ntk_dop **out)
{
    return dop_create(comm, desc, NULL, X_loc, n, mem_limit, out);
}

void ntk_dop_x_bytes(const ntk_dop *op, size_t *held, size_t *received)
{
    *held = 8 * op->d * (op->X ? op->n : op->nloc + (size_t)op->nvis * op->maxloc);
    *received = op->x_recv;
}

void ntk_dop_x_gather(const ntk_dop *op, double *all)
{
    size_t held, recv;
    ntk_dop_x_bytes(op, &held, &recv);
    double mine[3] = {(double)held, (double)recv, op->stored != NULL};
    MPI_Gather(mine, 3, MPI_DOUBLE, all, 3, MPI_DOUBLE, 0, op->comm);
}

void ntk_dop_free(ntk_dop *op)
{
    if (!op) return;
    emp_part_free(op->emp);
    ntk_op_free(op->full);
    free(op->cnt), free(op->tile0), free(op->T), free(op->Ufull);
    free(op->stored), free(op->off), free(op->vis[0]), free(op->vis[1]);
    free(op);
}

/* ---- the tile pairs and the ring --------------------------------------- */

/* Rows [i0, i1) of this process against rows [j0, j1) (diag: the same
 * tile, a symmetric block). */
typedef struct {
    size_t i0, i1, j0, j1;
    int diag;
} span_pair;
typedef ntk_status (*pair_fn)(ntk_dop *op, const span_pair *pr, const double *Xi,
                              const double *Xj, void *ctx);

/* Step s of 0..⌊P/2⌋: this process's tiles against those of process
 * p = (rank + s) mod P, whose rows are blk (NULL where not needed), so that
 * every unordered pair of tiles is done once over all processes and steps:
 * at s = 0 the own tiles' upper triangle, diagonal tiles included; at
 * 0 < s < P/2 the whole block; at s = P/2 (P even: p's partner at that step
 * is this process) the lower of the two takes the first half of its own
 * rows against all of the other's, the upper its own rows against the
 * other half. Each process has nloc²·P/2 entries, ±1 row. */
static ntk_status step_pairs(ntk_dop *op, int s, const double *blk, pair_fn fn, void *ctx)
{
    int P = op->size, p = (op->rank + s) % P, shared = s > 0 && 2 * s == P;
    size_t d = op->d, pr0 = (size_t)op->dsp[p], pn = (size_t)op->cnt[p];
    size_t ilo = op->r0, ihi = op->r0 + op->nloc, jlo = pr0, jhi = pr0 + pn;
    if (shared && op->rank < p) ihi = op->r0 + op->nloc / 2;
    if (shared && op->rank > p) jlo = pr0 + pn / 2;
    for (size_t ti = op->tile_first; ti < op->tile_end; ti++) {
        size_t i0 = op->tile0[ti] > ilo ? op->tile0[ti] : ilo;
        size_t i1 = op->tile0[ti + 1] < ihi ? op->tile0[ti + 1] : ihi;
        if (i0 >= i1) continue;
        for (size_t tj = s == 0 ? ti : op->ptile[p]; tj < op->ptile[p + 1]; tj++) {
            size_t j0 = op->tile0[tj] > jlo ? op->tile0[tj] : jlo;
            size_t j1 = op->tile0[tj + 1] < jhi ? op->tile0[tj + 1] : jhi;
            if (j0 >= j1) continue;
            span_pair pr = {i0, i1, j0, j1, s == 0 && ti == tj};
            NTK_TRY(fn(op, &pr, op->Xloc ? op->Xloc + (i0 - op->r0) * d : NULL,
                       blk ? blk + (j0 - pr0) * d : NULL, ctx));
        }
    }
    return NTK_OK;
}

/* The rows of process p where every process has every row, else NULL. */
static const double *replicated(const ntk_dop *op, int p)
{
    return op->X ? op->X + (size_t)op->dsp[p] * op->d : NULL;
}

/* The ring, at step s: this process sends the block it works on (that of
 * process (rank + s) mod P) to rank − 1 and receives that of rank + s + 1
 * from rank + 1 into a visiting buffer, while it computes. */
static void ring_post(ntk_dop *op, int s, const double *cur, MPI_Request req[2])
{
    int P = op->size, have = (op->rank + s) % P, next = (op->rank + s + 1) % P;
    MPI_Irecv(op->vis[s % op->nvis], op->cnt[next] * (int)op->d, MPI_DOUBLE, (op->rank + 1) % P,
              RING_TAG, op->comm, &req[0]);
    MPI_Isend(cur, op->cnt[have] * (int)op->d, MPI_DOUBLE, (op->rank + P - 1) % P, RING_TAG,
              op->comm, &req[1]);
    op->x_recv += 8 * (size_t)op->cnt[next] * op->d;
}

/* ---- products ---------------------------------------------------------- */

typedef struct {
    size_t k, q;
} apply_ctx;

/* Vfull rows I += K(I, J) U_J, and (not diag) rows J += K(I, J)ᵀ U_I; q
 * counts this process's pairs (the tile's place when stored). */
static ntk_status apply_pair(ntk_dop *op, const span_pair *pr, const double *Xi, const double *Xj,
                             void *ctx)
{
    apply_ctx *a = ctx;
    size_t i0 = pr->i0, bi = pr->i1 - i0, j0 = pr->j0, bj = pr->j1 - j0, k = a->k;
    double *T = op->stored ? op->stored + op->off[a->q] : op->T;
    a->q++;
    if (!op->stored || !op->filled) {
        ntk_kernel_desc kd = op->desc;
        kd.mem_limit = op->mem_limit / 4;
        NTK_TRY(ntk_kernel(&kd, Xi, bi, pr->diag ? NULL : Xj, pr->diag ? 0 : bj, T));
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)bi, (int)k, (int)bj, 1.0, T,
                (int)bj, op->Ufull + j0 * k, (int)k, 1.0, op->Vfull + i0 * k, (int)k);
    if (!pr->diag)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)bj, (int)k, (int)bi, 1.0, T,
                    (int)bj, op->Ufull + i0 * k, (int)k, 1.0, op->Vfull + j0 * k, (int)k);
    return NTK_OK;
}

/* Vfull = this process's share of K U over all steps; the ring moves X
 * where the rows are local and the tiles are not kept (yet). A failure
 * stops the local work, not the exchange, so that no process waits. */
static ntk_status tiles_local(ntk_dop *op, size_t k)
{
    memset(op->Vfull, 0, op->n * k * sizeof(double));
    apply_ctx a = {k, 0};
    int S = op->size / 2, kept = op->stored && op->filled,
        ring = !op->X && S > 0 && (op->ring_every || !op->x_done);
    const double *cur = op->Xloc;
    ntk_status st = NTK_OK;
    for (int s = 0; s <= S; s++) {
        MPI_Request req[2];
        stamp c = now();
        if (ring && s < S) ring_post(op, s, cur, req);
        add_comm(op, c);
        stamp l = now();
        const double *blk = op->X ? replicated(op, (op->rank + s) % op->size) : kept ? NULL : cur;
        if (st == NTK_OK) st = step_pairs(op, s, blk, apply_pair, &a);
        add_local(op, l);
        if (ring && s < S) {
            c = now();
            MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
            add_comm(op, c);
            cur = op->vis[s % op->nvis];
        }
    }
    if (st != NTK_OK) memset(op->Vfull, 0, op->n * k * sizeof(double));
    op->filled = st == NTK_OK && op->stored != NULL;
    return st;
}

/* counting the pairs and their doubles (off NULL) or their offsets */
typedef struct {
    size_t count, total;
} size_ctx;

static ntk_status size_pair(ntk_dop *op, const span_pair *pr, const double *Xi, const double *Xj,
                            void *ctx)
{
    size_ctx *c = ctx;
    if (op->off) op->off[c->count] = c->total;
    c->count++;
    c->total += (pr->i1 - pr->i0) * (pr->j1 - pr->j0);
    return NTK_OK;
}

static ntk_status all_pairs(ntk_dop *op, pair_fn fn, void *ctx)
{
    for (int s = 0; s <= op->size / 2; s++) NTK_TRY(step_pairs(op, s, NULL, fn, ctx));
    return NTK_OK;
}

/* Keep this process's tiles when they fit in half of its memory limit and,
 * with what it needs besides (fixed bytes), within the limit. */
static ntk_status tiles_store(ntk_dop *op, size_t fixed)
{
    size_ctx c = {0, 0};
    NTK_TRY(all_pairs(op, size_pair, &c));
    op->need_x = c.count > 0;   /* until kept below */
    double bytes = (double)c.total * sizeof(double);
    if (bytes > 0.5 * (double)op->mem_limit || (!op->X && bytes + (double)fixed > (double)op->mem_limit) ||
        c.count == 0)
        return NTK_OK;
    op->off = ntk_alloc(c.count, sizeof(size_t), "stored tile offsets");
    op->stored = op->off ? ntk_alloc(c.total, sizeof(double), "stored kernel tiles") : NULL;
    if (!op->stored) {
        /* not kept after all: the products compute the tiles every time */
        free(op->off);
        op->off = NULL;
        ntk_clear_error();
        return NTK_OK;
    }
    size_ctx o = {0, 0};
    NTK_TRY(all_pairs(op, size_pair, &o));
    op->npairs = c.count;
    op->need_x = 0;
    return NTK_OK;
}

int ntk_dop_tiles_kept(const ntk_dop *op) { return op->stored != NULL; }

ntk_status ntk_mpi_read_rows(MPI_Comm comm, const char *path, ntk_array *X_loc, size_t *n)
{
    int rank, size, ndim;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    size_t rows, cols, r0, nloc;
    *n = 0;
    memset(X_loc, 0, sizeof *X_loc);
    NTK_TRY(ntk_npy_shape(path, &rows, &cols, &ndim));
    ntk_mpi_split(rows, rank, size, &r0, &nloc);
    NTK_TRY(ntk_npy_read_rows(path, r0, nloc, X_loc));
    *n = rows;
    return NTK_OK;
}

ntk_status ntk_mpi_read_x(MPI_Comm comm, const char *path, int local, ntk_array *X, size_t *n)
{
    *n = 0;
    ntk_status st = local ? ntk_mpi_read_rows(comm, path, X, n) : ntk_npy_map(path, X);
    if (st != NTK_OK) return st;
    if (!local) *n = X->rows;
    if (X->ndim != 2 || *n == 0 || X->cols == 0) {
        st = X->ndim == 2 ? ntk_set_error(NTK_ERR_FORMAT, "%s has shape (%zu, %zu); it must be a "
                                          "non-empty (n, d) array", path, *n, X->cols)
                          : ntk_set_error(NTK_ERR_FORMAT, "%s is 1-d with %zu values; it must be "
                                          "a 2-d (n, d) array (reshape it to (n, 1) for d = 1)",
                                          path, *n);
        ntk_array_free(X);
        *n = 0;
    }
    return st;
}

ntk_status ntk_dop_apply(ntk_dop *op, const double *U_loc, size_t k, double *V_loc)
{
    ntk_clear_error();
    /* what may fail on one process alone before the exchange (buffers, an
     * injected fault) is agreed first, so that every process enters the
     * collectives with its buffers; what fails in the local work after it
     * is agreed at the end */
    ntk_status st = k == 0 ? ntk_set_error(NTK_ERR_ARG, "ntk_dop_apply: k = 0") : set_k(op, k);
    if (st == NTK_OK && ntk_mpi_fault("apply"))
        st = ntk_set_error(NTK_ERR_IO, "a kernel product failed here (fault injected by "
                           "NTKIT_MPI_FAULT)");
    stamp c = now();
    NTK_TRY(ntk_mpi_agree(op->comm, st));
    add_comm(op, c);
    stamp l = now();
    if (op->kind == NTK_DOP_EMPIRICAL) {
        double *buf = op->Ufull;
        st = emp_transpose(op, U_loc, k, buf);
        if (st != NTK_OK) memset(buf, 0, emp_part_len(op, k) * sizeof(double));
        add_local(op, l);
        c = now();
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)emp_part_len(op, k), MPI_DOUBLE, MPI_SUM, op->comm);
        add_comm(op, c);
        l = now();
        if (st == NTK_OK && op->nloc) st = emp_forward(op, op->Xloc, op->nloc, buf, k, V_loc);
    } else {
        c = now();
        MPI_Allgatherv(U_loc, (int)(op->nloc * k), MPI_DOUBLE, op->Ufull, op->cntk, op->dspk,
                       MPI_DOUBLE, op->comm);
        add_comm(op, c);
        if (op->kind == NTK_DOP_TILES) {
            st = tiles_local(op, k);   /* its own clocks */
            c = now();
            MPI_Reduce_scatter(op->Vfull, V_loc, op->cntk, MPI_DOUBLE, MPI_SUM, op->comm);
            add_comm(op, c);
        } else if (op->nloc) {
            st = ntk_op_cross_apply(op->full, op->Xloc, op->nloc, op->Ufull, k, V_loc);
        }
        l = now();
    }
    if (st == NTK_OK && op->nloc)
        st = ntk_check_result(V_loc, op->nloc, k, "a kernel product",
                              "the kernel or the vectors overflow double precision");
    add_local(op, l);
    op->products++;
    c = now();
    st = ntk_mpi_agree(op->comm, st);
    add_comm(op, c);
    /* every process that keeps its tiles has them now */
    if (st == NTK_OK && op->kind == NTK_DOP_TILES) op->x_done = 1;
    return st;
}

ntk_status ntk_dop_diag(ntk_dop *op, double *D_loc)
{
    ntk_clear_error();
    ntk_status st = NTK_OK;
    if (op->nloc) {
        ntk_kernel_desc kd = op->desc;
        kd.diagonal = 1;
        kd.mem_limit = op->mem_limit / 4;
        st = ntk_kernel(&kd, op->Xloc, op->nloc, NULL, 0, D_loc);
    }
    return ntk_mpi_agree(op->comm, st);
}

/* The selected points, from their owners: each process puts the rows it
 * has into zeros and one all-reduce of s·d numbers sums them (exactly:
 * one nonzero term each), unless every process has every row. */
ntk_status ntk_dop_columns(ntk_dop *op, const size_t *idx, size_t s, double *C_loc)
{
    ntk_clear_error();
    size_t d = op->d;
    ntk_status st = NTK_OK;
    for (size_t j = 0; j < s && st == NTK_OK; j++)
        if (idx[j] >= op->n)
            st = ntk_set_error(NTK_ERR_ARG, "ntk_dop_columns: index %zu >= n = %zu", idx[j], op->n);
    if (st == NTK_OK && (double)s * (double)d > 2147483647.0)
        st = ntk_set_error(NTK_ERR_ARG, "ntk_dop_columns: s·d = %zu·%zu exceeds the range of MPI "
                           "counts", s, d);
    double *XS = st == NTK_OK ? ntk_alloc(ntk_size_mul(s ? s : 1, d, 1, 1), sizeof(double), "selected points") : NULL;
    if (st == NTK_OK && !XS) st = NTK_ERR_NOMEM;
    st = ntk_mpi_agree(op->comm, st);
    if (st != NTK_OK) {
        free(XS);
        return st;
    }
    for (size_t j = 0; j < s; j++) {
        size_t i = idx[j];
        if (op->X) memcpy(XS + j * d, op->X + i * d, d * sizeof(double));
        else if (i >= op->r0 && i < op->r0 + op->nloc)
            memcpy(XS + j * d, op->Xloc + (i - op->r0) * d, d * sizeof(double));
        else memset(XS + j * d, 0, d * sizeof(double));
    }
    if (!op->X && op->size > 1 && s)
        MPI_Allreduce(MPI_IN_PLACE, XS, (int)(s * d), MPI_DOUBLE, MPI_SUM, op->comm);
    if (op->nloc && s) {
        ntk_kernel_desc kd = op->desc;
        kd.mem_limit = op->mem_limit / 4;
        st = ntk_kernel(&kd, op->Xloc, op->nloc, XS, s, C_loc);
    }
    free(XS);
    return ntk_mpi_agree(op->comm, st);
}

/* TILES: F = K(Xt, X) U over the training blocks of every process in turn
 * (a ring of P − 1 exchanges where the rows are local), each block by its
 * tiles against test chunks of at most b rows. */
static ntk_status tiles_cross(ntk_dop *op, const double *Xt, size_t nt, size_t k, double *F)
{
    if (nt) memset(F, 0, nt * k * sizeof(double));
    int P = op->size, ring = !op->X && P > 1;
    size_t d = op->d, b = op->b;
    ntk_kernel_desc kd = op->desc;
    kd.mem_limit = op->mem_limit / 4;
    const double *cur = op->Xloc;
    ntk_status st = NTK_OK;
    for (int s = 0; s < P; s++) {
        int p = (op->rank + s) % P;
        MPI_Request req[2];
        if (ring && s < P - 1) ring_post(op, s, cur, req);
        const double *blk = op->X ? replicated(op, p) : cur;
        for (size_t tj = op->ptile[p]; tj < op->ptile[p + 1] && st == NTK_OK; tj++) {
            size_t j0 = op->tile0[tj], bj = op->tile0[tj + 1] - j0;
            for (size_t t0 = 0; t0 < nt && st == NTK_OK; t0 += b) {
                size_t tb = nt - t0 < b ? nt - t0 : b;
                st = ntk_kernel(&kd, Xt + t0 * d, tb, blk + (j0 - (size_t)op->dsp[p]) * d, bj, op->T);
                if (st == NTK_OK)
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)tb, (int)k, (int)bj,
                                1.0, op->T, (int)bj, op->Ufull + j0 * k, (int)k, 1.0, F + t0 * k,
                                (int)k);
            }
        }
        if (ring && s < P - 1) {
            MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
            cur = op->vis[s % op->nvis];
        }
    }
    return st;
}

ntk_status ntk_dop_cross(ntk_dop *op, const double *Xt_loc, size_t ntloc, const double *U_loc,
                         size_t k, double *F_loc)
{
    ntk_clear_error();
    ntk_status st = k == 0 ? ntk_set_error(NTK_ERR_ARG, "ntk_dop_cross: k = 0") : set_k(op, k);
    NTK_TRY(ntk_mpi_agree(op->comm, st));
    if (ntloc) st = ntk_check_finite(Xt_loc, ntloc * op->d, "Xt");
    if (op->kind == NTK_DOP_EMPIRICAL) {
        double *buf = op->Ufull;
        if (st == NTK_OK) st = emp_transpose(op, U_loc, k, buf);
        if (st != NTK_OK) memset(buf, 0, emp_part_len(op, k) * sizeof(double));
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)emp_part_len(op, k), MPI_DOUBLE, MPI_SUM, op->comm);
        if (st == NTK_OK && ntloc) st = emp_forward(op, Xt_loc, ntloc, buf, k, F_loc);
    } else {
        MPI_Allgatherv(U_loc, (int)(op->nloc * k), MPI_DOUBLE, op->Ufull, op->cntk, op->dspk,
                       MPI_DOUBLE, op->comm);
        if (op->kind == NTK_DOP_TILES) {
            /* every process goes round the ring, with or without test rows
             * or a failure, so that none waits */
            ntk_status sc = tiles_cross(op, Xt_loc, st == NTK_OK ? ntloc : 0, k, F_loc);
            if (st == NTK_OK) st = sc;
        } else if (st == NTK_OK && ntloc) {
            st = ntk_op_cross_apply(op->full, Xt_loc, ntloc, op->Ufull, k, F_loc);
        }
    }
    if (st == NTK_OK && ntloc)
        st = ntk_check_result(F_loc, ntloc, k, "a cross-kernel product",
                              "the kernel or the vectors overflow double precision");
    return ntk_mpi_agree(op->comm, st);
}
