// libFuzzer entry point (built with -DXKERAS_FUZZ=ON by clang; run by scripts/fuzz).
#include "fuzz/harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    xk::fuzz::load_archive_bytes(data, size);
    return 0;
}
