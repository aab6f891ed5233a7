import BatchRuntime
import Foundation
import TensorCore

/// Checks the process's resource limits and libraries before a command does any work, so a machine that cannot
/// run ModScope gets one sentence and exit 1 (an environment failure) instead of an abort inside libzmq, an
/// allocation loop or a hang halfway through a run.
enum ResourcePreflight {
    /// Open files a command may need: ZeroMQ sockets and their internal pipes, local workers' pipes and log files,
    /// memory-mapped data and the run folder's files. Measured: a run with two local workers fails below 64.
    static let minimumOpenFiles: rlim_t = 256
    /// Address space (virtual memory) a command needs at least: thread stacks (8 MiB each), the BLAS buffers
    /// and the Swift runtime. Measured: the digits run aborts at 512 MiB and completes at 1 GiB.
    static let minimumAddressSpace: rlim_t = 1 << 30

    static func check() throws {
        try BLAS.load()
        var files = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files) == 0, files.rlim_cur < minimumOpenFiles {
            // Raise the soft limit as far as the hard one allows before refusing.
            files.rlim_cur = min(files.rlim_max, max(minimumOpenFiles, 4_096))
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
            guard files.rlim_cur >= minimumOpenFiles else {
                throw RuntimeError(
                    "the open-file limit is \(files.rlim_cur) (ulimit -n) and ModScope needs at least \(minimumOpenFiles) (ZeroMQ sockets, worker pipes, mapped data); raise it, e.g. `ulimit -n 4096`")
            }
        }
        var space = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &space) == 0, space.rlim_cur != rlim_t.max, space.rlim_cur < minimumAddressSpace {
            throw RuntimeError(
                "the address-space limit is \(space.rlim_cur >> 20) MiB (ulimit -v) and ModScope needs at least \(minimumAddressSpace >> 20) MiB (thread stacks, BLAS buffers); raise it or remove it (`ulimit -v unlimited`)")
        }
    }
}
