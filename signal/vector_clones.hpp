#pragma once

// LOOPHOLE_VECTOR_CLONES: compile a block loop three times, for AVX-512
// (x86-64-v4), AVX2 and the baseline, and pick one by the CPU at load time.
// The loops it marks are written to vectorise; AVX2 doubles their width and
// AVX-512 doubles it again. Every clone performs the same IEEE operations, in
// the same order, on each element (no FMA: the project builds with
// -ffp-contract=off, and GCC never reorders a floating-point reduction
// without -ffast-math), so the choice never changes a bit.

#if defined(__x86_64__) && defined(__GNUC__)
#define LOOPHOLE_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define LOOPHOLE_VECTOR_CLONES
#endif
