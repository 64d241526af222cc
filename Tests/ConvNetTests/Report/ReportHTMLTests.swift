import Foundation
import Testing

@testable import ConvNet

/// The self-contained HTML report, and its rendering by headless Chromium.
@Suite struct ReportHTMLTests {
    @Test func reportHasEverySectionAndEscapesText() throws {
        var record = try ReportTestSupport.sampleRecord()
        record.classNames[3] = "<script>alert(1)</script>"
        let html = try HTMLReport.render(record)
        for id in ["metrics", "configuration", "hyper-parameters", "model", "per-class", "pictures"] {
            #expect(html.contains("<section id=\"\(id)\">"), "missing section \(id)")
        }
        for picture in ["training", "learning_rate", "filters", "confusion_matrix"] {
            #expect(html.contains("id=\"fig-\(picture)\""))
        }
        #expect(!html.contains("id=\"fig-loss\""))  // already in the two-panel figure
        #expect(html.contains("ThreeLayerConvNet on CIFAR-10 &lt;sample&gt;"))
        #expect(html.contains("runs/a&amp;b"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains("<script"))
        #expect(html.contains("71.75 %"))  // test accuracy
        #expect(html.contains("822,742"))  // total parameters: 2,432 + 819,300 + 1,010
        #expect(html.components(separatedBy: "src=\"data:image/png;base64,").count == 5)
    }

    /// The learning-rate picture appears only when the schedule changed the rate.
    @Test func learningRatePictureOnlyWhenTheRateVaries() throws {
        var record = try ReportTestSupport.sampleRecord()
        #expect(try ReportPicture.all(for: record).contains { $0.name == "learning_rate" })
        record.iterations = record.iterations.map {
            IterationRecord(iteration: $0.iteration, epoch: $0.epoch, loss: $0.loss, learningRate: 0.01)
        }
        #expect(try !ReportPicture.all(for: record).contains { $0.name == "learning_rate" })
    }

    @Test func reportFetchesNothingFromTheNetwork() throws {
        let html = try HTMLReport.render(try ReportTestSupport.sampleRecord())
        #expect(!html.contains("http://"))
        #expect(!html.contains("https://"))
        #expect(!html.contains("<link"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("@import"))
        #expect(!html.contains("url("))
        // The only links are to anchors in the page.
        for part in html.components(separatedBy: "href=\"").dropFirst() {
            #expect(part.hasPrefix("#"))
        }
        // Every src attribute is an inline data URI.
        for part in html.components(separatedBy: "src=\"").dropFirst() {
            #expect(part.hasPrefix("data:image/png;base64,"))
        }
    }

    @Test func embeddedImagesDecodeBackToThePNGs() throws {
        let record = try ReportTestSupport.sampleRecord()
        let all = try ReportPicture.all(for: record)
        let html = HTMLReport.render(record, pictures: all)
        let pictures = all.filter(\.showInReport)
        #expect(pictures.map(\.name) == ["training", "learning_rate", "filters", "confusion_matrix"])
        let encoded = html.components(separatedBy: "src=\"data:image/png;base64,").dropFirst().map {
            String($0.prefix { $0 != "\"" })
        }
        #expect(encoded.count == pictures.count)
        for (text, picture) in zip(encoded, pictures) {
            #expect(Data(base64Encoded: text).map { [UInt8]($0) } == picture.png)
        }
    }

    @Test func emptyRecordStillRenders() throws {
        let html = try HTMLReport.render(RunRecord(title: "empty"))
        #expect(html.contains("<h1>empty</h1>"))
        #expect(html.contains("<section id=\"metrics\">"))
        #expect(!html.contains("<section id=\"pictures\">"))
    }

    /// Chromium's binary name on Debian (`chromium`) or elsewhere; nil when none runs.
    static let chromium: String? = {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            if let result = ReportTestSupport.run(["sh", "-c", "command -v \(name)"], timeout: 10), result.status == 0,
                !result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            {
                return name
            }
        }
        return nil
    }()

    @Test func headlessChromiumRendersTheReport() throws {
        guard let chromium = Self.chromium else {
            print("skipped: Chromium not installed (apt-get install -y chromium)")
            return
        }
        guard ReportTestSupport.hasPython else {
            print("skipped: python3 not found to decode the screenshot")
            return
        }
        let directory: URL
        if let sample = ProcessInfo.processInfo.environment["CONVNET_REPORT_SAMPLE_DIR"] {
            directory = URL(fileURLWithPath: sample)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } else {
            directory = try ReportTestSupport.temporaryDirectory("chromium")
        }
        let report = directory.appendingPathComponent("report.html")
        try HTMLReport.render(try ReportTestSupport.sampleRecord()).write(to: report, atomically: true, encoding: .utf8)
        let screenshot = directory.appendingPathComponent("screenshot.png")
        try? FileManager.default.removeItem(at: screenshot)
        let profile = try ReportTestSupport.temporaryDirectory("chromium-profile")
        let result = try #require(
            ReportTestSupport.run(
                [
                    chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--hide-scrollbars",
                    "--user-data-dir=\(profile.path)", "--window-size=1000,2400", "--screenshot=\(screenshot.path)",
                    report.absoluteString,
                ], timeout: 120))
        guard FileManager.default.fileExists(atPath: screenshot.path) else {
            Issue.record("chromium wrote no screenshot (status \(result.status)): \(result.stderr.suffix(2000))")
            return
        }
        // Decode with Python and measure: size, distinct colours, share of non-white pixels.
        let script = ReportTestSupport.pythonPNGDecoder.replacingOccurrences(
            of: "open(sys.argv[2], 'wb').write(pixels)\nprint(w, h, ch)",
            with: """
                colours = set(); nonwhite = 0; blue = 0
                for i in range(0, len(pixels), ch * 7):
                    px = pixels[i:i + 3]; colours.add(px)
                    if px != b'\\xff\\xff\\xff': nonwhite += 1
                    r, g, b = px
                    if b > 150 and r < 80 and 90 < g < 150: blue += 1
                print(w, h, len(colours), nonwhite, blue, len(pixels) // (ch * 7))
                """)
        let decoded = try #require(ReportTestSupport.python(script, [screenshot.path], timeout: 300))
        #expect(decoded.status == 0, "\(decoded.stderr)")
        let numbers = decoded.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        try #require(numbers.count == 6)
        #expect(numbers[0] == 1000 && numbers[1] == 2400, "screenshot is \(numbers[0])×\(numbers[1])")
        #expect(numbers[2] > 50, "only \(numbers[2]) colours: the page looks blank")
        #expect(Double(numbers[3]) > 0.05 * Double(numbers[5]), "almost every pixel is white")
        #expect(numbers[4] > 0, "no plot blue visible: the embedded pictures did not render")
    }
}
