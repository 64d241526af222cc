import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe file replacement: the bytes go to a temporary file in the destination's folder,
/// which is flushed to disk (fsync) and then renamed over the destination, and the folder is
/// synced. A reader sees either the old file or the complete new one, never a half-written one.
public enum AtomicFile {
    /// Writes `bytes` to `url` atomically; throws `ConvNetError.fileSystem` naming the file.
    public static func write(_ bytes: [UInt8], to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        func failure(_ what: String) -> ConvNetError {
            .fileSystem("cannot write \(url.path): \(what) (\(String(cString: strerror(errno))))")
        }
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else { throw failure("cannot create a temporary file in \(directory.path)") }
        let label = url.lastPathComponent
        FaultInjection.point("write:\(label):created")
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            // In two halves, with a crash point between them: a torn write for the tests.
            for end in [raw.count / 2, raw.count] {
                while written < end {
                    let result = Foundation.write(descriptor, raw.baseAddress! + written, end - written)
                    if result < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    written += result
                }
                if end < raw.count, FaultInjection.point("write:\(label):half") {
                    errno = ENOSPC  // a simulated full disk (tests)
                    return false
                }
            }
            return true
        }
        guard ok, fsync(descriptor) == 0 else {
            let error = failure("writing failed after \(written) of \(bytes.count) bytes")
            close(descriptor)
            unlink(temporary.path)
            throw error
        }
        guard close(descriptor) == 0 else {
            unlink(temporary.path)
            throw failure("closing the temporary file failed")
        }
        FaultInjection.point("write:\(label):synced")
        guard rename(temporary.path, url.path) == 0 else {
            let error = failure("renaming the temporary file failed")
            unlink(temporary.path)
            throw error
        }
        FaultInjection.point("write:\(label):renamed")
        syncDirectory(directory)
    }

    /// Flushes a folder's entries (new names, renames) to disk; best effort.
    static func syncDirectory(_ directory: URL) {
        let folder = open(directory.path, O_RDONLY)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    /// Writes UTF-8 text atomically.
    public static func write(_ text: String, to url: URL) throws {
        try write(Array(text.utf8), to: url)
    }
}
