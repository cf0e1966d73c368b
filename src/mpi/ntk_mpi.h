/* ntkit on many processes (docs/scaling.md §3, §6): the kernel operator of
 * the single-process library distributed by rows over an MPI communicator,
 * and what PETSc and SLEPc run on it (conjugate gradients, Krylov–Schur,
 * MFN). Built only by `make mpi`; the library proper (the files of src/) knows
 * nothing of MPI.
 *
 * Layout. Process q of p owns the contiguous rows [r0, r0 + nloc) of the n
 * training points, the same split PETSc gives a vector of global size n
 * with PETSC_DECIDE (n/p rows, the first n mod p processes one more), so a
 * local array of the operator is exactly a PETSc vector's local part. The
 * inputs X (n, d) are either replicated on every process (ntk_dop_create:
 * memory-mapped .npy files; on one node the page cache holds one copy, on
 * many nodes each holds n·d·8 bytes) or, for the TILES kind, held by rows
 * (ntk_dop_create_local: each process its nloc rows plus at most two
 * visiting blocks of a ring exchange, docs/scaling.md §6).
 *
 * Errors. Every function here is collective over the operator's
 * communicator and returns the same status on every process: a failure on
 * one process (a failed allocation, a non-finite product, an injected
 * fault) is shared by ntk_mpi_agree after the collective exchanges of the
 * step, so that no process waits for one that has given up. The message is
 * that of the lowest failing process, prefixed with its rank when p > 1. */
#ifndef NTK_MPI_H
#define NTK_MPI_H

#include "ntkit.h"

#include <mpi.h>

/* ---- errors shared by every process ------------------------------------ */

/* Collective: NTK_OK when st is NTK_OK on every process; else every process
 * gets the status and message of the lowest failing one (ntk_errmsg). */
ntk_status ntk_mpi_agree(MPI_Comm comm, ntk_status st);

/* Fault injection for the tests: the environment variable NTKIT_MPI_FAULT =
 * "RANK:WHERE[:COUNT]" makes process RANK fail at its COUNT-th (default
 * first) passage through the point named WHERE ("load", "apply", "die"
 * ends the process with SIGKILL inside a product; the data-parallel
 * train's "stop", a signal to this process alone at a gradient sum, and
 * "perturb", its weights seen as moved at the final check, cli/mpi_train.c).
 * Returns 1 when this passage is to fail. */
int ntk_mpi_fault(const char *where);

/* Data-parallel runs (mpirun ntkit train and run, cli/mpi_train.c): the
 * library's ntk_run_set_reduce on every process of comm, after an agreement
 * on the arguments (the sum inside is collective; n_total, the rows of all
 * processes). From then on the run sums through reduce everything that
 * runs over the training rows (the gradients, each logged row's sums), so
 * every process holds the same row (ntkit.h, ntk_run_create_part). */
ntk_status ntk_mpi_run_set_reduce(MPI_Comm comm, ntk_run *r, ntk_reduce_fn reduce, void *ctx,
                                  size_t n_total);

/* The rows [*r0, *r0 + *nloc) of n that process rank of size owns (PETSc's
 * PETSC_DECIDE split). */
void ntk_mpi_split(size_t n, int rank, int size, size_t *r0, size_t *nloc);

/* ---- the distributed kernel operator ----------------------------------- */

typedef struct ntk_dop ntk_dop;

/* How a product is made on the local rows:
 *   EMPIRICAL  K U = J (C ⊙ Jᵀ U), J the network's Jacobian, C the layers'
 *              weights (c1, c2 or layer_weights): each process applies Jᵀ to
 *              its rows (ntk_net_vjp), one MPI_Allreduce of P = m·d + m
 *              numbers per column sums them, and each applies J to its rows
 *              (ntk_net_jvp);
 *   TILES      the infinite-width kernels and the deep empirical NTK: U is
 *              gathered (MPI_Allgatherv of n·k numbers); in steps
 *              s = 0, ..., ⌊p/2⌋ process q computes the tiles K(I, J) of
 *              its row tiles I against those of process (q + s) mod p (at
 *              s = 0 its own upper triangle; at s = p/2, p even, the two
 *              partners split their block by rows), so that each unordered
 *              pair of tiles is computed once; it adds K_IJ U_J to its rows
 *              and K_IJᵀ U_I to a full-length buffer, and MPI_Reduce_scatter
 *              returns each process its rows: n²/(2p) kernel entries per
 *              process, the single-process tiled operator's n²/2 split p
 *              ways. With local rows (ntk_dop_create_local) the block of
 *              step s + 1 travels round a ring (MPI_Isend/MPI_Irecv from
 *              q + 1 to q − 1) while step s is computed: ⌊p/2⌋ blocks,
 *              about n·d/2 numbers received per process per product; none
 *              when the tiles are kept (below) after the first product.
 *              A process keeps its tiles when they fit in half of its
 *              memory limit (and, with local rows, in what its rows, the
 *              visiting blocks, the vectors and a tile leave of it).
 *              Diagonal tiles are symmetric blocks (ntk_kernel with
 *              X2 NULL), so a point meets itself as in the stored kernel;
 *   LIN        Hu et al.'s kernels: U gathered, then the library's
 *              matrix-free operator's cross block K(X_local, X) U =
 *              Ψ_local (Ψᵀ U) (O(n·d) per process, replicated). */
typedef enum { NTK_DOP_EMPIRICAL = 0, NTK_DOP_TILES, NTK_DOP_LIN } ntk_dop_kind;

/* The kernel of desc (copied; what it points to borrowed) on X (n, d),
 * replicated and borrowed. mem_limit: bytes of scratch per process (0: half
 * of the available memory divided among the processes of this node).
 * Collective. */
