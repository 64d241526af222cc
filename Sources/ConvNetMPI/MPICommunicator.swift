import CMPI
import ConvNet
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ranks of an `mpirun` job as a ConvNet `Communicator` (MPI_COMM_WORLD): broadcasts are
/// MPI_Bcast, gradient buckets MPI_Iallreduce in place (MPI_SUM), a step's small sums too.
///
/// No rank waits for ever. Waiting is a loop of MPI_Test, so it also drives MPI's progress;
/// it ends the job with an `error:` line and MPI_Abort when a collective has not completed
/// after `timeout` seconds (a rank hangs, or a link is cut without the TCP connection
/// noticing). A rank that dies is noticed by `mpirun`, which stops every other rank with
/// SIGTERM: `installTerminationMessage()` makes each then print one `error:` line saying so.
/// MPI errors are returned (MPI_ERRORS_RETURN) and end the job the same way.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    /// Seconds a collective may take before the job is ended (`CONVNET_MPI_TIMEOUT`, default 600).
    public var timeout: Double
    /// In-flight requests by slot; a slot is reused once its request completed (steady-state
    /// training allocates nothing here).
    private var requests: [MPI_Request?] = []
    private var free: [Int] = []

    /// Initialises MPI (once per process) and reads this rank's place in the job.
    public init() throws {
        if convnet_mpi_initialized() == 0 {
            let code = convnet_mpi_init()
            guard code == MPI_SUCCESS else {
                throw ConvNetError.invalidArgument("MPI_Init_thread failed: \(MPICommunicator.describe(code))")
            }
        }
        _ = convnet_mpi_errors_return()
        rank = Int(convnet_mpi_rank())
        size = Int(convnet_mpi_size())
        timeout = ProcessInfo.processInfo.environment["CONVNET_MPI_TIMEOUT"].flatMap { Double($0) } ?? 600
        requests.reserveCapacity(64)
        free.reserveCapacity(64)
    }

    /// The kernel threads each rank should use by default: the online cores divided by the
    /// ranks on this machine (`OMPI_COMM_WORLD_LOCAL_SIZE`, which `mpirun` sets), at least 1.
    /// Readable before MPI starts (it must be set before the first kernel runs).
    public static func defaultThreadsPerRank() -> Int {
        let cores = ThreadPool.onlineCores
        let local =
            ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) }
            ?? ProcessInfo.processInfo.environment["MPI_LOCALNRANKS"].flatMap { Int($0) } ?? 1
        return max(1, cores / max(1, local))
    }

    /// Whether this process was started by `mpirun` (Open MPI's or MPICH's variables are set).
    public static var isUnderMPIRun: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMI_SIZE"] != nil
            || environment["PMIX_RANK"] != nil
    }

    /// Ends MPI normally (every rank calls it once, at the end).
    public func finish() {
        _ = convnet_mpi_finalize()
    }

    /// Prints `error: rank R: message` on standard error and ends every rank of the job (MPI_Abort).
    public func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: rank \(rank) of \(size): \(message)\n".utf8))
        convnet_mpi_abort(1)
        exit(1)
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard size > 1, let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, Int(Int32.max))
            try check(convnet_mpi_broadcast(base + offset, Int32(count), Int32(root)), "MPI_Bcast")
            offset += count
        }
    }

    public func startSum<Scalar: KernelScalar>(_ values: UnsafeMutableBufferPointer<Scalar>) throws -> Int {
        guard size > 1, let base = values.baseAddress else { return -1 }
        guard values.count <= Int(Int32.max) else {
            throw ConvNetError.invalidArgument("a sum of \(values.count) values exceeds MPI's count limit")
        }
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
        } else {
            slot = requests.count
            requests.append(convnet_mpi_request_null())
        }
        let isDouble: Int32 = MemoryLayout<Scalar>.size == 8 ? 1 : 0
        try check(convnet_mpi_start_sum(base, Int32(values.count), isDouble, &requests[slot]), "MPI_Iallreduce")
        return slot
    }

    public func progress() throws {
        for slot in requests.indices where requests[slot] != convnet_mpi_request_null() {
            _ = try test(slot)
        }
    }

    public func wait(_ request: Int) throws {
        guard request >= 0 else { return }
        let started = convnet_mpi_wtime()
        var spins = 0
        while try !test(request) {
            spins += 1
            if spins & 1023 == 0, convnet_mpi_wtime() - started > timeout {
                fail(
                    "a sum over the ranks has not completed after \(Int(timeout)) s (a rank hangs or the network "
                        + "is cut; CONVNET_MPI_TIMEOUT sets the limit)")
            }
        }
        free.append(request)
    }

    public func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try wait(try startSum(values))
    }

    /// Whether request `slot` is complete (then its slot holds MPI_REQUEST_NULL).
    private func test(_ slot: Int) throws -> Bool {
        var done: Int32 = 0
        try check(convnet_mpi_test(&requests[slot], &done), "MPI_Test")
        return done != 0
    }

    private func check(_ code: Int32, _ call: String) throws {
        guard code != MPI_SUCCESS else { return }
        fail("\(call) failed: \(MPICommunicator.describe(code)) (a rank has died or the network failed)")
    }

    static func describe(_ code: Int32) -> String {
        var text = [CChar](repeating: 0, count: 512)
        convnet_mpi_error_string(code, &text, Int32(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Makes SIGTERM and SIGINT (what `mpirun` sends every rank when one rank has died, or on
    /// Ctrl-C) print one `error:` line naming this rank and `directory`'s last commit, then end
    /// the process at once with 128 + the signal (a committed checkpoint is never torn).
    public func installTerminationMessage(directory: String?) {
        let resume = directory.map { "; the run directory keeps its last commit: continue with --resume \($0)" } ?? ""
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            let text =
                "error: rank \(rank) of \(size): stopped by \(name): mpirun stops every rank when one of them has "
                + "died or failed (see its message), or on Ctrl-C\(resume)\n"
            let bytes = Array(text.utf8)
            let message = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
            message.initialize(from: bytes, count: bytes.count)
            let stored = TerminationMessage(bytes: message, count: bytes.count)
            if number == SIGTERM { terminationMessage = stored } else { interruptionMessage = stored }
            signal(number) { number in
                let message = number == SIGTERM ? terminationMessage : interruptionMessage
                if let bytes = message.bytes { _ = write(2, bytes, message.count) }
                _exit(128 + number)
            }
        }
    }
}

/// A message the signal handler writes (set before the handler is installed, never freed).
private struct TerminationMessage {
    var bytes: UnsafeMutablePointer<UInt8>?
    var count: Int
}

nonisolated(unsafe) private var terminationMessage = TerminationMessage(bytes: nil, count: 0)
nonisolated(unsafe) private var interruptionMessage = TerminationMessage(bytes: nil, count: 0)
