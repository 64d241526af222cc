// MPI_Allreduce (MPI_SUM, MPI_FLOAT, in place) latency and bandwidth, the collective that
// `convnet train --distributed` sums its gradient buckets with. Build and run (see
// Benchmarks/mpi/README.md):
//     mpicc -O2 -o /tmp/allreduce_bench Benchmarks/mpi/allreduce_bench.c
//     mpirun --allow-run-as-root -np 2 /tmp/allreduce_bench
// For each message size it prints the median time of one allreduce over the repetitions and
// the "bus bandwidth" of a ring allreduce, 2·(p−1)/p · bytes / time (NCCL's convention, so that
// the figure is comparable with the link's bandwidth whatever the number of ranks).
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long largest = argc > 1 ? atol(argv[1]) : 64L << 20;
    float *buffer = malloc(largest);
    memset(buffer, 0, largest);
    double times[1000];
    if (rank == 0) {
        printf("# %d ranks; bytes, median us per allreduce, bus bandwidth GB/s\n", size);
    }
    for (long bytes = 4; bytes <= largest; bytes *= 4) {
        int count = (int)(bytes / 4);
        int repetitions = bytes <= (1 << 16) ? 1000 : bytes <= (4 << 20) ? 100 : 20;
        for (int i = 0; i < 5; i++) MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i < repetitions; i++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double start = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double local = MPI_Wtime() - start, slowest;
            MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            times[i] = slowest;
        }
        qsort(times, repetitions, sizeof(double), compare);
        double median = times[repetitions / 2];
        if (rank == 0) {
            printf("%10ld %12.2f %10.3f\n", bytes, median * 1e6, 2.0 * (size - 1) / size * bytes / median / 1e9);
        }
    }
    free(buffer);
    MPI_Finalize();
    return 0;
}
