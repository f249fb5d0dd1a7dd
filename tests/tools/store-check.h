/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The checks of a database after the process writing it was killed (the
 * store's and tern-cli's kill tests). Needs engine_inc and sqlite. */

#include <glib.h>
#include <tern/store.h>

#include "store/store-private.h"

/* @path opens, SQLite's integrity_check finds nothing wrong, and every
 * snapshot's chunks add up to its recorded size. */
static inline void
store_check_after_kill (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TernStore) store = tern_store_open (path, &error);
  sqlite3_stmt *stmt;

  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_prepare_v2 (store->db, "PRAGMA integrity_check", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
  sqlite3_finalize (stmt);

  g_assert_cmpint (sqlite3_prepare_v2 (store->db,
                                       "SELECT s.id FROM snapshots s WHERE s.size != "
                                       "(SELECT coalesce (sum (length (c.data)), 0) FROM snapshot_chunks c "
                                       "WHERE c.snapshot_id = s.id)",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
}