ntk_status ntk_dop_create(MPI_Comm comm, const ntk_kernel_desc *desc, const double *X, size_t n,
                          size_t mem_limit, ntk_dop **out);
/* As ntk_dop_create, but each process gives only its own rows: X_loc
 * (nloc, d) = rows [r0, r0 + nloc) of ntk_mpi_split(n, rank, size), NULL
 * when nloc = 0; n the same on every process (checked). TILES kind only
 * (ntk_dop_kind_of; the others are refused: LIN's products need every
 * row, EMPIRICAL's passes read the replicated X). Refused before the large
 * allocations when the rows, the visiting blocks, U and V for one column
 * and one tile exceed mem_limit. Collective. */
ntk_status ntk_dop_create_local(MPI_Comm comm, const ntk_kernel_desc *desc, const double *X_loc,
                                size_t n, size_t mem_limit, ntk_dop **out);
/* The kind an operator on desc will have. */
ntk_dop_kind ntk_dop_kind_of(const ntk_kernel_desc *desc);
/* This process's rows of a .npy (ntk_npy_read_rows of the ntk_mpi_split
 * range over comm; *n the file's rows): not collective, no agreement. */
ntk_status ntk_mpi_read_rows(MPI_Comm comm, const char *path, ntk_array *X_loc, size_t *n);
/* Inputs (n, d) from a .npy, refused unless 2-d and non-empty: this
 * process's rows (local, ntk_mpi_read_rows) or all of them memory-mapped
 * (ntk_npy_map); *n the file's rows either way. Not collective. */
ntk_status ntk_mpi_read_x(MPI_Comm comm, const char *path, int local, ntk_array *X, size_t *n);
/* Bytes of X this process holds (n·d·8 replicated; else its rows and the
 * visiting buffers) and has received from the others so far. */
void ntk_dop_x_bytes(const ntk_dop *op, size_t *held, size_t *received);
/* 1 when this process keeps its tiles (TILES). */
int ntk_dop_tiles_kept(const ntk_dop *op);
/* Collective: process 0 gets all (3·size): for each process its
 * ntk_dop_x_bytes (held, received) and 1 when it keeps its tiles; the
 * others' all may be NULL. */
void ntk_dop_x_gather(const ntk_dop *op, double *all);
void ntk_dop_free(ntk_dop *op);
ntk_dop_kind ntk_dop_get_kind(const ntk_dop *op);
const char *ntk_dop_kind_name(ntk_dop_kind kind);
size_t ntk_dop_size(const ntk_dop *op);              /* n */
void ntk_dop_range(const ntk_dop *op, size_t *r0, size_t *nloc);
MPI_Comm ntk_dop_comm(const ntk_dop *op);
/* Products so far (columns counted once per product). */
size_t ntk_dop_products(const ntk_dop *op);
/* Time in the products and cross products so far on this process: the
 * CPU seconds of its local work (this thread's, so the machine's other
 * load does not count), the wall seconds of that work, and the wall
 * seconds of the exchanges, waiting for the other processes included. */
void ntk_dop_times(const ntk_dop *op, double *cpu, double *local, double *comm);

/* V_loc (nloc, k) = the local rows of K U, U given by its local rows U_loc
 * (nloc, k). Collective. */
ntk_status ntk_dop_apply(ntk_dop *op, const double *U_loc, size_t k, double *V_loc);
/* D_loc (nloc) = K_ii of the local rows. Collective (agreement only). */
ntk_status ntk_dop_diag(ntk_dop *op, double *D_loc);
/* C_loc (nloc, s) = K(X_local, X[idx]): s columns of K (idx global,
 * identical on every process). Collective (agreement only). */
ntk_status ntk_dop_columns(ntk_dop *op, const size_t *idx, size_t s, double *C_loc);
/* F_loc (ntloc, k) = K(Xt_loc, X) U for the test rows Xt_loc (ntloc, d)
 * this process owns (ntloc may be 0), U by its local rows. Collective. */
ntk_status ntk_dop_cross(ntk_dop *op, const double *Xt_loc, size_t ntloc, const double *U_loc,
                         size_t k, double *F_loc);

/* ---- the Nyström preconditioner, distributed --------------------------- */

/* A randomly pivoted Cholesky factor F (n, r) of the operator (src/rpchol.c's
 * method, Chen, Epperly, Tropp and Webber 2023) with its rows distributed
 * like the operator's: the residual diagonal is gathered each round (n
 * numbers) so that every process draws the same pivots from the same
 * stream; the pivots' rows of F and of the new columns are summed to every
 * process (s·r and s² numbers a round) and the pivot block factored on
 * process 0 and broadcast. From F, the basis U (n, q) of K̂ = F Fᵀ =
 * U Λ̂ Uᵀ by the Gram matrix FᵀF (one all-reduce of r² numbers), its
 * eigendecomposition, and a second Cholesky orthonormalisation (CholeskyQR2)
 * so that U is orthonormal to rounding. The preconditioner is src/ridge_cg.c's
 * P⁻¹ = (λ̂_q + μ) U (Λ̂ + μI)⁻¹ Uᵀ + (I − U Uᵀ); applying it costs one
 * all-reduce of q numbers. */
typedef struct ntk_dnystrom ntk_dnystrom;
ntk_status ntk_dnystrom_create(ntk_dop *op, size_t rank, uint64_t seed, ntk_dnystrom **out);
void ntk_dnystrom_free(ntk_dnystrom *p);
size_t ntk_dnystrom_rank(const ntk_dnystrom *p);
double ntk_dnystrom_trace_err(const ntk_dnystrom *p);
/* v_loc (nloc) ← P⁻¹ v for the ridge mu. Collective. */
ntk_status ntk_dnystrom_apply(const ntk_dnystrom *p, double mu, double *v_loc);

#endif
