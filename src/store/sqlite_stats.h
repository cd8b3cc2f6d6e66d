// Work counters of this process's SQLite statements, for tests that pin a
// query's complexity without timing it.
#pragma once

#include <cstdint>

namespace sextant::store {

// The SQLite virtual-machine steps (sqlite3_stmt_status VM_STEP) of every
// statement stepped to its end so far: the work SQLite did, rows visited and
// not only returned.
int64_t VmStepsSoFar();

}  // namespace sextant::store
