import BatchRuntime
import Foundation
import Testing

/// Two "hosts" as network namespaces joined by a veth pair; needs root and `ip netns` (skipped otherwise).
enum NetworkLab {
    static func sh(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// Whether namespaces can be created here (root with iproute2).
    static let available: Bool = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else {
            print("NetworkPartitionTests skipped: needs root and /usr/sbin/ip (ip netns)")
            return false
        }
        let probe = "msprobe\(getpid())"
        guard sh(["netns", "add", probe]) == 0 else {
            print("NetworkPartitionTests skipped: `ip netns add` failed (no CAP_SYS_ADMIN?)")
            return false
        }
        _ = sh(["netns", "del", probe])
        return true
    }()
}

@Suite(.serialized, .enabled(if: NetworkLab.available, "needs root and ip netns"))
struct NetworkPartitionTests {
    /// Coordinator in namespace A, two workers in namespace B; the link is cut for 8 s mid-run: leases expire,
    /// the workers reconnect after the heal, the work is redone, and the matrix is identical, one COMMIT per shard.
    @Test(.timeLimit(.minutes(1))) func linkCutForEightSecondsMidRun() throws {
        let tag = String(UInt32.random(in: 0...0xFFFF), radix: 16)
        let a = "msA\(tag)", b = "msB\(tag)", va = "va\(tag)", vb = "vb\(tag)"
        defer {
            _ = NetworkLab.sh(["netns", "del", a])
            _ = NetworkLab.sh(["netns", "del", b])
        }
        for cmd in [
            ["netns", "add", a], ["netns", "add", b],
            ["link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b],
            ["-n", a, "addr", "add", "10.77.0.1/24", "dev", va], ["-n", b, "addr", "add", "10.77.0.2/24", "dev", vb],
            ["-n", a, "link", "set", va, "up"], ["-n", b, "link", "set", vb, "up"],
            ["-n", a, "link", "set", "lo", "up"], ["-n", b, "link", "set", "lo", "up"],
        ] {
            try #require(NetworkLab.sh(cmd) == 0, "ip \(cmd.joined(separator: " ")) failed")
        }
        let run = RunProbe(RunProbe.fresh())
        defer { run.remove() }
        let endpoint = "tcp://10.77.0.1:5555"
        let coordinator = try BackgroundModScope(
            ["coordinator", "--out", run.folder.url.path, "--bind", "tcp://10.77.0.1:5555", "--insecure",
             "--synthetic", "480,64", "--shard-size", "8", "--synthetic-row-ms", "20"] + fastRuntimeFlags,
            namespace: a)
        usleep(500_000)
        let workers = try (0..<2).map { _ in
            try BackgroundModScope(["worker", "--connect", endpoint, "--insecure"], namespace: b)
        }
        #expect(run.waitFor(seconds: 15) { (run.status()?.shardsDone ?? 0) >= 10 })
        try #require(NetworkLab.sh(["-n", a, "link", "set", va, "down"]) == 0)
        let cutAt = Date()
        #expect(run.waitFor(seconds: 6) { (run.status()?.leasesExpired ?? 0) >= 2 })
        let expiry = Date().timeIntervalSince(cutAt)
        let doneDuringCut = run.status()?.shardsDone ?? 0
        usleep(UInt32(max(0, 8 - Date().timeIntervalSince(cutAt)) * 1_000_000))
        #expect((run.status()?.shardsDone ?? 0) == doneDuringCut)
        try #require(NetworkLab.sh(["-n", a, "link", "set", va, "up"]) == 0)
        #expect(coordinator.wait(seconds: 40) == 0, "coordinator stderr: \(coordinator.stderr)")
        for w in workers { _ = w.wait(seconds: 5) }
        #expect(try run.matrixIsExact())
        let commits = try run.commitsByEpoch().flatMap { $0 }
        #expect(commits.count == 60 && Set(commits).count == 60)
        print("partition: both leases expired \(String(format: "%.1f", expiry)) s after the cut; run completed after the heal")
    }
}
