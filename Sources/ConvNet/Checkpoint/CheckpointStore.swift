import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The checkpoints of a run directory, committed one generation at a time so that a process
/// killed at any moment (kill -9, power cut, full disk) leaves the run in exactly one of two
/// states: the previous commit or the new one.
///
/// ```
/// run/
///   checkpoints/
///     00000007/              one generation: every file of one commit, and its manifest
///       last.safetensors  last.state.safetensors  best.safetensors  metrics.csv  history.json
///       manifest.json        generation, epoch, iteration, each file's size and CRC-32
///     current -> 00000007    the commit point: a link replaced by one atomic rename
///   last.safetensors -> checkpoints/current/last.safetensors     (and the other four names)
/// ```
///
/// A commit writes the new generation's files under a new folder (each one synced), links
/// the files it keeps unchanged (an unimproved `best.safetensors`) from the current
/// generation, writes the manifest, then renames a new `current` link over the old one and
/// syncs the folder: that rename is the only step that changes what the run directory holds.
/// The names at the top of the run directory are links through `current`, so they change
/// together with it. Older generations, and any generation or temporary file that a killed
/// commit left behind, are removed afterwards (or on the next start).
public struct CheckpointStore: Sendable {
    /// The run directory.
    public let directory: URL

    /// The folder of generations inside the run directory.
    public static let folderName = "checkpoints"
    /// The commit link inside that folder.
    public static let currentLinkName = "current"
    /// The manifest inside every generation.
    public static let manifestFileName = "manifest.json"
    /// The largest manifest read back (it lists a handful of files).
    static let manifestByteLimit = 1 << 20

    public init(directory: URL) {
        self.directory = directory
    }

    /// `run/checkpoints`.
    public var folder: URL { directory.appendingPathComponent(Self.folderName) }

    /// What one generation holds.
    public struct Manifest: Codable, Sendable, Equatable {
        /// One file of the generation.
        public struct File: Codable, Sendable, Equatable {
            public var bytes: Int
            public var crc32: UInt32
        }

        public var format = "convnet-checkpoint"
        public var formatVersion = 1
        /// The commit number (the generation folder's name), counting from 1 in a run directory.
        public var generation: Int
        /// Epochs completed when the commit was made.
        public var epoch: Int
        /// Optimizer steps completed.
        public var iteration: Int
        /// The epoch in progress when training was interrupted between two steps (nil: the
        /// commit is at an epoch's end).
        public var interruptedEpoch: Int?
        /// The files, by name.
        public var files: [String: File]

        enum CodingKeys: String, CodingKey {
            case format
            case formatVersion = "format_version"
            case generation, epoch, iteration
            case interruptedEpoch = "interrupted_epoch"
            case files
        }
    }

    /// The committed generation, or nil when nothing was ever committed.
    public struct Generation: Sendable {
        public let manifest: Manifest
        /// Its folder.
        public let folder: URL
    }

