#ifndef ADNN_CFUZZER_H
#define ADNN_CFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (libclang_rt.fuzzer, linked by `-sanitize=fuzzer`): parses the libFuzzer flags in
/// `argv` and calls `callback` once per input. The fuzz targets call it from their `main.swift`, because
/// SwiftPM links every executable with `main` aliased to the module's own entry point, which would
/// otherwise hide the `main` that libFuzzer ships.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
