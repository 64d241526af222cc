import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetches a URL synchronously (for `--download`); failures become one-line errors that say
/// what to download by hand and where to put it.
enum Downloader {
    private final class Result: @unchecked Sendable {
        var data: Data?
        var error: String?
        var status = 0
    }

    static func fetch(_ address: String, hint: String, timeout: TimeInterval = 60) throws -> [UInt8] {
        guard let url = URL(string: address) else { throw ConvNetError.invalidArgument("bad URL \(address)") }
        let result = Result()
        let done = DispatchSemaphore(value: 0)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: configuration)
        let task = session.dataTask(with: url) { data, response, error in
            result.data = data
            result.error = error?.localizedDescription
            result.status = (response as? HTTPURLResponse)?.statusCode ?? 0
            done.signal()
        }
        task.resume()
        done.wait()
        session.finishTasksAndInvalidate()
        if let error = result.error {
            throw ConvNetError.fileSystem("cannot download \(address) (\(error)); offline? \(hint)")
        }
        guard result.status == 200, let data = result.data else {
            throw ConvNetError.fileSystem("cannot download \(address) (HTTP \(result.status)); \(hint)")
        }
        return [UInt8](data)
    }
}
