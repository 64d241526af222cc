// libFuzzer's driver, as compiler-rt declares it (FuzzerInterface.h): a harness whose `main`
// is not libFuzzer's own starts fuzzing with it (see FuzzSupport's `runFuzzer`).
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
