#ifndef TANDEM_CLMDB_SHIM_H
#define TANDEM_CLMDB_SHIM_H
// Debian's liblmdb-dev (0.9.x). tandem talks to LMDB only through this module.
#include <lmdb.h>
#endif
