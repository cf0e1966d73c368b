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

static ntk_status tiles_store(ntk_dop *op);

/* TILES: split each process's rows into tiles of at most b rows, of
 * nearly equal size, so that the cyclic sharing below balances. */
static ntk_status tiles_layout(ntk_dop *op)
{
    double b = sqrt((double)op->mem_limit / 4.0 / 8.0);
    size_t side = b < 64 ? 64 : b > 2048 ? 2048 : (size_t)b;
    size_t total = 0;
    for (int q = 0; q < op->size; q++) total += ((size_t)op->cnt[q] + side - 1) / side;
    op->tile0 = ntk_alloc(total + 1, sizeof(size_t), "tile boundaries");
    if (!op->tile0) return NTK_ERR_NOMEM;
    size_t t = 0, maxb = 1;
    for (int q = 0; q < op->size; q++) {
        size_t rows = (size_t)op->cnt[q], nt = (rows + side - 1) / side, start = (size_t)op->dsp[q];
        if (q == op->rank) op->tile_first = t;
        for (size_t j = 0; j < nt; j++) {
            /* nt near-equal pieces of rows */
            op->tile0[t++] = start + j * rows / nt;
            size_t len = (j + 1) * rows / nt - j * rows / nt;
            if (len > maxb) maxb = len;
        }
        if (q == op->rank) op->tile_end = t;
    }
    op->tile0[t] = op->n;
    op->ntiles = total;
    op->b = maxb;
    op->T = ntk_alloc(ntk_size_mul(maxb, maxb, 1, 1), sizeof(double), "kernel tile");
    return op->T ? tiles_store(op) : NTK_ERR_NOMEM;
}

static ntk_status create_local(ntk_dop *op)
{
    if (op->kind == NTK_DOP_EMPIRICAL) {
        emp_part *e;
        NTK_TRY(emp_part_create(op, &e));
        return set_k(op, 1);
    }
    /* the library's matrix-free operator on the replicated points: cross
     * blocks for TILES and LIN, and LIN's products */
    NTK_TRY(ntk_op_create(&op->desc, op->X, op->n, NTK_OP_MATRIX_FREE, op->mem_limit / 2, &op->full));
    if (op->kind == NTK_DOP_TILES) NTK_TRY(tiles_layout(op));
    return set_k(op, 1);
}

ntk_status ntk_dop_create(MPI_Comm comm, const ntk_kernel_desc *desc, const double *X, size_t n,
                          size_t mem_limit, ntk_dop **out)
{
    ntk_clear_error();
    *out = NULL;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ntk_status st = NTK_OK;
    if (!desc || !desc->net || !X || n == 0)
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
        op->mem_limit = mem_limit ? mem_limit : default_limit(comm);
        ntk_mpi_split(n, rank, size, &op->r0, &op->nloc);
        op->kind = desc->source == NTK_KERNEL_INFINITE ? NTK_DOP_TILES
                   : desc->source == NTK_KERNEL_LIN    ? NTK_DOP_LIN
                   : ntk_net_is_deep(desc->net)        ? NTK_DOP_TILES
                                                       : NTK_DOP_EMPIRICAL;
        if (op->kind == NTK_DOP_EMPIRICAL && (!desc->W || !desc->v))
            st = ntk_set_error(NTK_ERR_ARG, "empirical kernel operator: the weights W and v are NULL");
        op->cnt = ntk_alloc(4 * (size_t)size, sizeof(int), "process counts");
        if (!op->cnt && st == NTK_OK) st = NTK_ERR_NOMEM;
        if (op->cnt) {
            op->dsp = op->cnt + size, op->cntk = op->dsp + size, op->dspk = op->cntk + size;
            for (int q = 0; q < size; q++) {
                size_t r0, nl;
                ntk_mpi_split(n, q, size, &r0, &nl);
                op->cnt[q] = (int)nl, op->dsp[q] = (int)r0;
            }
        }
        if (st == NTK_OK && op->kind == NTK_DOP_EMPIRICAL)
            st = ntk_check_finite(X + op->r0 * op->d, op->nloc * op->d, "X");
        if (st == NTK_OK) st = create_local(op);
    }
    st = ntk_mpi_agree(comm, st);
    if (st != NTK_OK) {
        ntk_dop_free(op);
        return st;
    }
    *out = op;
    return NTK_OK;
}

