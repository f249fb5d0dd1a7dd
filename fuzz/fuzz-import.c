/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: `tern-cli history import`, that is
 * tern_store_import_full on arbitrary bytes. Every input must be imported
 * or refused cleanly; what is imported must export, import again and
 * export again to the same JSON (the promise of tern/store.h). Each input
 * is imported inside a transaction that is rolled back, so the database
 * is the same empty one for every input. */
#include "fuzz-fixtures.h"

#include <tern/error.h>
#include <tern/store.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Exports @ids as JSON; the export of what an import made must succeed. */
static char *
export_ids (TernStore *store, GArray *ids)
{
  g_autoptr (GError) error = NULL;
  char *json = tern_store_export (store, (const gint64 *) ids->data, ids->len, TERN_EXPORT_JSON, &error);

  g_assert_no_error (error);
  return json;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static TernStore *store;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gsize n_replaced;

  if (store == NULL)
    store = fuzz_fixture_store ();
  if (!tern_store_begin (store, &error))
    g_error ("%s", error->message);
  if (tern_store_import_full (store, (const char *) data, (gssize) size, ids, &n_replaced, &error))
    {
      g_autofree char *first = export_ids (store, ids);
      g_autoptr (GArray) again = g_array_new (FALSE, FALSE, sizeof (gint64));
      gsize n_again;

      tern_store_import_full (store, first, -1, again, &n_again, &error);
      g_assert_no_error (error);
      /* Mended once, the text needs no more mending. */
      g_assert_cmpuint (n_again, ==, 0);
      g_assert_cmpuint (again->len, ==, ids->len);
      g_autofree char *second = export_ids (store, again);
      g_assert_cmpstr (first, ==, second);
    }
  else
    {
      /* Refused with a specific code and a message, never a crash. */
      g_assert_true (error->domain == TERN_ENGINE_ERROR);
      g_assert_true (error->message[0] != '\0');
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
  tern_store_rollback (store);
  return 0;
}
