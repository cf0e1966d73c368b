/* The distributed operator's state (src/mpi/mpi_op.c) and the empirical
 * kernel's two passes (src/mpi/mpi_emp.c). */
#ifndef NTK_MPI_INTERNAL_H
#define NTK_MPI_INTERNAL_H

#include "internal.h"
#include "ntk_mpi.h"

typedef struct emp_part emp_part;

struct ntk_dop {
    MPI_Comm comm;
    int rank, size;
    ntk_dop_kind kind;
    size_t n, d, r0, nloc;
    int *cnt, *dsp;              /* rows per process and their offsets (size each) */
    int *cntk, *dspk;            /* the same times k, for the current k */
    ntk_net_config net;          /* copy; desc.net points here */
    ntk_kernel_desc desc;
    const double *X;             /* (n, d) replicated and borrowed (ntk_dop_create), or
                                    NULL (ntk_dop_create_local) */
    const double *Xloc;          /* (nloc, d): this process's rows, borrowed */
    /* TILES with local rows: the visiting row blocks of the ring exchange
     * (nvis buffers of maxloc·d), the bytes of X received so far */
    double *vis[2];
    int nvis;
    size_t maxloc, x_recv;
    size_t mem_limit;            /* bytes of scratch on this process */
    size_t products;
    double t_cpu, t_local, t_comm;  /* seconds: CPU of the local work, its wall time, the
                                       exchanges' wall time (waits included) */
    /* TILES: the row tiles of every process, in global order */
    size_t ntiles, tile_first, tile_end;   /* all tiles; this process's [first, end) */
    size_t *ptile;               /* (size + 1): process q's tiles are [ptile[q], ptile[q + 1]) */
    size_t *tile0;               /* (ntiles + 1) row boundaries */
    double *T;                   /* (b, b) one tile */
    size_t b;
    /* TILES, stored: when this process's tile pairs fit in half its memory
     * limit they are computed at the first product and kept (pair q at
     * stored + off[q]); later products are GEMMs alone */
    double *stored;
    size_t *off, npairs;
    int filled;
    /* with local rows: the ring turns at every product when some process
     * does not keep its tiles (agreed at creation: need_x anywhere), else
     * until a product has succeeded everywhere (x_done) */
    int need_x, ring_every, x_done;
    /* TILES and LIN: U gathered (n, k), V summed (n, k) */
    double *Ufull, *Vfull;
    size_t kcap;
    /* LIN: the library's matrix-free operator on the replicated X, for the
     * products and cross blocks */
    ntk_op *full;
    /* EMPIRICAL */
    emp_part *emp;
};

/* EMPIRICAL (two-layer networks, src/mpi/mpi_emp.c): the transpose pass
 * Jᵀ U of the local rows by ntk_net_vjp (emp_part_len numbers into buf: k
 * gradients on θ = [W, v], only their v blocks when c1 = 0), and the
 * forward pass J (C ⊙ ·) on rows X_r (rows, d) from the summed buf by
 * ntk_net_jvp. */
ntk_status emp_part_create(ntk_dop *op, emp_part **out);
void emp_part_free(emp_part *e);
size_t emp_part_len(const ntk_dop *op, size_t k);
ntk_status emp_transpose(ntk_dop *op, const double *U_loc, size_t k, double *buf);
ntk_status emp_forward(ntk_dop *op, const double *Xr, size_t rows, const double *buf, size_t k,
                       double *V);

#endif
