import XCTest
import Foundation
import ADNNData
@testable import ADNN
@testable import ADNNTrain

/// `adnn convert` and `adnn export`.
final class ConversionTests: XCTestCase {
    func modelConfig(classes: Int) -> ADNNFERConfig {
        var c = ADNNFERConfig()
        c.backbone = "efficientnet_b0"; c.inChans = 1; c.inputSize = 24; c.numClasses = classes
        c.cbam = nil; c.transformer = nil
        return c
    }

    /// A timm-style file (backbone keys without prefix, `classifier.*`) whose classifier has 10
    /// classes converts into a 7-class config: backbone loaded, head fresh (not an error).
    func testConvertSkipsAClassifierOfAnotherShape() throws {
        let d = try makeTemporaryFolder("conv")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let source = try ADNNFER(modelConfig(classes: 10))
        var timm: [(String, Tensor)] = []
        for (k, v) in source.stateDict() {
            if k.hasPrefix("backbone.") { timm.append((String(k.dropFirst(9)), v)) }
            if k.hasPrefix("head.") { timm.append(("classifier." + k.dropFirst(5), v)) }
        }
        try SafeTensors.write(timm, to: d + "/timm.safetensors")
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 7, cbam: null, transformer: null}
        """.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        try ConversionRequest(config: d + "/c.yaml", weights: d + "/timm.safetensors", out: d + "/out.safetensors").run()
        let ck = try Checkpoint.read(d + "/out.safetensors")
        let dict = ck.tensorDict
        let sourceDict = Dictionary(source.stateDict(), uniquingKeysWith: { a, _ in a })
        let stem = try XCTUnwrap(dict["backbone.conv_stem.weight"])
        XCTAssertEqual(stem.scalars, sourceDict["backbone.conv_stem.weight"]!.scalars, "backbone converted")
        XCTAssertEqual(dict["head.weight"]?.shape.first, 7, "a fresh 7-class head")
        // A head of the right shape is loaded.
        try "model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 10, cbam: null, transformer: null}\n"
            .write(toFile: d + "/c10.yaml", atomically: true, encoding: .utf8)
        try ConversionRequest(config: d + "/c10.yaml", weights: d + "/timm.safetensors", out: d + "/out10.safetensors").run()
        XCTAssertEqual(try Checkpoint.read(d + "/out10.safetensors").tensorDict["head.weight"]?.scalars,
                       sourceDict["head.weight"]!.scalars)
    }

    /// `adnn export --half`: optimiser / resume state dropped, F16 storage, loads and predicts within
    /// half-precision rounding of the original.
    func testExportHalf() throws {
        let d = try makeTemporaryFolder("export")
        defer { try? FileManager.default.removeItem(atPath: d) }
        try trainTinyModel(in: d)
        let full = d + "/run/best.safetensors", small = d + "/m.safetensors"
        let size = try ExportRequest(checkpoint: full, out: small, half: true).run(printing: false)
        XCTAssertThrowsError(try ExportRequest(checkpoint: full, out: small).run(printing: false)) { e in
            XCTAssertTrue("\(e)".contains(small) && "\(e)".contains("--force"), "\(e)")
        }
        let fullSize = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: full)[.size] as? Int)
        XCTAssertLessThan(size, fullSize / 4, "no optimiser moments, half precision")
        let st = try SafeTensors.read(small)
        XCTAssertTrue(st.dtypes.values.contains("F16"))
        XCTAssertFalse(st.order.contains { $0.hasPrefix("optim.") || $0.hasPrefix("center_loss.") })
        let a = try ImageClassifier(checkpoint: full), b = try ImageClassifier(checkpoint: small)
        XCTAssertEqual(a.classes, b.classes)
        let img = ADNNData.PixelImage(width: 24, height: 24, channels: 1, pixels: (0..<576).map { UInt8($0 % 251) })
        let pa = try a.probabilities(img), pb = try b.probabilities(img)
        for (x, y) in zip(pa, pb) { XCTAssertEqual(x, y, accuracy: 2e-3) }
    }
}
