#pragma once
// Seeded randomness. Everything random in xkeras (initializers, dropout, shuffling) draws from generators
// made here, so one call to set_random_seed makes a whole run reproducible on the same machine.
#include <cstdint>
#include <optional>
#include <random>

namespace xk
{
    using Rng = std::mt19937_64;

    /// Seeds the process-wide generator (Keras: keras.utils.set_random_seed).
    void set_random_seed(std::uint64_t seed);

    /// A generator seeded with `seed` when given (Keras's `seed` arguments), otherwise with the next
    /// value of the process-wide generator.
    Rng make_rng(std::optional<std::uint64_t> seed = std::nullopt);
}
