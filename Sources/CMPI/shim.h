// The few MPI calls ConvNetMPI makes, as plain C functions: MPI's handles (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, ...) are macros that Swift cannot import.
#ifndef CONVNET_CMPI_SHIM_H
#define CONVNET_CMPI_SHIM_H

#include <mpi.h>

/// MPI_Init_thread asking for MPI_THREAD_FUNNELED (only the main thread calls MPI); returns the
/// MPI error code.
static inline int convnet_mpi_init(void) {
    int provided = 0;
    return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
}

static inline int convnet_mpi_initialized(void) {
    int flag = 0;
    MPI_Initialized(&flag);
    return flag;
}

static inline int convnet_mpi_finalize(void) { return MPI_Finalize(); }

/// Errors are returned (and turned into an `error:` line and MPI_Abort by the caller) instead
/// of MPI's default of aborting with its own message.
static inline int convnet_mpi_errors_return(void) {
    return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

static inline int convnet_mpi_rank(void) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

static inline int convnet_mpi_size(void) {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

static inline void convnet_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static inline int convnet_mpi_broadcast(void *bytes, int count, int root) {
    return MPI_Bcast(bytes, count, MPI_BYTE, root, MPI_COMM_WORLD);
}

/// Starts an in-place sum over all ranks of `count` floats (is_double 0) or doubles (1).
static inline int convnet_mpi_start_sum(void *values, int count, int is_double, MPI_Request *request) {
    return MPI_Iallreduce(MPI_IN_PLACE, values, count, is_double ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                          request);
}

/// Sets *done to 1 when the request is complete (the request is then released).
static inline int convnet_mpi_test(MPI_Request *request, int *done) {
    return MPI_Test(request, done, MPI_STATUS_IGNORE);
}

static inline MPI_Request convnet_mpi_request_null(void) { return MPI_REQUEST_NULL; }

static inline int convnet_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

/// The text of an MPI error code.
static inline void convnet_mpi_error_string(int code, char *text, int capacity) {
    char buffer[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, buffer, &length) != MPI_SUCCESS) length = 0;
    if (capacity <= 0) return;
    if (length >= capacity) length = capacity - 1;
    for (int i = 0; i < length; i++) text[i] = buffer[i];
    text[length] = 0;
}

static inline double convnet_mpi_wtime(void) { return MPI_Wtime(); }

#endif
