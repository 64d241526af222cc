/// The regular files of a POSIX (ustar) tar archive, enough to unpack the CIFAR-10 archives.
/// Links, devices and paths with `..` or a leading `/` are skipped, never followed.
public enum TarArchive {
    /// (path, contents) of every regular file, in archive order.
    public static func regularFiles(_ bytes: [UInt8], name: String = "tar archive") throws -> [(
        path: String, contents: [UInt8]
    )] {
        var files: [(String, [UInt8])] = []
        var p = 0
        var longName: String?
        while p + 512 <= bytes.count {
            let header = bytes[p..<(p + 512)]
            if header.allSatisfy({ $0 == 0 }) { break }
            func field(_ offset: Int, _ length: Int) -> String {
                let slice = bytes[(p + offset)..<(p + offset + length)]
                return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
            }
            let sizeText = field(124, 12).trimmingCharacters(in: " ")
            guard let size = Int(sizeText.isEmpty ? "0" : sizeText, radix: 8), size >= 0, size <= bytes.count - p - 512
            else {
                throw ConvNetError.invalidData(
                    "\(name): bad or truncated tar entry at byte \(p) (size field '\(sizeText)')")
            }
            let type = bytes[p + 156]
            var path = field(0, 100)
            let prefix = field(345, 155)
            if field(257, 5) == "ustar" && !prefix.isEmpty { path = prefix + "/" + path }
            if let long = longName {
                path = long
                longName = nil
            }
            let data = Array(bytes[(p + 512)..<(p + 512 + size)])
            if type == UInt8(ascii: "L") {
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            } else if (type == 0 || type == UInt8(ascii: "0")) && !path.hasPrefix("/")
                && !path.split(separator: "/").contains("..")
            {
                files.append((path, data))
            }
            p += 512 + (size + 511) / 512 * 512
        }
        return files
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