    /// The generation that `current` names, checked against its manifest; nil when the run
    /// directory has no commit yet.
    public func current() throws -> Generation? {
        let link = folder.appendingPathComponent(Self.currentLinkName)
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: link.path) else {
            if FileManager.default.fileExists(atPath: link.path) {
                throw ConvNetError.invalidData("\(link.path) is not the link that a ConvNet run directory holds")
            }
            return nil
        }
        guard let generation = Self.generationNumber(target) else {
            throw ConvNetError.invalidData("\(link.path) names '\(excerpt(target))', not a generation folder")
        }
        let generationFolder = folder.appendingPathComponent(target)
        let manifestURL = generationFolder.appendingPathComponent(Self.manifestFileName)
        let bytes = try Self.readBounded(manifestURL, limit: Self.manifestByteLimit)
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch {
            throw ConvNetError.invalidData("\(manifestURL.path) is not a valid checkpoint manifest: \(reason(error))")
        }
        guard manifest.format == "convnet-checkpoint", manifest.formatVersion == 1 else {
            throw ConvNetError.invalidData(
                "\(manifestURL.path): unknown format '\(excerpt(manifest.format))' version \(manifest.formatVersion)")
        }
        guard manifest.generation == generation else {
            throw ConvNetError.invalidData(
                "\(manifestURL.path) says generation \(manifest.generation) but sits in generation \(generation)'s folder"
            )
        }
        guard manifest.epoch >= 0, manifest.iteration >= 0 else {
            throw ConvNetError.invalidData("\(manifestURL.path): negative epoch or iteration")
        }
        return Generation(manifest: manifest, folder: generationFolder)
    }

    /// A committed file's bytes, checked against the manifest (size and CRC-32): a file
    /// changed or damaged after its commit is named, never used.
    public func contents(of name: String, in generation: Generation) throws -> [UInt8] {
        let url = generation.folder.appendingPathComponent(name)
        guard let entry = generation.manifest.files[name] else {
            throw ConvNetError.invalidData(
                "generation \(generation.manifest.generation) of \(directory.path) has no \(name)")
        }
        let bytes = try Self.readBounded(url, limit: entry.bytes)
        guard bytes.count == entry.bytes, CRC32.checksum(bytes) == entry.crc32 else {
            throw ConvNetError.invalidData(
                "\(url.path) is not the file that was committed (\(bytes.count) bytes, CRC-32 "
                    + "\(String(CRC32.checksum(bytes), radix: 16)); the manifest says \(entry.bytes) bytes, "
                    + "\(String(entry.crc32, radix: 16))): it was changed or damaged after it was saved")
        }
        return bytes
    }

    /// Commits a new generation: `files` (name → bytes) are written, the names in `kept` are
    /// taken unchanged from the current generation. Returns the new manifest. On a thrown
    /// error the previous commit stays in force.
    @discardableResult
    public func commit(
        files: [(name: String, bytes: [UInt8])], kept: [String], epoch: Int, iteration: Int, interruptedEpoch: Int?
    ) throws -> Manifest {
        let previous = try current()
        let number = (previous?.manifest.generation ?? 0) + 1
        let name = Self.generationName(number)
        let generationFolder = folder.appendingPathComponent(name)
        do {
            if FileManager.default.fileExists(atPath: generationFolder.path) {
                try FileManager.default.removeItem(at: generationFolder)  // a killed commit's leftover
            }
            try FileManager.default.createDirectory(at: generationFolder, withIntermediateDirectories: true)
        } catch {
            throw ConvNetError.fileSystem("cannot create \(generationFolder.path): \(reason(error))")
        }
        FaultInjection.point("commit:\(name):created")
        do {
            return try commit(
                into: generationFolder, number: number, previous: previous, files: files, kept: kept, epoch: epoch,
                iteration: iteration, interruptedEpoch: interruptedEpoch)
        } catch {
            // The previous commit stays in force; free what the failed one wrote (a full disk).
            if (try? current())?.manifest.generation != number {
                try? FileManager.default.removeItem(at: generationFolder)
            }
            throw error
        }
    }

    private func commit(
        into generationFolder: URL, number: Int, previous: Generation?, files: [(name: String, bytes: [UInt8])],
        kept: [String], epoch: Int, iteration: Int, interruptedEpoch: Int?
    ) throws -> Manifest {
        let name = generationFolder.lastPathComponent
        var manifest = Manifest(
            generation: number, epoch: epoch, iteration: iteration, interruptedEpoch: interruptedEpoch, files: [:])
        for file in files {
            try AtomicFile.write(file.bytes, to: generationFolder.appendingPathComponent(file.name))
            manifest.files[file.name] = Manifest.File(bytes: file.bytes.count, crc32: CRC32.checksum(file.bytes))
        }
        for keptName in kept {
            guard let previous, let entry = previous.manifest.files[keptName] else {
                throw ConvNetError.fileSystem("cannot keep \(keptName): the current generation has none")
            }
            let source = previous.folder.appendingPathComponent(keptName)
            let destination = generationFolder.appendingPathComponent(keptName)
            if link(source.path, destination.path) != 0 {
                // No hard links here (some file systems): copy, checked against the manifest.
                try AtomicFile.write(try contents(of: keptName, in: previous), to: destination)
            }
            manifest.files[keptName] = entry
            FaultInjection.point("commit:\(name):kept:\(keptName)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(
            Array(try encoder.encode(manifest)) + [0x0A],
            to: generationFolder.appendingPathComponent(Self.manifestFileName))
        AtomicFile.syncDirectory(generationFolder)

        // The commit: one rename of a new link over `current`.
        try Self.replaceLink(
            at: folder.appendingPathComponent(Self.currentLinkName), with: name, label: "commit:\(name)")
        AtomicFile.syncDirectory(folder)
        FaultInjection.point("commit:\(name):committed")

        try publish(manifest)
        removeUncommitted()
        FaultInjection.point("commit:\(name):cleaned")
        return manifest
    }

    /// Makes the names at the top of the run directory links through `current` for every file
    /// of `manifest`, and removes such links to files it does not have. Idempotent (run again
    /// on resume, in case a process was killed between the commit and this step).
    public func publish(_ manifest: Manifest) throws {
        let target = { (name: String) in "\(Self.folderName)/\(Self.currentLinkName)/\(name)" }
        for name in Self.publishedNames {
            let url = directory.appendingPathComponent(name)
            let existing = try? FileManager.default.destinationOfSymbolicLink(atPath: url.path)
            if manifest.files[name] != nil {
                if existing != target(name) {
                    try Self.replaceLink(at: url, with: target(name), label: "publish:\(name)")
                }
            } else if existing == target(name) {
                unlink(url.path)
            }
        }
        AtomicFile.syncDirectory(directory)
    }

    /// The names published at the top of a run directory.
    public static let publishedNames = [
        "last.safetensors", "last.state.safetensors", "best.safetensors",
        RunDirectory.metricsFileName, RunDirectory.historyFileName,
    ]

    /// Removes what is not part of the current commit: older generations, generations and
    /// links that a killed commit left behind. Best effort.
    public func removeUncommitted() {
        let link = folder.appendingPathComponent(Self.currentLinkName)
        let committed = try? FileManager.default.destinationOfSymbolicLink(atPath: link.path)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name != Self.currentLinkName && name != committed {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// Whether the run directory holds a commit (or the files of an older ConvNet's run).
    public var holdsRun: Bool {
        let link = folder.appendingPathComponent(Self.currentLinkName).path
        let legacy = directory.appendingPathComponent("last.safetensors").path
        return (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) != nil
            || FileManager.default.fileExists(atPath: legacy)
    }

    // MARK: Helpers

    static func generationName(_ number: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    static func generationNumber(_ name: String) -> Int? {
        guard name.count >= 8, name.count <= 18, name.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return Int(name).flatMap { $0 > 0 ? $0 : nil }
    }

    /// Points the link `url` at `target` atomically: a new link under a temporary name,
    /// renamed over the old one (or over an older ConvNet's regular file).
    static func replaceLink(at url: URL, with target: String, label: String) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard symlink(target, temporary.path) == 0 else {
            throw ConvNetError.fileSystem(
                "cannot create a link in \(url.deletingLastPathComponent().path): \(String(cString: strerror(errno)))")
        }
        FaultInjection.point("\(label):link-made")
        guard rename(temporary.path, url.path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary.path)
            throw ConvNetError.fileSystem("cannot replace \(url.path): \(message)")
        }
        FaultInjection.point("\(label):link-renamed")
    }

    /// A file's bytes, refusing more than `limit` (a bounded read of a file that may be hostile).
    static func readBounded(_ url: URL, limit: Int) throws -> [UInt8] {
        let descriptor = open(url.path, O_RDONLY)
        guard descriptor >= 0 else {
            throw ConvNetError.fileSystem("cannot read \(url.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ConvNetError.fileSystem("cannot read \(url.path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            guard bytes.count + count <= limit else {
                throw ConvNetError.invalidData("\(url.path) is larger than \(limit) bytes, more than it may hold")
            }
            bytes += chunk[0..<count]
        }
        return bytes
    }
}
