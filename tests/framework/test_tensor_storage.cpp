// Tensor storage (framework/engine/tensor_storage.cpp): every block is 64-byte aligned, absurd sizes fail with an
// exception, and a training-step pattern of large tensors reuses its pages from the second step on instead of
// faulting fresh ones in (the reason the storage does not come from glibc's malloc).
#include "framework/engine/tensor.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include <cstdint>
#include <limits>
#include <new>
#include <type_traits>

using namespace xk;

namespace
{
    bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % tensor_storage_alignment == 0; }

    long minor_page_faults()
    {
        rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        return usage.ru_minflt;
    }

    /// One step of an UpSampling2D benchmark case: an 8 MB input gradient, a 33 MB output and a 33 MB upstream
    /// gradient, written and freed in the order a tape frees them. Returns the page faults the step took.
    long upsampling_like_step()
    {
        const long before = minor_page_faults();
        {
            Tensor<float> output = full<float>({32, 64, 64, 64}, 1.f);
            Tensor<float> upstream = full<float>({32, 64, 64, 64}, 2.f);
            Tensor<float> input_grad = full<float>({32, 32, 32, 64}, 3.f);
            output = Tensor<float>();
            Tensor<float> scratch = full<float>({32, 64, 64}, 4.f);
        }
        return minor_page_faults() - before;
    }
}

BOOST_AUTO_TEST_CASE(tensor_type_uses_the_tensor_allocator)
{
    static_assert(std::is_same_v<Tensor<float>::allocator_type, TensorAllocator<float>>);
    static_assert(std::is_same_v<Tensor<double>::allocator_type, TensorAllocator<double>>);
    BOOST_TEST(tensor_storage_alignment == 64u);
}

BOOST_AUTO_TEST_CASE(every_block_is_64_byte_aligned)
{
    for (std::size_t n : {1u, 3u, 15u, 16u, 17u, 1000u, 65537u, 3u << 20})
    {
        Tensor<float> f = zeros<float>({n});
        Tensor<double> d = zeros<double>({n, 1});
        BOOST_TEST_CONTEXT("size " << n)
        {
            BOOST_TEST(aligned(f.data()));
            BOOST_TEST(aligned(d.data()));
            Tensor<float> copy = f;
            BOOST_TEST(aligned(copy.data()));
            copy.resize({n + 1});
            BOOST_TEST(aligned(copy.data()));
            BOOST_TEST(aligned(tensor_cast<double>(f).data()));
        }
    }
    void* empty = allocate_tensor_storage(0);
    BOOST_TEST(empty != nullptr);
    BOOST_TEST(aligned(empty));
    release_tensor_storage(empty);
}

BOOST_AUTO_TEST_CASE(impossible_sizes_throw_instead_of_wrapping_around)
{
    TensorAllocator<float> allocator;
    BOOST_CHECK_THROW(allocator.allocate(std::numeric_limits<std::size_t>::max() / 2), std::bad_alloc);
    BOOST_CHECK_THROW(allocate_tensor_storage(std::numeric_limits<std::size_t>::max() - 4096), std::bad_alloc);
}

#if !defined(__SANITIZE_ADDRESS__) // under ASan the storage is the C allocator's, so use after free is reported
BOOST_AUTO_TEST_CASE(repeated_steps_reuse_their_pages)
{
    const long first = upsampling_like_step();
    upsampling_like_step();
    const long third = upsampling_like_step();
    const long fourth = upsampling_like_step();
    BOOST_TEST_MESSAGE("page faults per step: first " << first << ", third " << third << ", fourth " << fourth);
    // The first step touches ~75 MB (18k pages of 4 kB, fewer with huge pages); later steps must not touch
    // fresh memory again. 512 pages of slack cover the test framework's own allocations.
    BOOST_TEST(third <= 512);
    BOOST_TEST(fourth <= 512);
}
#endif
