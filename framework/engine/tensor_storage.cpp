// Where tensor storage comes from.
//
// A training step allocates its activations and gradients, frees them, and allocates the same sizes again in the
// next step. glibc's malloc does not hand the same blocks back: with 8-33 MB blocks of several sizes its heap
// fragments, and for the first 5-7 steps of UpSampling2D's benchmark each step took fresh pages from the kernel
// (8192 page faults, 100 ms instead of 7 ms in a VM where a first touch is slow). TBB's scalable allocator keeps
// freed large blocks in a cache keyed by size and is steady from the second step on; it is also thread-local for
// small blocks. Under AddressSanitizer we use the C allocator, so a use after free is still reported.
#include "framework/engine/tensor.hpp"

#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define XKERAS_TENSOR_STORAGE_FROM_LIBC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XKERAS_TENSOR_STORAGE_FROM_LIBC 1
#endif
#endif

#if !defined(XKERAS_TENSOR_STORAGE_FROM_LIBC)
#include <tbb/scalable_allocator.h>
#endif

namespace xk
{
    void* allocate_tensor_storage(std::size_t bytes)
    {
        if (bytes == 0)
            bytes = tensor_storage_alignment;
#if defined(XKERAS_TENSOR_STORAGE_FROM_LIBC)
        const std::size_t rounded = (bytes + tensor_storage_alignment - 1) / tensor_storage_alignment * tensor_storage_alignment;
        void* block = std::aligned_alloc(tensor_storage_alignment, rounded);
#else
        void* block = scalable_aligned_malloc(bytes, tensor_storage_alignment);
#endif
        if (!block)
            throw std::bad_alloc();
        return block;
    }

    void release_tensor_storage(void* block) noexcept
    {
#if defined(XKERAS_TENSOR_STORAGE_FROM_LIBC)
        std::free(block);
#else
        scalable_aligned_free(block);
#endif
    }
}
