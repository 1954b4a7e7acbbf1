import Foundation
import XCTest
@testable import ADNN
@testable import ADNNTrain

/// `../shared/<relative>` next to the package root, or nil (with the reason printed) when absent.
func sharedAssetPath(_ relative: String) -> String? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let path = root.appendingPathComponent("../shared/" + relative).standardizedFileURL.path
    if FileManager.default.fileExists(atPath: path) { return path }
    print("skipping: \(path) is absent (shared assets not installed)")
    return nil
}

/// The `.pth` reader against files written by torch 2.15 (Scripts/make_pth_fixture.py) and the
/// RetinaFace weights in `shared/models`.
final class TorchPickleTests: XCTestCase {
    /// `base` of the fixture script: `(i·4 + j)/4 − 1` for a 3×4 matrix.
    private func base(_ i: Int, _ j: Int) -> Float { Float(i * 4 + j) / 4 - 1 }

    private func checkTinyState(_ sd: [String: Tensor], _ file: String, line: UInt = #line) throws {
        XCTAssertEqual(Set(sd.keys), ["conv.weight", "transposed", "sliced", "half", "bf16", "double", "long", "int",
                                      "flag", "bn.num_batches_tracked", "param", "shared_view"], file, line: line)
        let conv = try XCTUnwrap(sd["conv.weight"])
        XCTAssertEqual(conv.shape, [2, 3, 2, 2])
        XCTAssertEqual(conv.scalars, (0..<24).map { Float($0) * 0.5 })
        let t = try XCTUnwrap(sd["transposed"])
        XCTAssertEqual(t.shape, [4, 3])
        XCTAssertEqual(t.scalars, (0..<4).flatMap { j in (0..<3).map { i in base(i, j) } })
        let s = try XCTUnwrap(sd["sliced"])
        XCTAssertEqual(s.shape, [3, 2])
        XCTAssertEqual(s.scalars, (0..<3).flatMap { i in [1, 3].map { j in base(i, j) } })
        XCTAssertEqual(sd["half"]?.scalars, [0.5, -1.25, 65504, Float(Float16(1e-3))])
        XCTAssertEqual(sd["bf16"]?.scalars, [1, -2.5, 3.140625])
        XCTAssertEqual(sd["double"]?.shape, [1, 2])
        XCTAssertEqual(sd["double"]?.scalars, [1.5, -2])
        XCTAssertEqual(sd["long"]?.scalars, [-3, 0, 7, Float(1 << 40)])
        XCTAssertEqual(sd["int"]?.scalars, [5, -6])
        XCTAssertEqual(sd["flag"]?.scalars, [1, 0, 1])
        let tracked = try XCTUnwrap(sd["bn.num_batches_tracked"])
        XCTAssertEqual(tracked.shape, [])
        XCTAssertEqual(tracked.item, 17)
        XCTAssertEqual(sd["param"]?.scalars, [2, 4])
        XCTAssertEqual(sd["shared_view"]?.shape, [2, 2])
        XCTAssertEqual(sd["shared_view"]?.scalars, [10, 10.5, 11, 11.5])
    }

    func testZipFormatDtypesAndStrides() throws {
        try checkTinyState(try TorchPickle.readStateDict(fixturePath("tiny_state.pth")), "zip")
    }

    /// A `posix.system` GLOBAL + REDUCE between two real tensors: the whole file is refused and
    /// nothing runs (PyTorch's weights_only semantics).
    func testForbiddenGlobalAnywhereRefusesTheFile() throws {
        let marker = "/tmp/adnn-evil-ran"
        try? FileManager.default.removeItem(atPath: marker)
        XCTAssertThrowsError(try TorchPickle.readStateDict(fixturePath("evil_global.pth"))) { e in
            XCTAssertTrue("\(e)".contains("posix.system"), "\(e)")
            XCTAssertTrue("\(e)".contains("evil_global.pth"), "names the file: \(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "nothing was executed")
    }

    func testLegacyFormat() throws {
        try checkTinyState(try TorchPickle.readStateDict(fixturePath("tiny_state_legacy.pth")), "legacy")
    }

    func testCheckpointWrapper() throws {
        try checkTinyState(try TorchPickle.readStateDict(fixturePath("tiny_checkpoint.pth")), "checkpoint")
    }

    func testTruncatedFilesNameTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-pth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["tiny_state.pth", "tiny_state_legacy.pth"] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: fixturePath(name)))
            for keep in [bytes.count / 3, bytes.count * 2 / 3, bytes.count - 5] {
                let path = dir.appendingPathComponent("cut-\(keep)-\(name)").path
                try bytes.prefix(keep).write(to: URL(fileURLWithPath: path))
                XCTAssertThrowsError(try TorchPickle.readStateDict(path), "\(name) cut to \(keep) bytes") { error in
                    let e = error as? TorchPickleError
                    XCTAssertEqual(e?.kind, .truncated, "\(error)")
                    XCTAssertTrue("\(error)".hasPrefix(path + ": "), "\(error)")
                }
            }
        }
    }

    func testNotACheckpoint() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-pth-\(UUID().uuidString).pth").path
        try Data("{\"not\": \"a checkpoint\"}".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try TorchPickle.readStateDict(path)) { error in
            XCTAssertEqual((error as? TorchPickleError)?.kind, .badFormat)
            XCTAssertTrue("\(error)".hasPrefix(path + ": not a PyTorch checkpoint"), "\(error)")
        }
        XCTAssertThrowsError(try TorchPickle.readStateDict(path + ".missing")) { error in
            XCTAssertEqual((error as? TorchPickleError)?.kind, .io)
            XCTAssertTrue("\(error)".contains(path + ".missing"), "\(error)")
        }
    }

    /// Every tensor of the RetinaFace `.pth` (legacy format) equals its safetensors twin.
    func testRetinaFacePthMatchesSafetensors() throws {
        guard let pth = sharedAssetPath("models/retinaface_mobilenet0.25_Final.pth"),
              let st = sharedAssetPath("models/retinaface_mobilenet0.25.safetensors") else {
            throw XCTSkip("shared RetinaFace weights are absent")
        }
        var sd: [String: Tensor] = [:]
        for (k, v) in try TorchPickle.readStateDict(pth) {
            sd[k.hasPrefix("module.") ? String(k.dropFirst("module.".count)) : k] = v
        }
        let reference = try SafeTensors.read(st).tensors
        XCTAssertEqual(sd.count, 300)
        XCTAssertEqual(Set(sd.keys.filter { !$0.hasSuffix("num_batches_tracked") }), Set(reference.keys))
        for (name, expected) in reference {
            let got = try XCTUnwrap(sd[name], name)
            XCTAssertEqual(got.shape, expected.shape, name)
            XCTAssertEqual(got.scalars, expected.scalars, name)
        }
    }
}
