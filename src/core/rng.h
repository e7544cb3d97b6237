/* Deterministic randomness as a pure function: the splitmix64 finaliser maps
 * any 64-bit key (seed, step, slot ... mixed together) to a well-spread
 * 64-bit value, so a run's random choices depend on where they are made, not
 * on the order or the thread that makes them (resumed runs repeat exactly). */
#ifndef YQ_CORE_RNG_H
#define YQ_CORE_RNG_H

#include <stdint.h>

static inline uint64_t yq_mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
