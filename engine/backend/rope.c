/* SPDX-License-Identifier: GPL-3.0-or-later */
/* RoPE's cosines and sines, shared by the backends so that they rotate by
 * the same angles bit for bit. */
#include "backend/backend.h"

#include <math.h>

void
tern_rope_cos_sin (const TernHParams *hp, const float *freqs, float pos, float *cs)
{
  float theta_scale = powf (hp->rope_freq_base, -2.0f / hp->n_rot);
  float theta = pos;

  for (gint32 i0 = 0; i0 < hp->n_rot; i0 += 2)
    {
      float ff = freqs ? freqs[i0 / 2] : 1.0f;
      float t = hp->rope_freq_scale * (theta / ff);
      cs[i0] = cosf (t);
      cs[i0 + 1] = sinf (t);
      theta *= theta_scale;
    }
}
