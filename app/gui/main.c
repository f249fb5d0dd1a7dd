/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib/gi18n.h>

#include "tern-application.h"

int
main (int argc, char *argv[])
{
  g_autoptr (TernApplication) app = NULL;

  textdomain ("tern");
  app = tern_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