void ntk_dop_free(ntk_dop *op)
{
    if (!op) return;
    emp_part_free(op->emp);
    ntk_op_free(op->full);
    free(op->cnt), free(op->tile0), free(op->T), free(op->Ufull);
    free(op->stored), free(op->off);
    free(op);
}

/* ---- products ---------------------------------------------------------- */

/* Vfull rows += K(I, J) U_J, and (I != J) rows J += K(I, J)ᵀ U_I; q counts
 * this process's pairs (the tile's place when stored). */
static ntk_status tile_pair(ntk_dop *op, size_t ti, size_t tj, size_t k, size_t *q)
{
    size_t i0 = op->tile0[ti], bi = op->tile0[ti + 1] - i0, j0 = op->tile0[tj],
           bj = op->tile0[tj + 1] - j0, d = op->d;
    int diag = ti == tj;
    double *T = op->stored ? op->stored + op->off[*q] : op->T;
    (*q)++;
    if (!op->stored || !op->filled) {
        ntk_kernel_desc kd = op->desc;
        kd.mem_limit = op->mem_limit / 4;
        NTK_TRY(ntk_kernel(&kd, op->X + i0 * d, bi, diag ? NULL : op->X + j0 * d, diag ? 0 : bj, T));
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)bi, (int)k, (int)bj, 1.0, T,
                (int)bj, op->Ufull + j0 * k, (int)k, 1.0, op->Vfull + i0 * k, (int)k);
    if (!diag)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)bj, (int)k, (int)bi, 1.0, T,
                    (int)bj, op->Ufull + i0 * k, (int)k, 1.0, op->Vfull + j0 * k, (int)k);
    return NTK_OK;
}

/* Every unordered pair of tiles {ti, tj} once, the same number of pairs
 * for every tile (±1): the owner of ti takes tj = ti (the symmetric
 * diagonal tile) and tj = ti + 1, ..., ti + h cyclically, h = ⌊(T − 1)/2⌋;
 * for T even the pairs at distance T/2 go to the lower tile when it is
 * even and to the upper one otherwise, so that no end of the row split
 * gets them all. */
/* The pairs of tile ti: fn(op, ti, tj, ctx) for each tj it owns. */
typedef ntk_status (*pair_fn)(ntk_dop *op, size_t ti, size_t tj, void *ctx);
static ntk_status owned_pairs(ntk_dop *op, pair_fn fn, void *ctx)
{
    size_t T = op->ntiles, h = (T - 1) / 2;
    for (size_t ti = op->tile_first; ti < op->tile_end; ti++) {
        NTK_TRY(fn(op, ti, ti, ctx));
        for (size_t j = 1; j <= h; j++) NTK_TRY(fn(op, ti, (ti + j) % T, ctx));
        if (T % 2 == 0) {
            size_t lo = ti < T / 2 ? ti : ti - T / 2;
            if ((ti < T / 2) == (lo % 2 == 0)) NTK_TRY(fn(op, ti, (ti + T / 2) % T, ctx));
        }
    }
    return NTK_OK;
}

typedef struct {
    size_t k, q;
} apply_ctx;

static ntk_status apply_pair(ntk_dop *op, size_t ti, size_t tj, void *ctx)
{
    apply_ctx *a = ctx;
    return tile_pair(op, ti, tj, a->k, &a->q);
}

static ntk_status tiles_local(ntk_dop *op, size_t k)
{
    memset(op->Vfull, 0, op->n * k * sizeof(double));
    apply_ctx a = {k, 0};
    NTK_TRY(owned_pairs(op, apply_pair, &a));
    op->filled = op->stored != NULL;
    return NTK_OK;
}

/* counting the owned pairs and their doubles (off NULL) or their offsets */
typedef struct {
    size_t count, total;
} size_ctx;

static ntk_status size_pair(ntk_dop *op, size_t ti, size_t tj, void *ctx)
{
    size_ctx *c = ctx;
    size_t bi = op->tile0[ti + 1] - op->tile0[ti], bj = op->tile0[tj + 1] - op->tile0[tj];
    if (op->off) op->off[c->count] = c->total;
    c->count++;
    c->total += bi * bj;
    return NTK_OK;
}

