#ifndef TANDEM_LMDB_BASELINE_H
#define TANDEM_LMDB_BASELINE_H
#include <stddef.h>

/// The raw-LMDB baseline of the journal benchmark: `total` MDB_APPEND puts of `line` (key = 8-byte
/// big-endian seq) into a fresh environment in `directory`, `batch` puts per write transaction,
/// each commit synced unless `nosync`. Writes each commit's duration in seconds into
/// `commit_seconds` (room for total / batch + 1 values). Returns the elapsed seconds, or a negative
/// LMDB error code.
double tandem_baseline_append(const char *directory, const unsigned char *line, size_t length,
                              long total, int batch, int nosync, double *commit_seconds);

#endif
