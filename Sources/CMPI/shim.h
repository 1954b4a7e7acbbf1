#ifndef ADNN_CMPI_SHIM_H
#define ADNN_CMPI_SHIM_H
/* The MPI C API (Open MPI's <mpi.h>, found through pkg-config `ompi-c`).
 *
 * Open MPI defines its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) as casts of the addresses of
 * global structs, and MPI_IN_PLACE as a cast integer: Swift cannot import such macros. The accessors
 * below return them as values Swift can use. */
#include <mpi.h>

static inline MPI_Comm adnn_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm adnn_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype adnn_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype adnn_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype adnn_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype adnn_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op adnn_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op adnn_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op adnn_mpi_min(void) { return MPI_MIN; }
static inline void *adnn_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler adnn_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int adnn_mpi_success(void) { return MPI_SUCCESS; }
static inline int adnn_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int adnn_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }

#endif