/* Keep this process's tiles when they fit in half of its memory limit. */
static ntk_status tiles_store(ntk_dop *op)
{
    size_ctx c = {0, 0};
    NTK_TRY(owned_pairs(op, size_pair, &c));
    if ((double)c.total * sizeof(double) > 0.5 * (double)op->mem_limit || c.count == 0) return NTK_OK;
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
    NTK_TRY(owned_pairs(op, size_pair, &o));
    op->npairs = c.count;
    return NTK_OK;
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
        if (st == NTK_OK && op->nloc)
            st = emp_forward(op, op->X + op->r0 * op->d, op->nloc, buf, k, V_loc);
    } else {
        c = now();
        MPI_Allgatherv(U_loc, (int)(op->nloc * k), MPI_DOUBLE, op->Ufull, op->cntk, op->dspk,
                       MPI_DOUBLE, op->comm);
        add_comm(op, c);
        l = now();
        if (op->kind == NTK_DOP_TILES) {
            st = tiles_local(op, k);
            if (st != NTK_OK) memset(op->Vfull, 0, op->n * k * sizeof(double));
            add_local(op, l);
            c = now();
            MPI_Reduce_scatter(op->Vfull, V_loc, op->cntk, MPI_DOUBLE, MPI_SUM, op->comm);
            add_comm(op, c);
            l = now();
        } else if (op->nloc) {
            st = ntk_op_cross_apply(op->full, op->X + op->r0 * op->d, op->nloc, op->Ufull, k, V_loc);
        }
    }
    if (st == NTK_OK && op->nloc)
        st = ntk_check_result(V_loc, op->nloc, k, "a kernel product",
                              "the kernel or the vectors overflow double precision");
    add_local(op, l);
    op->products++;
    c = now();
    st = ntk_mpi_agree(op->comm, st);
    add_comm(op, c);
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
        st = ntk_kernel(&kd, op->X + op->r0 * op->d, op->nloc, NULL, 0, D_loc);
    }
    return ntk_mpi_agree(op->comm, st);
}

ntk_status ntk_dop_columns(ntk_dop *op, const size_t *idx, size_t s, double *C_loc)
{
    ntk_clear_error();
    size_t d = op->d;
    ntk_status st = NTK_OK;
    for (size_t j = 0; j < s && st == NTK_OK; j++)
        if (idx[j] >= op->n)
            st = ntk_set_error(NTK_ERR_ARG, "ntk_dop_columns: index %zu >= n = %zu", idx[j], op->n);
    double *XS = st == NTK_OK && op->nloc ? ntk_alloc(ntk_size_mul(s, d, 1, 1), sizeof(double), "selected points") : NULL;
    if (st == NTK_OK && op->nloc && !XS) st = NTK_ERR_NOMEM;
    if (st == NTK_OK && op->nloc) {
        for (size_t j = 0; j < s; j++) memcpy(XS + j * d, op->X + idx[j] * d, d * sizeof(double));
        ntk_kernel_desc kd = op->desc;
        kd.mem_limit = op->mem_limit / 4;
        st = ntk_kernel(&kd, op->X + op->r0 * d, op->nloc, XS, s, C_loc);
    }
    free(XS);
    return ntk_mpi_agree(op->comm, st);
}

ntk_status ntk_dop_cross(ntk_dop *op, const double *Xt_loc, size_t ntloc, const double *U_loc,
                         size_t k, double *F_loc)
{
    ntk_clear_error();
    ntk_status st = k == 0 ? ntk_set_error(NTK_ERR_ARG, "ntk_dop_cross: k = 0") : set_k(op, k);
    NTK_TRY(ntk_mpi_agree(op->comm, st));
    if (op->kind == NTK_DOP_EMPIRICAL) {
        double *buf = op->Ufull;
        st = emp_transpose(op, U_loc, k, buf);
        if (st != NTK_OK) memset(buf, 0, emp_part_len(op, k) * sizeof(double));
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)emp_part_len(op, k), MPI_DOUBLE, MPI_SUM, op->comm);
        if (st == NTK_OK && ntloc) st = ntk_check_finite(Xt_loc, ntloc * op->d, "Xt");
        if (st == NTK_OK && ntloc) st = emp_forward(op, Xt_loc, ntloc, buf, k, F_loc);
    } else {
        MPI_Allgatherv(U_loc, (int)(op->nloc * k), MPI_DOUBLE, op->Ufull, op->cntk, op->dspk,
                       MPI_DOUBLE, op->comm);
        if (ntloc) st = ntk_op_cross_apply(op->full, Xt_loc, ntloc, op->Ufull, k, F_loc);
    }
    if (st == NTK_OK && ntloc)
        st = ntk_check_result(F_loc, ntloc, k, "a cross-kernel product",
                              "the kernel or the vectors overflow double precision");
    return ntk_mpi_agree(op->comm, st);
}
