#include "lmdb_baseline.h"

#include <lmdb.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double tandem_baseline_append(const char *directory, const unsigned char *line, size_t length,
                              long total, int batch, int nosync, double *commit_seconds) {
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc;
    mkdir(directory, 0755);
    if ((rc = mdb_env_create(&env))) return -rc;
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, (size_t)1 << 34);
    if ((rc = mdb_env_open(env, directory, MDB_NOTLS | (nosync ? MDB_NOSYNC : 0), 0644))) goto fail;
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn))) goto fail;
    if ((rc = mdb_dbi_open(txn, "entries", MDB_CREATE, &dbi))) goto fail;
    if ((rc = mdb_txn_commit(txn))) goto fail;

    double start = now_seconds();
    uint64_t seq = 0;
    long commits = 0;
    while ((long)seq < total) {
        double commit_start = now_seconds();
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn))) goto fail;
        for (int i = 0; i < batch && (long)seq < total; i++) {
            seq++;
            unsigned char key_bytes[8];
            for (int b = 0; b < 8; b++) key_bytes[b] = (unsigned char)(seq >> (56 - 8 * b));
            MDB_val key = {8, key_bytes};
            MDB_val value = {length, (void *)line};
            if ((rc = mdb_put(txn, dbi, &key, &value, MDB_APPEND))) {
                mdb_txn_abort(txn);
                goto fail;
            }
        }
        if ((rc = mdb_txn_commit(txn))) goto fail;
        commit_seconds[commits++] = now_seconds() - commit_start;
    }
    double elapsed = now_seconds() - start;
    mdb_env_close(env);
    return elapsed;
fail:
    mdb_env_close(env);
    return -(double)rc;
}
