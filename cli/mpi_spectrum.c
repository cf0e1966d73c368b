/* mpirun -np P ntkit spectrum: not yet written (issue 16, step 3). */
#include "mpi_cli.h"

int cmd_mpi_spectrum(int argc, char **argv)
{
    (void)argc, (void)argv;
    return cli_mpi_agree(cli_world.rank == 0 ? cli_fail("spectrum is not written yet") : 1);
}
