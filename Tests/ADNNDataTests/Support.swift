import Foundation
import XCTest
@testable import ADNNData

/// Path of a committed fixture file.
func fixturePath(_ name: String) -> String {
    guard let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        fatalError("Fixtures folder missing from the test bundle")
    }
    return dir.appendingPathComponent(name).path
}

/// Loads a committed fixture image.
func fixtureImage(_ name: String) throws -> PixelImage { try loadImage(fixturePath(name)) }

/// `../shared/data` next to the package root, or skip the test with a printed reason.
func sharedData(_ sub: String = "") throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let path = root.deletingLastPathComponent().appendingPathComponent("shared/data").appendingPathComponent(sub).path
    if !FileManager.default.fileExists(atPath: path) {
        let reason = "\(path) is absent; test needs the shared data"
        print("skipping: \(reason)")
        throw XCTSkip(reason)
    }
    return path
}

/// A fresh temporary folder, removed at the end of the test.
func temporaryFolder(_ test: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "adnn-data-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Writes text to a file, creating parent folders.
func writeText(_ text: String, _ path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                            withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

/// Writes raw bytes to a file, creating parent folders.
func writeBytes(_ bytes: [UInt8], _ path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                            withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Fraction of samples that differ by at most `tolerance`, and the largest difference.
func agreement(_ a: PixelImage, _ b: PixelImage, tolerance: Int = 1) -> (fraction: Double, maxDiff: Int) {
    precondition(a.count == b.count, "sizes differ: \(a.width)x\(a.height)x\(a.channels) vs \(b.width)x\(b.height)x\(b.channels)")
    var ok = 0, worst = 0
    for i in 0..<a.count {
        let d = abs(Int(a.pixels[i]) - Int(b.pixels[i]))
        if d <= tolerance { ok += 1 }
        worst = max(worst, d)
    }
    return (Double(ok) / Double(max(a.count, 1)), worst)
}

/// Cuts tile `k` (row-major) of size `side`×`side` out of a gray mosaic with `perRow` tiles per row.
func mosaicTile(_ m: PixelImage, _ k: Int, side: Int, perRow: Int) -> PixelImage {
    let r = k / perRow, c = k % perRow
    var out = PixelImage(width: side, height: side, channels: m.channels)
    for y in 0..<side {
        for x in 0..<side {
            for ch in 0..<m.channels { out[x, y, ch] = m[c * side + x, r * side + y, ch] }
        }
    }
    return out
}
