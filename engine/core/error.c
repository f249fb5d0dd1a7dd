/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <tern/error.h>

G_DEFINE_QUARK (tern-engine-error-quark, tern_engine_error)
