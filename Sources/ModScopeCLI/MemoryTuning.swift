#if os(Linux)
/// glibc's mallopt(3); <malloc.h> is not part of Swift's Glibc module.
@_silgen_name("mallopt") private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
private let mallocTrimThreshold: Int32 = -1  // M_TRIM_THRESHOLD
private let mallocMmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
#endif

/// Keeps large temporary buffers on the heap instead of fresh mmap()s: attribution allocates and frees buffers
/// of a few MB per operator call, and with glibc's defaults each one page-faults anew (measured: ~20% of the time
/// on the digits CNN). Freed memory stays with the process up to the trim threshold, bounded by the peak use.
enum MemoryTuning {
    static func apply() {
        #if os(Linux)
        _ = mallopt(mallocMmapThreshold, 256 << 20)
        _ = mallopt(mallocTrimThreshold, 512 << 20)
        #endif
    }
}
